"""Does ``cnnkit.augment.default()`` help on very little real data?

Trains the case study's combined model (conv 3->4 + BN + ReLU + max-pool + dropout 0.5,
conv 4->8 + BN + ReLU + max-pool + dropout 0.5, linear) on the 201 real vehicle photos in
``../shared/data/emergency_vehicles`` (resized, default 64x64), with and without the default
augmentation, over several seeds, on the same stratified train/validation split, and prints the
validation accuracy (mean and spread over seeds) of both.

It trains with ``cnnkit.training.Trainer`` (its ``augment=`` hook); ``--loop manual`` uses a small
hand-written loop instead, as a cross-check of the Trainer.

    python benchmarks/augment_evidence.py                      # 5 seeds, 60 epochs, 64x64
    python benchmarks/augment_evidence.py --seeds 3 --epochs 30 --size 48   # quicker
"""

from __future__ import annotations

import argparse
import csv
import statistics
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cnnkit.augment import default
from cnnkit.builder import case_study
from cnnkit.training import Trainer

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "emergency_vehicles"


# The loader and split below predate cnnkit.data and are kept because the figures published in
# docs/augmentation.md come from this exact split (cnnkit.data.train_val_split rounds differently).
def load_images(root: Path, size: int) -> tuple[Tensor, Tensor]:
    """Load ``labels.csv`` + ``images/`` as uint8 ``(N, 3, size, size)`` and int64 labels."""
    from PIL import Image

    with open(root / "labels.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        raise ValueError(f"{root / 'labels.csv'} lists no images")
    arrays, labels = [], []
    for row in rows:
        with Image.open(root / "images" / row["image_names"]) as image:
            rgb = image.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
            arrays.append(np.asarray(rgb, dtype=np.uint8))
        labels.append(int(row["emergency_or_not"]))
    # (N, H, W, C) -> (N, C, H, W) with permute, never reshape.
    x = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
    return x, torch.tensor(labels, dtype=torch.long)


def stratified_split(y: Tensor, val_fraction: float, seed: int) -> tuple[Tensor, Tensor]:
    """Indices ``(train, val)`` with each class split in the same proportion."""
    g = torch.Generator().manual_seed(seed)
    train_idx, val_idx = [], []
    for cls in torch.unique(y):
        idx = (y == cls).nonzero().squeeze(1)
        idx = idx[torch.randperm(idx.numel(), generator=g)]
        n_val = round(val_fraction * idx.numel())
        val_idx.append(idx[:n_val])
        train_idx.append(idx[n_val:])
    return torch.cat(train_idx), torch.cat(val_idx)


def build_model(size: int) -> nn.Module:
    """The case study's combined model (batch norm + dropout 0.5) at ``size`` x ``size``."""
    return case_study("both", input_size=size).build()


def accuracy(model: nn.Module, x: Tensor, y: Tensor) -> float:
    model.eval()
    with torch.no_grad():
        pred = model(x.float() / 255).argmax(1)
    return float((pred == y).float().mean())


def fit_manual(
    model: nn.Module,
    train: tuple[Tensor, Tensor],
    val: tuple[Tensor, Tensor],
    args: argparse.Namespace,
    augment: nn.Module | None,
    seed: int,
) -> tuple[list[float], list[float]]:
    """A minimal loop: Adam, shuffled mini-batches, uint8 -> [0, 1], augment train batches."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    x_train, y_train = train
    train_acc, val_acc = [], []
    for _ in range(args.epochs):
        model.train()
        correct = 0
        for batch in torch.randperm(len(y_train), generator=g).split(args.batch_size):
            xb, yb = x_train[batch].float() / 255, y_train[batch]
            if augment is not None:
                xb, yb = augment(xb, yb)
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            correct += int((logits.argmax(1) == yb).sum())
        train_acc.append(correct / len(y_train))
        val_acc.append(accuracy(model, *val))
    return train_acc, val_acc


def fit_trainer(
    model: nn.Module,
    train: tuple[Tensor, Tensor],
    val: tuple[Tensor, Tensor],
    args: argparse.Namespace,
    augment: nn.Module | None,
    seed: int,
) -> tuple[list[float], list[float]]:
    torch.manual_seed(seed)  # the model was built before: its init is seeded by the caller
    trainer = Trainer(
        max_epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        device="cpu",
        seed=seed,
        progress=False,
        augment=augment,
    )
    history = trainer.fit(model, train, val=val)
    return list(history.train_acc), list(history.val_acc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--size", type=int, default=64, help="images are resized to size x size")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--val-fraction", type=float, default=0.25)
    parser.add_argument("--strength", type=float, default=1.0, help="default(strength)")
    parser.add_argument("--loop", choices=("trainer", "manual"), default="trainer")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    loop = args.loop
    fit = fit_trainer if loop == "trainer" else fit_manual

    x, y = load_images(args.data, args.size)
    train_idx, val_idx = stratified_split(y, args.val_fraction, seed=0)  # the same split always
    train, val = (x[train_idx], y[train_idx]), (x[val_idx], y[val_idx])
    print(
        f"{len(y)} images at {args.size}x{args.size}; split: {len(train_idx)} train / "
        f"{len(val_idx)} val (stratified, seed 0; val class counts "
        f"{torch.bincount(val[1]).tolist()}); model: case_study('both'); loop: "
        f"{'cnnkit.training.Trainer' if loop == 'trainer' else 'hand-written'}; Adam lr "
        f"{args.lr}, batch {args.batch_size}, {args.epochs} epochs, seeds 0..{args.seeds - 1}"
    )
    results: dict[str, dict[str, list[float]]] = {}
    start = time.perf_counter()
    for name, make_aug in (("none", lambda: None), ("default()", lambda: default(args.strength))):
        final, last5, train_final = [], [], []
        for seed in range(args.seeds):
            torch.manual_seed(seed)
            model = build_model(args.size)
            train_acc, val_acc = fit(model, train, val, args, make_aug(), seed)
            final.append(val_acc[-1])
            last5.append(statistics.fmean(val_acc[-5:]))
            train_final.append(train_acc[-1])
            print(
                f"  augment={name:9s} seed {seed}: train acc {train_acc[-1]:.3f}, val acc "
                f"{val_acc[-1]:.3f} (mean of last 5 epochs {last5[-1]:.3f})",
                flush=True,
            )
        results[name] = {"final": final, "last5": last5, "train": train_final}
    print(f"\n({time.perf_counter() - start:.0f} s)  validation accuracy over {args.seeds} seeds:")
    for name, res in results.items():

        def fmt(values: list[float]) -> str:
            sd = statistics.stdev(values) if len(values) > 1 else 0.0
            return (
                f"{statistics.fmean(values):.3f} ± {sd:.3f} [{min(values):.3f}, {max(values):.3f}]"
            )

        print(
            f"  augment={name:9s} final val {fmt(res['final'])}; last-5 mean {fmt(res['last5'])}; "
            f"final train {statistics.fmean(res['train']):.3f}"
        )
    diff = [
        a - b for a, b in zip(results["default()"]["last5"], results["none"]["last5"], strict=True)
    ]
    print(
        f"  paired difference (default() - none, last-5 mean) per seed: "
        f"{[round(d, 3) for d in diff]}; mean {statistics.fmean(diff):+.3f}"
    )


if __name__ == "__main__":
    main()
