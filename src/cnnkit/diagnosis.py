"""Diagnose a training run from its history: overfitting, underfitting, slow convergence, divergence.

:func:`diagnose` reads per-epoch curves (a :class:`~cnnkit.training.history.History`, a Keras
``history.history`` dict or any mapping of per-epoch lists) and returns a :class:`Diagnosis`: a
primary :class:`Label`, every :class:`Finding` that holds with the numbers behind it, and
:class:`Remedy` objects whose ``change`` dicts cnnkit can apply (``ModelBuilder.replace``,
``Trainer.replace``, augmentation, callbacks). :func:`diagnose_file` does the same for a cnnkit
CSV/JSON history, a Keras ``CSVLogger`` file or a Lightning ``CSVLogger`` ``metrics.csv``.
:func:`check_data` (implemented in :mod:`cnnkit.checks`) reports data bugs in the same form.

Every rule is noise-aware. The noise of a series is the median absolute deviation of its second
differences (robust to outliers, blind to any locally linear trend); trends are judged over a
trailing window with a Theil-Sen slope and a one-sided Mann-Kendall test; accuracies are measured
against chance; the validation loss is compared with its own (smoothed) minimum. The statistics are
written here in numpy (a few lines each) so that the core library needs no scipy. Every threshold
is a module-level constant below, with its rationale; ``docs/diagnosis.md`` tabulates them.

Label priority (the first that holds is :attr:`Diagnosis.label`): ``diverging`` >
``inconclusive`` > ``overfitting`` > ``underfitting`` > ``slow-converging`` > ``healthy``.

Example:
    >>> d = diagnose({"train_loss": [0.69, 0.5, 0.4, 0.33, 0.3, 0.28, 0.27, 0.265],
    ...               "val_loss": [0.68, 0.52, 0.45, 0.43, 0.46, 0.52, 0.58, 0.63]})
    >>> d.label
    <Label.OVERFITTING: 'overfitting'>
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from cnnkit.checks import check_data
from cnnkit.metric_names import canonical_name

__all__ = [
    "PRIORITY",
    "Diagnosis",
    "Finding",
    "Label",
    "Remedy",
    "Severity",
    "canonical_name",
    "check_data",
    "diagnose",
    "diagnose_file",
]

FloatArray = npt.NDArray[np.float64]

# ------------------------------------------------------------------------------------------------
# Rules and thresholds (each is documented with its rationale in docs/diagnosis.md as well).
# ------------------------------------------------------------------------------------------------

#: A learning rate that changes by at least this factor from one epoch to the next is a schedule
#: step: trends are then judged only on the epochs since the last step, because the loss drop a
#: step causes is the schedule's doing, not a sign of slow convergence.
LR_STEP_FACTOR = 2.0
#: Fewer finite epochs than this -> ``inconclusive``. A Mann-Kendall test on 5 points reaches
#: p < 0.05 only for a perfectly monotone series, so 5 is the least that can show a trend at all.
MIN_EPOCHS = 5
#: Trailing window = this fraction of the run ("the end of the run"), clipped to the two bounds
#: below: a third is long enough for a trend test to have power, short enough to be "the end".
TREND_WINDOW_FRACTION = 1 / 3
#: Smallest trailing window (epochs): see MIN_EPOCHS.
MIN_WINDOW = 5
#: Largest trailing window (epochs): keeps "the end" local on long runs and Theil-Sen cheap
#: (4,950 pairs); 50 lost power on slow declines of 500-epoch runs.
MAX_WINDOW = 100
#: One-sided significance level of the Mann-Kendall trend test.
TREND_ALPHA = 0.05
#: A significant trend must also move at least this many noise units across the window: a 5 %
#: test on a flat noisy series fires one time in twenty, and the several trend tests of one
#: diagnosis would compound that; a real trend moves many noise units.
TREND_MIN_SIGMAS = 2.0
#: Noise floor, relative to the series' median magnitude: noise-free synthetic curves would
#: otherwise have zero noise and turn every wiggle into "infinitely many noise units".
NOISE_FLOOR_REL = 1e-3
#: Width of the running median (fixed: the fast implementation is a median of three) used before
#: taking a minimum: one lucky epoch must not define
#: the best validation loss (the minimum of n noisy values is biased low by about 2 sigma).
SMOOTH_WIDTH = 3

#: Overfitting: the validation loss, over the epochs since its smoothed minimum (at most one
#: trailing window), has a median at least this many noise units above that minimum ...
OVERFIT_RISE_SIGMAS = 3.0
#: ... and at least this fraction above it (a 3-sigma rise of a nearly noise-free curve can be
#: too small to matter) ...
OVERFIT_MIN_REL_RISE = 0.05
#: ... the minimum lies at least this many epochs before the end ("stayed there") ...
OVERFIT_MIN_EPOCHS_AFTER_BEST = 3
#: ... and the training loss kept falling meanwhile: by at least this many of its noise units ...
OVERFIT_TRAIN_DROP_SIGMAS = 2.0
#: ... and this fraction of its value at the best epoch. A validation loss that wanders up while
#: the training loss is flat is noise (validation noise is often autocorrelated, so its noise
#: units understate it), and one that rises with the training loss is instability.
OVERFIT_MIN_TRAIN_DROP = 0.05
#: The same test on validation accuracy (drop below its smoothed maximum) uses these two:
OVERFIT_ACC_DROP_SIGMAS = 3.0
OVERFIT_MIN_ACC_DROP = 0.02
#: Train-minus-validation accuracy gap counted as large (fractions; 10 points). With validation
#: no longer improving (no significant trailing trend in val loss or val accuracy) a large gap is
#: overfitting; with validation still improving it is only a warning.
GAP_LARGE_ACC = 0.10
#: Validation/training loss ratio counted as a large gap when accuracies are missing (loss ratios
#: swing more than accuracy gaps as the training loss approaches zero, hence the wide margin).
GAP_LARGE_LOSS_RATIO = 2.0

#: Underfitting: training accuracy's skill over chance, (acc - chance) / (1 - chance), below this
#: (binary: under 75 %, 10 classes: under 55 %) while neither accuracy nor loss still improves.
UNDERFIT_MAX_SKILL = 0.5
#: With ``target_accuracy``: training accuracy more than this below the target counts as low.
UNDERFIT_TARGET_MARGIN = 0.05
#: Without accuracies: a flat training loss still above this fraction of the chance-level
#: cross-entropy ln(C) means the model has learnt little.
UNDERFIT_LOSS_FRACTION = 0.7
#: Accuracy "still improving" needs the trailing trend to project at least this gain (absolute)
#: over as many epochs again as the run had.
MIN_PROJECTED_ACC_GAIN = 0.02

#: Slow convergence: the trailing-window rate of decrease of the training loss is still at least
#: this fraction of its average rate over the whole run (1 for a straight line, about 0.1 for an
#: exponential that has converged; the boundary sits near time constant = run length / 3, where 5 %
#: of the reachable improvement is still left) ...
SLOW_RATE_RATIO = 0.25
#: ... the decrease is significant (Mann-Kendall) and projects to at least this fraction of the
#: current loss over as many epochs again (ignores deterministic creep of a stuck model) ...
SLOW_MIN_PROJECTED_GAIN = 0.01
#: ... or, with ``target_accuracy``, reaching it at the current rate would take more than this
#: many times the epochs run so far.
SLOW_TARGET_FACTOR = 3.0

#: Divergence: training loss at the end at least this many times its first-epoch value while
#: accuracy is at chance ...
DIVERGE_LOSS_RATIO = 2.0
#: ... or this many times when there is no accuracy to check.
DIVERGE_LOSS_RATIO_NO_ACC = 5.0
#: Training loss above this multiple of the chance-level cross-entropy ln(C) means confident
#: wrong predictions (a blow-up); with accuracy ending at chance the run diverged.
DIVERGE_SPIKE_RATIO = 10.0
#: A significant trailing rise of the training loss to this fraction above its own minimum is
#: instability (too high a learning rate), not overfitting.
DIVERGE_RISE_FRACTION = 0.5
#: Training-loss noise (epoch to epoch) of at least this fraction of its level, in a run that has
#: learnt little (the underfitting thresholds), is an erratic, unstable run. An epoch-mean training
#: loss normally moves a few percent; near zero, relative noise is large but the run has learnt.
DIVERGE_ERRATIC_FRACTION = 0.25
#: Largest class count inferred from the first loss (ln 1000 = 6.9); a larger first loss is a
#: blow-up, not a class count.
INFER_MAX_CLASSES = 1000
#: Accuracy whose skill over chance is at most this is "at chance".
AT_CHANCE_SKILL = 0.1
#: A gradient norm this many times its median epoch value is an explosion.
GRAD_EXPLODE_RATIO = 100.0

#: Remedies shown per finding in ``str(diagnosis)`` (``to_dict()`` and ``.remedies`` have all).
REPORT_REMEDIES = 3
#: Label priority, highest first (see module docstring).
PRIORITY: tuple[str, ...] = (
    "diverging",
    "inconclusive",
    "overfitting",
    "underfitting",
    "slow-converging",
    "healthy",
)


class Label(str, Enum):
    """The primary verdict on a run (a ``str``: ``Label.OVERFITTING == "overfitting"``)."""

    OVERFITTING = "overfitting"
    UNDERFITTING = "underfitting"
    SLOW_CONVERGING = "slow-converging"
    HEALTHY = "healthy"
    DIVERGING = "diverging"
    INCONCLUSIVE = "inconclusive"

    def __str__(self) -> str:
        return self.value


class Severity(str, Enum):
    """How much a finding matters: ``info`` < ``warning`` < ``error``."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    def __str__(self) -> str:
        return self.value


