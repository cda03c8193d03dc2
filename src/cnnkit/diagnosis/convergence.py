"""The convergence rules: too few epochs to judge, a loss still falling at the end (slow
convergence), a target far away, and a model that stopped learning short of the task
(underfitting). Thresholds in :mod:`cnnkit.diagnosis.thresholds`."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cnnkit.diagnosis.findings import Finding, Label, Severity
from cnnkit.diagnosis.remedies import (
    round_epochs,
    short_run_remedies,
    slow_remedies,
    underfit_remedies,
)
from cnnkit.diagnosis.series import Curves
from cnnkit.diagnosis.stats import (
    FloatArray,
    head_median,
    running_median,
    tail_median,
    theil_sen,
    trailing_window,
    trend,
)
from cnnkit.diagnosis.thresholds import (
    ANNEALED_LR_FRACTION,
    MIN_EPOCHS,
    MIN_PROJECTED_ACC_GAIN,
    OVERFIT_RISE_SIGMAS,
    SLOW_MIN_PROJECTED_GAIN,
    SLOW_RATE_RATIO,
    SLOW_TARGET_FACTOR,
    SLOW_VAL_RATE_RATIO,
    SLOW_VAL_REMAINING_GAIN,
    TREND_ALPHA,
    TREND_MIN_SIGMAS,
    UNDERFIT_LOSS_FRACTION,
    UNDERFIT_MAX_SKILL,
    UNDERFIT_TARGET_MARGIN,
)

__all__ = ["slow_convergence", "too_few_epochs", "underfitting", "validation_improves"]


def too_few_epochs(c: Curves) -> list[Finding]:
    """``too-few-epochs`` (label ``inconclusive``): fewer than ``MIN_EPOCHS`` finite epochs."""
    have = c.finite_epochs()
    if have >= MIN_EPOCHS:
        return []
    need = MIN_EPOCHS - have
    return [Finding("too-few-epochs", Label.INCONCLUSIVE, Severity.WARNING,
                    f"only {have} epochs; at least {MIN_EPOCHS} are needed to "
                    f"judge a trend (run at least {need} more).",
                    {"epochs": have, "epochs_needed": MIN_EPOCHS, "more_epochs": need},
                    short_run_remedies())]


def _loss_still_improving(x: FloatArray) -> tuple[bool, dict[str, Any]]:
    """Slow-convergence test on a loss: significant trailing decrease at a non-negligible rate."""
    n = x.size
    w = trailing_window(n)
    tr = trend(x, w, -1)
    start, end = head_median(x, 1), tail_median(x)
    avg_rate = (start - end) / max(n - 1, 1)
    tail_rate = -tr.slope
    ratio = tail_rate / avg_rate if avg_rate > 0 else (math.inf if tail_rate > 0 else 0.0)
    projected = tail_rate * n / max(abs(end), 1e-12)
    ok = (tr.significant and tail_rate > 0 and ratio >= SLOW_RATE_RATIO
          and projected >= SLOW_MIN_PROJECTED_GAIN)
    ev = {"window": w, "tail_slope": tr.slope, "p_value": tr.p, "rate_ratio": ratio,
          "projected_relative_gain": projected, "tail_drop_sigmas": tr.sigmas,
          "margin": tr.sigmas - TREND_MIN_SIGMAS}
    return ok, ev


def _train_acc_low(c: Curves) -> bool:
    """Training accuracy in the underfitting range (skill below ``UNDERFIT_MAX_SKILL``, or more
    than ``UNDERFIT_TARGET_MARGIN`` below the target)."""
    if c.ta is None or np.isfinite(c.ta).sum() < MIN_EPOCHS:
        return False
    acc = tail_median(c.ta)
    if c.target is not None:
        return bool(acc < c.target - UNDERFIT_TARGET_MARGIN)
    return bool(c.skill(acc) < UNDERFIT_MAX_SKILL)


def _val_loss_still_falling(x: FloatArray) -> tuple[bool, dict[str, Any]]:
    """Slow-convergence test on the validation loss of a run whose training accuracy is low: a
    significant fall over the trailing window that holds over the last half of the run at
    p < ``TREND_ALPHA`` / 5, and whose remaining gain (the
    trailing rate times the time constant of its slow-down, at most the run's length) is at
    least ``SLOW_VAL_REMAINING_GAIN`` of the loss, whatever its rate ratio."""
    n = x.size
    w = trailing_window(n)
    _, ev = _loss_still_improving(x)
    tail = trend(x, w, -1)
    half = trend(x, max(w, n // 2), -1)
    tail_rate = -float(ev["tail_slope"])
    horizon = float(n)
    if n >= 2 * w:
        s1, s2 = -theil_sen(x[-2 * w:-w]), -theil_sen(x[-w:])
        if s1 > s2 > 0:
            horizon = min(horizon, w / math.log(s1 / s2))
    remaining = tail_rate * horizon / max(abs(tail_median(x)), 1e-12)
    ev.update({"half_p_value": half.p, "remaining_relative_gain": remaining,
               "margin": half.sigmas - TREND_MIN_SIGMAS})
    ok = (tail.significant and half.significant and half.p < TREND_ALPHA / 5 and tail_rate > 0
          and remaining >= SLOW_VAL_REMAINING_GAIN)
    return ok, ev


def validation_improves(c: Curves) -> bool | None:
    """Whether validation still improves at the end of the run: the validation loss falls
    significantly over the trailing window or over the last half of the run, or the validation
    accuracy rises significantly over the trailing window by a projected
    ``MIN_PROJECTED_ACC_GAIN`` over as many epochs again. ``None`` without validation series.

    Slow convergence and "training accuracy still improving" are judged by this when validation
    is logged: more epochs are worth something only if validation gets better.
    """
    if c.vl is None and c.va is None:
        return None
    w = c.window()
    if c.vl is not None and np.isfinite(c.vl).sum() >= MIN_EPOCHS:
        sig = c.sigma["val_loss"]
        if trend(c.vl, w, -1, sig).significant or trend(c.vl, max(w, c.n // 2), -1, sig).significant:
            return True
    if c.va is not None and np.isfinite(c.va).sum() >= MIN_EPOCHS:
        tr = trend(c.va, w, +1, c.sigma["val_acc"])
        if tr.significant and tr.slope * c.n >= MIN_PROJECTED_ACC_GAIN:
            return True
    return False


def _extra_epochs(x: FloatArray, ratio: float) -> int:
    """Epochs until the trailing rate falls below SLOW_RATE_RATIO of the average rate.

    With an exponential approach the rate decays as exp(-t/tau); tau comes from the slopes of
    the two last windows. A straight or accelerating decrease gives no tau: then as many
    epochs again (at least doubling the run) is the honest rough answer.
    """
    n = x.size
    w = trailing_window(n)
    if not ratio > SLOW_RATE_RATIO:  # a validation-loss verdict below the ratio: no tau to use
        return n
    if n >= 2 * w and math.isfinite(ratio):
        s1 = -theil_sen(x[-2 * w:-w])
        s2 = -theil_sen(x[-w:])
        if s1 > s2 > 0:
            tau = w / math.log(s1 / s2)
            return int(min(max(tau * math.log(ratio / SLOW_RATE_RATIO), 1.0), 10 * n))
    return n


def _projected_acc_gain(c: Curves, acc: FloatArray | None) -> float | None:
    """Accuracy the trailing Theil-Sen trend of ``acc`` projects over as many epochs again as
    the run had (``None`` without enough finite accuracies)."""
    if acc is None or np.isfinite(acc).sum() < MIN_EPOCHS:
        return None
    y = acc[np.isfinite(acc)][-c.window():]
    return theil_sen(y) * c.n


def _val_at_best(c: Curves) -> bool:
    """Whether the validation loss ends within ``OVERFIT_RISE_SIGMAS`` noise units of its
    smoothed minimum (it has not turned up)."""
    vl = c.vl
    if vl is None or np.isfinite(vl).sum() < MIN_EPOCHS:
        return False
    best = float(np.nanmin(running_median(vl[np.isfinite(vl)])))
    return tail_median(vl) <= best + OVERFIT_RISE_SIGMAS * c.sigma["val_loss"]


def _annealed(c: Curves) -> float | None:
    """The last logged rate as a fraction of its peak, when a schedule annealed it to at most
    ``ANNEALED_LR_FRACTION`` of the peak; else ``None``."""
    lr = c.series.get("lr")
    if lr is None or not np.isfinite(lr).any():
        return None
    finite = lr[np.isfinite(lr)]
    peak = float(finite.max())
    if peak <= 0:
        return None
    frac = float(finite[-1]) / peak
    return frac if frac <= ANNEALED_LR_FRACTION else None


def _loss_finding(c: Curves) -> Finding | None:
    """``loss-still-falling`` (slow-converging) or, in a run still within its plan,
    ``still-improving`` (info), or, when the logged rate was annealed, ``schedule-annealed``
    (info)."""
    x = c.tl if c.tl is not None else c.vl
    if x is None:
        return None
    name = "training" if c.tl is not None else "validation"
    if c.since_lr_step is not None:
        # After a schedule step the loss follows a new curve: judge that segment alone.
        x = x[-c.since_lr_step:]
    ok, ev = _loss_still_improving(x)
    if not ok and name == "training" and c.vl is not None:
        # Underfitting or slow? The loss trend is the evidence (issue 13): with a training loss
        # too noisy (heavy dropout) or too slow against its early drop to pass, a validation
        # loss still falling steadily over the last half of the run means the model is still
        # learning. With a training accuracy out of the underfitting range, the validation
        # loss must also fall faster than a converged exponential does (SLOW_VAL_RATE_RATIO).
        x = c.vl if c.since_lr_step is None else c.vl[-c.since_lr_step:]
        ok, ev = _val_loss_still_falling(x)
        if ok and not _train_acc_low(c) and not ev["rate_ratio"] >= SLOW_VAL_RATE_RATIO:
            ok = False
        name = "validation"
    if not ok:
        return None
    if (name == "training" and validation_improves(c) is False
            and (_val_at_best(c) or _train_acc_low(c))):
        # Convergence is judged where it matters, on validation (issue 13: a tiny model's
        # training loss creeps down for ever while its validation loss is flat or rising). A
        # training loss still falling while neither validation series improves buys nothing,
        # unless validation has turned up on a model that fits its training data: that
        # training loss still falling is reported beside the overfitting.
        return None
    gain = _projected_acc_gain(c, c.ta if name == "training" else c.va)
    if name == "training" and c.vl is not None and c.va is not None and _val_at_best(c):
        # Validation has flattened at its best: whether the training loss's fall is worth
        # anything is judged where it matters, on validation accuracy (issue 13: a training
        # accuracy that still climbs while validation stays flat buys nothing). When validation
        # has turned up, the training loss still falling is reported beside the overfitting.
        gain = _projected_acc_gain(c, c.va)
    if gain is not None:
        ev["projected_acc_gain"] = gain
        # Or the validation loss still falls: significantly over the last half of the run
        # (a slow but steady fall is the evidence; issue 13: at Adam 1e-5 the accuracy trend is
        # not significant yet, the loss trend is) and still at the end (the trailing window's
        # Mann-Kendall test; the half already showed the fall is more than noise). A fall over
        # the last half that has stopped by the end is a converged curve, not a slow one.
        val_falling = False
        if c.tl is not None and c.vl is not None:
            sig = c.sigma["val_loss"]
            end = trend(c.vl, c.window(), -1, sig)
            val_falling = end.significant or (
                end.p < TREND_ALPHA and trend(c.vl, max(c.window(), c.n // 2), -1, sig).significant)
        if gain < MIN_PROJECTED_ACC_GAIN and not val_falling:
            # The training loss creeps, the accuracy it buys is negligible and validation does
            # not improve either: converged (and, if short of the task, underfitting).
            return None
    annealed = _annealed(c)
    if annealed is not None:
        ev["lr_fraction_of_peak"] = annealed
        return Finding("schedule-annealed", None, Severity.INFO,
                       f"loss is still falling at the end, as a schedule's annealing makes it: "
                       f"the rate ended at {annealed:.2g} of its peak. Not slow convergence.", ev)
    extra = _extra_epochs(x, ev["rate_ratio"])
    total = round_epochs(c.n + extra)
    in_progress = c.planned is not None and c.n < c.planned
    ev.update({"more_epochs": extra, "suggested_max_epochs": total})
    if in_progress and total <= (c.planned or 0):
        return Finding("still-improving", None, Severity.INFO,
                       f"{name} loss is still falling at epoch {c.n} of {c.planned}, "
                       "as expected for a run in progress.", ev)
    ratio = ev["rate_ratio"]
    return Finding("loss-still-falling", Label.SLOW_CONVERGING, Severity.WARNING,
                   f"{name} loss is still falling at the end (last {ev['window']} epochs: "
                   f"rate {ratio:.2f}x the run's average, Mann-Kendall p={ev['p_value']:.2g});"
                   f" roughly {extra} more epoch{'s' if extra != 1 else ''} needed (about {total} in all).",
                   ev, slow_remedies(c.lr, total, c.trained))


def _target_finding(c: Curves, with_remedies: bool) -> Finding | None:
    """``target-far`` (slow-converging): the target accuracy is many runs away at this rate."""
    if c.target is None:
        return None
    acc = c.va if c.va is not None else c.ta
    if acc is None or np.isfinite(acc).sum() < MIN_EPOCHS:
        return None
    now = tail_median(acc)
    w = c.window()
    tr = trend(acc, w, +1, c.sigma["val_acc" if c.va is not None else "train_acc"])
    slope = tr.slope
    if not (now < c.target and slope > 0 and tr.significant):
        return None  # flat short of the target: underfitting, not slow
    need = (c.target - now) / slope
    if not need > SLOW_TARGET_FACTOR * c.n:
        return None
    return Finding("target-far", Label.SLOW_CONVERGING, Severity.WARNING,
                   f"accuracy {now:.3f} gains {slope:.2g}/epoch: the target "
                   f"{c.target:.3f} would take about {need:.0f} more epochs "
                   f"({need / c.n:.0f}x the {c.n} run).",
                   {"accuracy": now, "target": c.target, "slope": slope,
                    "epochs_to_target": need, "margin": tr.sigmas - TREND_MIN_SIGMAS},
                   slow_remedies(c.lr, round_epochs(c.n * 2), c.trained) if with_remedies else ())


def slow_convergence(c: Curves) -> list[Finding]:
    """``loss-still-falling`` / ``still-improving`` and ``target-far``.

    The loss (training, else validation; since the last schedule step when ``lr`` was logged)
    still falls significantly at a rate of at least ``SLOW_RATE_RATIO`` of its average, and
    either its accuracy's trend projects ``MIN_PROJECTED_ACC_GAIN`` over as many epochs again
    or the validation loss falls significantly over the last half of the run (the loss trend
    is then the evidence); when the validation loss has not turned up, the accuracy judged is
    the validation accuracy. With a training accuracy in the underfitting range and no fall of
    the training loss, a validation loss still falling steadily
    (``SLOW_VAL_REMAINING_GAIN``) is slow convergence too. Or, with
    ``target_accuracy``, the target would take more than ``SLOW_TARGET_FACTOR`` times the epochs
    run. When both hold, the remedies are attached to the loss finding only.
    """
    out = [f for f in (_loss_finding(c),) if f is not None]
    slow = any(f.label == Label.SLOW_CONVERGING for f in out)
    far = _target_finding(c, with_remedies=not slow)
    return out + ([far] if far is not None else [])


def underfitting(c: Curves) -> list[Finding]:
    """``low-train-accuracy`` or, without accuracies, ``high-loss`` (label ``underfitting``).

    Training accuracy's skill over chance is below ``UNDERFIT_MAX_SKILL`` (or, with a target,
    more than ``UNDERFIT_TARGET_MARGIN`` below it) and no longer improving; without accuracies,
    the loss is flat above ``UNDERFIT_LOSS_FRACTION`` of ln(C).
    """
    if c.ta is not None and np.isfinite(c.ta).sum() >= MIN_EPOCHS:
        acc = tail_median(c.ta)
        skill = c.skill(acc)
        low = (acc < c.target - UNDERFIT_TARGET_MARGIN if c.target is not None
               else skill < UNDERFIT_MAX_SKILL)
        w = c.window()
        tr = trend(c.ta, w, +1, c.sigma["train_acc"])
        # Training accuracy still rising is progress only when validation improves too (a tiny
        # model's training accuracy creeps while its validation curves stay flat: underfitting).
        improving = (tr.significant and tr.slope * c.n >= MIN_PROJECTED_ACC_GAIN
                     and validation_improves(c) is not False)
        if not low or improving:
            return []
        ref = (f"target {c.target:.3f}" if c.target is not None else f"chance {c.chance:.3f}")
        limit = (c.target - UNDERFIT_TARGET_MARGIN if c.target is not None
                 else c.chance + UNDERFIT_MAX_SKILL * (1 - c.chance))
        margin = (limit - acc) / max(c.sigma["train_acc"], 1e-12)
        return [Finding("low-train-accuracy", Label.UNDERFITTING, Severity.WARNING,
                        f"training accuracy is {acc:.3f} ({skill:.0%} of the way from chance to "
                        f"perfect; {ref}) and no longer improving (last {w} epochs: slope "
                        f"{tr.slope:.2g}/epoch, p={tr.p:.2g}).",
                        {"train_acc": acc, "skill": skill, "chance": c.chance,
                         "target": c.target, "slope": tr.slope, "p_value": tr.p, "window": w,
                         "margin": margin},
                        underfit_remedies(c.n, c.lr, c.trained))]
    loss = c.primary_loss
    assert loss is not None
    level = tail_median(loss)
    ce = math.log(c.classes)
    if not level >= UNDERFIT_LOSS_FRACTION * ce:  # NaN: no finding
        return []
    return [Finding("high-loss", Label.UNDERFITTING, Severity.WARNING,
                    f"loss is flat at {level:.4g}, {level / ce:.0%} of the chance-level "
                    f"cross-entropy ln({c.classes:.0f}) = {ce:.3g}.",
                    {"loss": level, "chance_loss": ce, "fraction": level / ce,
                     "margin": (level - UNDERFIT_LOSS_FRACTION * ce)
                     / max(c.sigma["train_loss" if c.tl is not None else "val_loss"], 1e-12)},
                    underfit_remedies(c.n, c.lr, c.trained))]
