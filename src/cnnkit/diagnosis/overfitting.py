"""The overfitting rules: a validation loss that rose from its minimum, a validation accuracy
that fell from its maximum, a large train/validation gap with validation stalled, and the
advisory large gap. Thresholds in :mod:`cnnkit.diagnosis.thresholds`."""

from __future__ import annotations

import math

import numpy as np

from cnnkit.diagnosis.findings import Finding, Label, Severity
from cnnkit.diagnosis.pooled import held_rise
from cnnkit.diagnosis.remedies import borderline_remedies, gap_remedies, overfit_remedies
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
    GAP_MIN_MARGIN,
    MIN_EPOCHS,
    OVERFIT_ACC_DROP_SIGMAS,
    OVERFIT_MIN_ACC_DROP,
    OVERFIT_MIN_EPOCHS_AFTER_BEST,
    OVERFIT_MIN_REL_RISE,
    OVERFIT_MIN_TRAIN_DROP,
    OVERFIT_RISE_SIGMAS,
    OVERFIT_TRAIN_DROP_SIGMAS,
    POOL_BORDERLINE,
    POOL_Z,
)

__all__ = ["gap_stalled", "gap_warning", "overfit_near_miss", "validation_worsening"]


def _acc_gap(c: Curves) -> float | None:
    if c.ta is None or c.va is None:
        return None
    g = tail_median(c.ta - c.va)
    return g if math.isfinite(g) else None


def _train_drop(c: Curves, b: int) -> tuple[bool, float | None]:
    """Whether the training loss fell enough since epoch index ``b``, and by how much."""
    if c.tl is None:
        return True, None
    tls = running_median(c.tl)
    drop = float(tls[b] - tail_median(c.tl))
    ok = drop >= max(OVERFIT_TRAIN_DROP_SIGMAS * c.sigma["train_loss"],
                     OVERFIT_MIN_TRAIN_DROP * abs(float(tls[b])))
    return ok, drop


def _val_loss_held_up(c: Curves) -> Finding | None:
    """``val-loss-held-up`` (overfitting) or the advisory ``val-loss-borderline``: the pooled
    test of :mod:`cnnkit.diagnosis.pooled` on the validation loss."""
    h = held_rise(c.vl) if c.vl is not None else None
    if h is None or c.vl is None:
        return None
    end_rise = tail_median(c.vl) - h.ref
    if end_rise < OVERFIT_MIN_REL_RISE * abs(h.ref):
        return None
    b = h.ref_start + h.width // 2
    train_ok, train_drop = _train_drop(c, b)
    if not train_ok or h.z < POOL_Z - POOL_BORDERLINE:
        return None
    ev = {"best_epoch": h.ref_epoch, "reference_val_loss": h.ref, "reference_epochs": h.width,
          "tail_epochs": h.tail, "tail_mean_val_loss": h.tail_mean, "rise": h.rise,
          "rise_fraction": h.rise / abs(h.ref), "rise_sigmas": h.rise / h.sigma,
          "val_loss_noise": h.sigma, "autocorrelation": h.phi, "look_elsewhere": h.bias,
          "pooled_z": h.z, "margin": h.z - POOL_Z, "train_loss_drop_since_best": train_drop,
          "accuracy_gap": _acc_gap(c)}
    where = (f"the last {h.tail} epochs average {h.tail_mean:.4g}, {h.rise / abs(h.ref):.0%} "
             f"({h.rise / h.sigma:.1f} noise units) above the lowest {h.width}-epoch stretch "
             f"({h.ref:.4g} around epoch {h.ref_epoch})")
    pooled = (f"pooled, {h.z:.1f} standard errors (noise autocorrelation {h.phi:.2f}"
              + (", less a look-elsewhere correction)" if h.bias > 0 else ")"))
    if h.z >= POOL_Z:
        msg = (f"validation loss rose and stayed up: {where}; {pooled}, while training loss fell "
               f"{train_drop:.3g} further." if train_drop is not None else
               f"validation loss rose and stayed up: {where}; {pooled}.")
        return Finding("val-loss-held-up", Label.OVERFITTING, Severity.WARNING, msg, ev,
                       overfit_remedies(h.ref_epoch, c.n, c.trained))
    need = h.epochs_for(POOL_Z, c.n)
    ev["epochs_needed"] = need
    more = (f"about {need - c.n} more epochs (to {need}) would settle it if it holds"
            if need is not None and need > c.n else "more epochs alone may not settle it")
    # Advisory while the rules run (so that it skips nothing); rules.decide turns it into the
    # verdict `inconclusive` when the run would otherwise be called healthy.
    return Finding("val-loss-borderline", None, Severity.INFO,
                   f"cannot tell overfitting from noise yet: {where}; {pooled}, short of the "
                   f"{POOL_Z:g} that overfitting needs; {more}.", ev,
                   borderline_remedies(need, c.trained))