def _jsonable(value: Any) -> Any:
    """Plain Python copy of ``value``; non-finite floats become ``None`` (strict JSON)."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return f if math.isfinite(f) else None
    return value


@dataclass(frozen=True)
class Remedy:
    """A concrete change that addresses a finding.

    Attributes:
        text: One sentence saying what to do and why.
        change: Machine-readable change. Top-level keys are among ``"builder"`` (kwargs for
            ``ModelBuilder.replace``), ``"trainer"`` (kwargs for ``Trainer.replace``),
            ``"augment"`` (``"default"`` or ``{"strength": float}``) and ``"callbacks"`` (a list
            of ``{"type": ..., **kwargs}``); empty when the fix is outside cnnkit (e.g. data).

    Example:
        >>> Remedy("Add dropout.", {"builder": {"dropout": 0.25}}).change["builder"]
        {'dropout': 0.25}
    """

    text: str
    change: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"text": ..., "change": ...}`` (JSON-serializable)."""
        return {"text": self.text, "change": _jsonable(self.change)}


@dataclass(frozen=True)
class Finding:
    """One condition that holds for a run or a data set.

    Attributes:
        code: Short identifier of the rule, e.g. ``"val-loss-rising"``, ``"channels-last"``.
        label: The :class:`Label` this finding supports, or ``None`` for advisory findings
            (warnings that do not decide the label, and every data check).
        severity: :class:`Severity`.
        message: One readable sentence with the key numbers.
        evidence: The numbers behind it (floats, ints, strings, bools).
        remedies: What to do about it, most recommended first.

    Example:
        >>> f = Finding("x", None, Severity.INFO, "A note.")
        >>> str(f)
        '[info] x: A note.'
    """

    code: str
    label: Label | None
    severity: Severity
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    remedies: tuple[Remedy, ...] = ()

    def __str__(self) -> str:
        return f"[{self.severity.value}] {self.code}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serializable dict of every field (non-finite numbers become ``None``)."""
        return {
            "code": self.code,
            "label": None if self.label is None else self.label.value,
            "severity": self.severity.value,
            "message": self.message,
            "evidence": _jsonable(self.evidence),
            "remedies": [r.to_dict() for r in self.remedies],
        }


