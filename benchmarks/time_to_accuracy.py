"""Time to accuracy of the recommended recipe: cnnkit vs the same training by hand and in Lightning.

``--mode race`` (default) trains :func:`cnnkit.recipes.recommended`'s model on a real data set
(the split of ``benchmarks/recipe_ablation.py``: duplicates dropped, 70/10/20 % train/val/test,
changing with the seed) three ways in one process, taking turns seed by seed (the order rotates):

* ``cnnkit``    -- the recipe's :class:`~cnnkit.training.Trainer`, ``fit(model, train, val)``.
* ``hand``      -- the loop you would write: ``randperm`` batches of the uint8 tensors, ``/255``,
  the same :func:`cnnkit.augment.default` object per batch, channels-last, bf16 autocast when
  the recipe's precision resolves to it, label-smoothed cross-entropy, AdamW with decay on
  2+ dimensional weights only (cnnkit's rule), OneCycleLR stepped per batch; accuracy on the
  validation split after every epoch.
* ``lightning`` -- a ``LightningModule`` (the same conversion and augmentation in
  ``on_after_batch_transfer``, outside autocast as in cnnkit), ``L.Trainer`` on the CPU with
  the matching precision, checkpointing, logger, progress bar, model summary and sanity check
  off, fed a ``DataLoader`` over a ``TensorDataset`` of the uint8 tensors (a ``BatchSampler``:
  one tensor index per batch, no per-sample collation). Skipped if lightning is not installed.

All three start from the same weights (``builder.build()`` after ``torch.manual_seed(seed)``).
The clock starts just before each framework's setup (optimizer, ``L.Trainer``) and includes
validation as each one does it; the time to ``--target`` validation accuracy is the time at the
end of the first epoch whose validation reaches it. Training-only time (epochs without their
validation) is reported too. Final test accuracy is measured afterwards, the same way for all.

``--mode knobs`` times training epochs of the recipe's model on the real training split with
the cnnkit Trainer: 1 warm-up and ``--epochs`` (default 2) timed epochs per configuration, the
configurations interleaved and repeated ``--repeats`` times; the median seconds per epoch of
fp32 / bf16-mixed, NCHW / channels-last and ``compile=True``, then, for the fastest eager
configuration, 1 vs 2 (and ``--threads``) threads and uint8 (converted per batch) vs float32
(pre-converted) input. Every configuration starts from the same seed, so the final training
losses can be compared.

    python benchmarks/time_to_accuracy.py                               # vehicles, 96x96, 2 seeds
    python benchmarks/time_to_accuracy.py --set scenes --seeds 3 --target 0.80
    python benchmarks/time_to_accuracy.py --size 32 --epochs 2 --seeds 1         # smoke run
    python benchmarks/time_to_accuracy.py --mode knobs                           # 96x96, 2 repeats
    python benchmarks/time_to_accuracy.py --mode knobs --size 32 --epochs 2 --repeats 1  # smoke

Timings are only meaningful on an otherwise idle machine: with another process busy on the same
cores, two OpenMP teams contend and epochs slow down erratically (several-fold); there, compare
with ``--threads 1`` at least, and read the JSON's per-epoch times.

Results go to ``--out`` (default ``runs/time_to_accuracy/<mode>-<set>-<size>.json``).
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import logging
import math
import os
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from cnnkit.builder import ModelBuilder
from cnnkit.recipes import recommended
from cnnkit.training import Callback, FitState, Trainer
from cnnkit.training.precision import effective_precision, has_fast_bf16

sys.path.insert(0, str(Path(__file__).resolve().parent))
from recipe_ablation import SETS, load, splits

CPU = torch.device("cpu")
FRAMEWORKS = ("cnnkit", "hand", "lightning")
Data = dict[str, tuple[torch.Tensor, torch.Tensor]]
AugmentFn = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


# ---------------------------------------------------------------------- the recipe, unpacked
@dataclasses.dataclass(frozen=True)
class Recipe:
    """What the hand-written and Lightning loops must reproduce of the recipe's Trainer."""

    epochs: int
    batch_size: int
    eval_batch_size: int
    lr: float
    weight_decay: float
    label_smoothing: float
    precision: str  # effective: "32" or "bf16-mixed"
    channels_last: bool
    augment: AugmentFn | None

    @property
    def bf16(self) -> bool:
        return self.precision == "bf16-mixed"


