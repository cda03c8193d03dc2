"""The first-loss rule: a first epoch whose loss is far above chance, the signature of an
initialization or label problem (advisory ``first-loss-high``).

It needs the class count (``num_classes`` or ``chance_accuracy``): when the chance level is
inferred from the first loss itself the test would be circular. Thresholds in
:mod:`cnnkit.diagnosis.thresholds`. numpy only.
"""

from __future__ import annotations

import math

import numpy as np

from cnnkit.diagnosis.findings import Finding, Severity
from cnnkit.diagnosis.remedies import setup_remedies
from cnnkit.diagnosis.series import Curves
from cnnkit.diagnosis.thresholds import FIRST_LOSS_CHANCE_RATIO

__all__ = ["first_loss_high"]


def first_loss_high(c: Curves) -> list[Finding]:
    """``first-loss-high`` (advisory): with the class count known, the first-epoch training
    loss (the validation loss without one) is at least ``FIRST_LOSS_CHANCE_RATIO`` times the
    chance-level cross-entropy ln(C)."""
    if c.chance_source.startswith("inferred"):
        return []
    loss = c.tl if c.tl is not None else c.vl
    if loss is None or loss.size == 0 or not np.isfinite(loss[0]):
        return []
    first, ce = float(loss[0]), math.log(c.classes)
    if not first >= FIRST_LOSS_CHANCE_RATIO * ce:
        return []
    name = "training" if c.tl is not None else "validation"
    return [
        Finding(
            "first-loss-high",
            None,
            Severity.WARNING,
            f"the first epoch's {name} loss {first:.4g} is {first / ce:.1f}x the chance-level "
            f"cross-entropy ln({c.classes:.0f}) = {ce:.3g}, where an untrained model starts: check "
            "the labels and targets, the initialization and the input normalization.",
            {"first_loss": first, "chance_loss": ce, "ratio": first / ce, "series": name},
            setup_remedies(),
        )
    ]
