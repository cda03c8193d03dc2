"""From a logged history to the prepared curves the rules read.

:func:`extract` maps logged names (cnnkit, Keras, Lightning, hand-written loops) onto the
canonical series with :func:`cnnkit.metric_names.canonical_name` and converts them to float
arrays; :func:`prepare` adds what every rule needs (noise of each curve, chance level, trailing
window, epochs since a learning-rate step) in one :class:`Curves` object. numpy only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cnnkit.diagnosis.context import TrainedWith
from cnnkit.diagnosis.stats import (
    FloatArray,
    head_median,
    noise,
    smoothed_min_epoch,
    trailing_window,
)
from cnnkit.diagnosis.thresholds import INFER_MAX_CLASSES, LR_STEP_FACTOR
from cnnkit.metric_names import canonical_name

__all__ = ["CORE", "OPTIONAL", "PER_BATCH", "Curves", "as_series", "extract", "prepare"]

#: The four learning curves; they must have equal lengths.
CORE: tuple[str, ...] = ("train_loss", "val_loss", "train_acc", "val_acc")
#: Per-epoch extras; dropped with a note when malformed or of the wrong length.
OPTIONAL: tuple[str, ...] = ("lr", "grad_norm", "epoch_time")
#: Per-batch series read as logged (any length): the training loss of every batch.
PER_BATCH: tuple[str, ...] = ("step_loss",)


def as_series(key: str, value: Any) -> FloatArray:
    """Convert a per-epoch list (or tensor, or array) to float64 ``(epochs,)``; ``None`` -> NaN.

    Raises:
        ValueError: ``value`` is not a flat sequence of numbers (the message names ``key``).
    """
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
        if hasattr(value, "tolist"):  # torch tensors and the like
            value = value.tolist()
        else:
            raise ValueError(
                f"history[{key!r}] must be a list of per-epoch numbers, got {type(value).__name__}"
            )
    try:
        arr = np.array(value, dtype=np.float64)  # fast path: numbers only
    except (TypeError, ValueError):
        try:  # None marks a missing value
            arr = np.array([np.nan if v is None else v for v in value], dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"history[{key!r}] must hold numbers (or None): {exc}") from None
    if arr.ndim != 1:
        raise ValueError(f"history[{key!r}] must be a flat list of per-epoch values, got shape {arr.shape}")
    return arr


def extract(history: Any, source: str = "history") -> tuple[dict[str, FloatArray], list[str]]:
    """Canonical per-epoch series from ``history``, and notes on what was adjusted.

    Args:
        history: A cnnkit ``History`` (anything with ``to_dict()``), a Keras ``History`` (its
            ``.history``) or a mapping of per-epoch lists.
        source: How to name ``history`` in error messages (e.g. a file name).

    Returns:
        ``({canonical name: array (epochs,)}, notes)``. For each series the best-ranked logged
        name holding values is used; accuracies that look like percentages are divided by 100.
        A ``step_loss`` (one value per batch, as cnnkit's ``History`` logs it) is kept under that
        name with its own length.

    Raises:
        TypeError: ``history`` is not a mapping or History-like object.
        ValueError: No loss series, core series of unequal lengths, or non-numeric values.
    """
    if not isinstance(history, Mapping):
        if hasattr(history, "to_dict"):
            history = history.to_dict()
        elif isinstance(getattr(history, "history", None), Mapping):  # keras.callbacks.History
            history = history.history
    if not isinstance(history, Mapping):
        raise TypeError(
            f"diagnose() needs a History, a Keras History or a mapping of per-epoch lists, "
            f"got {type(history).__name__}"
        )
    candidates: dict[str, list[tuple[int, str]]] = {}
    for raw in history:
        c = canonical_name(str(raw))
        if c is not None:
            candidates.setdefault(c[0], []).append((c[1], str(raw)))
    keys = {str(k): k for k in history}
    series: dict[str, FloatArray] = {}
    notes: list[str] = []
    for canon, names in candidates.items():
        # The best-ranked name that holds values (an empty list means "not recorded").
        for _, raw in sorted(names):
            value = history[keys[raw]]
            if canon in OPTIONAL:
                try:
                    arr = as_series(raw, value)
                except ValueError:
                    notes.append(f"ignored {raw!r}: not a list of numbers")
                    continue
            else:
                arr = as_series(raw, value)
            if arr.size:
                series[canon] = arr
                break
    if "step_loss" in keys:  # per batch, not per epoch: kept as it is (the oscillation rule)
        try:
            steps = as_series("step_loss", history[keys["step_loss"]])
        except ValueError:
            notes.append("ignored 'step_loss': not a list of numbers")
        else:
            if steps.size:
                series["step_loss"] = steps
    if "train_loss" not in series and "val_loss" not in series:
        found = ", ".join(repr(str(k)) for k in history) or "none"
        raise ValueError(
            f"no loss series in {source}: found keys/columns {found}; expected a training or "
            "validation loss such as 'train_loss', 'loss' or 'val_loss' (see docs/diagnosis.md)"
        )
    lengths = {k: v.size for k, v in series.items() if k in CORE}
    if len(set(lengths.values())) > 1:
        raise ValueError(
            f"per-epoch series in {source} have unequal lengths {lengths}; pass one value per "
            "epoch for each series (NaN/None where a value is missing)"
        )
    n = next(iter(lengths.values()))
    for k in OPTIONAL:
        if k in series and series[k].size != n:
            notes.append(f"ignored {k!r}: {series[k].size} values for {n} epochs")
            del series[k]
    for k in ("train_acc", "val_acc"):
        if k in series:
            a = series[k]
            if not np.isfinite(a).any():
                del series[k]
                continue
            top = float(np.nanmax(np.where(np.isfinite(a), a, np.nan)))
            if 1.5 < top <= 100.0:
                series[k] = a / 100.0
                notes.append(f"{k} looked like percentages (max {top:.4g}); divided by 100")
    return series, notes


@dataclass
class Curves:
    """The prepared curves of one run: what every rule reads.

    Attributes:
        series: Canonical series (arrays of shape ``(epochs,)``), as :func:`extract` gives them.
        notes: What the extraction adjusted (shown in the summary).
        n: Number of epochs.
        tl, vl, ta, va: Training/validation loss and accuracy, or ``None`` when not logged.
        primary_loss: ``tl`` when logged, else ``vl``.
        lr: The last finite logged learning rate, or ``None``.
        chance: Chance accuracy; ``chance_source`` says where it comes from.
        classes: Number of classes (given or inferred; a float for ln(C)).
        since_lr_step: Epochs run at the current rate since the last schedule step, or ``None``.
        sigma: Noise of each core series (:func:`~cnnkit.diagnosis.stats.noise`).
        target: ``target_accuracy``; planned: ``planned_epochs``.
        trained: What the run had (model, builder and trainer settings) for the remedies.
    """

    series: dict[str, FloatArray]
    notes: list[str]
    n: int
    tl: FloatArray | None
    vl: FloatArray | None
    ta: FloatArray | None
    va: FloatArray | None
    primary_loss: FloatArray | None
    lr: float | None
    chance: float
    chance_source: str
    classes: float
    since_lr_step: int | None
    sigma: dict[str, float] = field(default_factory=dict)
    target: float | None = None
    planned: int | None = None
    trained: TrainedWith = field(default_factory=TrainedWith)

    def window(self) -> int:
        """Trailing window; never reaching back past a step change of the learning rate."""
        w = trailing_window(self.n)
        return w if self.since_lr_step is None else min(w, max(self.since_lr_step, 2))

    def skill(self, acc: float) -> float:
        """Skill of an accuracy over chance: ``(acc - chance) / (1 - chance)``."""
        return (acc - self.chance) / max(1.0 - self.chance, 1e-9)

    def finite_epochs(self) -> int:
        """Epochs with a finite primary loss."""
        return int(np.isfinite(self.primary_loss).sum()) if self.primary_loss is not None else 0

    def summary(self) -> dict[str, Any]:
        """Key numbers for :attr:`Diagnosis.summary <cnnkit.diagnosis.Diagnosis.summary>`."""
        out: dict[str, Any] = {"epochs": self.n, "chance": self.chance,
                               "chance_source": self.chance_source, "notes": self.notes}
        for key in CORE:
            x = self.series.get(key)
            if x is None:
                continue
            out[f"{key}_first"] = head_median(x, 1)
            out[f"{key}_final"] = float(x[-1])
            out[f"{key}_noise"] = self.sigma[key]
        best = smoothed_min_epoch(self.vl) if self.vl is not None else None
        if best is not None:
            out["best_val_epoch"] = best[0] + 1
            out["val_loss_best"] = best[1]
        return out

    def best_val_epoch(self) -> int | None:
        """The 1-based epoch of the smoothed validation-loss minimum
        (:func:`~cnnkit.diagnosis.stats.smoothed_min_epoch`), or ``None``."""
        best = smoothed_min_epoch(self.vl) if self.vl is not None else None
        return None if best is None else best[0] + 1


def _chance(primary_loss: FloatArray | None, num_classes: int | None,
            chance: float | None) -> tuple[float, str, float]:
    """(chance accuracy, where it comes from, number of classes)."""
    if chance is not None:
        return float(chance), "majority class", float(num_classes or max(2, round(1 / chance)))
    if num_classes is not None:
        return 1.0 / num_classes, f"1/{num_classes} classes", float(num_classes)
    # Inferred: an untrained classifier's cross-entropy is about ln(C), and the first epoch's
    # mean loss is at most that, so round(exp(L0)) is a rough lower bound on C. A first loss
    # above ln(INFER_MAX_CLASSES) is a blow-up, not a class count.
    loss = primary_loss if primary_loss is not None else np.empty(0)
    finite = loss[np.isfinite(loss)]
    head = finite[:3]
    first = float(head[0]) if head.size else math.nan
    cap = math.log(INFER_MAX_CLASSES)
    if math.isfinite(first) and first > cap:
        # An absurd first loss (a blow-up) must not set the chance level: the smallest of the
        # first three, else of the whole run, else 2 classes when every loss is absurd.
        first = float(head.min()) if head.min() <= cap else float(finite.min())
        if first > cap:
            first = math.log(2)
    c = round(math.exp(min(first, cap))) if math.isfinite(first) else 2
    c = max(2, c)
    return 1.0 / c, f"inferred from first loss ~ ln({c})", float(c)


def _since_lr_step(lr: FloatArray | None) -> int | None:
    """Epochs run at the current rate since the last step change (factor >= LR_STEP_FACTOR)."""
    if lr is None or lr.size < 2 or not (np.isfinite(lr).all() and (lr > 0).all()):
        return None
    ratio = lr[1:] / lr[:-1]
    steps = np.flatnonzero((ratio >= LR_STEP_FACTOR) | (ratio <= 1 / LR_STEP_FACTOR))
    return None if steps.size == 0 else int(lr.size - (steps[-1] + 1))


def prepare(series: dict[str, FloatArray], notes: list[str], *, num_classes: int | None = None,
            target: float | None = None, planned: int | None = None,
            chance: float | None = None, trained: TrainedWith | None = None) -> Curves:
    """Prepared :class:`Curves` from :func:`extract`'s output and the diagnose options.

    Args:
        series: Canonical series (at least one loss; core series of equal length).
        notes: Extraction notes.
        num_classes: Number of classes, when known.
        target: Target accuracy, when given.
        planned: Planned epochs, when given.
        chance: Majority-class accuracy, when known (overrides ``1 / num_classes``).
        trained: What the run had, for the remedies (unknown when ``None``).

    Returns:
        The :class:`Curves`.
    """
    tl, vl = series.get("train_loss"), series.get("val_loss")
    lr = series.get("lr")
    finite_lr = lr[np.isfinite(lr)] if lr is not None else np.empty(0)
    primary = tl if tl is not None else vl
    p_chance, source, classes = _chance(primary, num_classes, chance)
    return Curves(
        series=series, notes=notes, n=next(iter(v.size for k, v in series.items() if k in CORE)),
        tl=tl, vl=vl, ta=series.get("train_acc"), va=series.get("val_acc"), primary_loss=primary,
        lr=float(finite_lr[-1]) if finite_lr.size else None,
        chance=p_chance, chance_source=source, classes=classes, since_lr_step=_since_lr_step(lr),
        sigma={k: noise(v) for k, v in series.items() if k in CORE}, target=target,
        planned=planned, trained=trained if trained is not None else TrainedWith(),
    )
