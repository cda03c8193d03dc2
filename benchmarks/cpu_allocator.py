"""glibc malloc thresholds and CPU training speed: the recipe's epochs with and without
:func:`cnnkit.training.tune_cpu_allocator`, each in its own process (the setting is process-wide
and cannot be undone), alternating, ``--repeats`` times; median seconds per epoch after the first.

    python benchmarks/cpu_allocator.py --threads 2 --repeats 3
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent


def child(tuned: bool, threads: int, epochs: int) -> None:
    """One fit of the recipe on the vehicle photos' training split; prints its epoch times."""
    from cnnkit.training import Callback, tune_cpu_allocator

    applied = tune_cpu_allocator() if tuned else False
    sys.path.insert(0, str(HERE))
    from recipe_ablation import load, splits

    from cnnkit.recipes import recommended

    torch.set_num_threads(threads)
    x, y, _ = load("vehicles", 96)
    train = splits(x, y, 0)["train"]
    builder, trainer = recommended(2, 96, len(train[1]))
    starts: list[float] = []

    class Clock(Callback):
        def on_epoch_start(self, state: object) -> None:
            starts.append(time.perf_counter())

    torch.manual_seed(0)
    trainer.replace(max_epochs=epochs, seed=0, progress=False, callbacks=[Clock()]).fit(builder.build(), train)
    starts.append(time.perf_counter())
    print("EPOCHS", applied, *[b - a for a, b in itertools.pairwise(starts)])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--child", choices=["default", "tuned"], default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args.child == "tuned", args.threads, args.epochs)
        return 0
    times: dict[str, list[float]] = {"default": [], "tuned": []}
    applied = False
    for rep in range(args.repeats):
        for mode in (["default", "tuned"] if rep % 2 == 0 else ["tuned", "default"]):
            out = subprocess.run([sys.executable, __file__, "--child", mode, "--threads", str(args.threads),
                                  "--epochs", str(args.epochs)], capture_output=True, text=True, check=True).stdout
            line = next(line for line in out.splitlines() if line.startswith("EPOCHS"))
            fields = line.split()[1:]
            applied = applied or (mode == "tuned" and fields[0] == "True")
            times[mode] += [float(v) for v in fields[2:]]  # the first epoch is a warm-up
    d, t = statistics.median(times["default"]), statistics.median(times["tuned"])
    print(f"torch {torch.__version__}, {args.threads} threads; tune_cpu_allocator applied: {applied}")
    print(f"glibc default malloc: {d:.3f} s/epoch; tune_cpu_allocator(): {t:.3f} s/epoch; speed-up {d / t:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