@dataclass(frozen=True)
class Diagnosis:
    """The verdict on a run: primary label, every finding, and a summary of the curves.

    Attributes:
        label: The primary :class:`Label` (highest priority among the findings of severity
            warning or error; ``healthy`` when none).
        findings: Every condition that holds, decisive ones first.
        summary: Key numbers (epochs, final/best losses and accuracies, chance level, noise).

    Example:
        >>> d = diagnose({"loss": [1.0, 0.6, 0.45, 0.4, 0.38, 0.375, 0.372, 0.371]})
        >>> d.label.value
        'healthy'
    """

    label: Label
    findings: tuple[Finding, ...]
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def remedies(self) -> list[Remedy]:
        """Remedies of the findings that support :attr:`label` (most recommended first)."""
        return [r for f in self.findings if f.label == self.label for r in f.remedies]

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"label", "findings", "summary"}`` as plain JSON-serializable data."""
        return {
            "label": self.label.value,
            "findings": [f.to_dict() for f in self.findings],
            "summary": _jsonable(self.summary),
        }

    def __str__(self) -> str:
        s = self.summary
        head = f"Diagnosis: {self.label.value.upper()} ({s.get('epochs', 0)} epochs"
        if s.get("chance") is not None:
            head += f", chance accuracy {_fmt(s['chance'])} ({s.get('chance_source')})"
        lines = [head + ")"]
        curves = []
        for key, name in (("train_loss", "train loss"), ("val_loss", "val loss"),
                          ("train_acc", "train acc"), ("val_acc", "val acc")):
            if s.get(f"{key}_final") is not None:
                curves.append(f"{name} {_fmt(s.get(f'{key}_first'))} -> {_fmt(s[f'{key}_final'])}")
        if s.get("best_val_epoch") is not None:
            curves.append(f"best val loss {_fmt(s.get('val_loss_best'))} (3-epoch median) "
                          f"@ epoch {s['best_val_epoch']}")
        if curves:
            lines.append("  " + "; ".join(curves))
        if not self.findings:
            lines.append("  No problem found: the run converged without overfitting.")
        for f in self.findings:
            lines.append(f"  {f}")
            for r in f.remedies[:REPORT_REMEDIES]:
                change = f" {json.dumps(_jsonable(r.change))}" if r.change else ""
                lines.append(f"      -> {r.text}{change}")
        return "\n".join(lines)


def _fmt(x: Any) -> str:
    """Format a number for reports (4 significant digits)."""
    if x is None:
        return "n/a"
    if isinstance(x, (float, np.floating)):
        return f"{float(x):.4g}"
    return str(x)


# ------------------------------------------------------------------------------------------------
# Statistics (numpy; scipy would be a heavy core dependency for a few lines each).
# ------------------------------------------------------------------------------------------------


def _noise(x: FloatArray) -> float:
    """Robust noise sigma of a series: 1.4826 * MAD of second differences / sqrt(6).

    For i.i.d. noise of std s, second differences have std s*sqrt(6); unlike first differences
    they cancel any locally linear trend, so a steep curve is not mistaken for a noisy one.
    """
    x = x[np.isfinite(x)]
    scale = float(np.median(np.abs(x))) if x.size else 0.0
    floor = max(NOISE_FLOOR_REL * scale, 1e-12)
    if x.size < 4:
        return floor
    d2 = np.diff(x, 2)
    mad = float(np.median(np.abs(d2 - np.median(d2))))
    return max(1.4826 * mad / math.sqrt(6.0), floor)


def _theil_sen(y: FloatArray) -> float:
    """Median of pairwise slopes of ``y`` against its index (robust to outliers)."""
    n = y.size
    if n < 2:
        return 0.0
    i, j = np.triu_indices(n, k=1)
    return float(np.median((y[j] - y[i]) / (j - i)))


def _mann_kendall(y: FloatArray) -> tuple[float, float]:
    """Mann-Kendall trend test. Returns ``(z, p_up)``: p_up = one-sided p of an increasing trend.

    Normal approximation with the tie correction and a continuity correction.
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
class _Trend:
    slope: float  # Theil-Sen slope per epoch (in the series' units)
    p: float  # one-sided Mann-Kendall p of the stated direction
    sigmas: float  # change over the window along the direction, in noise units
    significant: bool  # p < TREND_ALPHA and sigmas >= TREND_MIN_SIGMAS


def _trend(x: FloatArray, w: int, direction: float, sigma: float | None = None) -> _Trend:
    """Trend over the last ``w`` finite values of ``x`` in ``direction`` (+1 up, -1 down).

    Significant when the one-sided Mann-Kendall test rejects "no trend" at TREND_ALPHA *and* the
    Theil-Sen change across the window is at least TREND_MIN_SIGMAS noise units of the whole series.
    """
    x = x[np.isfinite(x)]
    y = x[-w:]
    slope = _theil_sen(y)
    _, p_up = _mann_kendall(y * direction)
    sigmas = direction * slope * max(y.size - 1, 0) / (sigma if sigma is not None else _noise(x))
    return _Trend(slope, p_up, sigmas, p_up < TREND_ALPHA and sigmas >= TREND_MIN_SIGMAS)


def _window(n: int) -> int:
    return int(min(max(math.ceil(n * TREND_WINDOW_FRACTION), MIN_WINDOW), MAX_WINDOW, n))


def _smooth(x: FloatArray) -> FloatArray:
    """Running median of three (the two end values are kept); NaN in a window gives NaN.

    Written with max/min (median of three = sum - max - min): np.nanmedian over sliding windows
    is a hundred times slower.
    """
    out: FloatArray = np.array(x, dtype=np.float64)
    if x.size >= SMOOTH_WIDTH:
        a, b, c = x[:-2], x[1:-1], x[2:]
        out[1:-1] = a + b + c - np.maximum(np.maximum(a, b), c) - np.minimum(np.minimum(a, b), c)
    return out


def _tail_median(x: FloatArray, k: int = 3) -> float:
    t = x[np.isfinite(x)][-k:]
    return float(np.median(t)) if t.size else float("nan")


def _head_median(x: FloatArray, k: int = 3) -> float:
    t = x[np.isfinite(x)][:k]
    return float(np.median(t)) if t.size else float("nan")


# ------------------------------------------------------------------------------------------------
# Input normalisation: metric names from cnnkit, Keras, Lightning and hand-written loops.
# ------------------------------------------------------------------------------------------------

_CORE = ("train_loss", "val_loss", "train_acc", "val_acc")
_OPTIONAL = ("lr", "grad_norm", "epoch_time")


def _as_series(key: str, value: Any) -> FloatArray:
    """Convert a per-epoch list to float64; None -> NaN. Raises ValueError for anything else."""
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


def _extract(history: Any, source: str = "history") -> tuple[dict[str, FloatArray], list[str]]:
    """Canonical per-epoch series from ``history``; also returns notes on what was adjusted."""
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
            if canon in _OPTIONAL:
                try:
                    arr = _as_series(raw, value)
                except ValueError:
                    notes.append(f"ignored {raw!r}: not a list of numbers")
                    continue
            else:
                arr = _as_series(raw, value)
            if arr.size:
                series[canon] = arr
                break
    if "train_loss" not in series and "val_loss" not in series:
        found = ", ".join(repr(str(k)) for k in history) or "none"
        raise ValueError(
            f"no loss series in {source}: found keys/columns {found}; expected a training or "
            "validation loss such as 'train_loss', 'loss' or 'val_loss' (see docs/diagnosis.md)"
        )
    lengths = {k: v.size for k, v in series.items() if k in _CORE}
    if len(set(lengths.values())) > 1:
        raise ValueError(
            f"per-epoch series in {source} have unequal lengths {lengths}; pass one value per "
            "epoch for each series (NaN/None where a value is missing)"
        )
    n = next(iter(lengths.values()))
    for k in _OPTIONAL:
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


# ------------------------------------------------------------------------------------------------
# Remedies.
# ------------------------------------------------------------------------------------------------


def _round_epochs(e: float) -> int:
    return int(5 * math.ceil(max(e, 1.0) / 5))


def _lr_note(lr: float | None) -> str:
    return f" (last rate {lr:.3g})" if lr is not None else ""