def unpack(trainer: Trainer) -> Recipe:
    """The recipe's settings; refuse options the hand loops below do not reproduce."""
    expected = {
        "optimizer": "adamw",
        "scheduler": "onecycle",
        "loss": None,
        "normalize": None,
        "grad_clip": None,
        "accumulate": 1,
        "ema": None,
        "class_weight": None,
        "scheduler_options": None,
        "compile": False,
        "backbone_lr": None,
    }
    changed = {k: getattr(trainer, k) for k, v in expected.items() if getattr(trainer, k) != v}
    if changed:
        sys.exit(
            f"the recipe now sets {changed}; the hand-written and Lightning loops of this "
            "benchmark do not reproduce that: update them first"
        )
    precision = effective_precision(trainer.precision, CPU)
    if precision not in ("32", "bf16-mixed"):
        sys.exit(f"precision {precision!r} is not benchmarked on CPU")
    return Recipe(
        epochs=trainer.max_epochs,
        batch_size=trainer.batch_size,
        eval_batch_size=trainer.eval_batch_size or trainer.batch_size,
        lr=trainer.lr,
        weight_decay=trainer.weight_decay,
        label_smoothing=trainer.label_smoothing,
        precision=precision,
        channels_last=trainer.channels_last,
        augment=trainer.augment,
    )


def decay_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """AdamW groups: decay on conv kernels and linear weights (ndim >= 2), none on the rest."""
    params = [p for p in model.parameters() if p.requires_grad]
    return [
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ]


def to_input(xb: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """uint8 -> float32 in [0, 1] (a float batch is used as is), channels-last if asked."""
    x = xb.float().div_(255.0) if xb.dtype == torch.uint8 else xb
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, r: Recipe) -> float:
    """Accuracy in eval mode, batches of ``eval_batch_size``, the recipe's precision."""
    was_training = model.training
    model.eval()
    correct = torch.zeros((), dtype=torch.int64)
    for i in range(0, len(y), r.eval_batch_size):
        xb = to_input(x[i : i + r.eval_batch_size], r.channels_last)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=r.bf16):
            out = model(xb)
        correct += (out.argmax(1) == y[i : i + r.eval_batch_size]).sum()
    model.train(was_training)
    return int(correct) / len(y)


# ---------------------------------------------------------------------- one run's record
@dataclasses.dataclass
class RunRecord:
    """One framework's run for one seed; times in seconds from the start of its setup."""

    framework: str
    seed: int
    val_acc: list[float] = dataclasses.field(default_factory=list)
    wall: list[float] = dataclasses.field(default_factory=list)  # at the end of each validation
    train_s: list[float] = dataclasses.field(default_factory=list)  # each epoch, no validation
    total_s: float = math.nan  # start of setup to the return of fit
    setup_s: float = math.nan  # start of setup to the start of the first epoch
    train_loss: float = math.nan  # mean loss of the last epoch
    test_acc: float = math.nan
    error: str | None = None

    def reached(self, target: float) -> int | None:
        """Index of the first epoch whose validation accuracy reaches ``target``."""
        return next((i for i, a in enumerate(self.val_acc) if a >= target), None)


def run_cnnkit(model: nn.Module, trainer: Trainer, data: Data, rec: RunRecord) -> None:
    """``trainer.fit(model, train, val)``; a forward pre-hook marks where validation starts."""
    marks: dict[str, Any] = {"in_epoch": False, "start": 0.0, "val": None}

    def pre_hook(module: nn.Module, args: Any) -> None:
        if marks["in_epoch"] and marks["val"] is None and not module.training:
            marks["val"] = time.perf_counter()

    class Clock(Callback):
        def on_epoch_start(self, state: FitState) -> None:
            marks.update(in_epoch=True, start=time.perf_counter(), val=None)
            if math.isnan(rec.setup_s):
                rec.setup_s = marks["start"] - t0

        def on_epoch_end(self, state: FitState) -> None:
            now = time.perf_counter()
            marks["in_epoch"] = False
            rec.train_s.append((marks["val"] or now) - marks["start"])
            rec.wall.append(now - t0)
            rec.val_acc.append(state.history.val_acc[-1])

    trainer = trainer.replace(callbacks=[Clock()])
    handle = model.register_forward_pre_hook(pre_hook)
    try:
        t0 = time.perf_counter()
        history = trainer.fit(model, data["train"], data["val"])
        rec.total_s = time.perf_counter() - t0
    finally:
        handle.remove()
    rec.train_loss = history.train_loss[-1]


