"""Fine-tuning a saved cnnkit backbone against training it from scratch, on real photos.

Protocol (per seed): pretrain ``cnnkit-resnet8`` on the Intel scenes (6 classes, 2400 photos,
90/10 stratified split) and save its ``state_dict``; then, on the vehicle photos (2 classes,
1646 photos, 90/10 stratified split), train three models for the same number of epochs:

* ``scratch``: ``backbone("cnnkit-resnet8", 2)``, every layer trained;
* ``frozen``: ``backbone(..., weights=saved, freeze=True)``, the head alone trained;
* ``fine-tune``: ``backbone(..., weights=saved)``, the body at a 10x lower learning rate
  (``param_groups(model, backbone_lr=lr / 10)``).

Images are resized to 64x64, scaled to [0, 1], normalized with mean 0.5 and std 0.25, flipped
left-right at random while training. AdamW (lr 2e-3, weight decay 5e-4), batch 64, a cosine
schedule. The loop is written out here (plain torch) so the numbers depend on nothing but the
backbone functions. Validation accuracy is the final epoch's.

Run (about 10 minutes a seed on one CPU thread; ``--fraction 0.1`` trains the vehicle models
on a tenth of the training split, the low-data case where transfer usually matters most)::

    nice -n 5 .venv/bin/python benchmarks/transfer_learning.py --seeds 0 1
    nice -n 5 .venv/bin/python benchmarks/transfer_learning.py --seeds 0 1 --fraction 0.1
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cnnkit.backbones import backbone, param_groups
from cnnkit.data import load_image_csv, load_image_folder, train_val_split

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
NAME = "cnnkit-resnet8"


def _prep(x: Tensor) -> Tensor:
    return (x.float() / 255 - 0.5) / 0.25


def train(model: nn.Module, data: tuple[Tensor, Tensor], epochs: int, seed: int,
          groups: list[dict[str, object]] | None = None, lr: float = 2e-3) -> float:  # fmt: skip
    """Train ``model`` for ``epochs``; returns the seconds taken."""
    X, y = data
    gen = torch.Generator().manual_seed(seed)
    params = groups if groups is not None else [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=5e-4)  # type: ignore[arg-type]
    steps = epochs * math.ceil(len(X) / 64)
    base = [g["lr"] for g in opt.param_groups]
    step = 0
    start = time.perf_counter()
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(X), generator=gen)
        for i in range(0, len(X), 64):
            idx = order[i : i + 64]
            xb = _prep(X[idx])
            flip = torch.rand(len(idx), generator=gen) < 0.5
            xb[flip] = xb[flip].flip(-1)
            for g, b in zip(opt.param_groups, base, strict=True):
                g["lr"] = b * 0.5 * (1 + math.cos(math.pi * step / steps))
            loss = F.cross_entropy(model(xb), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
    return time.perf_counter() - start


def subset(data: tuple[Tensor, Tensor], fraction: float, seed: int) -> tuple[Tensor, Tensor]:
    """``fraction`` of each class of ``data`` (at least one sample a class), chosen by ``seed``."""
    if fraction >= 1.0:
        return data
    X, y = data
    gen = torch.Generator().manual_seed(seed + 1000)
    keep = []
    for c in y.unique():
        idx = (y == c).nonzero().flatten()
        idx = idx[torch.randperm(len(idx), generator=gen)]
        keep.append(idx[: max(1, round(fraction * len(idx)))])
    picked = torch.cat(keep).sort().values
    return X[picked], y[picked]


@torch.no_grad()
def accuracy(model: nn.Module, data: tuple[Tensor, Tensor]) -> float:
    model.eval()
    X, y = data
    hits = sum(int((model(_prep(X[i : i + 256])).argmax(1) == y[i : i + 256]).sum())
               for i in range(0, len(X), 256))  # fmt: skip
    return hits / len(X)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--pretrain-epochs", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument(
        "--fraction",
        type=float,
        default=1.0,
        help="train on this fraction of the vehicle training split (per class)",
    )
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON")
    args = parser.parse_args()
    torch.set_num_threads(1)
    scenes = load_image_folder(DATA / "intel_scenes", size=args.size)
    vehicles = load_image_csv(DATA / "vehicles_full", size=args.size)
    rows = []
    for seed in args.seeds:
        s_train, s_val = train_val_split(scenes.images, scenes.labels, 0.1, seed=seed)
        v_train, v_val = train_val_split(vehicles.images, vehicles.labels, 0.1, seed=seed)
        v_train = subset(v_train, args.fraction, seed)
        torch.manual_seed(seed)
        pre = backbone(NAME, 6, input_size=args.size)
        t_pre = train(pre, s_train, args.pretrain_epochs, seed)
        row = {
            "seed": seed,
            "fraction": args.fraction,
            "vehicle_train_n": len(v_train[0]),
            "pretrain_val_acc": accuracy(pre, s_val),
            "pretrain_s": t_pre,
        }
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "scenes.pt"
            torch.save(pre.state_dict(), path)
            for variant in ("scratch", "frozen", "fine-tune"):
                torch.manual_seed(seed)
                if variant == "scratch":
                    model = backbone(NAME, 2, input_size=args.size)
                    groups = None
                else:
                    model = backbone(NAME, 2, input_size=args.size, weights=path,
                                     freeze=variant == "frozen")  # fmt: skip
                    groups = (
                        param_groups(model, backbone_lr=2e-4) if variant == "fine-tune" else None
                    )
                secs = train(model, v_train, args.epochs, seed, groups)
                row[f"{variant}_val_acc"] = accuracy(model, v_val)
                row[f"{variant}_train_acc"] = accuracy(model, v_train)
                row[f"{variant}_s"] = secs
        rows.append(row)
        print(json.dumps(row), flush=True)
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
