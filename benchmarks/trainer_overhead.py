"""How much does cnnkit's Trainer cost over the training loop you would write by hand?

Contenders, all training the case study's baseline CNN (Conv 3->4, ReLU, MaxPool 2, Conv 4->8,
ReLU, MaxPool 2, Linear 8*56*56->2; 50,586 parameters) from the same initial weights on the same
in-memory float32 images with Adam (lr 1e-4), batch 128:

* ``cnnkit``     -- ``Trainer.fit`` (records loss, accuracy, grad norm, per-step loss).
* ``hand``       -- the case study's loop: ``randperm`` + tensor indexing, ``loss.item()`` per step.
* ``dataloader`` -- ``DataLoader(TensorDataset(X, y), batch_size=128, shuffle=True)`` (per-sample
  collation, as most tutorials write it).
* ``lightning``  -- ``lightning.Trainer`` with logger, checkpointing, progress bar, model summary
  and sanity check off, fed the fastest DataLoader it accepts (a ``BatchSampler`` over a
  ``TensorDataset``: one tensor index per batch, no collation). Skipped if lightning is absent
  (``pip install lightning``; it is an optional benchmark dependency, never a cnnkit one).

All run in ONE process and take turns epoch by epoch (the order rotates every round), so drifts in
machine load hit all of them alike. Each contender runs in its own worker thread that is only
allowed to run one epoch at a time (a handshake; needed for the frameworks that own their loop,
and used for the hand-written loops too so all compute from the same kind of thread), so exactly
one contender computes at any moment. The first epoch of each is a warm-up and is not counted; the
table shows the median seconds per epoch and the ratio to the fastest non-cnnkit contender.

Memory: on CUDA, ``torch.cuda.max_memory_allocated`` per epoch (after a reset). On CPU, the peak
resident set size (VmHWM) during the epoch minus the resident size just before it, after
resetting VmHWM through ``/proc/self/clear_refs`` (Linux): the extra memory that epoch needed on
top of the shared data and models (median over epochs). On CPU it comes from a second, shorter
run of all contenders in a child process started with ``MALLOC_MMAP_THRESHOLD_=1048576``: with
glibc's mmap threshold pinned, every large tensor is ``mmap``-ed and returned to the OS when
freed, so RSS tracks live memory (with the default dynamic threshold the figure wanders by
+-50 MiB from epoch to epoch). Pinning slows allocation, hence the separate run.

Usage::

    python benchmarks/trainer_overhead.py                      # 512 images, 224x224, 6 rounds
    python benchmarks/trainer_overhead.py --n 256 --size 112 --rounds 3 --threads 2   # quick
    python benchmarks/trainer_overhead.py --device cuda --precision bf16-mixed
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, TensorDataset

from cnnkit.training import Callback, FitState, Trainer


def case_study_model(size: int) -> nn.Module:
    """The case study's baseline, written with plain nn layers (50,586 parameters at 224x224)."""
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 8, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(8 * (size // 4) ** 2, 2),
    )


# ---------------------------------------------------------------------- memory probes
class MemoryProbe:
    """Peak extra memory of one epoch (CUDA: allocator peak; CPU: RSS high-water mark growth)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.cpu_ok = os.path.exists("/proc/self/clear_refs")

    @staticmethod
    def _status(key: str) -> int:
        with open("/proc/self/status") as fh:
            m = re.search(rf"{key}:\s+(\d+)", fh.read())
        return int(m.group(1)) * 1024 if m else 0

    def start(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.base = torch.cuda.memory_allocated()
        elif self.cpu_ok:
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")  # reset VmHWM to the current RSS
            self.base = self._status("VmRSS")

    def stop(self) -> float:
        """Return the epoch's peak extra memory in MiB (nan when unmeasurable)."""
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            return (torch.cuda.max_memory_allocated() - self.base) / 2**20
        if self.cpu_ok:
            return (self._status("VmHWM") - self.base) / 2**20
        return float("nan")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


# ---------------------------------------------------------------------- contenders
class Contender:
    """Something that can run one training epoch when asked; records time and memory."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.times: list[float] = []
        self.cpu: list[float] = []
        self.mem: list[float] = []
        self.final_loss = float("nan")

    def run_epoch(self, probe: MemoryProbe) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


class ThreadedContender(Contender):
    """A framework that owns its loop, run in a thread and released one epoch at a time."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._go = threading.Semaphore(0)
        self._done = threading.Semaphore(0)
        self._error: BaseException | None = None
        self._probe: MemoryProbe | None = None
        self._t0 = self._c0 = 0.0
        self.threads = torch.get_num_threads()
        self.thread = threading.Thread(target=self._main, daemon=True)
        self.thread.start()

    def _main(self) -> None:
        torch.set_num_threads(self.threads)  # OpenMP settings are per thread
        try:
            self.train()
        except BaseException as err:  # surfaced in run_epoch
            self._error = err
            self._done.release()

    def train(self) -> None:
        raise NotImplementedError

    # Called from inside the framework's loop (its own callbacks):
    def epoch_start(self, device: torch.device) -> None:
        self._go.acquire()
        assert self._probe is not None
        self._probe.start()
        _sync(device)
        self._t0, self._c0 = time.perf_counter(), time.process_time()

    def epoch_end(self, device: torch.device, loss: float) -> None:
        _sync(device)
        self.times.append(time.perf_counter() - self._t0)
        self.cpu.append(time.process_time() - self._c0)
        assert self._probe is not None
        self.mem.append(self._probe.stop())
        self.final_loss = loss
        self._done.release()

    def run_epoch(self, probe: MemoryProbe) -> None:
        self._probe = probe
        self._go.release()
        self._done.acquire()
        if self._error is not None:
            raise RuntimeError(f"{self.name} failed") from self._error


class LoopContender(ThreadedContender):
    """A hand-written loop; ``make_batches()`` yields ``(x, y)`` for one epoch.

    It runs in a worker thread too, so every contender computes from the same kind of thread
    (same OpenMP team set-up and malloc arena behaviour).
    """

    def __init__(
        self,
        name: str,
        model: nn.Module,
        make_batches: Callable[[], Any],
        args: Any,
        device: torch.device,
        epochs: int,
    ) -> None:
        self.model, self.make_batches, self.device = model.to(device), make_batches, device
        self.optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
        self.bf16 = args.precision == "bf16-mixed"
        self.epochs = epochs
        super().__init__(name)

    def train(self) -> None:
        for _ in range(self.epochs):
            self.epoch_start(self.device)
            self.model.train()
            losses = []
            for xb, yb in self.make_batches():
                xb = xb.to(self.device, non_blocking=True)
                yb = yb.to(self.device, non_blocking=True)
                self.optimizer.zero_grad()
                with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
                    loss = F.cross_entropy(self.model(xb), yb)
                losses.append(loss.item())  # as the case study does
                loss.backward()
                self.optimizer.step()
            self.epoch_end(self.device, sum(losses) / len(losses))


class CnnkitContender(ThreadedContender):
    def __init__(
        self,
        model: nn.Module,
        x: torch.Tensor,
        y: torch.Tensor,
        args: Any,
        device: torch.device,
        epochs: int,
    ) -> None:
        self.model, self.x, self.y, self.args, self.device, self.epochs = (
            model,
            x,
            y,
            args,
            device,
            epochs,
        )
        super().__init__("cnnkit")

    def train(self) -> None:
        outer = self

        class Handshake(Callback):
            def on_epoch_start(self, state: FitState) -> None:
                outer.epoch_start(outer.device)

            def on_epoch_end(self, state: FitState) -> None:
                outer.epoch_end(outer.device, state.history.train_loss[-1])

        trainer = Trainer(
            max_epochs=self.epochs,
            batch_size=self.args.batch,
            lr=self.args.lr,
            optimizer="adam",
            device=self.device,
            precision=self.args.precision,
            progress=False,
            seed=0,
            callbacks=[Handshake()],
        )
        trainer.fit(self.model, (self.x, self.y))


class LightningContender(ThreadedContender):
    def __init__(
        self,
        model: nn.Module,
        x: torch.Tensor,
        y: torch.Tensor,
        args: Any,
        device: torch.device,
        epochs: int,
    ) -> None:
        import lightning as L

        self.L = L
        self.model, self.x, self.y, self.args, self.device, self.epochs = (
            model,
            x,
            y,
            args,
            device,
            epochs,
        )
        super().__init__("lightning")

    def train(self) -> None:
        L, outer, lr = self.L, self, self.args.lr

        class Module(L.LightningModule):  # type: ignore[misc, name-defined]
            def __init__(self, net: nn.Module) -> None:
                super().__init__()
                self.net = net
                self.last = 0.0

            def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
                xb, yb = batch
                loss = F.cross_entropy(self.net(xb), yb)
                self.last = loss.detach()
                return loss

            def configure_optimizers(self) -> torch.optim.Optimizer:
                return torch.optim.Adam(self.parameters(), lr=lr)

        class Handshake(L.Callback):  # type: ignore[misc, name-defined]
            def on_train_epoch_start(self, trainer: Any, module: Any) -> None:
                outer.epoch_start(outer.device)

            def on_train_epoch_end(self, trainer: Any, module: Any) -> None:
                outer.epoch_end(outer.device, float(module.last))

        ds = TensorDataset(self.x, self.y)
        sampler = BatchSampler(
            RandomSampler(ds, generator=torch.Generator().manual_seed(0)),
            self.args.batch,
            drop_last=False,
        )
        loader = DataLoader(ds, sampler=sampler, batch_size=None)
        precision = {"32": "32-true", "bf16-mixed": "bf16-mixed"}[self.args.precision]
        trainer = L.Trainer(
            max_epochs=self.epochs,
            accelerator=self.device.type,
            devices=1,
            precision=precision,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            num_sanity_val_steps=0,
            callbacks=[Handshake()],
        )
        trainer.fit(Module(self.model), loader)


def _memory_in_child(argv: list[str], rounds: int) -> dict[str, float]:
    """Run the contenders again in a fresh process with a pinned mmap threshold; parse its memory."""
    cleaned: list[str] = []
    skip = False
    for a in argv:  # drop "--rounds N" pairs as well as "--rounds=N"
        if skip:
            skip = False
            continue
        if a == "--rounds":
            skip = True
            continue
        if a.startswith("--rounds=") or a == "--memory-child":
            continue
        cleaned.append(a)
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": str(1 << 20)}
    cmd = [sys.executable, __file__, *cleaned, "--rounds", str(rounds + 1), "--memory-child"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    for line in proc.stdout.splitlines():
        if line.startswith("MEMORY "):
            return {k: float(v) for k, v in json.loads(line[len("MEMORY ") :]).items()}
    raise RuntimeError("the memory run printed no MEMORY line:\n" + proc.stdout + proc.stderr)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=512, help="training images")
    p.add_argument("--size", type=int, default=224, help="image side (multiple of 4)")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument(
        "--rounds", type=int, default=6, help="epochs per contender; the first is warm-up"
    )
    p.add_argument(
        "--mem-rounds",
        type=int,
        default=3,
        help="CPU: epochs (after a warm-up) of the memory run, a child process with glibc's mmap "
        "threshold pinned; 0 takes memory from the timed rounds",
    )
    p.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    p.add_argument("--device", default="cpu")
    p.add_argument("--precision", default="32", choices=["32", "bf16-mixed"])
    p.add_argument(
        "--only", default="cnnkit,hand,dataloader,lightning", help="comma-separated contenders"
    )
    args = p.parse_args(argv)
    if args.rounds < 2:
        p.error("--rounds must be >= 2 (the first epoch is a warm-up)")

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(args.n, 3, args.size, args.size, generator=g)
    y = torch.randint(0, 2, (args.n,), generator=g)
    torch.manual_seed(0)
    init = case_study_model(args.size).state_dict()
    n_params = sum(v.numel() for v in init.values())

    def fresh() -> nn.Module:
        m = case_study_model(args.size)
        m.load_state_dict(init)
        return m

    order_gen = torch.Generator().manual_seed(0)

    def hand_batches() -> Any:
        perm = torch.randperm(args.n, generator=order_gen)
        for i in range(0, args.n, args.batch):
            idx = perm[i : i + args.batch]
            yield x[idx], y[idx]

    dl = DataLoader(
        TensorDataset(x, y),
        batch_size=args.batch,
        shuffle=True,
        generator=torch.Generator().manual_seed(0),
    )

    wanted = args.only.split(",")
    contenders: list[Contender] = []
    if "cnnkit" in wanted:
        contenders.append(CnnkitContender(fresh(), x, y, args, device, args.rounds))
    if "hand" in wanted:
        contenders.append(LoopContender("hand", fresh(), hand_batches, args, device, args.rounds))
    if "dataloader" in wanted:
        contenders.append(
            LoopContender("dataloader", fresh(), lambda: iter(dl), args, device, args.rounds)
        )
    if "lightning" in wanted:
        try:
            contenders.append(LightningContender(fresh(), x, y, args, device, args.rounds))
        except ImportError:
            print(
                "lightning is not installed: skipping it (pip install lightning)", file=sys.stderr
            )

    probe = MemoryProbe(device)
    print(
        f"case-study baseline ({n_params:,} params), {args.n} images {args.size}x{args.size}, batch "
        f"{args.batch}, Adam {args.lr:g}, {args.rounds} rounds (1 warm-up), device {device}, "
        f"precision {args.precision}, torch {torch.__version__}, {args.threads} threads, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start",
        flush=True,
    )
    for r in range(args.rounds):
        k = r % len(contenders)
        for c in contenders[k:] + contenders[:k]:  # rotate the order every round
            c.run_epoch(probe)
        print(
            f"round {r + 1}: "
            + "  ".join(f"{c.name} {c.times[-1]:.2f}s {c.mem[-1]:.0f}MiB" for c in contenders),
            flush=True,
        )
    for c in contenders:  # let every framework finish its teardown before the process exits
        c.thread.join(timeout=120)
    mem = {c.name: statistics.median(c.mem[1:]) for c in contenders}
    if args.memory_child:
        print("MEMORY " + json.dumps(mem), flush=True)
        return 0

    med = {c.name: statistics.median(c.times[1:]) for c in contenders}
    cpu = {c.name: statistics.median(c.cpu[1:]) for c in contenders}
    if device.type == "cpu" and args.mem_rounds > 0:
        mem = _memory_in_child(argv if argv is not None else sys.argv[1:], args.mem_rounds)
    others = [n for n in med if n != "cnnkit"]
    fastest = min(others, key=lambda n: med[n]) if others else None
    fastest_cpu = min(others, key=lambda n: cpu[n]) if others else None
    print()
    print(
        "| loop | wall s/epoch (median) | wall ratio | CPU s/epoch (median) | CPU ratio "
        "| peak extra memory (MiB) | memory ratio to hand | mean loss of last epoch |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for c in contenders:
        ratio = med[c.name] / med[fastest] if fastest else float("nan")
        cratio = cpu[c.name] / cpu[fastest_cpu] if fastest_cpu else float("nan")
        mratio = mem[c.name] / mem["hand"] if mem.get("hand", 0) > 1 else float("nan")
        print(
            f"| {c.name} | {med[c.name]:.3f} | {ratio:.3f}x | {cpu[c.name]:.3f} | {cratio:.3f}x "
            f"| {mem[c.name]:.0f} | {mratio:.3f}x | {c.final_loss:.4f} |"
        )
    print(
        f"\nratios are to the fastest non-cnnkit loop (wall: {fastest}, CPU: {fastest_cpu}); CPU "
        "time is the process's user+system time during the epoch (only one contender runs at a "
        "time), which other processes on a shared machine disturb far less than wall time"
    )
    print(f"\nload average at end {os.getloadavg()[0]:.1f}; fastest non-cnnkit loop: {fastest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
