"""The schedule rule: a run whose learning-rate schedule has not done its work yet.

With ``lr`` logged, a rate still warming up, or annealing that has only begun, means the run is
not where its schedule was meant to take it: the loss keeps falling as the rate anneals. Such a
run is neither converged (healthy) nor stuck (underfitting), whatever its curves show so far:
``schedule-in-progress`` (label ``slow-converging``), or an advisory note when the run is known
to be in progress (``planned_epochs``). A finished schedule is ``schedule-annealed``
(:mod:`cnnkit.diagnosis.convergence`). Thresholds in :mod:`cnnkit.diagnosis.thresholds`.
"""

from __future__ import annotations

import numpy as np

from cnnkit.diagnosis.findings import Finding, Label, Severity
from cnnkit.diagnosis.remedies import schedule_remedies
from cnnkit.diagnosis.series import Curves
from cnnkit.diagnosis.thresholds import LR_STEP_FACTOR, MIN_EPOCHS, SCHEDULE_EARLY_FRACTION

__all__ = ["schedule_in_progress", "schedule_phase"]


def schedule_phase(lr: np.ndarray | None) -> tuple[str, float] | None:
    """``("warm-up", fraction)`` or ``("early-anneal", fraction)`` for a logged rate whose
    schedule is still at its start (see ``SCHEDULE_EARLY_FRACTION``), with the last rate as a
    fraction of its peak; ``None`` otherwise (no rate, a constant rate, a schedule well under
    way or finished, non-finite or non-positive rates)."""
    if lr is None or lr.size < MIN_EPOCHS or not (np.isfinite(lr).all() and (lr > 0).all()):
        return None
    peak, last = float(lr.max()), float(lr[-1])
    frac = last / peak
    if last >= peak * (1 - 1e-9) and last >= LR_STEP_FACTOR * float(lr[0]):
        return "warm-up", frac
    falling = last < float(lr[-2]) * (1 - 1e-9)
    if falling and SCHEDULE_EARLY_FRACTION <= frac < 1 - 1e-9:
        return "early-anneal", frac
    return None


def schedule_in_progress(c: Curves) -> list[Finding]:
    """``schedule-in-progress`` (label ``slow-converging``): the logged rate is still warming
    up, or it has begun to anneal and is still at least ``SCHEDULE_EARLY_FRACTION`` of its peak.
    With ``planned_epochs`` and a run short of them it is an advisory note instead."""
    phase = schedule_phase(c.series.get("lr"))
    if phase is None:
        return []
    kind, frac = phase
    lr = c.series["lr"]
    ev = {
        "phase": kind,
        "lr": float(lr[-1]),
        "peak_lr": float(lr.max()),
        "lr_fraction_of_peak": frac,
    }
    what = (
        "the learning rate is still warming up (it rose to "
        f"{float(lr[-1]):.3g} at epoch {c.n}, its highest so far)"
        if kind == "warm-up"
        else f"the learning-rate schedule has only begun to anneal (the rate is {frac:.0%} of its "
        f"peak {float(lr.max()):.3g} and still falling)"
    )
    if c.planned is not None and c.n < c.planned:
        return [
            Finding(
                "schedule-in-progress",
                None,
                Severity.INFO,
                f"{what}, as expected at epoch {c.n} of {c.planned}.",
                ev,
            )
        ]
    return [
        Finding(
            "schedule-in-progress",
            Label.SLOW_CONVERGING,
            Severity.WARNING,
            f"{what}: the loss will keep falling as the rate anneals, so the run has "
            "not converged yet; judge it when the schedule has run its course.",
            ev,
            schedule_remedies(c.n),
        )
    ]
