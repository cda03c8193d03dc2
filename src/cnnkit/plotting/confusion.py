"""The confusion matrix as a heat map: true class in rows, predicted class in columns.

Takes what ``Trainer.evaluate(model, data)["confusion_matrix"]`` returns (a torch tensor), or
a NumPy array or nested lists; torch is never imported here (duck typing).

Example:
    >>> from cnnkit.plotting import plot_confusion_matrix
    >>> fig = plot_confusion_matrix([[50, 3], [9, 38]], classes=["emergency", "other"],
    ...                             path="cm.png")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from .backend import require_matplotlib, save_png

__all__ = ["NORMALIZE", "plot_confusion_matrix"]

#: ``normalize=`` choices: ``None`` (counts), ``"true"`` (each row sums to 1: recall on the
#: diagonal), ``"pred"`` (each column sums to 1: precision), ``"all"`` (the whole matrix).
NORMALIZE = (None, "true", "pred", "all")


def _as_matrix(cm: Any) -> np.ndarray:
    if hasattr(cm, "detach"):  # a torch tensor, possibly on a GPU
        cm = cm.detach().cpu().numpy()
    arr = np.asarray(cm, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or arr.shape[0] == 0:
        raise ValueError(
            f"a confusion matrix must be square (C, C) with C >= 1, got shape {arr.shape}; "
            "pass Trainer.evaluate(model, data)['confusion_matrix']"
        )
    if not np.isfinite(arr).all() or (arr < 0).any():
        raise ValueError("a confusion matrix holds counts: finite numbers >= 0")
    return arr


def plot_confusion_matrix(
    cm: Any,
    classes: Sequence[str] | None = None,
    path: str | os.PathLike[str] | None = None,
    *,
    normalize: str | None = "true",
    title: str | None = None,
) -> Any:
    """Draw a confusion matrix as a heat map with the value in every cell.

    Args:
        cm: ``(C, C)`` counts, rows the true class and columns the predicted one (a torch
            tensor, NumPy array or nested lists), e.g. ``Trainer.evaluate(...)
            ["confusion_matrix"]``.
        classes: ``C`` class names for the axes (default ``0 .. C-1``).
        path: Where to save the figure as PNG; ``None`` does not save.
        normalize: ``"true"`` (default: each row sums to 1, so the diagonal is each class'
            recall), ``"pred"`` (columns sum to 1: precision), ``"all"`` or ``None`` (raw
            counts). A row or column without samples stays 0.
        title: Figure title (default ``"confusion matrix"`` plus the normalization).

    Returns:
        The ``matplotlib.figure.Figure`` (not attached to pyplot).

    Raises:
        ImportError: matplotlib is not installed (``pip install cnnkit[plot]``).
        ValueError: ``cm`` is not square or holds negative/non-finite values, ``classes``
            has the wrong length, or ``normalize`` is not one of :data:`NORMALIZE`.
    """
    if normalize not in NORMALIZE:
        raise ValueError(f"normalize must be one of {NORMALIZE}, got {normalize!r}")
    counts = _as_matrix(cm)
    n = counts.shape[0]
    names = [str(i) for i in range(n)] if classes is None else [str(c) for c in classes]
    if len(names) != n:
        raise ValueError(f"got {len(names)} class names for a {n}x{n} confusion matrix")
    figure_cls, canvas_cls = require_matplotlib()
    values = counts
    if normalize is not None:
        axis = {"true": 1, "pred": 0, "all": None}[normalize]
        total = counts.sum(axis=axis, keepdims=axis is not None)
        values = np.divide(counts, total, out=np.zeros_like(counts), where=total > 0)
    side = min(3.0 + 0.55 * n, 14.0)
    fig = figure_cls(figsize=(side + 1.2, side), dpi=100, layout="constrained")
    canvas_cls(fig)
    ax = fig.subplots()
    image = ax.imshow(values, cmap="Blues", vmin=0.0, vmax=1.0 if normalize else None)
    fig.colorbar(image, ax=ax, shrink=0.8)
    ax.set_xticks(range(n), names, rotation=45 if n > 3 else 0, ha="right" if n > 3 else "center")
    ax.set_yticks(range(n), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if n <= 30:
        high = values.max() / 2 if values.size else 0
        for i in range(n):
            for j in range(n):
                text = f"{values[i, j]:.2f}" if normalize else f"{int(counts[i, j])}"
                colour = "white" if values[i, j] > high else "black"
                ax.text(j, i, text, ha="center", va="center", color=colour, fontsize=8)
    label = title or "confusion matrix"
    if normalize:
        label += f" (normalized over {normalize})"
    ax.set_title(label, fontsize=10)
    save_png(fig, path)
    return fig
