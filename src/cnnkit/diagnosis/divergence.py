"""The divergence rule: non-finite losses, explosions, spikes, a rising or erratic training loss,
and the advisory gradient spike. Thresholds in :mod:`cnnkit.diagnosis.thresholds`."""

from __future__ import annotations

import math

import numpy as np

from cnnkit.diagnosis.findings import Finding, Label, Remedy, Severity
from cnnkit.diagnosis.remedies import diverge_remedies
from cnnkit.diagnosis.series import Curves
from cnnkit.diagnosis.stats import FloatArray, running_median, tail_median, trend
from cnnkit.diagnosis.thresholds import (
    AT_CHANCE_SKILL,
    DIVERGE_CHANCE_RATIO,
    DIVERGE_ERRATIC_FRACTION,
    DIVERGE_LOSS_RATIO,
    DIVERGE_LOSS_RATIO_NO_ACC,
    DIVERGE_RISE_FRACTION,
    DIVERGE_SPIKE_RATIO,
    GRAD_EXPLODE_RATIO,
    MIN_EPOCHS,
    UNDERFIT_LOSS_FRACTION,
    UNDERFIT_MAX_SKILL,
)

__all__ = ["divergence"]


def _acc_at_chance(c: Curves, acc: FloatArray | None) -> bool | None:
    if acc is None or not np.isfinite(acc).any():
        return None
    return c.skill(tail_median(acc)) <= AT_CHANCE_SKILL


def _finite_median(x: FloatArray) -> float:
    return float(np.nanmedian(np.where(np.isfinite(x), x, np.nan)))


def _far_above_chance(c: Curves, chance_loss: float, rem: tuple[Remedy, ...]) -> Finding | None:
    """``loss-far-above-chance``: the training or validation loss over the trailing window stays
    ``DIVERGE_CHANCE_RATIO`` times above the chance-level cross-entropy, whatever the accuracy."""
    w = min(c.window(), c.n)
    for key, x in (("training", c.tl), ("validation", c.vl)):
        if x is None or c.n < 2:
            continue
        level = float(np.median(x[-w:]))
        if level >= DIVERGE_CHANCE_RATIO * chance_loss:
            return Finding(
                "loss-far-above-chance", Label.DIVERGING, Severity.ERROR,
                f"{key} loss stays at {level:.4g} over the last {w} epochs, "
                f"{level / chance_loss:.0f}x the chance-level cross-entropy "
                f"ln({c.classes:.0f}) = {chance_loss:.3g}: the run diverged (or the setup is "
                "broken: labels, loss, inputs), whatever the accuracy says.",
                {"series": key, "loss": level, "chance_loss": chance_loss,
                 "ratio": level / chance_loss, "window": w}, rem)
    return None


