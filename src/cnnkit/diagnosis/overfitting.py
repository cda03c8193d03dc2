"""The overfitting rules: a validation loss that rose from its minimum, a validation accuracy
that fell from its maximum, a large train/validation gap with validation stalled, and the
advisory large gap. Thresholds in :mod:`cnnkit.diagnosis.thresholds`."""

from __future__ import annotations

import math

import numpy as np

from cnnkit.diagnosis.findings import Finding, Label, Severity
from cnnkit.diagnosis.remedies import gap_remedies, overfit_remedies
from cnnkit.diagnosis.series import Curves
from cnnkit.diagnosis.stats import (
    FloatArray,
    noise,
    running_median,
    smoothed_min_epoch,
    tail_median,
    trailing_window,
    trend,
)
from cnnkit.diagnosis.thresholds import (
    GAP_LARGE_ACC,
    GAP_LARGE_LOSS_RATIO,
    MIN_EPOCHS,
    OVERFIT_ACC_DROP_SIGMAS,
    OVERFIT_MIN_ACC_DROP,
    OVERFIT_MIN_EPOCHS_AFTER_BEST,
    OVERFIT_MIN_REL_RISE,
    OVERFIT_MIN_TRAIN_DROP,
    OVERFIT_RISE_SIGMAS,
    OVERFIT_TRAIN_DROP_SIGMAS,
)

__all__ = ["gap_stalled", "gap_warning", "validation_worsening"]


def _acc_gap(c: Curves) -> float | None:
    if c.ta is None or c.va is None:
        return None
    g = tail_median(c.ta - c.va)
    return g if math.isfinite(g) else None


def _val_loss_rising(c: Curves, w: int) -> Finding | None:
    best = smoothed_min_epoch(c.vl) if c.vl is not None else None
    if c.vl is None or best is None:
        return None
    b, vmin = best
    after = c.n - 1 - b
    sig = c.sigma["val_loss"]
    k = min(w, after)
    if after < OVERFIT_MIN_EPOCHS_AFTER_BEST or k < 1:
        return None
    tail = float(np.median(c.vl[-k:]))
    rise = tail - vmin
    train_ok = True
    train_drop = None
    if c.tl is not None:
        tls = running_median(c.tl)
        train_drop = float(tls[b] - tail_median(c.tl))
        train_ok = train_drop >= max(OVERFIT_TRAIN_DROP_SIGMAS * c.sigma["train_loss"],
                                     OVERFIT_MIN_TRAIN_DROP * abs(float(tls[b])))
    if not (rise >= OVERFIT_RISE_SIGMAS * sig and rise >= OVERFIT_MIN_REL_RISE * abs(vmin)
            and train_ok):
        return None
    gap = _acc_gap(c)
    msg = (f"validation loss rose {rise / sig:.1f} noise units (+{rise / abs(vmin):.0%})"
           f" above its minimum {vmin:.4g} at epoch {b + 1} and stayed there for "
           f"{after} epochs")
    if train_drop is not None:
        msg += f", while training loss fell {train_drop:.3g} further"
    if gap is not None:
        msg += f"; train/val accuracy gap {gap:.3f}"
    return Finding("val-loss-rising", Label.OVERFITTING, Severity.WARNING, msg + ".",
                   {"best_epoch": b + 1, "best_val_loss": vmin, "final_val_loss": tail,
                    "rise": rise, "rise_sigmas": rise / sig, "rise_fraction": rise / abs(vmin),
                    "epochs_since_best": after, "val_loss_noise": sig,
                    "train_loss_drop_since_best": train_drop, "accuracy_gap": gap},
                   overfit_remedies(b + 1, c.n))