def _overfit_remedies(best_epoch: int | None, n: int) -> tuple[Remedy, ...]:
    out = [
        Remedy("Add dropout to every conv block (the case study's fix for overfitting).",
               {"builder": {"dropout": 0.25}}),
        Remedy("Augment the training images; with a small training set this is the strongest fix.",
               {"augment": "default"}),
        Remedy("Stop early and keep the best epoch's weights.",
               {"callbacks": [{"type": "EarlyStopping", "patience": 5,
                               "restore_best_weights": True}]}),
        Remedy("Add weight decay.", {"trainer": {"weight_decay": 5e-4}}),
    ]
    if best_epoch is not None and best_epoch < n:
        out.insert(2, Remedy(
            f"Retrain for about {best_epoch} epochs (validation was best at epoch {best_epoch}).",
            {"trainer": {"max_epochs": int(best_epoch)}}))
    return tuple(out)


def _slow_remedies(lr: float | None, total_epochs: int) -> tuple[Remedy, ...]:
    out = [
        Remedy("Add batch norm after each conv (in the case study it reached by epoch 5 the "
               "training loss the baseline had after 25).", {"builder": {"batch_norm": True}}),
        Remedy(f"Train for about {total_epochs} epochs in all.",
               {"trainer": {"max_epochs": total_epochs}}),
    ]
    if lr is not None:
        out.append(Remedy(f"Raise the learning rate{_lr_note(lr)}; Trainer.lr_find() suggests one.",
                          {"trainer": {"lr": float(f"{lr * 3:.3g}")}}))
    else:
        out.append(Remedy("Use a larger learning rate; Trainer.lr_find() suggests one.", {}))
    return tuple(out)


def _underfit_remedies(n: int, lr: float | None) -> tuple[Remedy, ...]:
    return (
        Remedy("Give the model more capacity (twice the channels in every conv).",
               {"builder": {"width": 2.0}}),
        Remedy("Reduce regularization: remove dropout.", {"builder": {"dropout": 0.0}}),
        Remedy(f"Train longer (about {2 * n} epochs).", {"trainer": {"max_epochs": 2 * n}}),
        Remedy(f"Check the learning rate{_lr_note(lr)} with Trainer.lr_find().", {}),
    )


def _diverge_remedies(lr: float | None, clip: float) -> tuple[Remedy, ...]:
    new_lr = float(f"{lr / 10:.3g}") if lr is not None else 3e-4
    basis = f"ten times lower than {lr:.3g}" if lr is not None else "e.g. 3e-4 below Adam's 1e-3"
    return (
        Remedy(f"Lower the learning rate ({basis}); Trainer.lr_find() shows where loss blows up.",
               {"trainer": {"lr": new_lr}}),
        Remedy("Clip the gradient norm.", {"trainer": {"grad_clip": float(f"{clip:.3g}")}}),
        Remedy("Add batch norm, which keeps activations in range.", {"builder": {"batch_norm": True}}),
        Remedy("Check the inputs for NaN/inf and unnormalized ranges with check_data(X, y).", {}),
    )


# ------------------------------------------------------------------------------------------------
# diagnose()
# ------------------------------------------------------------------------------------------------


def diagnose(
    history: Any,
    *,
    num_classes: int | None = None,
    target_accuracy: float | None = None,
    planned_epochs: int | None = None,
    chance_accuracy: float | None = None,
) -> Diagnosis:
    """Diagnose a training run from its per-epoch curves.

    Args:
        history: A cnnkit ``History``, anything with ``to_dict()``, a Keras ``History`` (its
            ``.history``), or a mapping of per-epoch lists. Recognized names (see
            :func:`canonical_name`): ``train_loss``/``loss``, ``val_loss``, ``train_acc``/
            ``accuracy``/``acc``, ``val_acc``/``val_accuracy``, and optional ``lr``,
            ``grad_norm``, ``epoch_time``; unknown keys are ignored. Accuracies are fractions in
            [0, 1] (percentages are detected and divided by 100). NaN/inf in a loss means the loss
            was non-finite; NaN in an accuracy means a missing value.
        num_classes: Number of classes; chance accuracy is then ``1 / num_classes``.
        target_accuracy: Accuracy the task should reach (fraction). Enables the "target would take
            many times the epochs run" slow-convergence rule and sharpens underfitting.
        planned_epochs: Epochs the run is meant to last. A shorter history is a run in progress:
            still improving is then expected, not slow, unless it needs more than planned.
        chance_accuracy: Accuracy of always predicting the majority class, when known (overrides
            ``1 / num_classes``; ``check_data`` reports it).

    Returns:
        A :class:`Diagnosis`.

    Raises:
        TypeError: ``history`` is not a mapping or History-like object.
        ValueError: No loss series, unequal series lengths, non-numeric values, or invalid
            options (``num_classes < 2``, accuracies outside (0, 1)).

    Example:
        >>> d = diagnose({"loss": [0.7, 0.6, 0.5, 0.4, 0.3, 0.2], "val_loss": [float("nan")] * 6})
        >>> d.label.value
        'diverging'
    """
    if num_classes is not None and (not isinstance(num_classes, int) or num_classes < 2):
        raise ValueError(f"num_classes must be an integer >= 2, got {num_classes!r}")
    for name, v in (("target_accuracy", target_accuracy), ("chance_accuracy", chance_accuracy)):
        if v is not None and not (0.0 < float(v) < 1.0):
            raise ValueError(f"{name} must be a fraction in (0, 1), got {v!r}")
    if planned_epochs is not None and planned_epochs < 1:
        raise ValueError(f"planned_epochs must be a positive integer, got {planned_epochs!r}")
    series, notes = _extract(history)
    # Extreme but finite values (1e308) can overflow in differences and ratios; the rules treat the
    # resulting inf/NaN through their isfinite checks, so numpy's warnings would only be noise.
    with np.errstate(all="ignore"):
        return _Diagnoser(series, notes, num_classes, target_accuracy, planned_epochs,
                          chance_accuracy).run()