def divergence(c: Curves) -> list[Finding]:
    """Findings of a run that diverged (label ``diverging``), else at most a gradient spike.

    Checked in order, the first that holds is the finding: ``non-finite-loss`` (NaN/inf in a
    loss), ``loss-explosion``, ``loss-spike``, ``train-loss-rising``, ``train-loss-erratic``.
    Without any of them, ``gradient-spike`` (advisory) when the logged gradient norm exploded.
    """
    clip = 1.0
    g = c.series.get("grad_norm")
    if g is not None and np.isfinite(g).any():
        clip = max(_finite_median(g) * 2, 1e-3)
    rem = diverge_remedies(c.lr, clip, c.trained)
    parts, ev = [], {}
    for key, x in (("train_loss", c.tl), ("val_loss", c.vl)):
        if x is not None and not np.isfinite(x).all():
            bad = int(np.flatnonzero(~np.isfinite(x))[0])
            parts.append(f"{key} became {x[bad]} at epoch {bad + 1}")
            ev.update({f"{key}_epoch": bad + 1, f"{key}_value": str(x[bad]),
                       f"{key}_non_finite_epochs": int((~np.isfinite(x)).sum())})
    if parts:
        return [Finding("non-finite-loss", Label.DIVERGING, Severity.ERROR, "; ".join(parts) + ".",
                        ev, rem)]
    loss = c.primary_loss
    assert loss is not None
    acc = c.ta if c.tl is not None else c.va
    at_chance = _acc_at_chance(c, acc)
    l0, lend = float(loss[0]), tail_median(loss)
    if c.n >= 2 and l0 > 0:
        limit = DIVERGE_LOSS_RATIO if at_chance is not None else DIVERGE_LOSS_RATIO_NO_ACC
        if lend >= limit * l0 and at_chance is not False:
            return [Finding(
                "loss-explosion", Label.DIVERGING, Severity.ERROR,
                f"loss ended at {lend:.4g}, {lend / l0:.1f}x its first-epoch value {l0:.4g}"
                + (", with accuracy at chance." if at_chance else "."),
                {"first_loss": l0, "final_loss": lend, "ratio": lend / l0,
                 "accuracy_at_chance": at_chance}, rem)]
    chance_loss = math.log(c.classes)
    far = _far_above_chance(c, chance_loss, rem)
    if far is not None:
        return [far]
    peak = float(np.max(loss))
    if peak >= DIVERGE_SPIKE_RATIO * chance_loss and at_chance:
        return [Finding(
            "loss-spike", Label.DIVERGING, Severity.ERROR,
            f"loss peaked at {peak:.4g} ({peak / chance_loss:.0f}x the chance-level "
            f"{chance_loss:.3g}) and accuracy ended at chance.",
            {"peak_loss": peak, "chance_loss": chance_loss, "accuracy_at_chance": True}, rem)]
    if c.tl is not None and c.n >= MIN_EPOCHS:
        w = c.window()
        sig = c.sigma["train_loss"]
        tr = trend(c.tl, w, +1, sig)
        sm_min = float(np.min(running_median(c.tl)))
        rise = lend - sm_min
        if tr.significant and rise >= DIVERGE_RISE_FRACTION * abs(sm_min) and rise >= 3 * sig:
            return [Finding(
                "train-loss-rising", Label.DIVERGING, Severity.WARNING,
                f"training loss rose significantly over the last {w} epochs to {lend:.4g}, "
                f"{rise / max(abs(sm_min), 1e-12):.0%} above its minimum {sm_min:.4g} "
                f"(Mann-Kendall p={tr.p:.2g}).",
                {"window": w, "slope": tr.slope, "p_value": tr.p, "min_loss": sm_min,
                 "final_loss": lend, "rise_sigmas": rise / sig, "margin": rise / sig - 3}, rem)]
        level = float(np.median(np.abs(c.tl[-w:])))
        learnt = (c.skill(tail_median(c.ta)) >= UNDERFIT_MAX_SKILL
                  if c.ta is not None and np.isfinite(c.ta).any()
                  else level < UNDERFIT_LOSS_FRACTION * math.log(c.classes))
        if sig >= DIVERGE_ERRATIC_FRACTION * level and not learnt:
            return [Finding(
                "train-loss-erratic", Label.DIVERGING, Severity.WARNING,
                f"training loss jumps by about {sig / max(level, 1e-12):.0%} of its level "
                f"({level:.4g}) from epoch to epoch and the model has learnt little: the "
                "steps are too large.",
                {"noise": sig, "level": level, "noise_fraction": sig / max(level, 1e-12)}, rem)]
    if g is not None and np.isfinite(g).any():
        med = _finite_median(g)
        top = float(np.nanmax(np.where(np.isfinite(g), g, np.nan)))
        if med > 0 and top >= GRAD_EXPLODE_RATIO * med:
            return [Finding(
                "gradient-spike", None, Severity.WARNING,
                f"gradient norm peaked at {top:.3g}, {top / med:.0f}x its median {med:.3g}.",
                {"max_grad_norm": top, "median_grad_norm": med}, (rem[1],))]
    return []
