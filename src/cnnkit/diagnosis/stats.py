"""The robust statistics behind the rules, in numpy (scipy would be a heavy core dependency for a
few lines each): noise, Theil-Sen slope, Mann-Kendall test, trailing trends, running median.

Every function takes a 1-D float64 array ``(epochs,)``; non-finite values are dropped where a
statistic needs finite ones (said in each docstring).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cnnkit.diagnosis.thresholds import (
    MAX_WINDOW,
    MIN_WINDOW,
    NOISE_FLOOR_REL,
    SMOOTH_WIDTH,
    TREND_ALPHA,
    TREND_MIN_SIGMAS,
    TREND_WINDOW_FRACTION,
)

__all__ = [
    "FloatArray",
    "Trend",
    "head_median",
    "mann_kendall",
    "noise",
    "running_median",
    "smoothed_min_epoch",
    "tail_median",
    "theil_sen",
    "trailing_window",
    "trend",
]

FloatArray = npt.NDArray[np.float64]


def noise(x: FloatArray) -> float:
    """Robust noise sigma of a series: 1.4826 * MAD of second differences / sqrt(6).

    For i.i.d. noise of std s, second differences have std s*sqrt(6); unlike first differences
    they cancel any locally linear trend, so a steep curve is not mistaken for a noisy one.
    Non-finite values are dropped; the result is floored at ``NOISE_FLOOR_REL`` times the median
    magnitude (and 1e-12).

    Args:
        x: The series, shape ``(epochs,)``.

    Returns:
        The noise sigma, in the series' units (always > 0).
    """
    x = x[np.isfinite(x)]
    scale = float(np.median(np.abs(x))) if x.size else 0.0
    floor = max(NOISE_FLOOR_REL * scale, 1e-12)
    if x.size < 4:
        return floor
    d2 = np.diff(x, 2)
    mad = float(np.median(np.abs(d2 - np.median(d2))))
    return max(1.4826 * mad / math.sqrt(6.0), floor)


def theil_sen(y: FloatArray) -> float:
    """Median of the pairwise slopes of ``y`` (shape ``(n,)``, finite) against its index.

    Robust to outliers: up to 29 % of the points can be arbitrary. 0.0 for fewer than 2 points.
    """
    n = y.size
    if n < 2:
        return 0.0
    i, j = np.triu_indices(n, k=1)
    return float(np.median((y[j] - y[i]) / (j - i)))


def mann_kendall(y: FloatArray) -> tuple[float, float]:
    """Mann-Kendall trend test of ``y`` (shape ``(n,)``, finite).

    Normal approximation with the tie correction and a continuity correction.

    Returns:
        ``(z, p_up)``: the test statistic and the one-sided p-value of an increasing trend
        (``(0.0, 1.0)`` for fewer than 3 points or a constant series).
    """
    n = y.size
    if n < 3:
        return 0.0, 1.0
    i, j = np.triu_indices(n, k=1)
    s = float(np.sign(y[j] - y[i]).sum())
    _, counts = np.unique(y, return_counts=True)
    var = (n * (n - 1) * (2 * n + 5) - float((counts * (counts - 1) * (2 * counts + 5)).sum())) / 18
    if var <= 0:
        return 0.0, 1.0
    z = (s - math.copysign(1.0, s)) / math.sqrt(var) if s != 0 else 0.0
    return z, 0.5 * math.erfc(z / math.sqrt(2.0))


@dataclass(frozen=True)
class Trend:
    """A trailing trend in a stated direction.

    Attributes:
        slope: Theil-Sen slope per epoch, in the series' units.
        p: One-sided Mann-Kendall p-value of a trend in the stated direction.
        sigmas: Change across the window along the direction, in noise units.
        significant: ``p < TREND_ALPHA`` and ``sigmas >= TREND_MIN_SIGMAS``.
    """

    slope: float
    p: float
    sigmas: float
    significant: bool


def trend(x: FloatArray, w: int, direction: float, sigma: float | None = None) -> Trend:
    """Trend over the last ``w`` finite values of ``x`` in ``direction`` (+1 up, -1 down).

    Significant when the one-sided Mann-Kendall test rejects "no trend" at ``TREND_ALPHA`` *and*
    the Theil-Sen change across the window is at least ``TREND_MIN_SIGMAS`` noise units of the
    whole series.

    Args:
        x: The series, shape ``(epochs,)``; non-finite values are dropped first.
        w: Window length (epochs).
        direction: +1 to test for a rise, -1 for a fall.
        sigma: The series' noise, when already known (else :func:`noise` of the finite values).

    Returns:
        A :class:`Trend`.
    """
    x = x[np.isfinite(x)]
    y = x[-w:]
    slope = theil_sen(y)
    _, p_up = mann_kendall(y * direction)
    sigmas = direction * slope * max(y.size - 1, 0) / (sigma if sigma is not None else noise(x))
    return Trend(slope, p_up, sigmas, p_up < TREND_ALPHA and sigmas >= TREND_MIN_SIGMAS)


def trailing_window(n: int) -> int:
    """The trailing window of an ``n``-epoch run: ``TREND_WINDOW_FRACTION`` of it, clipped to
    [``MIN_WINDOW``, ``MAX_WINDOW``] and to ``n``."""
    return int(min(max(math.ceil(n * TREND_WINDOW_FRACTION), MIN_WINDOW), MAX_WINDOW, n))


def running_median(x: FloatArray) -> FloatArray:
    """Running median of ``SMOOTH_WIDTH`` = 3 epochs (the two end values are kept).

    A NaN in a window gives NaN. Written with max/min (median of three = sum - max - min):
    ``np.nanmedian`` over sliding windows is a hundred times slower.

    Args:
        x: The series, shape ``(epochs,)``.

    Returns:
        A new array of the same shape.
    """
    out: FloatArray = np.array(x, dtype=np.float64)
    if x.size >= SMOOTH_WIDTH:
        a, b, c = x[:-2], x[1:-1], x[2:]
        out[1:-1] = a + b + c - np.maximum(np.maximum(a, b), c) - np.minimum(np.minimum(a, b), c)
    return out


def smoothed_min_epoch(x: FloatArray) -> tuple[int, float] | None:
    """Where the *smoothed* series is lowest: the diagnosis' "best validation epoch".

    The minimum of the :func:`running_median` over its finite values, so that one lucky epoch
    cannot move it. This differs on purpose from :func:`cnnkit.history.best_epoch`, the raw
    lowest validation loss that a run is judged and restored by.

    Args:
        x: The series, shape ``(epochs,)``.

    Returns:
        ``(index, value)`` with a 0-based epoch index, or ``None`` when ``x`` has no finite value.
    """
    if not np.isfinite(x).any():
        return None
    sm = running_median(x)
    b = int(np.nanargmin(np.where(np.isfinite(sm), sm, np.nan)))
    return b, float(sm[b])


def tail_median(x: FloatArray, k: int = 3) -> float:
    """Median of the last ``k`` finite values of ``x`` (NaN when there are none)."""
    t = x[np.isfinite(x)][-k:]
    return float(np.median(t)) if t.size else float("nan")


def head_median(x: FloatArray, k: int = 3) -> float:
    """Median of the first ``k`` finite values of ``x`` (NaN when there are none)."""
    t = x[np.isfinite(x)][:k]
    return float(np.median(t)) if t.size else float("nan")
