"""Tiny deterministic data and models shared by the trainer tests (and their child processes)."""

from __future__ import annotations

import torch
from torch import nn


def blobs(n: int = 96, seed: int = 0, size: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    """Two easy classes of (n, 3, size, size) float images: class 1 is brighter."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = torch.rand(n, 3, size, size, generator=g) * 0.6 + 0.4 * y.view(-1, 1, 1, 1).float()
    return x, y


def mlp(seed: int = 0, size: int = 6, classes: int = 2, dropout: float = 0.0) -> nn.Module:
    """A model without batch norm (DDP must match single-process to 1e-5)."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Dropout(dropout),
        nn.Linear(4 * size * size, classes),
    )


def bn_model(seed: int = 0, size: int = 6, classes: int = 2) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1, bias=False),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(4 * size * size, classes),
    )


def weights(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def same_weights(a: nn.Module, b: nn.Module) -> bool:
    wa, wb = weights(a), weights(b)
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