def run_hand(model: nn.Module, r: Recipe, data: Data, rec: RunRecord) -> None:
    """The hand-written loop (see the module docstring)."""
    (x, y), (xv, yv) = data["train"], data["val"]
    n = len(y)
    t0 = time.perf_counter()
    if r.channels_last:
        model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    opt = torch.optim.AdamW(decay_groups(model, r.weight_decay), lr=r.lr)
    steps = math.ceil(n / r.batch_size) * r.epochs
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=r.lr, total_steps=steps)
    torch.manual_seed(rec.seed)  # augmentation and dropout draw from the global generator
    order = torch.Generator().manual_seed(rec.seed)
    for epoch in range(r.epochs):
        e0 = time.perf_counter()
        if epoch == 0:
            rec.setup_s = e0 - t0
        model.train()
        loss_sum = torch.zeros((), dtype=torch.float64)
        perm = torch.randperm(n, generator=order)
        for i in range(0, n, r.batch_size):
            idx = perm[i : i + r.batch_size]
            xb, yb = x[idx].float().div_(255.0), y[idx]
            if r.augment is not None:
                xb, yb = r.augment(xb, yb)
            if r.channels_last:
                xb = xb.contiguous(memory_format=torch.channels_last)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=r.bf16):
                loss = F.cross_entropy(model(xb), yb, label_smoothing=r.label_smoothing)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            sched.step()
            loss_sum += loss.detach().double() * len(yb)
        e1 = time.perf_counter()
        rec.val_acc.append(accuracy(model, xv, yv, r))
        rec.train_s.append(e1 - e0)
        rec.wall.append(time.perf_counter() - t0)
    rec.total_s = time.perf_counter() - t0
    rec.train_loss = float(loss_sum) / n


