"""diagnose() on real short training runs on the vehicle photos, with the condition induced.

The loop is hand-written on purpose (diagnosis must work on any history, and the cnnkit trainer is
tested elsewhere); images are downsized to 32x32 with Pillow so that every run takes a second or
two on one CPU thread.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from cnnkit.diagnosis import Label, diagnose


@pytest.fixture(scope="module")
def photos(vehicles_dir: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """All 201 photos as standardized float (N, 3, 32, 32) and int64 labels."""
    with (vehicles_dir / "labels.csv").open() as f:
        rows = list(csv.DictReader(f))
    images = []
    for r in rows:
        with Image.open(vehicles_dir / "images" / r["image_names"]) as im:
            im.draft("RGB", (64, 64))
            images.append(np.asarray(im.convert("RGB").resize((32, 32))))
    X = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous().float() / 255
    X = (X - X.mean((0, 2, 3), keepdim=True)) / X.std((0, 2, 3), keepdim=True)
    y = torch.tensor([int(r["emergency_or_not"]) for r in rows])
    return X, y


def _fit(model: nn.Module, opt: torch.optim.Optimizer, data: tuple[torch.Tensor, torch.Tensor],
         train: torch.Tensor, val: torch.Tensor, epochs: int, batch: int) -> dict[str, list[float]]:
    X, y = data
    loss_fn = nn.CrossEntropyLoss()
    h: dict[str, list[float]] = {"train_loss": [], "val_loss": [], "train_acc": [], "val_acc": []}
    for _ in range(epochs):
        model.train()
        order = train[torch.randperm(len(train))]
        total = correct = 0.0
        for i in range(0, len(order), batch):
            idx = order[i:i + batch]
            out = model(X[idx])
            loss = loss_fn(out, y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
            correct += (out.argmax(1) == y[idx]).sum().item()
        model.eval()
        with torch.no_grad():
            out = model(X[val])
            h["val_loss"].append(loss_fn(out, y[val]).item())
            h["val_acc"].append((out.argmax(1) == y[val]).float().mean().item())
        h["train_loss"].append(total / len(train))
        h["train_acc"].append(correct / len(train))
    return h


def _split(n_train: int, n_val: int) -> Iterator[torch.Tensor]:
    perm = torch.randperm(201, generator=torch.Generator().manual_seed(0))
    yield perm[:n_train]
    yield perm[n_train:n_train + n_val]


def _small_cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 8 * 8, 2))


def _large_mlp() -> nn.Module:  # 0.85M parameters for 40 training images, no regularization
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 256), nn.ReLU(),
                         nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 2))


Case = tuple[Callable[[], nn.Module], Callable[[nn.Module], torch.optim.Optimizer], int, int, int,
             int, Label]
CASES: dict[str, Case] = {
    # model, optimizer, n_train, n_val, epochs, batch, expected label
    "large model, few images, long": (_large_mlp, lambda m: torch.optim.Adam(m.parameters(), 1e-3),
                                      40, 60, 30, 40, Label.OVERFITTING),
    "tiny learning rate": (_small_cnn, lambda m: torch.optim.Adam(m.parameters(), 1e-5),
                           150, 51, 30, 25, Label.SLOW_CONVERGING),
    "huge learning rate": (_small_cnn, lambda m: torch.optim.SGD(m.parameters(), lr=20.0),
                           150, 51, 8, 25, Label.DIVERGING),
}


@pytest.mark.parametrize("case", list(CASES))
def test_real_run_condition_is_diagnosed(case: str,
                                         photos: tuple[torch.Tensor, torch.Tensor]) -> None:
    make, optim, n_train, n_val, epochs, batch, expected = CASES[case]
    torch.manual_seed(0)
    model = make()
    train, val = _split(n_train, n_val)
    h = _fit(model, optim(model), photos, train, val, epochs, batch)
    d = diagnose(h, num_classes=2)
    assert d.label == expected, f"{case}:\n{d}"
    if expected == Label.OVERFITTING:
        f = d.findings[0]
        assert f.evidence["best_epoch"] < epochs // 2 and f.evidence["rise_fraction"] > 0.2
        assert h["train_acc"][-1] == 1.0
    if expected == Label.SLOW_CONVERGING:
        # Still falling at a rate near the run's average: far from converged.
        assert d.findings[0].evidence["rate_ratio"] > 0.4
        assert d.findings[0].evidence["more_epochs"] >= epochs // 2
