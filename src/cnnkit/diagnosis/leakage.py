"""The leakage rule: validation accuracy persistently above training accuracy by more than
regularization explains, or near-perfect validation accuracy, the signature of a validation set
that overlaps the training set (advisory ``val-above-train``).

How much regularization explains depends on what was trained (``diagnose(..., model=,
builder=, trainer=)``): dropout and augmentation lower the training accuracy as it is measured.
Thresholds in :mod:`cnnkit.diagnosis.thresholds`. numpy only.
"""

from __future__ import annotations

import math

import numpy as np

from cnnkit.diagnosis.findings import Finding, Severity
from cnnkit.diagnosis.remedies import leakage_remedies
from cnnkit.diagnosis.series import Curves
from cnnkit.diagnosis.stats import noise
from cnnkit.diagnosis.thresholds import (
    GAP_MIN_MARGIN,
    LEAK_NEAR_PERFECT,
    LEAK_VAL_ABOVE_TRAIN,
    LEAK_VAL_ABOVE_TRAIN_REGULARIZED,
    MIN_EPOCHS,
)

__all__ = ["regularized", "val_above_train"]


def regularized(c: Curves) -> bool:
    """Whether the run has, or may have, dropout or augmentation (``False`` only when both are
    known to be off)."""
    t = c.trained
    return not (t.dropout is not None and t.dropout <= 0 and t.augment is False)


def val_above_train(c: Curves) -> list[Finding]:
    """``val-above-train`` (advisory): over the trailing window the median lead of validation
    over training accuracy is at least ``LEAK_VAL_ABOVE_TRAIN`` (known unregularized) or
    ``LEAK_VAL_ABOVE_TRAIN_REGULARIZED`` (regularized or unknown), by ``GAP_MIN_MARGIN`` of its
    standard errors; or the validation accuracy's median is at least ``LEAK_NEAR_PERFECT`` and
    above the training accuracy's."""
    if c.ta is None or c.va is None:
        return []
    ok = np.isfinite(c.ta) & np.isfinite(c.va)
    if ok.sum() < MIN_EPOCHS:
        return []
    lead_all = (c.va - c.ta)[ok]
    w = min(c.window(), lead_all.size)
    lead = float(np.median(lead_all[-w:]))
    se = noise(lead_all) / math.sqrt(w)
    reg = regularized(c)
    limit = LEAK_VAL_ABOVE_TRAIN_REGULARIZED if reg else LEAK_VAL_ABOVE_TRAIN
    va, ta = float(np.median(c.va[ok][-w:])), float(np.median(c.ta[ok][-w:]))
    ahead = lead >= limit + GAP_MIN_MARGIN * se
    perfect = va >= LEAK_NEAR_PERFECT and va > ta
    if not (ahead or perfect):
        return []
    why = (
        f"validation accuracy {va:.3f} stays {lead:+.3f} above training accuracy {ta:.3f} "
        f"over the last {w} epochs, more than "
        + (
            "dropout or augmentation explain"
            if reg
            else "noise explains in a run without dropout or augmentation"
        )
        if ahead
        else f"validation accuracy is {va:.3f}, near perfect and above training accuracy {ta:.3f}"
    )
    return [
        Finding(
            "val-above-train",
            None,
            Severity.WARNING,
            f"{why}: the validation set may overlap the training set (leakage) or be easier.",
            {
                "val_acc": va,
                "train_acc": ta,
                "lead": lead,
                "lead_se": se,
                "limit": limit,
                "regularized": reg,
                "near_perfect": perfect,
                "window": w,
            },
            leakage_remedies(),
        )
    ]
