"""The recommended recipe and its ablations on real photos, over seeds: what each ingredient buys.

For each data set and seed: exact duplicates are dropped, a stratified 20 % test split is held out
(never trained on, never used to choose anything), 10 % of the rest is the validation split, and
the split changes with the seed (so the spread includes the split's luck, not one lucky split).
Every variant trains from :func:`cnnkit.recipes.recommended` with one ingredient changed, and
the script prints the mean and spread (sample standard deviation) of validation and test accuracy
over the seeds, with the minutes each run took.

    python benchmarks/recipe_ablation.py                      # both sets, 2 seeds, every variant
    python benchmarks/recipe_ablation.py --sets vehicles --seeds 3 --variants recipe no_augment

``--out DIR`` (default ``runs/recipe_ablation``) receives one JSON line per run (``runs.jsonl``)
and each run's history, from which ``--report`` rebuilds the table without training; a run
already there is not repeated, so an interrupted benchmark resumes. On a machine shared with
another job use ``--threads 1``: two OpenMP teams on the same cores slow each other several-fold.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from cnnkit import augment
from cnnkit.builder import ModelBuilder
from cnnkit.data import deduplicate, load_image_csv, load_image_folder, train_val_split
from cnnkit.recipes import recommended
from cnnkit.training import Trainer

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SETS = {"vehicles": SHARED / "vehicles_full", "scenes": SHARED / "intel_scenes"}

Variant = Callable[[ModelBuilder, Trainer, int], tuple[ModelBuilder, Trainer]]

VARIANTS: dict[str, Variant] = {
    "recipe": lambda b, t, c: (b, t),
    "plus_dropout": lambda b, t, c: (b.replace(dropout=0.1, dropout_kind="channel"), t),
    "no_augment": lambda b, t, c: (b, t.replace(augment=None)),
    "no_batchnorm": lambda b, t, c: (b.replace(batch_norm=False), t),
    "no_dropout": lambda b, t, c: (b.replace(dropout=0.0), t),
    "no_label_smoothing": lambda b, t, c: (b, t.replace(label_smoothing=0.0)),
    "no_weight_decay": lambda b, t, c: (b, t.replace(weight_decay=0.0)),
    "adam_constant_lr": lambda b, t, c: (b, t.replace(optimizer="adam", lr=1e-3, weight_decay=0.0, scheduler=None)),
    "flatten_head": lambda b, t, c: (b.replace(head="flatten"), t),
    "plus_mixup": lambda b, t, c: (
        b, t.replace(augment=augment.Compose([augment.default(), augment.MixupOrCutMix(num_classes=c)]))
    ),
    "double_epochs": lambda b, t, c: (b, t.replace(max_epochs=2 * t.max_epochs)),
    "fp32": lambda b, t, c: (b, t.replace(precision="32", channels_last=False)),
}


def load(name: str, size: int) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """A data set as uint8 images, labels and class names, exact duplicates removed."""
    root = SETS[name]
    cache = Path("runs/cache") / name  # never write into the shared data folder
    if (root / "train.csv").exists() or (root / "labels.csv").exists():
        ds = load_image_csv(root, size=size, cache=cache)
    else:
        ds = load_image_folder(root, size=size, cache=cache)
    x, y, _ = deduplicate(ds.images, ds.labels)
    return x, y, list(ds.class_names)


def splits(x: torch.Tensor, y: torch.Tensor, seed: int) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Stratified train / val / test (70 / 10 / 20 %, about), different for each seed."""
    rest, test = train_val_split(x, y, val_fraction=0.2, seed=1000 + seed)
    train, val = train_val_split(*rest, val_fraction=0.125, seed=2000 + seed)
    return {"train": train, "val": val, "test": test}


#: The first draft of the recipe (commit da9a959): the final one plus channel dropout 0.1. The
#: ablation's first rounds ran around it; ``--base draft`` reproduces them.
BASES = {"final": lambda b: b, "draft": lambda b: b.replace(dropout=0.1, dropout_kind="channel")}


def run_one(name: str, variant: str, seed: int, size: int, data: dict, classes: list[str], out: Path,
            base: str = "final") -> dict:
    train, val, test = data["train"], data["val"], data["test"]
    builder, trainer = recommended(len(classes), size, len(train[1]))
    builder = BASES[base](builder)
    builder, trainer = VARIANTS[variant](builder, trainer, len(classes))
    trainer = trainer.replace(seed=seed, progress=False)
    torch.manual_seed(seed)
    model = builder.build()
    t0 = time.perf_counter()
    history = trainer.fit(model, train, val)
    minutes = (time.perf_counter() - t0) / 60
    test_acc = trainer.evaluate(model, test)["accuracy"]
    row = {
        "set": name, "base": base, "variant": variant, "seed": seed, "size": size,
        "n_train": len(train[1]), "n_val": len(val[1]), "n_test": len(test[1]),
        "epochs": trainer.max_epochs, "train_acc": history.train_acc[-1], "val_acc": history.val_acc[-1],
        "best_val_acc": max(history.val_acc), "test_acc": float(test_acc), "minutes": minutes,
        "params": sum(p.numel() for p in model.parameters()),
    }  # fmt: skip
    history.to_json(out / f"{name}-{base}-{variant}-seed{seed}.json")
    with open(out / "runs.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")
    return row