def _val_acc_falling(c: Curves, w: int, with_remedies: bool) -> Finding | None:
    if c.va is None or np.isfinite(c.va).sum() < MIN_EPOCHS:
        return None
    va = np.where(np.isfinite(c.va), c.va, np.nanmedian(c.va))
    sm = running_median(va)
    b = int(np.argmax(sm))
    after = c.n - 1 - b
    sig = noise(va)
    k = min(w, after)
    if after < OVERFIT_MIN_EPOCHS_AFTER_BEST or k < 1:
        return None
    drop = float(sm[b] - np.median(va[-k:]))
    train_ok = c.ta is None or (tail_median(c.ta) - running_median(c.ta)[b]
                                >= max(c.sigma["train_acc"], OVERFIT_MIN_ACC_DROP / 2))
    if not (drop >= OVERFIT_ACC_DROP_SIGMAS * sig and drop >= OVERFIT_MIN_ACC_DROP and train_ok):
        return None
    return Finding("val-acc-falling", Label.OVERFITTING, Severity.WARNING,
                   f"validation accuracy fell {drop:.3f} ({drop / sig:.1f} noise units) "
                   f"below its best {sm[b]:.3f} at epoch {b + 1} while training accuracy "
                   f"kept rising.",
                   {"best_epoch": b + 1, "best_val_acc": float(sm[b]), "drop": drop,
                    "drop_sigmas": drop / sig},
                   overfit_remedies(b + 1, c.n) if with_remedies else ())


def validation_worsening(c: Curves) -> list[Finding]:
    """``val-loss-rising`` and ``val-acc-falling`` (label ``overfitting``).

    The validation loss has risen from its smoothed minimum, or the validation accuracy has
    fallen from its smoothed maximum, and stayed there while the training curve kept improving.
    When both hold, the remedies are attached to the loss finding only.
    """
    w = trailing_window(c.n)
    out = [f for f in (_val_loss_rising(c, w),) if f is not None]
    acc = _val_acc_falling(c, w, with_remedies=not out)
    return out + ([acc] if acc is not None else [])


def _gap_series(c: Curves) -> tuple[FloatArray, float, str] | None:
    if c.ta is not None and c.va is not None:
        return c.ta - c.va, GAP_LARGE_ACC, "accuracy"
    if c.tl is not None and c.vl is not None and np.all(c.tl > 0):
        return np.log(c.vl / c.tl), math.log(GAP_LARGE_LOSS_RATIO), "log loss ratio"
    return None


def _val_improving(c: Curves, w: int) -> bool:
    vl_imp = c.vl is not None and trend(c.vl, w, -1, c.sigma["val_loss"]).significant
    va_imp = c.va is not None and trend(c.va, w, +1, c.sigma["val_acc"]).significant
    return bool(vl_imp or va_imp)


def gap_stalled(c: Curves) -> list[Finding]:
    """``large-gap-val-stalled`` (label ``overfitting``): a large train/validation gap
    (``GAP_LARGE_ACC``, or ``GAP_LARGE_LOSS_RATIO`` without accuracies) while validation shows
    no significant improvement over the trailing window."""
    w = c.window()
    gs = _gap_series(c)
    if gs is None or _val_improving(c, w):
        return []
    gap, limit, kind = gs
    tail_gap = tail_median(gap)
    if not (math.isfinite(tail_gap) and tail_gap >= limit):
        return []
    tr = trend(gap, w, +1)
    how = (f"and still widening (Mann-Kendall p={tr.p:.2g})" if tr.significant
           else "and no longer closing")
    return [Finding("large-gap-val-stalled", Label.OVERFITTING, Severity.WARNING,
                    f"validation stopped improving over the last {w} epochs while the train/val "
                    f"{kind} gap is {tail_gap:.3f} {how}.",
                    {"gap": tail_gap, "gap_kind": kind, "gap_slope": tr.slope, "p_value": tr.p,
                     "gap_widening": tr.significant, "window": w},
                    overfit_remedies(c.best_val_epoch(), c.n))]


def gap_warning(c: Curves) -> list[Finding]:
    """``large-gap`` (advisory): a large train/validation gap, with validation still improving
    (not overfitting yet) or flat."""
    gs = _gap_series(c)
    if gs is None:
        return []
    gap, limit, kind = gs
    tail_gap = tail_median(gap)
    if not (math.isfinite(tail_gap) and tail_gap >= limit):
        return []
    improving = _val_improving(c, c.window())
    return [Finding("large-gap", None, Severity.WARNING,
                    f"train/val {kind} gap is {tail_gap:.3f}"
                    + (" but validation is still improving: not overfitting yet; watch it."
                       if improving else " with validation flat."),
                    {"gap": tail_gap, "gap_kind": kind, "val_improving": improving},
                    gap_remedies())]
