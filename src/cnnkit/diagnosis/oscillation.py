"""The oscillation rule: a training loss that swings within epochs while the gradients grow, the
signature of a learning rate that is too high (advisory ``lr-too-high``).

It reads ``step_loss`` (one training loss per batch, as cnnkit's ``History`` records it) and
``grad_norm`` (the mean gradient norm of each epoch). Both must be logged: the swing of the batch
losses alone could be a small batch, and growing gradients alone a model that grows its weights.
Thresholds in :mod:`cnnkit.diagnosis.thresholds`. numpy only.
"""

from __future__ import annotations

import numpy as np

from cnnkit.diagnosis.findings import Finding, Severity
from cnnkit.diagnosis.remedies import lr_high_remedies
from cnnkit.diagnosis.series import Curves
from cnnkit.diagnosis.stats import FloatArray
from cnnkit.diagnosis.thresholds import (
    OSCILLATION_EPOCHS,
    OSCILLATION_GRAD_RATIO,
    OSCILLATION_STEP_CV,
)

__all__ = ["MIN_BATCHES", "lr_too_high", "step_loss_cv"]

#: Fewer batches per epoch than this and an epoch's median is too rough a level to measure the
#: swing about it.
MIN_BATCHES = 8


def step_loss_cv(steps: FloatArray, per_epoch: int) -> float:
    """Robust coefficient of variation of batch losses within their epochs: 1.4826 x the median
    absolute deviation of each batch loss from its epoch's median, over the median loss (NaN
    without a whole epoch of finite values or with a non-positive median).

    Args:
        steps: Batch losses of whole epochs, ``per_epoch`` a epoch, in order.
        per_epoch: Batches per epoch.
    """
    k = steps.size // max(per_epoch, 1)
    if k < 1 or per_epoch < 2:
        return float("nan")
    x = steps[-k * per_epoch :].reshape(k, per_epoch)
    if not np.isfinite(x).all():
        return float("nan")
    resid = x - np.median(x, axis=1, keepdims=True)
    med = float(np.median(x))
    if med <= 0:
        return float("nan")
    return float(1.4826 * np.median(np.abs(resid)) / med)


def lr_too_high(c: Curves) -> list[Finding]:
    """``lr-too-high`` (advisory): over the last ``OSCILLATION_EPOCHS`` epochs the batch losses
    swing by at least ``OSCILLATION_STEP_CV`` of their level (:func:`step_loss_cv`) and the
    gradient norm over the trailing window is at least ``OSCILLATION_GRAD_RATIO`` times its
    median over the first window. Needs ``step_loss`` (at least ``MIN_BATCHES`` a epoch) and
    ``grad_norm``."""
    steps, g = c.series.get("step_loss"), c.series.get("grad_norm")
    if steps is None or g is None or c.n < 2:
        return []
    per_epoch = steps.size // c.n
    if per_epoch < MIN_BATCHES:
        return []
    k = min(OSCILLATION_EPOCHS, c.n)
    cv = step_loss_cv(steps[-k * per_epoch :], per_epoch)
    fin = g[np.isfinite(g)]
    w = max(1, min(c.window(), fin.size // 2))
    if fin.size < 2 or not cv >= OSCILLATION_STEP_CV:
        return []
    first, last = float(np.median(fin[:w])), float(np.median(fin[-w:]))
    ratio = last / first if first > 0 else float("inf")
    if not ratio >= OSCILLATION_GRAD_RATIO:
        return []
    return [
        Finding(
            "lr-too-high",
            None,
            Severity.WARNING,
            f"training loss oscillates within epochs: over the last {k} epochs the batch losses swing "
            f"by {cv:.0%} of their level, while the gradient norm grew to {last:.3g}, {ratio:.1f}x "
            f"its {first:.3g} at the start: the learning rate is too high.",
            {
                "step_loss_cv": cv,
                "batches_per_epoch": per_epoch,
                "epochs": k,
                "grad_norm_start": first,
                "grad_norm_end": last,
                "grad_norm_ratio": ratio,
            },
            lr_high_remedies(c.lr, max(first * 2, 1e-3)),
        )
    ]