def table(rows: list[dict]) -> str:
    """Mean ± sample sd over seeds, and each variant's test accuracy minus the recipe's on the same
    seeds (the same split and initialization: a paired difference, far less noisy than the
    means, whose spread includes the split's luck)."""

    def ms(values: list[float]) -> str:
        m = 100 * statistics.mean(values)
        s = 100 * statistics.stdev(values) if len(values) > 1 else float("nan")
        return f"{m:5.1f} ± {s:3.1f}"

    lines = ["| set | variant | seeds | train % | val % | test % (held out) | test - recipe (paired) | minutes/run |",
             "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    keys = sorted({(r["set"], r["base"], r["variant"]) for r in rows},
                  key=lambda k: (k[0], k[1] != "final", list(VARIANTS).index(k[2])))
    for s, base, v in keys:
        rs = [r for r in rows if (r["set"], r["base"], r["variant"]) == (s, base, v)]
        recipe = {r["seed"]: r["test_acc"] for r in rows if (r["set"], r["base"], r["variant"]) == (s, base, "recipe")}
        diffs = [r["test_acc"] - recipe[r["seed"]] for r in rs if r["seed"] in recipe]
        paired = "" if v == "recipe" or not diffs else ", ".join(f"{100 * d:+.1f}" for d in diffs)
        name = v if base == "final" else f"draft: {v}"
        lines.append(
            f"| {s} | {name} | {len(rs)} | {ms([r['train_acc'] for r in rs])} | {ms([r['val_acc'] for r in rs])} "
            f"| {ms([r['test_acc'] for r in rs])} | {paired} | {statistics.mean(r['minutes'] for r in rs):.1f} |"
        )
    return "\n".join(lines)


def _rows(out: Path) -> list[dict]:
    path = out / "runs.jsonl"
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for row in rows:
        row.setdefault("base", "draft")  # the draft's first runs did not record their base
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sets", nargs="+", choices=sorted(SETS), default=["vehicles", "scenes"])
    p.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    p.add_argument("--seeds", type=int, default=2, help="seeds 0..N-1 (default 2)")
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--size", type=int, default=96)
    p.add_argument("--base", choices=sorted(BASES), default="final",
                   help="the recipe the variants change: 'final' (recommended()) or 'draft' (its first "
                        "draft, with channel dropout 0.1, around which the first ablation ran)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--out", type=Path, default=Path("runs/recipe_ablation"))
    p.add_argument("--report", action="store_true", help="print the table of --out's runs; train nothing")
    p.add_argument("--plot", type=Path, default=None,
                   help="also draw the learning curves of --sets' first set, seed --first-seed, every "
                        "--variants run found in --out, to this PNG")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.threads:
        torch.set_num_threads(args.threads)
    if not args.report:
        for name in args.sets:
            if not SETS[name].is_dir():
                sys.exit(f"{SETS[name]} not found: this benchmark needs ../shared/data beside the repository")
        loaded = {name: load(name, args.size) for name in args.sets}
        done = {(r["set"], r["base"], r["variant"], r["seed"], r["size"]) for r in _rows(args.out)}
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            for name in args.sets:
                x, y, classes = loaded[name]
                data = splits(x, y, seed)
                for variant in args.variants:
                    if (name, args.base, variant, seed, args.size) in done:
                        continue  # already in runs.jsonl: a restarted run picks up where it stopped
                    row = run_one(name, variant, seed, args.size, data, classes, args.out, args.base)
                    print(json.dumps(row), flush=True)
    rows = _rows(args.out)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, images {args.size}x{args.size}")
    print(table(rows))
    if args.plot is not None:
        from cnnkit import History
        from cnnkit.plotting import plot_history

        name, seed = args.sets[0], args.first_seed
        runs = {v: args.out / f"{name}-{args.base}-{v}-seed{seed}.json" for v in args.variants}
        if args.base == "draft":  # the draft's first runs were saved without the base in the name
            runs = {v: p if p.exists() else args.out / f"{name}-{v}-seed{seed}.json" for v, p in runs.items()}
        curves = {v: History.from_json(path) for v, path in runs.items() if path.exists()}
        plot_history(curves, args.plot, title=f"{name}, {args.size}x{args.size}, seed {seed}")
        print(f"wrote {args.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