def run_lightning(L: Any, model: nn.Module, r: Recipe, data: Data, rec: RunRecord) -> None:
    """The same training as a LightningModule under ``L.Trainer`` (see the module docstring)."""
    from torch.utils.data import (
        BatchSampler,
        DataLoader,
        RandomSampler,
        SequentialSampler,
        TensorDataset,
    )

    (x, y), (xv, yv) = data["train"], data["val"]
    steps = math.ceil(len(y) / r.batch_size) * r.epochs

    class Module(L.LightningModule):  # type: ignore[misc, name-defined]
        def __init__(self, net: nn.Module) -> None:
            super().__init__()
            self.net = net
            self.loss_sum = torch.zeros((), dtype=torch.float64)
            self.correct = torch.zeros((), dtype=torch.int64)
            self.count = 0
            self.epoch_start = self.val_start = 0.0

        def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
            xb, yb = batch
            xb = xb.float().div_(255.0)
            if self.trainer.training and r.augment is not None:
                xb, yb = r.augment(xb, yb)
            if r.channels_last:
                xb = xb.contiguous(memory_format=torch.channels_last)
            return xb, yb

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            xb, yb = batch
            loss = F.cross_entropy(self.net(xb), yb, label_smoothing=r.label_smoothing)
            self.loss_sum += loss.detach().double() * len(yb)
            return loss

        def validation_step(self, batch: Any, batch_idx: int) -> None:
            xb, yb = batch
            self.correct += (self.net(xb).argmax(1) == yb).sum()
            self.count += len(yb)

        def on_train_epoch_start(self) -> None:
            self.loss_sum.zero_()
            self.epoch_start = time.perf_counter()
            if math.isnan(rec.setup_s):
                rec.setup_s = self.epoch_start - t0

        def on_validation_epoch_start(self) -> None:
            self.val_start = time.perf_counter()
            self.correct.zero_()
            self.count = 0

        def on_validation_epoch_end(self) -> None:
            rec.val_acc.append(int(self.correct) / max(self.count, 1))
            rec.train_s.append(self.val_start - self.epoch_start)
            rec.wall.append(time.perf_counter() - t0)

        def configure_optimizers(self) -> Any:
            opt = torch.optim.AdamW(decay_groups(self.net, r.weight_decay), lr=r.lr)
            sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=r.lr, total_steps=steps)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    train_ds, val_ds = TensorDataset(x, y), TensorDataset(xv, yv)
    order = torch.Generator().manual_seed(rec.seed)
    train_dl = DataLoader(
        train_ds,
        sampler=BatchSampler(RandomSampler(train_ds, generator=order), r.batch_size, False),
        batch_size=None,
        generator=torch.Generator(),  # its per-epoch base seed must not draw from the global RNG
    )
    val_dl = DataLoader(
        val_ds,
        sampler=BatchSampler(SequentialSampler(val_ds), r.eval_batch_size, False),
        batch_size=None,
        generator=torch.Generator(),
    )
    threads = torch.get_num_threads()
    t0 = time.perf_counter()
    if r.channels_last:
        model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    module = Module(model)
    trainer = L.Trainer(
        accelerator="cpu",
        devices=1,
        precision="bf16-mixed" if r.bf16 else "32-true",
        max_epochs=r.epochs,
        enable_checkpointing=False,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    torch.manual_seed(rec.seed)
    trainer.fit(module, train_dl, val_dl)
    rec.total_s = time.perf_counter() - t0
    rec.train_loss = float(module.loss_sum) / len(y)
    if torch.get_num_threads() != threads:
        print(f"note: lightning changed torch threads {threads} -> {torch.get_num_threads()}")
        torch.set_num_threads(threads)


def import_lightning() -> Any:
    """``lightning`` (or ``pytorch_lightning``) with its info logging and worker hints muted."""
    try:
        import lightning as L
    except ImportError:
        try:
            import pytorch_lightning as L
        except ImportError:
            return None
    for name in ("lightning.pytorch", "lightning.fabric", "pytorch_lightning", "lightning_fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    warnings.filterwarnings("ignore", ".*smaller than the logging interval.*")
    warnings.filterwarnings("ignore", ".*LeafSpec.*")  # lightning's own use of torch internals
    return L


# ---------------------------------------------------------------------- reporting helpers
def mean_sd(values: list[float]) -> tuple[float, float]:
    if not values:
        return math.nan, math.nan
    return statistics.mean(values), statistics.stdev(values) if len(values) > 1 else math.nan


def fmt(values: list[float], scale: float = 1.0, digits: int = 2) -> str:
    m, s = mean_sd([v * scale for v in values])
    if math.isnan(m):
        return "n/a"
    return f"{m:.{digits}f} ± {s:.{digits}f}" if not math.isnan(s) else f"{m:.{digits}f}"


def machine() -> dict[str, Any]:
    """The processor, torch, threads and native bf16 (what the numbers depend on)."""
    name = platform.processor()
    if not name and os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            name = next(
                (ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), ""
            )
    return {
        "processor": name or platform.machine(),
        "platform.processor()": platform.processor(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
        "has_fast_bf16": has_fast_bf16(CPU),
        "load_average_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan,
    }


def save(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1), encoding="utf-8")
    print(f"\nresults written to {path}")


def ratio(num: list[float], den: list[float]) -> str:
    if not num or not den or statistics.mean(den) == 0:
        return "n/a"
    return f"{statistics.mean(num) / statistics.mean(den):.2f}x"


# ---------------------------------------------------------------------- mode: race
def race_changes(args: argparse.Namespace, seed: int) -> dict[str, Any]:
    """The Trainer options the race changes in the recipe."""
    changes: dict[str, Any] = {"seed": seed, "progress": False, "device": "cpu"}
    if args.epochs:
        changes["max_epochs"] = args.epochs
    if args.precision != "auto":
        changes["precision"] = args.precision
    return changes


def run_framework(
    name: str,
    L: Any,
    builder: ModelBuilder,
    trainer: Trainer,
    recipe: Recipe,
    data: Data,
    seed: int,
) -> RunRecord:
    """One framework's run from the seed's initial weights, then its test accuracy."""
    rec = RunRecord(name, seed)
    torch.manual_seed(seed)
    model = builder.build()
    gc.collect()
    try:
        if name == "cnnkit":
            run_cnnkit(model, trainer, data, rec)
        elif name == "hand":
            run_hand(model, recipe, data, rec)
        else:
            run_lightning(L, model, recipe, data, rec)
        rec.test_acc = accuracy(model, *data["test"], recipe)
    except Exception as err:  # report and go on with the others
        rec.error = f"{type(err).__name__}: {err}"
    return rec


def race(args: argparse.Namespace, x: torch.Tensor, y: torch.Tensor, classes: list[str]) -> None:
    L = import_lightning() if "lightning" in args.only else None
    frameworks = [f for f in FRAMEWORKS if f in args.only]
    if "lightning" in frameworks and L is None:
        print("lightning is not installed: skipping the Lightning run (pip install lightning)")
        frameworks.remove("lightning")
    records: list[RunRecord] = []
    recipe: Recipe | None = None
    if args.warmup:
        # One untimed epoch of each, so that no framework pays the process's first-use costs
        # (oneDNN kernel generation for these shapes, lazy imports) inside its timed run.
        data = splits(x, y, 0)
        builder, trainer = recommended(len(classes), args.size, len(data["train"][1]))
        trainer = trainer.replace(**{**race_changes(args, 0), "max_epochs": 1})
        t0 = time.perf_counter()
        for name in frameworks:
            rec = run_framework(name, L, builder, trainer, unpack(trainer), data, 0)
            if rec.error:
                print(f"warm-up of {name} failed: {rec.error}")
        print(f"warm-up: one untimed epoch of each, {time.perf_counter() - t0:.1f} s", flush=True)
    for seed in range(args.seeds):
        data = splits(x, y, seed)
        builder, trainer = recommended(len(classes), args.size, len(data["train"][1]))
        trainer = trainer.replace(**race_changes(args, seed))
        recipe = unpack(trainer)
        if seed == 0:
            n_params = sum(p.numel() for p in builder.build().parameters())
            print(
                f"{args.set}: {len(y)} images {args.size}x{args.size}, {len(classes)} classes, "
                f"train/val/test {len(data['train'][1])}/{len(data['val'][1])}/"
                f"{len(data['test'][1])}; recipe model {n_params:,} params, {recipe.epochs} "
                f"epochs, batch {recipe.batch_size}, AdamW lr {recipe.lr:g} wd "
                f"{recipe.weight_decay:g}, precision {trainer.precision} -> {recipe.precision}, "
                f"channels_last {recipe.channels_last}; target val acc {args.target:.2f}",
                flush=True,
            )
        k = seed % len(frameworks)
        for name in frameworks[k:] + frameworks[:k]:  # rotate the order every seed
            rec = run_framework(name, L, builder, trainer, recipe, data, seed)
            records.append(rec)
            hit = rec.reached(args.target)
            when = (
                f"{rec.wall[hit] / 60:.2f} min (epoch {hit + 1})"
                if hit is not None
                else "not reached"
            )
            print(
                f"seed {seed} {name:9s}: target {when}; best val {max(rec.val_acc, default=math.nan):.3f}, "
                f"final val {rec.val_acc[-1] if rec.val_acc else math.nan:.3f}, test "
                f"{rec.test_acc:.3f}, train loss {rec.train_loss:.4f}; total "
                f"{rec.total_s / 60:.2f} min, training only {sum(rec.train_s) / 60:.2f} min, "
                f"setup {rec.setup_s:.2f} s" + (f"; FAILED {rec.error}" if rec.error else ""),
                flush=True,
            )
    assert recipe is not None
    summary = summarize(records, frameworks, args)
    save(
        args.out,
        {
            "mode": "race",
            "args": {k: str(v) for k, v in vars(args).items()},
            "machine": machine(),
            "recipe": {k: v for k, v in dataclasses.asdict(recipe).items() if k != "augment"},
            "augment": repr(recipe.augment),
            "summary": summary,
            "runs": [dataclasses.asdict(r) for r in records],
        },
    )


def summarize(records: list[RunRecord], frameworks: list[str], args: argparse.Namespace) -> dict:
    ok = [r for r in records if r.error is None]
    by = {f: sorted((r for r in ok if r.framework == f), key=lambda r: r.seed) for f in frameworks}

    def to_target(rs: list[RunRecord], wall: bool = True) -> list[float]:
        out = []
        for r in rs:
            i = r.reached(args.target)
            if i is not None:
                out.append(r.wall[i] if wall else sum(r.train_s[: i + 1]))
        return out

    stats: dict[str, dict[str, Any]] = {}
    for f, rs in by.items():
        stats[f] = {
            "runs": len(rs),
            "reached": len(to_target(rs)),
            "target_min": [t / 60 for t in to_target(rs)],
            "target_train_min": [t / 60 for t in to_target(rs, wall=False)],
            "best_val": [max(r.val_acc) for r in rs],
            "final_val": [r.val_acc[-1] for r in rs],
            "test": [r.test_acc for r in rs],
            "total_min": [r.total_s / 60 for r in rs],
            "train_min": [sum(r.train_s) / 60 for r in rs],
            "train_loss": [r.train_loss for r in rs],
            "setup_s": [r.setup_s for r in rs],
        }
    m = machine()
    print(
        f"\n{m['processor']}, torch {m['torch']}, {m['threads']} threads, native bf16 "
        f"{m['has_fast_bf16']}; mean ± sd over seeds; minutes include validation unless noted"
    )

    def target_cell(s: dict[str, Any], key: str = "target_min", unit: str = "") -> str:
        if not s["reached"]:
            return "not reached"
        cell = fmt(s[key]) + unit
        return cell if s["reached"] == s["runs"] else f"{cell} ({s['reached']}/{s['runs']} seeds)"

    base = stats.get("cnnkit")
    for f, s in stats.items():
        line = (
            f"{f:9s}: to {args.target:.2f} val acc {target_cell(s, unit=' min')} (training only "
            f"{target_cell(s, 'target_train_min', ' min')}); best val {fmt(s['best_val'], 100, 1)} %, final "
            f"val {fmt(s['final_val'], 100, 1)} %, test {fmt(s['test'], 100, 1)} %; total "
            f"{fmt(s['total_min'])} min (training only {fmt(s['train_min'])}, setup "
            f"{fmt(s['setup_s'], digits=3)} s)"
        )
        if base is not None and f != "cnnkit":
            line += (
                f"; {f}/cnnkit: total {ratio(s['total_min'], base['total_min'])}, training only "
                f"{ratio(s['train_min'], base['train_min'])}, to target "
                f"{ratio(s['target_min'], base['target_min'])}"
            )
        print(line)
    failed = [r for r in records if r.error is not None]
    for r in failed:
        print(f"FAILED {r.framework} seed {r.seed}: {r.error}")

    print(
        f"\n| framework | seeds | min to {args.target:.0%} val | best val % | final val % | test % "
        "| total min | training-only min | total / cnnkit | to target / cnnkit |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for f, s in stats.items():
        tr = ratio(s["total_min"], base["total_min"]) if base else "n/a"
        rr = ratio(s["target_min"], base["target_min"]) if base else "n/a"
        print(
            f"| {f} | {s['runs']} | {target_cell(s)} | {fmt(s['best_val'], 100, 1)} "
            f"| {fmt(s['final_val'], 100, 1)} | {fmt(s['test'], 100, 1)} | {fmt(s['total_min'])} "
            f"| {fmt(s['train_min'])} | {tr} | {rr} |"
        )
    return stats


# ---------------------------------------------------------------------- mode: knobs
@dataclasses.dataclass(frozen=True)
class Knob:
    name: str
    precision: str = "32"
    channels_last: bool = False
    compile: bool = False
    threads: int | None = None  # None: the run's thread count
    float_input: bool = False  # pre-converted float32 in [0, 1] instead of uint8


@dataclasses.dataclass
class KnobResult:
    knob: Knob
    epoch_s: list[float] = dataclasses.field(default_factory=list)  # timed epochs, all repeats
    warmup_s: list[float] = dataclasses.field(default_factory=list)  # first epoch per repeat
    train_loss: list[float] = dataclasses.field(default_factory=list)  # last epoch per repeat
    errors: list[str] = dataclasses.field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.epoch_s) if self.epoch_s else math.nan


def time_knob(
    knob: Knob,
    builder: ModelBuilder,
    base: Trainer,
    train: tuple[torch.Tensor, torch.Tensor],
    train_f32: torch.Tensor,
    timed: int,
    res: KnobResult,
) -> None:
    """One fit of 1 + ``timed`` epochs with ``knob``'s settings; records into ``res``."""
    threads = torch.get_num_threads()
    if knob.threads is not None:
        torch.set_num_threads(knob.threads)
    try:
        if knob.compile:
            dynamo = getattr(torch, "_dynamo", None)
            if dynamo is not None:
                dynamo.reset()  # compile afresh each repeat (the compile time is reported)
        trainer = base.replace(
            max_epochs=1 + timed,
            precision=knob.precision,
            channels_last=knob.channels_last,
            compile=knob.compile,
            seed=0,
            progress=False,
            device="cpu",
        )
        torch.manual_seed(0)
        model = builder.build()
        x = train_f32 if knob.float_input else train[0]
        gc.collect()
        history = trainer.fit(model, (x, train[1]))
        res.warmup_s.append(history.epoch_time[0])
        res.epoch_s.extend(history.epoch_time[1:])
        res.train_loss.append(history.train_loss[-1])
    except Exception as err:
        res.errors.append(f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}")
    finally:
        torch.set_num_threads(threads)


def knobs(args: argparse.Namespace, x: torch.Tensor, y: torch.Tensor, classes: list[str]) -> None:
    data = splits(x, y, 0)
    train = data["train"]
    builder, base = recommended(len(classes), args.size, len(train[1]))
    timed = args.epochs or 2
    m = machine()
    print(
        f"machine: {m['processor']} (platform.processor() {m['platform.processor()']!r}), torch "
        f"{m['torch']}, {m['threads']} threads of {m['cpus']} CPUs, has_fast_bf16 "
        f"{m['has_fast_bf16']} (so precision='auto' -> {effective_precision('auto', CPU)}); load "
        f"average {m['load_average_1min']:.1f}"
    )
    print(
        f"{args.set} training split: {len(train[1])} images {args.size}x{args.size}, batch "
        f"{base.batch_size}; recipe model, 1 warm-up + {timed} timed epochs per fit (one-cycle "
        f"over those {1 + timed} epochs), {args.repeats} repeats, interleaved",
        flush=True,
    )
    train_f32 = train[0].float().div_(255.0)
    results: dict[str, KnobResult] = {}

    def sweep(ks: list[Knob]) -> None:
        for k in ks:
            results.setdefault(k.name, KnobResult(k))
        for rep in range(args.repeats):
            j = rep % len(ks)
            for k in ks[j:] + ks[:j]:
                rr = results[k.name]
                failures = len(rr.errors)
                time_knob(k, builder, base, train, train_f32, timed, rr)
                last = rr.epoch_s[-timed:] if len(rr.errors) == failures else []
                print(
                    f"repeat {rep + 1} {k.name:40s} "
                    + (
                        f"{statistics.median(last):7.2f} s/epoch (warm-up {rr.warmup_s[-1]:.2f} s), "
                        f"loss {rr.train_loss[-1]:.4f}"
                        if last
                        else f"FAILED {rr.errors[-1]}"
                    ),
                    flush=True,
                )

    eager = [
        Knob("fp32 NCHW"),
        Knob("fp32 channels_last", channels_last=True),
        Knob("bf16-mixed NCHW", precision="bf16-mixed"),
        Knob("bf16-mixed channels_last", precision="bf16-mixed", channels_last=True),
    ]
    compiled = Knob(
        "bf16-mixed channels_last compile", precision="bf16-mixed", channels_last=True, compile=True
    )
    sweep([*eager, compiled])
    ok = [k for k in eager if results[k.name].epoch_s]
    if not ok:
        sys.exit("every eager configuration failed")
    best = min(ok, key=lambda k: results[k.name].median)
    threads = sorted({1, 2, torch.get_num_threads()})
    second = [
        dataclasses.replace(best, name=f"{best.name}, {t} thread{'s' * (t > 1)}", threads=t)
        for t in threads
    ]
    second.append(
        dataclasses.replace(
            best,
            name=f"{best.name}, {torch.get_num_threads()} threads, float32 input",
            float_input=True,
        )
    )
    print(f"\nfastest eager configuration: {best.name}; threads and input type:", flush=True)
    sweep(second)

    ref = results["fp32 NCHW"].median
    print(
        "\n| configuration | s/epoch (median) | speed-up vs fp32 NCHW | warm-up epoch s "
        "| final train loss | note |"
    )
    print("|---|---|---|---|---|---|")
    for name, rr in results.items():
        note = "; ".join(sorted(set(rr.errors)))
        if rr.knob.compile and rr.warmup_s:
            note = (note + "; " if note else "") + "warm-up epoch includes compilation"
        if rr.knob.threads is not None or rr.knob.float_input:
            note = (note + "; " if note else "") + "second sweep"
        med = rr.median
        print(
            f"| {name} | {med:.3f} | {ref / med:.2f}x | {fmt(rr.warmup_s)} "
            f"| {fmt(rr.train_loss, digits=4)} | {note} |"
        )
    by_threads = {k.threads: results[k.name].median for k in second if k.threads is not None}
    u8 = next(results[k.name] for k in second if k.threads == torch.get_num_threads())
    f32 = results[second[-1].name]
    print(
        "\nthreads (s/epoch): "
        + ", ".join(f"{t}: {s:.3f}" for t, s in by_threads.items())
        + f"; uint8 input {u8.median:.3f} s/epoch vs float32 pre-converted {f32.median:.3f} "
        f"({f32.median / u8.median:.2f}x the uint8 time); compile: "
        + (
            f"first (compiling) epoch {fmt(results[compiled.name].warmup_s)} s, then "
            f"{results[compiled.name].median:.3f} s/epoch"
            if results[compiled.name].epoch_s
            else f"failed: {'; '.join(sorted(set(results[compiled.name].errors)))}"
        )
    )
    save(
        args.out,
        {
            "mode": "knobs",
            "args": {k: str(v) for k, v in vars(args).items()},
            "machine": m,
            "n_train": len(train[1]),
            "batch_size": base.batch_size,
            "timed_epochs": timed,
            "results": {
                name: {**dataclasses.asdict(rr), "median_s": rr.median, "speedup": ref / rr.median}
                for name, rr in results.items()
            },
        },
    )


# ---------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mode", choices=["race", "knobs"], default="race")
    p.add_argument("--set", choices=sorted(SETS), default="vehicles")
    p.add_argument("--size", type=int, default=96, help="image side (default 96)")
    p.add_argument("--seeds", type=int, default=2, help="race: seeds 0..N-1 (default 2)")
    p.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="race: epochs (default: the recipe's); knobs: timed epochs after the warm-up (2)",
    )
    p.add_argument("--target", type=float, default=0.85, help="race: validation accuracy to reach")
    p.add_argument(
        "--precision",
        choices=["auto", "32", "bf16-mixed"],
        default="auto",
        help="race: precision of all three (default: the recipe's 'auto')",
    )
    p.add_argument(
        "--only", default=",".join(FRAMEWORKS), help="race: comma-separated frameworks to run"
    )
    p.add_argument(
        "--no-warmup",
        dest="warmup",
        action="store_false",
        help="race: skip the untimed warm-up epoch of each framework",
    )
    p.add_argument("--repeats", type=int, default=2, help="knobs: interleaved repeats (default 2)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--out", type=Path, default=None, help="JSON results (default under runs/)")
    args = p.parse_args(argv)
    args.only = [f.strip() for f in args.only.split(",") if f.strip()]
    if unknown := [f for f in args.only if f not in FRAMEWORKS]:
        p.error(f"unknown --only {unknown}; choose from {', '.join(FRAMEWORKS)}")
    if args.out is None:
        args.out = Path("runs/time_to_accuracy") / f"{args.mode}-{args.set}-{args.size}.json"
    if args.threads:
        torch.set_num_threads(args.threads)
    if not SETS[args.set].is_dir():
        sys.exit(
            f"{SETS[args.set]} not found: this benchmark needs ../shared/data beside the repository"
        )
    x, y, classes = load(args.set, args.size)
    (race if args.mode == "race" else knobs)(args, x, y, classes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
