"""What "the monitored metric improved" means, shared by EarlyStopping and ModelCheckpoint."""

from __future__ import annotations

import math
from typing import Literal

from ..state import FitState

__all__ = ["MONITORS", "BestTracker", "check_monitor", "monitored", "resolve_mode"]

#: The history series a callback may monitor (plus ``train_<name>`` / ``val_<name>`` of every
#: ``Trainer(metrics={name: ...})``).
MONITORS = ("train_loss", "val_loss", "train_acc", "val_acc")

#: Name parts of metrics that ``mode="auto"`` minimizes (every other metric is maximized).
_LOWER_IS_BETTER = ("loss", "error", "err", "mse", "mae", "nll")


def resolve_mode(monitor: str, mode: str) -> Literal["min", "max"]:
    """``"auto"`` minimizes losses and errors (a name part ``loss``, ``error``, ``err``,
    ``mse``, ``mae`` or ``nll``) and maximizes everything else (accuracies, F1, ...).

    Args:
        monitor: The monitored series.
        mode: ``"min"``, ``"max"`` or ``"auto"``.

    Returns:
        ``"min"`` or ``"max"``.

    Raises:
        ValueError: For another mode.
    """
    if mode == "auto":
        parts = monitor.lower().split("_")
        return "min" if any(p in _LOWER_IS_BETTER for p in parts) else "max"
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min', 'max' or 'auto', got {mode!r}")
    return "min" if mode == "min" else "max"


def monitored(state: FitState, monitor: str) -> float:
    """The last value of the monitored series (``nan`` before any epoch)."""
    hist = state.history
    series = getattr(hist, monitor) if monitor in MONITORS else hist.metrics.get(monitor, [])
    return float(series[-1]) if series else math.nan


def check_monitor(state: FitState, monitor: str, owner: str) -> None:
    """Refuse an unknown series, or a ``val_*`` one when the fit has no validation data.

    Args:
        state: The fit, at its start.
        monitor: The monitored series.
        owner: The callback's name in the message.

    Raises:
        ValueError: As described, naming the alternative.
    """
    extra = getattr(state.trainer, "metrics", None) or {}
    names = [*MONITORS, *(f"{p}_{n}" for n in extra for p in ("train", "val"))]
    names += [n for n in state.history.metrics if n not in names]  # a resumed history
    if monitor not in names:
        raise ValueError(
            f"{owner}: monitor {monitor!r} is not recorded; the names that exist are "
            f"{', '.join(names)} (add a metric with Trainer(metrics={{'f1': fn}}) to "
            "monitor 'val_f1')"
        )
    if monitor.startswith("val_") and not state.has_val:
        raise ValueError(
            f"{owner} monitors {monitor!r} but fit() got no validation data; pass val=(X, y) "
            f"or use monitor='{monitor.replace('val_', 'train_')}'"
        )


class BestTracker:
    """The best value of a monitored series so far, and whether a new value improves on it.

    Args:
        monitor: The monitored series.
        mode: ``"min"``, ``"max"`` or ``"auto"``.
        min_delta: Smallest change that counts as an improvement.
    """

    def __init__(self, monitor: str, mode: str, min_delta: float) -> None:
        self.monitor = monitor
        self.mode = resolve_mode(monitor, mode)
        self.min_delta = abs(float(min_delta))
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = 0

    def improved(self, value: float) -> bool:
        """True if ``value`` is finite and better than the best by more than ``min_delta``."""
        if not math.isfinite(value):
            return False
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta
