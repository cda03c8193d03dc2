"""The case study's stratified train/validation split, reproducible by seed."""

from __future__ import annotations

import math
from typing import Any, TypeVar

import numpy as np
import torch
from torch import Tensor

__all__ = ["train_val_split"]

#: A tensor or a numpy array; :func:`train_val_split` returns the kind it is given.
ArrayT = TypeVar("ArrayT", Tensor, np.ndarray[Any, Any])


def _take(x: ArrayT, index: np.ndarray[Any, Any]) -> ArrayT:
    if isinstance(x, Tensor):
        return x[torch.from_numpy(index).to(x.device)]
    taken: ArrayT = x[index]
    return taken


def train_val_split(
    X: ArrayT,
    y: ArrayT,
    val_fraction: float = 0.1,
    stratify: bool = True,
    seed: int = 0,
) -> tuple[tuple[ArrayT, ArrayT], tuple[ArrayT, ArrayT]]:
    """Split ``(X, y)`` into shuffled training and validation parts, stratified by class.

    The validation part has ``ceil(N * val_fraction)`` samples (as scikit-learn's
    ``train_test_split(test_size=val_fraction)``; 165 of the case study's 1646 images). With
    ``stratify=True`` each class contributes its share ``n_c * val_fraction``, rounded down,
    and the samples still missing from the total go to the classes with the largest remainders
    (ties to the lower class index), so every class is within one sample of its exact share.
    The same ``seed`` gives the same split.

    Args:
        X: samples, a tensor or numpy array whose first dimension is ``N``.
        y: integer class labels of shape ``(N,)``, same kind (tensor/array) as usual.
        val_fraction: fraction of samples in the validation part, in ``(0, 1)``.
        stratify: keep each class's proportion in both parts.
        seed: seed of the shuffle.

    Returns:
        ``((X_train, y_train), (X_val, y_val))``, of the same types as the inputs, in shuffled
        order.

    Raises:
        TypeError: ``X`` or ``y`` is not a tensor or numpy array, or ``y`` is not integer
            when stratifying.
        ValueError: lengths differ, ``y`` is not 1-D, ``val_fraction`` is outside ``(0, 1)``,
            or either part would be empty.

    Example:
        >>> from cnnkit.data import synthetic_vehicles
        >>> X, y, _ = synthetic_vehicles(n=100, size=16)
        >>> (X_tr, y_tr), (X_va, y_va) = train_val_split(X, y, val_fraction=0.1, seed=0)
        >>> len(X_tr), len(X_va)
        (90, 10)
    """
    for name, value in (("X", X), ("y", y)):
        if not isinstance(value, (Tensor, np.ndarray)):
            raise TypeError(f"{name} must be a torch tensor or numpy array, got {type(value)}")
    if not 0.0 < float(val_fraction) < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    y_np = y.detach().cpu().numpy() if isinstance(y, Tensor) else np.asarray(y)
    if y_np.ndim != 1:
        raise ValueError(f"y must be 1-D class labels of shape (N,), got shape {y_np.shape}")
    n = int(y_np.shape[0])
    if int(X.shape[0]) != n:
        raise ValueError(f"X has {X.shape[0]} samples but y has {n} labels")
    n_val = math.ceil(n * float(val_fraction))
    if n_val < 1 or n_val >= n:
        raise ValueError(
            f"val_fraction={val_fraction} of {n} samples leaves an empty part "
            f"({n - n_val} train / {n_val} val); use more data or another fraction"
        )
    rng = np.random.default_rng(seed)
    if stratify:
        if not np.issubdtype(y_np.dtype, np.integer):
            raise TypeError(
                f"stratify=True needs integer class labels, got dtype {y_np.dtype}; "
                "pass stratify=False for other targets"
            )
        values, counts = np.unique(y_np, return_counts=True)
        exact = counts * (n_val / n)
        take = np.floor(exact).astype(np.int64)
        missing = n_val - int(take.sum())
        # Largest remainder first; stable sort keeps ties in class order.
        order = np.argsort(-(exact - take), kind="stable")
        take[order[:missing]] += 1
        val_parts, train_parts = [], []
        for value, k in zip(values, take, strict=True):
            members = rng.permutation(np.flatnonzero(y_np == value))
            val_parts.append(members[:k])
            train_parts.append(members[k:])
        val_idx = rng.permutation(np.concatenate(val_parts))
        train_idx = rng.permutation(np.concatenate(train_parts))
    else:
        perm = rng.permutation(n)
        val_idx, train_idx = perm[:n_val], perm[n_val:]
    return (_take(X, train_idx), _take(y, train_idx)), (_take(X, val_idx), _take(y, val_idx))