def overfit_near_miss(c: Curves) -> float | None:
    """How close a run came to the pooled overfitting test: ``pooled z - POOL_Z`` (negative when
    it did not fire), or ``None`` when the test does not apply (too short, no validation loss,
    no relative rise at the end, or a training loss that stopped falling)."""
    h = held_rise(c.vl) if c.vl is not None else None
    if h is None or c.vl is None or tail_median(c.vl) - h.ref < OVERFIT_MIN_REL_RISE * abs(h.ref):
        return None
    if not _train_drop(c, h.ref_start + h.width // 2)[0]:
        return None
    return h.z - POOL_Z


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
    train_ok, train_drop = _train_drop(c, b)
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
                    "margin": rise / sig - OVERFIT_RISE_SIGMAS,
                    "epochs_since_best": after, "val_loss_noise": sig,
                    "train_loss_drop_since_best": train_drop, "accuracy_gap": gap},
                   overfit_remedies(b + 1, c.n, c.trained))


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
                    "drop_sigmas": drop / sig, "margin": drop / sig - OVERFIT_ACC_DROP_SIGMAS},
                   overfit_remedies(b + 1, c.n, c.trained) if with_remedies else ())


def validation_worsening(c: Curves) -> list[Finding]:
    """``val-loss-rising``, ``val-loss-held-up`` and ``val-acc-falling`` (label ``overfitting``),
    or the advisory ``val-loss-borderline``.

    The validation loss has risen from its smoothed minimum (end-point test), or its tail sits
    above its lowest earlier window by ``POOL_Z`` standard errors (pooled test, tried when the
    end-point test does not hold), or the validation accuracy has fallen from its smoothed
    maximum, and stayed there while the training curve kept improving. When both a loss and the
    accuracy finding hold, the remedies are attached to the loss finding only. A pooled test
    within ``POOL_BORDERLINE`` below ``POOL_Z`` is the advisory ``val-loss-borderline``, which
    :func:`~cnnkit.diagnosis.rules.decide` makes the verdict ``inconclusive`` only when nothing
    else decides.
    """
    w = trailing_window(c.n)
    out = [f for f in (_val_loss_rising(c, w),) if f is not None]
    if not out:
        out = [f for f in (_val_loss_held_up(c),) if f is not None]
    acc = _val_acc_falling(c, w, with_remedies=not any(f.label == Label.OVERFITTING for f in out))
    if acc is not None:
        out = [f for f in out if f.label == Label.OVERFITTING] + [acc]
    return out


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
    no significant improvement over the trailing window. The gap is its median over the last 3
    epochs when it is still widening, else its median over the window."""
    w = c.window()
    gs = _gap_series(c)
    if gs is None or _val_improving(c, w):
        return []
    gap, limit, kind = gs
    tr = trend(gap, w, +1)
    # A gap that is not widening is judged by its median over the window (pooled), so that a
    # steady 9-point gap is not pushed over the line by the noise of its last three epochs.
    fin = gap[np.isfinite(gap)][-w:]
    tail_gap = tail_median(gap) if tr.significant or fin.size == 0 else float(np.median(fin))
    sig_gap = noise(gap) / math.sqrt(max(fin.size, 1))
    if not (math.isfinite(tail_gap) and tail_gap >= limit + GAP_MIN_MARGIN * sig_gap):
        return []
    how = (f"and still widening (Mann-Kendall p={tr.p:.2g})" if tr.significant
           else "and no longer closing")
    return [Finding("large-gap-val-stalled", Label.OVERFITTING, Severity.WARNING,
                    f"validation stopped improving over the last {w} epochs while the train/val "
                    f"{kind} gap is {tail_gap:.3f} {how}.",
                    {"gap": tail_gap, "gap_kind": kind, "gap_slope": tr.slope, "p_value": tr.p,
                     "gap_widening": tr.significant, "window": w,
                     "margin": (tail_gap - limit) / max(sig_gap, 1e-12) - GAP_MIN_MARGIN},
                    overfit_remedies(c.best_val_epoch(), c.n, c.trained))]


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
                    gap_remedies(c.trained))]