class _Diagnoser:
    """Holds the normalized series and applies the rules in priority order."""

    def __init__(self, series: dict[str, FloatArray], notes: list[str], num_classes: int | None,
                 target: float | None, planned: int | None, chance: float | None) -> None:
        self.s = series
        self.notes = notes
        self.target = target
        self.planned = planned
        self.tl = series.get("train_loss")
        self.vl = series.get("val_loss")
        self.ta = series.get("train_acc")
        self.va = series.get("val_acc")
        self.n = next(iter(v.size for k, v in series.items() if k in _CORE))
        lr = series.get("lr")
        finite_lr = lr[np.isfinite(lr)] if lr is not None else np.empty(0)
        self.lr: float | None = float(finite_lr[-1]) if finite_lr.size else None
        self.primary_loss = self.tl if self.tl is not None else self.vl
        self.chance, self.chance_source, self.classes = self._chance(num_classes, chance)
        self.since_lr_step = self._since_lr_step(lr)
        self.findings: list[Finding] = []
        self.sigma = {k: _noise(v) for k, v in series.items() if k in _CORE}
        self.summary: dict[str, Any] = {"epochs": self.n, "chance": self.chance,
                                        "chance_source": self.chance_source, "notes": notes}

    def _chance(self, num_classes: int | None, chance: float | None) -> tuple[float, str, float]:
        if chance is not None:
            return float(chance), "majority class", float(num_classes or max(2, round(1 / chance)))
        if num_classes is not None:
            return 1.0 / num_classes, f"1/{num_classes} classes", float(num_classes)
        # Inferred: an untrained classifier's cross-entropy is about ln(C), and the first epoch's
        # mean loss is at most that, so round(exp(L0)) is a rough lower bound on C. A first loss
        # above ln(INFER_MAX_CLASSES) is a blow-up, not a class count: then the smallest of the
        # first three losses is used.
        loss = self.primary_loss if self.primary_loss is not None else np.empty(0)
        head = loss[np.isfinite(loss)][:3]
        first = float(head[0]) if head.size else math.nan
        if math.isfinite(first) and first > math.log(INFER_MAX_CLASSES):
            first = float(head.min())
        c = round(math.exp(min(first, math.log(INFER_MAX_CLASSES)))) if math.isfinite(first) else 2
        c = max(2, c)
        return 1.0 / c, f"inferred from first loss ~ ln({c})", float(c)

    @staticmethod
    def _since_lr_step(lr: FloatArray | None) -> int | None:
        """Epochs run at the current rate since the last step change (factor >= LR_STEP_FACTOR)."""
        if lr is None or lr.size < 2 or not (np.isfinite(lr).all() and (lr > 0).all()):
            return None
        ratio = lr[1:] / lr[:-1]
        steps = np.flatnonzero((ratio >= LR_STEP_FACTOR) | (ratio <= 1 / LR_STEP_FACTOR))
        return None if steps.size == 0 else int(lr.size - (steps[-1] + 1))

    def window(self) -> int:
        """Trailing window; never reaching back past a step change of the learning rate."""
        w = _window(self.n)
        return w if self.since_lr_step is None else min(w, max(self.since_lr_step, 2))

    def skill(self, acc: float) -> float:
        return (acc - self.chance) / max(1.0 - self.chance, 1e-9)

    def add(self, code: str, label: Label | None, severity: Severity, message: str,
            evidence: dict[str, Any], remedies: tuple[Remedy, ...] = ()) -> None:
        self.findings.append(Finding(code, label, severity, message, evidence, remedies))

    # -- rules ------------------------------------------------------------------------------

    def run(self) -> Diagnosis:
        self._summarize()
        if not self._diverging():
            if self._finite_epochs() < MIN_EPOCHS:
                need = MIN_EPOCHS - self._finite_epochs()
                self.add("too-few-epochs", Label.INCONCLUSIVE, Severity.WARNING,
                         f"only {self._finite_epochs()} epochs; at least {MIN_EPOCHS} are needed to "
                         f"judge a trend (run at least {need} more).",
                         {"epochs": self._finite_epochs(), "epochs_needed": MIN_EPOCHS,
                          "more_epochs": need},
                         (Remedy(f"Train for at least {MIN_EPOCHS} epochs (10 give the trend tests "
                                 "more power).",
                                 {"trainer": {"max_epochs": max(MIN_EPOCHS, 10)}}),))
            else:
                overfit = self._overfitting()
                slow = self._slow()
                if not slow:
                    self._underfitting()
                if not overfit:
                    self._gap_warning()
        return self._finish()

    def _finite_epochs(self) -> int:
        return int(np.isfinite(self.primary_loss).sum()) if self.primary_loss is not None else 0

    def _summarize(self) -> None:
        for key in _CORE:
            x = self.s.get(key)
            if x is None:
                continue
            self.summary[f"{key}_first"] = _head_median(x, 1)
            self.summary[f"{key}_final"] = float(x[-1])
            self.summary[f"{key}_noise"] = self.sigma[key]
        if self.vl is not None and np.isfinite(self.vl).any():
            sm = _smooth(self.vl)
            b = int(np.nanargmin(np.where(np.isfinite(sm), sm, np.nan)))
            self.summary["best_val_epoch"] = b + 1
            self.summary["val_loss_best"] = float(sm[b])

    def _acc_at_chance(self, acc: FloatArray | None) -> bool | None:
        if acc is None or not np.isfinite(acc).any():
            return None
        return self.skill(_tail_median(acc)) <= AT_CHANCE_SKILL

    def _diverging(self) -> bool:
        clip = 1.0
        g = self.s.get("grad_norm")
        if g is not None and np.isfinite(g).any():
            clip = max(float(np.nanmedian(np.where(np.isfinite(g), g, np.nan))) * 2, 1e-3)
        rem = _diverge_remedies(self.lr, clip)
        parts, ev = [], {}
        for key, x in (("train_loss", self.tl), ("val_loss", self.vl)):
            if x is not None and not np.isfinite(x).all():
                bad = int(np.flatnonzero(~np.isfinite(x))[0])
                parts.append(f"{key} became {x[bad]} at epoch {bad + 1}")
                ev.update({f"{key}_epoch": bad + 1, f"{key}_value": str(x[bad]),
                           f"{key}_non_finite_epochs": int((~np.isfinite(x)).sum())})
        if parts:
            self.add("non-finite-loss", Label.DIVERGING, Severity.ERROR, "; ".join(parts) + ".",
                     ev, rem)
            return True
        loss = self.primary_loss
        assert loss is not None
        acc = self.ta if self.tl is not None else self.va
        at_chance = self._acc_at_chance(acc)
        l0, lend = float(loss[0]), _tail_median(loss)
        if self.n >= 2 and l0 > 0:
            limit = DIVERGE_LOSS_RATIO if at_chance is not None else DIVERGE_LOSS_RATIO_NO_ACC
            if lend >= limit * l0 and at_chance is not False:
                self.add("loss-explosion", Label.DIVERGING, Severity.ERROR,
                         f"loss ended at {lend:.4g}, {lend / l0:.1f}x its first-epoch value {l0:.4g}"
                         + (", with accuracy at chance." if at_chance else "."),
                         {"first_loss": l0, "final_loss": lend, "ratio": lend / l0,
                          "accuracy_at_chance": at_chance}, rem)
                return True
        chance_loss = math.log(self.classes)
        peak = float(np.max(loss))
        if peak >= DIVERGE_SPIKE_RATIO * chance_loss and at_chance:
            self.add("loss-spike", Label.DIVERGING, Severity.ERROR,
                     f"loss peaked at {peak:.4g} ({peak / chance_loss:.0f}x the chance-level "
                     f"{chance_loss:.3g}) and accuracy ended at chance.",
                     {"peak_loss": peak, "chance_loss": chance_loss, "accuracy_at_chance": True}, rem)
            return True
        if self.tl is not None and self.n >= MIN_EPOCHS:
            w = self.window()
            tr = _trend(self.tl, w, +1, self.sigma["train_loss"])
            sm_min = float(np.min(_smooth(self.tl)))
            rise = lend - sm_min
            sig = self.sigma["train_loss"]
            if tr.significant and rise >= DIVERGE_RISE_FRACTION * abs(sm_min) and rise >= 3 * sig:
                self.add("train-loss-rising", Label.DIVERGING, Severity.WARNING,
                         f"training loss rose significantly over the last {w} epochs to {lend:.4g}, "
                         f"{rise / max(abs(sm_min), 1e-12):.0%} above its minimum {sm_min:.4g} "
                         f"(Mann-Kendall p={tr.p:.2g}).",
                         {"window": w, "slope": tr.slope, "p_value": tr.p, "min_loss": sm_min,
                          "final_loss": lend, "rise_sigmas": rise / sig}, rem)
                return True
            level = float(np.median(np.abs(self.tl[-w:])))
            learnt = (self.skill(_tail_median(self.ta)) >= UNDERFIT_MAX_SKILL
                      if self.ta is not None and np.isfinite(self.ta).any()
                      else level < UNDERFIT_LOSS_FRACTION * math.log(self.classes))
            if sig >= DIVERGE_ERRATIC_FRACTION * level and not learnt:
                self.add("train-loss-erratic", Label.DIVERGING, Severity.WARNING,
                         f"training loss jumps by about {sig / max(level, 1e-12):.0%} of its level "
                         f"({level:.4g}) from epoch to epoch and the model has learnt little: the "
                         "steps are too large.",
                         {"noise": sig, "level": level, "noise_fraction": sig / max(level, 1e-12)},
                         rem)
                return True
        if g is not None and np.isfinite(g).any():
            med = float(np.nanmedian(np.where(np.isfinite(g), g, np.nan)))
            top = float(np.nanmax(np.where(np.isfinite(g), g, np.nan)))
            if med > 0 and top >= GRAD_EXPLODE_RATIO * med:
                self.add("gradient-spike", None, Severity.WARNING,
                         f"gradient norm peaked at {top:.3g}, {top / med:.0f}x its median {med:.3g}.",
                         {"max_grad_norm": top, "median_grad_norm": med},
                         (rem[1],))
        return False

    def _overfitting(self) -> bool:
        found = False
        n = self.n
        w = _window(n)
        if self.vl is not None:
            sm = _smooth(self.vl)
            b = int(np.argmin(sm))
            after = n - 1 - b
            sig = self.sigma["val_loss"]
            vmin = float(sm[b])
            k = min(w, after)
            if after >= OVERFIT_MIN_EPOCHS_AFTER_BEST and k >= 1:
                tail = float(np.median(self.vl[-k:]))
                rise = tail - vmin
                train_ok = True
                train_drop = None
                if self.tl is not None:
                    tls = _smooth(self.tl)
                    train_drop = float(tls[b] - _tail_median(self.tl))
                    train_ok = train_drop >= max(OVERFIT_TRAIN_DROP_SIGMAS * self.sigma["train_loss"],
                                                 OVERFIT_MIN_TRAIN_DROP * abs(float(tls[b])))
                if (rise >= OVERFIT_RISE_SIGMAS * sig and rise >= OVERFIT_MIN_REL_RISE * abs(vmin)
                        and train_ok):
                    gap = self._acc_gap()
                    msg = (f"validation loss rose {rise / sig:.1f} noise units (+{rise / abs(vmin):.0%})"
                           f" above its minimum {vmin:.4g} at epoch {b + 1} and stayed there for "
                           f"{after} epochs")
                    if train_drop is not None:
                        msg += f", while training loss fell {train_drop:.3g} further"
                    if gap is not None:
                        msg += f"; train/val accuracy gap {gap:.3f}"
                    self.add("val-loss-rising", Label.OVERFITTING, Severity.WARNING, msg + ".",
                             {"best_epoch": b + 1, "best_val_loss": vmin, "final_val_loss": tail,
                              "rise": rise, "rise_sigmas": rise / sig, "rise_fraction": rise / abs(vmin),
                              "epochs_since_best": after, "val_loss_noise": sig,
                              "train_loss_drop_since_best": train_drop, "accuracy_gap": gap},
                             _overfit_remedies(b + 1, n))
                    found = True
        if self.va is not None and np.isfinite(self.va).sum() >= MIN_EPOCHS:
            va = np.where(np.isfinite(self.va), self.va, np.nanmedian(self.va))
            sm = _smooth(va)
            b = int(np.argmax(sm))
            after = n - 1 - b
            sig = _noise(va)
            k = min(w, after)
            if after >= OVERFIT_MIN_EPOCHS_AFTER_BEST and k >= 1:
                drop = float(sm[b] - np.median(va[-k:]))
                train_ok = self.ta is None or (_tail_median(self.ta) - _smooth(self.ta)[b]
                                               >= max(self.sigma["train_acc"], OVERFIT_MIN_ACC_DROP / 2))
                if drop >= OVERFIT_ACC_DROP_SIGMAS * sig and drop >= OVERFIT_MIN_ACC_DROP and train_ok:
                    self.add("val-acc-falling", Label.OVERFITTING, Severity.WARNING,
                             f"validation accuracy fell {drop:.3f} ({drop / sig:.1f} noise units) "
                             f"below its best {sm[b]:.3f} at epoch {b + 1} while training accuracy "
                             f"kept rising.",
                             {"best_epoch": b + 1, "best_val_acc": float(sm[b]), "drop": drop,
                              "drop_sigmas": drop / sig}, () if found else _overfit_remedies(b + 1, n))
                    found = True
        if not found:
            found = self._gap_widening(self.window())
        return found

    def _acc_gap(self) -> float | None:
        if self.ta is None or self.va is None:
            return None
        g = _tail_median(self.ta - self.va)
        return g if math.isfinite(g) else None

    def _val_improving(self, w: int) -> bool:
        vl_imp = self.vl is not None and _trend(self.vl, w, -1, self.sigma["val_loss"]).significant
        va_imp = self.va is not None and _trend(self.va, w, +1, self.sigma["val_acc"]).significant
        return bool(vl_imp or va_imp)

    def _gap_series(self) -> tuple[FloatArray, float, str] | None:
        if self.ta is not None and self.va is not None:
            return self.ta - self.va, GAP_LARGE_ACC, "accuracy"
        if self.tl is not None and self.vl is not None and np.all(self.tl > 0):
            return np.log(self.vl / self.tl), math.log(GAP_LARGE_LOSS_RATIO), "log loss ratio"
        return None

    def _gap_widening(self, w: int) -> bool:
        gs = self._gap_series()
        if gs is None or self._val_improving(w):
            return False
        gap, limit, kind = gs
        tail_gap = _tail_median(gap)
        tr = _trend(gap, w, +1)
        if math.isfinite(tail_gap) and tail_gap >= limit:
            trend = (f"and still widening (Mann-Kendall p={tr.p:.2g})" if tr.significant
                     else "and no longer closing")
            self.add("large-gap-val-stalled", Label.OVERFITTING, Severity.WARNING,
                     f"validation stopped improving over the last {w} epochs while the train/val "
                     f"{kind} gap is {tail_gap:.3f} {trend}.",
                     {"gap": tail_gap, "gap_kind": kind, "gap_slope": tr.slope, "p_value": tr.p,
                      "gap_widening": tr.significant, "window": w},
                     _overfit_remedies(self.summary.get("best_val_epoch"), self.n))
            return True
        return False

    def _gap_warning(self) -> None:
        gs = self._gap_series()
        if gs is None:
            return
        gap, limit, kind = gs
        tail_gap = _tail_median(gap)
        if math.isfinite(tail_gap) and tail_gap >= limit:
            improving = self._val_improving(self.window())
            self.add("large-gap", None, Severity.WARNING,
                     f"train/val {kind} gap is {tail_gap:.3f}"
                     + (" but validation is still improving: not overfitting yet; watch it."
                        if improving else " with validation flat."),
                     {"gap": tail_gap, "gap_kind": kind, "val_improving": improving},
                     (Remedy("Stop early when validation stops improving.",
                             {"callbacks": [{"type": "EarlyStopping", "patience": 5,
                                             "restore_best_weights": True}]}),
                      Remedy("Augment the training images.", {"augment": "default"})))

    def _loss_still_improving(self, x: FloatArray) -> tuple[bool, dict[str, Any]]:
        """Slow-convergence test on a loss: significant trailing decrease at a non-negligible rate."""
        n = x.size
        w = _window(n)
        tr = _trend(x, w, -1)
        start, end = _head_median(x, 1), _tail_median(x)
        avg_rate = (start - end) / max(n - 1, 1)
        tail_rate = -tr.slope
        ratio = tail_rate / avg_rate if avg_rate > 0 else (math.inf if tail_rate > 0 else 0.0)
        projected = tail_rate * n / max(abs(end), 1e-12)
        ok = (tr.significant and tail_rate > 0 and ratio >= SLOW_RATE_RATIO
              and projected >= SLOW_MIN_PROJECTED_GAIN)
        ev = {"window": w, "tail_slope": tr.slope, "p_value": tr.p, "rate_ratio": ratio,
              "projected_relative_gain": projected, "tail_drop_sigmas": tr.sigmas}
        return ok, ev

    def _extra_epochs(self, x: FloatArray, ratio: float) -> int:
        """Epochs until the trailing rate falls below SLOW_RATE_RATIO of the average rate.

        With an exponential approach the rate decays as exp(-t/tau); tau comes from the slopes of
        the two last windows. A straight or accelerating decrease gives no tau: then as many
        epochs again (at least doubling the run) is the honest rough answer.
        """
        n = x.size
        w = _window(n)
        if n >= 2 * w and math.isfinite(ratio):
            s1 = -_theil_sen(x[-2 * w:-w])
            s2 = -_theil_sen(x[-w:])
            if s1 > s2 > 0:
                tau = w / math.log(s1 / s2)
                return int(min(max(tau * math.log(ratio / SLOW_RATE_RATIO), 1.0), 10 * n))
        return n

    def _slow(self) -> bool:
        found = False
        if self.tl is not None or self.vl is not None:
            x = self.tl if self.tl is not None else self.vl
            assert x is not None
            if self.since_lr_step is not None:
                # After a schedule step the loss follows a new curve: judge that segment alone.
                x = x[-self.since_lr_step:]
            ok, ev = self._loss_still_improving(x)
            if ok:
                extra = self._extra_epochs(x, ev["rate_ratio"])
                total = _round_epochs(self.n + extra)
                in_progress = self.planned is not None and self.n < self.planned
                name = "training" if self.tl is not None else "validation"
                ev.update({"more_epochs": extra, "suggested_max_epochs": total})
                if in_progress and total <= (self.planned or 0):
                    self.add("still-improving", None, Severity.INFO,
                             f"{name} loss is still falling at epoch {self.n} of {self.planned}, "
                             "as expected for a run in progress.", ev)
                else:
                    ratio = ev["rate_ratio"]
                    self.add("loss-still-falling", Label.SLOW_CONVERGING, Severity.WARNING,
                             f"{name} loss is still falling at the end (last {ev['window']} epochs: "
                             f"rate {ratio:.2f}x the run's average, Mann-Kendall p={ev['p_value']:.2g});"
                             f" roughly {extra} more epoch{'s' if extra != 1 else ''} needed (about {total} in all).",
                             ev, _slow_remedies(self.lr, total))
                    found = True
        if self.target is not None:
            acc = self.va if self.va is not None else self.ta
            if acc is not None and np.isfinite(acc).sum() >= MIN_EPOCHS:
                now = _tail_median(acc)
                w = self.window()
                slope = _theil_sen(acc[-w:][np.isfinite(acc[-w:])])
                if now < self.target and slope > 0:
                    need = (self.target - now) / slope
                    if need > SLOW_TARGET_FACTOR * self.n:
                        self.add("target-far", Label.SLOW_CONVERGING, Severity.WARNING,
                                 f"accuracy {now:.3f} gains {slope:.2g}/epoch: the target "
                                 f"{self.target:.3f} would take about {need:.0f} more epochs "
                                 f"({need / self.n:.0f}x the {self.n} run).",
                                 {"accuracy": now, "target": self.target, "slope": slope,
                                  "epochs_to_target": need},
                                 () if found else _slow_remedies(self.lr, _round_epochs(self.n * 2)))
                        found = True
        return found

    def _underfitting(self) -> None:
        if self.ta is not None and np.isfinite(self.ta).sum() >= MIN_EPOCHS:
            acc = _tail_median(self.ta)
            skill = self.skill(acc)
            low = (acc < self.target - UNDERFIT_TARGET_MARGIN if self.target is not None
                   else skill < UNDERFIT_MAX_SKILL)
            w = self.window()
            tr = _trend(self.ta, w, +1, self.sigma["train_acc"])
            improving = tr.significant and tr.slope * self.n >= MIN_PROJECTED_ACC_GAIN
            if low and not improving:
                ref = (f"target {self.target:.3f}" if self.target is not None
                       else f"chance {self.chance:.3f}")
                self.add("low-train-accuracy", Label.UNDERFITTING, Severity.WARNING,
                         f"training accuracy is {acc:.3f} ({skill:.0%} of the way from chance to "
                         f"perfect; {ref}) and no longer improving (last {w} epochs: slope "
                         f"{tr.slope:.2g}/epoch, p={tr.p:.2g}).",
                         {"train_acc": acc, "skill": skill, "chance": self.chance,
                          "target": self.target, "slope": tr.slope, "p_value": tr.p, "window": w},
                         _underfit_remedies(self.n, self.lr))
            return
        loss = self.primary_loss
        assert loss is not None
        level = _tail_median(loss)
        ce = math.log(self.classes)
        if level >= UNDERFIT_LOSS_FRACTION * ce:
            self.add("high-loss", Label.UNDERFITTING, Severity.WARNING,
                     f"loss is flat at {level:.4g}, {level / ce:.0%} of the chance-level "
                     f"cross-entropy ln({self.classes:.0f}) = {ce:.3g}.",
                     {"loss": level, "chance_loss": ce, "fraction": level / ce},
                     _underfit_remedies(self.n, self.lr))

    def _finish(self) -> Diagnosis:
        decisive = [f for f in self.findings if f.label is not None and f.severity != Severity.INFO]
        label = Label.HEALTHY
        if decisive:
            label = min((f.label for f in decisive if f.label is not None),
                        key=lambda lab: PRIORITY.index(lab.value))
        order = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}
        findings = sorted(self.findings, key=lambda f: (
            f.label != label, PRIORITY.index(f.label.value) if f.label else 99, order[f.severity]))
        return Diagnosis(label, tuple(findings), self.summary)


