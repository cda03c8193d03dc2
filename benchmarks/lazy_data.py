"""What does ``lazy=True`` cost per epoch, against images decoded once into memory?

The same real photos (the first ``--n`` rows of ``../shared/data/vehicles_full/train.csv``,
224x224 JPEGs resized to ``--size``) are trained on with the case study's baseline CNN
(``ModelBuilder(3, 2, size).conv(4).conv(8)``), Adam, batch 32, from the same initial weights:

* ``memory``    -- ``load_image_csv(..., size=size)``: decoded once (timed separately), then the
  Trainer's in-memory fast path.
* ``lazy``      -- ``load_image_csv(..., size=size, lazy=True)``: every epoch decodes every file
  in ``__getitem__`` (``Trainer(num_workers=0)``: in the training process).
* ``lazy-wN``   -- the same with ``Trainer(num_workers=N)`` DataLoader worker processes.

All in ONE process, taking turns epoch by epoch (the order rotates each round), so a drift in
machine load hits all alike. The table shows the median seconds per epoch over ``--rounds``
rounds (after one warm-up epoch each) and the ratio to ``memory``.

Usage::

    python benchmarks/lazy_data.py                          # 400 images at 64x64, 3 rounds
    python benchmarks/lazy_data.py --n 200 --rounds 2 --workers 2
"""

from __future__ import annotations

import argparse
import csv
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from cnnkit.builder import ModelBuilder
from cnnkit.data import load_image_csv
from cnnkit.training import Trainer

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "vehicles_full"


def _subset_csv(folder: Path, n: int) -> str:
    with (DATA / "train.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))[:n]
    path = folder / "subset.csv"
    path.write_text(
        "image_names,emergency_or_not\n"
        + "".join(f"{r['image_names']},{r['emergency_or_not']}\n" for r in rows)
    )
    return str(path)


def _epoch(trainer: Trainer, model: torch.nn.Module, data: Any) -> float:
    start = time.perf_counter()
    trainer.fit(model, data)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=400, help="images (first rows of train.csv)")
    parser.add_argument("--size", type=int, default=64, help="side the images are resized to")
    parser.add_argument("--rounds", type=int, default=3, help="timed epochs per contender")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers (0: none)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        subset = _subset_csv(Path(tmp), args.n)
        kwargs: dict[str, Any] = {"size": args.size, "images_dir": DATA / "images"}
        start = time.perf_counter()
        eager = load_image_csv(tmp, subset, **kwargs, num_workers=1)
        decode_once = time.perf_counter() - start
        lazy = load_image_csv(tmp, subset, **kwargs, lazy=True)
        assert torch.equal(lazy.labels, eager.labels) and lazy.classes == eager.class_names

        torch.manual_seed(0)
        base = ModelBuilder(3, 2, args.size).conv(4).conv(8).build()
        contenders: dict[str, tuple[Trainer, Any]] = {
            "memory": (Trainer(max_epochs=1, batch_size=32, device="cpu", progress=False), eager),
            "lazy": (Trainer(max_epochs=1, batch_size=32, device="cpu", progress=False), lazy),
        }
        if args.workers:
            contenders[f"lazy-w{args.workers}"] = (
                Trainer(
                    max_epochs=1,
                    batch_size=32,
                    device="cpu",
                    progress=False,
                    num_workers=args.workers,
                ),
                lazy,
            )
        models = {
            name: ModelBuilder(3, 2, args.size).conv(4).conv(8).build() for name in contenders
        }
        for model in models.values():
            model.load_state_dict(base.state_dict())
        times: dict[str, list[float]] = {name: [] for name in contenders}
        names = list(contenders)
        for name in names:  # warm-up
            _epoch(contenders[name][0], models[name], contenders[name][1])
        for r in range(args.rounds):
            for name in names[r % len(names) :] + names[: r % len(names)]:
                trainer, data = contenders[name]
                times[name].append(_epoch(trainer, models[name], data))

    memory = statistics.median(times["memory"])
    print(
        f"{args.n} real 224x224 JPEGs -> {args.size}x{args.size}, batch 32, "
        f"{args.threads} torch thread(s), median of {args.rounds} epochs"
    )
    print(f"decoding once into memory (1 thread): {decode_once:.2f} s")
    print(f"{'contender':<10} {'s/epoch':>8} {'ratio':>7}")
    for name in names:
        t = statistics.median(times[name])
        print(f"{name:<10} {t:8.3f} {t / memory:7.2f}")


if __name__ == "__main__":
    main()
