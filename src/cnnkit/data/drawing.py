"""Antialiased shapes for a whole batch of images at once, in numpy.

Used by :mod:`cnnkit.data.synthetic`. Every shape is a coverage map ``(n, H, W)`` in ``[0, 1]``
(the fraction of each pixel inside the shape), from per-image coordinates ``(n,)`` broadcast
against pixel grids ``xs`` ``(1, 1, W)`` and ``ys`` ``(1, H, 1)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__: list[str] = []

# The drawing is hand-written numpy rather than a drawing library (Pillow's ImageDraw, cairo):
# those draw one image at a time, while broadcasting draws a whole batch of images at once with
# antialiased (fractional coverage) edges, so 1646 images take about a second.


def _coverage(grid: np.ndarray[Any, Any], lo: Any, hi: Any) -> np.ndarray[Any, Any]:
    """Fraction of each pixel ``[g, g + 1]`` covered by the interval ``[lo, hi]``."""
    covered: np.ndarray[Any, Any] = np.clip(
        np.minimum(grid + 1.0, hi) - np.maximum(grid, lo), 0.0, 1.0
    )
    return covered


def _box(
    xs: np.ndarray[Any, Any],
    ys: np.ndarray[Any, Any],
    x0: np.ndarray[Any, Any],
    x1: np.ndarray[Any, Any],
    y0: np.ndarray[Any, Any],
    y1: np.ndarray[Any, Any],
) -> np.ndarray[Any, Any]:
    """Antialiased coverage (n, H, W) of one axis-aligned box per image."""
    cx = _coverage(xs, x0[:, None, None], x1[:, None, None])  # (n, 1, W)
    cy = _coverage(ys, y0[:, None, None], y1[:, None, None])  # (n, H, 1)
    covered: np.ndarray[Any, Any] = cx * cy
    return covered


def _disc(
    xs: np.ndarray[Any, Any],
    ys: np.ndarray[Any, Any],
    cx: np.ndarray[Any, Any],
    cy: np.ndarray[Any, Any],
    r: np.ndarray[Any, Any],
) -> np.ndarray[Any, Any]:
    """Antialiased coverage (n, H, W) of one disc per image."""
    d = np.sqrt((xs + 0.5 - cx[:, None, None]) ** 2 + (ys + 0.5 - cy[:, None, None]) ** 2)
    covered: np.ndarray[Any, Any] = np.clip(r[:, None, None] - d + 0.5, 0.0, 1.0)
    return covered


def _paint(img: np.ndarray[Any, Any], alpha: np.ndarray[Any, Any], colour: Any) -> None:
    """Blend ``colour`` ((n, 3) or (n, H, W, 3)) into ``img`` (n, H, W, 3) with ``alpha``."""
    if colour.ndim == 2:
        colour = colour[:, None, None, :]
    change = colour - img
    change *= alpha[..., None]
    img += change