# ------------------------------------------------------------------------------------------------
# diagnose_file()
# ------------------------------------------------------------------------------------------------


def _to_float(value: Any, path: Path, column: str, row: int) -> float | None:
    """A cell as a float; empty/None/"null" -> None (missing); "nan"/"inf" stay non-finite."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return float(value)  # the common case first: this runs once per cell
    except (TypeError, ValueError):
        pass
    t = str(value).strip()
    if t == "" or t.lower() in ("none", "null"):
        return None
    raise ValueError(f"{path}: column {column!r}, row {row}: {value!r} is not a number")


def _records_to_series(records: list[dict[str, Any]], columns: list[str],
                       path: Path) -> dict[str, list[float]]:
    """Group rows by epoch (mean of the values logged in each epoch), keep recognized columns,
    and keep the epochs where every recognized core series has a value."""
    # A column that exists but is empty throughout (Lightning writes every key in the header)
    # does not count: e.g. train_loss_epoch when only train_loss_step was logged.
    filled = {col for rec in records for col, v in rec.items() if v is not None and v != ""}
    best: dict[str, tuple[int, str]] = {}
    for col in (c for c in columns if c in filled):
        cn = canonical_name(col)
        if cn is not None and (cn[0] not in best or cn[1] < best[cn[0]][0]):
            best[cn[0]] = (cn[1], col)
    if "train_loss" not in best and "val_loss" not in best:
        raise ValueError(
            f"no non-empty loss column in {path}: found columns {columns}; expected a training or "
            "validation loss such as 'train_loss', 'loss', 'train_loss_epoch' or 'val_loss' "
            "(see docs/diagnosis.md)"
        )
    epoch_col = next((c for c in columns if c.strip().lower() == "epoch"), None)
    groups: dict[Any, dict[str, list[float]]] = {}
    for i, rec in enumerate(records):
        key: Any = _to_float(rec.get(epoch_col), path, "epoch", i + 2) if epoch_col else i
        if key is None:
            key = ("row", i)
        g = groups.setdefault(key, {})
        for canon, (_, col) in best.items():
            v = _to_float(rec.get(col), path, col, i + 2)
            if v is not None:
                g.setdefault(canon, []).append(v)
    core = [c for c in _CORE if c in best]
    out: dict[str, list[float]] = {c: [] for c in best}
    for g in groups.values():
        if not all(c in g for c in core):
            continue
        for name in best:
            vals = g.get(name)
            out[name].append(math.fsum(vals) / len(vals) if vals else math.nan)
    return out


def diagnose_file(path: str | Path, **options: Any) -> Diagnosis:
    """Diagnose a history saved to disk.

    Reads (with the stdlib ``csv``/``json`` modules):

    * a cnnkit ``History.to_csv`` / ``History.to_json`` file;
    * a Keras ``CSVLogger`` file (``epoch,accuracy,loss,val_accuracy,val_loss[,lr]``) or a JSON dump
      of ``history.history``;
    * a Lightning ``CSVLogger`` ``metrics.csv`` (step rows and epoch rows interleaved, empty cells,
      ``_step``/``_epoch`` suffixes); a JSON list of per-row records is read the same way.

    Column names are mapped by :func:`canonical_name`. Rows are grouped by the ``epoch`` column
    (each row is an epoch when there is none); a metric logged several times in an epoch is
    averaged; epochs lacking a recognized loss/accuracy series (e.g. a Lightning epoch with only
    step rows) are dropped. An empty cell is a missing value; ``nan``/``inf`` are kept as
    non-finite values.

    Args:
        path: The ``.csv`` or ``.json`` file.
        **options: Passed to :func:`diagnose` (``num_classes``, ``target_accuracy``, ...).

    Returns:
        A :class:`Diagnosis`.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: The file has no loss series (the message names the file and the columns
            found), a non-numeric cell, or is not CSV/JSON.

    Example:
        >>> d = diagnose_file("logs/lightning/version_0/metrics.csv")  # doctest: +SKIP
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"no history file at {p}")
    text = p.read_text(encoding="utf-8-sig")
    stripped = text.lstrip()
    if p.suffix.lower() == ".json" or stripped.startswith(("{", "[")):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{p} is not valid JSON: {exc}") from None
        if isinstance(data, Mapping) and isinstance(data.get("history"), Mapping):
            data = data["history"]
        if isinstance(data, Mapping):
            try:
                series, _ = _extract(data, source=str(p))
            except TypeError as exc:
                raise ValueError(f"{p}: {exc}") from None
            return diagnose({k: v.tolist() for k, v in series.items()}, **options)
        if isinstance(data, list) and data and all(isinstance(r, Mapping) for r in data):
            columns = list(dict.fromkeys(str(k) for r in data for k in r))
            records = [{str(k): v for k, v in r.items()} for r in data]
            return diagnose(_records_to_series(records, columns, p), **options)
        raise ValueError(f"{p}: expected a JSON object of per-epoch lists or a list of records")
    reader = csv.reader(text.splitlines())
    rows = list(reader)
    if not rows:
        raise ValueError(f"{p} is empty: expected a header row and one row per epoch")
    header = [h.strip() for h in rows[0]]
    records = [dict(zip(header, row, strict=False)) for row in rows[1:] if any(c.strip() for c in row)]
    return diagnose(_records_to_series(records, header, p), **options)
