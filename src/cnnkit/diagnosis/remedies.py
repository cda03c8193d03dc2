"""Every remedy the run diagnosis can emit, one function per kind of problem.

Each ``*_remedies`` function returns the remedies of one rule family, most recommended first,
with a :class:`~cnnkit.diagnosis.change.Change` that ``cnnkit.study.apply_change`` can apply
(or an empty one for advice only). Keeping them together keeps their wording and their numbers
consistent, and ``tests/test_diagnosis_change.py`` applies every one of them to a real
``ModelBuilder`` and ``Trainer``: a new ``*_remedies`` function must be added there too.

Every function takes what the run had (a :class:`~cnnkit.diagnosis.context.TrainedWith`; unknown
by default) and never suggests it again: it escalates instead (dropout up to ``MAX_DROPOUT``,
stronger augmentation and mixing, more weight decay, twice the current width, a schedule).
"""

from __future__ import annotations

import math

from cnnkit.diagnosis.change import Change
from cnnkit.diagnosis.context import TrainedWith
from cnnkit.diagnosis.findings import Remedy
from cnnkit.diagnosis.thresholds import (
    MAX_DROPOUT,
    MAX_WEIGHT_DECAY,
    MIN_EPOCHS,
    RETRAIN_MIN_EPOCH,
    STRONG_AUGMENT,
)

__all__ = [
    "borderline_remedies",
    "diverge_remedies",
    "gap_remedies",
    "leakage_remedies",
    "lr_high_remedies",
    "lr_note",
    "overfit_remedies",
    "round_epochs",
    "schedule_remedies",
    "setup_remedies",
    "short_run_remedies",
    "slow_remedies",
    "underfit_remedies",
]

_EARLY_STOPPING = Change(callbacks=({"type": "EarlyStopping", "patience": 5,
                                     "restore_best_weights": True},))
_NO_CONTEXT = TrainedWith()


def round_epochs(e: float) -> int:
    """``e`` epochs rounded up to a multiple of 5 (at least 5)."""
    return int(5 * math.ceil(max(e, 1.0) / 5))


def lr_note(lr: float | None) -> str:
    """`` (last rate 0.001)`` when the rate was logged, else an empty string."""
    return f" (last rate {lr:.3g})" if lr is not None else ""


def _dropout(ctx: TrainedWith) -> Remedy | None:
    """Dropout, or more of it than the model has (``None`` at ``MAX_DROPOUT`` already)."""
    now = ctx.dropout
    if now is None or now <= 0:
        return Remedy("Add dropout to every conv block (the case study's fix for overfitting).",
                      Change(builder={"dropout": 0.25}))
    if now >= MAX_DROPOUT:
        return None
    new = round(min(now + 0.25, MAX_DROPOUT), 2)
    return Remedy(f"Raise dropout from {now:g} to {new:g} in every block.",
                  Change(builder={"dropout": new}))


def _augmentation(ctx: TrainedWith, strong: str) -> list[Remedy]:
    """Augmentation, or stronger augmentation and mixing when it is already on."""
    if not ctx.augment:
        return [Remedy(strong, Change(augment="default"))]
    out = []
    strength = ctx.augment_strength
    if strength is None or strength < STRONG_AUGMENT:
        now = f" (now {strength:g})" if strength is not None else ""
        out.append(Remedy(f"Augment harder: cnnkit.augment.default(strength={STRONG_AUGMENT:g})"
                          f"{now}.", Change(augment={"strength": STRONG_AUGMENT})))
    if not ctx.mixup:
        out.append(Remedy("Mix images as well: add cnnkit.augment.Mixup (or CutMix) to the "
                          "augmentation; it regularizes where flips and crops no longer do."))
    return out


def _weight_decay(ctx: TrainedWith) -> Remedy | None:
    now = ctx.weight_decay
    if now is None or now <= 0:
        return Remedy("Add weight decay.", Change(trainer={"weight_decay": 5e-4}))
    if now >= MAX_WEIGHT_DECAY:
        return None
    new = float(f"{min(now * 5, MAX_WEIGHT_DECAY):.3g}")
    return Remedy(f"Raise weight decay from {now:g} to {new:g}.",
                  Change(trainer={"weight_decay": new}))


def _restore_best(best_epoch: int | None) -> Remedy:
    where = f" (validation was best at epoch {best_epoch})" if best_epoch is not None else ""
    return Remedy(f"Stop early and keep the best epoch's weights{where}: "
                  "EarlyStopping(restore_best_weights=True).", _EARLY_STOPPING)


def overfit_remedies(best_epoch: int | None, n: int,
                     ctx: TrainedWith = _NO_CONTEXT) -> tuple[Remedy, ...]:
    """Overfitting: more regularization than the run had, and its best weights kept.

    Dropout (or more of it), augmentation (or stronger, or mixing), keeping the best weights,
    [retrain to the best epoch], weight decay (or more). An early minimum (before epoch
    ``RETRAIN_MIN_EPOCH``) puts "keep the best weights" first and never suggests retraining for
    that few epochs. Nothing the run already has is suggested again.

    Args:
        best_epoch: The (1-based) best validation epoch, when known.
        n: Epochs run.
        ctx: What the run had (:func:`~cnnkit.diagnosis.context.trained_with`).
    """
    out = [r for r in (_dropout(ctx),) if r is not None]
    out += _augmentation(ctx, "Augment the training images; with a small training set this "
                              "is the strongest fix.")
    early = best_epoch is not None and best_epoch < RETRAIN_MIN_EPOCH
    if not ctx.restores_best:
        if early:
            out.insert(0, _restore_best(best_epoch))
        else:
            out.append(_restore_best(best_epoch))
    if best_epoch is not None and not early and best_epoch < n:
        out.append(Remedy(
            f"Retrain for about {best_epoch} epochs (validation was best at epoch {best_epoch}).",
            Change(trainer={"max_epochs": int(best_epoch)})))
    out += [r for r in (_weight_decay(ctx),) if r is not None]
    return tuple(out)


def gap_remedies(ctx: TrainedWith = _NO_CONTEXT) -> tuple[Remedy, ...]:
    """A large train/validation gap that is not (yet) overfitting: early stopping, augmentation.

    Args:
        ctx: What the run had.
    """
    out = [] if ctx.restores_best else [
        Remedy("Stop early when validation stops improving.", _EARLY_STOPPING)]
    return tuple(out + _augmentation(ctx, "Augment the training images."))


def _schedule(ctx: TrainedWith) -> list[Remedy]:
    if ctx.scheduler is not False:
        return []
    return [Remedy("Use a one-cycle schedule: warm-up to the rate, then anneal; it converges in "
                   "fewer epochs than a constant rate.", Change(trainer={"scheduler": "onecycle"}))]


def slow_remedies(lr: float | None, total_epochs: int,
                  ctx: TrainedWith = _NO_CONTEXT) -> tuple[Remedy, ...]:
    """Slow convergence: batch norm (unless the model has it), more epochs, a larger rate, a
    schedule (when there is none).

    Args:
        lr: The last logged learning rate (the suggestion is 3x it), when known.
        total_epochs: The suggested total number of epochs.
        ctx: What the run had.
    """
    out = [] if ctx.batch_norm else [
        Remedy("Add batch norm after each conv (in the case study it reached by epoch 5 the "
               "training loss the baseline had after 25).", Change(builder={"batch_norm": True}))]
    out.append(Remedy(f"Train for about {total_epochs} epochs in all.",
                      Change(trainer={"max_epochs": total_epochs})))
    if lr is not None:
        out.append(Remedy(f"Raise the learning rate{lr_note(lr)}; Trainer.lr_find() suggests one.",
                          Change(trainer={"lr": float(f"{lr * 3:.3g}")})))
    else:
        out.append(Remedy("Use a larger learning rate; Trainer.lr_find() suggests one."))
    return tuple(out + _schedule(ctx))


def underfit_remedies(n: int, lr: float | None,
                      ctx: TrainedWith = _NO_CONTEXT) -> tuple[Remedy, ...]:
    """Underfitting: more capacity (twice the current width), less regularization (only what
    the run has), twice the epochs, check the rate.

    Args:
        n: Epochs run.
        lr: The last logged learning rate, when known.
        ctx: What the run had.
    """
    width = ctx.width if ctx.width is not None else 1.0
    now = f" (width {width:g} -> {2 * width:g})" if ctx.width is not None else ""
    out = [Remedy(f"Give the model more capacity (twice the channels in every conv{now}).",
                  Change(builder={"width": 2 * width}))]
    if ctx.dropout is None or ctx.dropout > 0:
        rate = f" (now {ctx.dropout:g})" if ctx.dropout is not None else ""
        out.append(Remedy(f"Reduce regularization: remove dropout{rate}.",
                          Change(builder={"dropout": 0.0})))
    if ctx.weight_decay is not None and ctx.weight_decay > 0:
        out.append(Remedy(f"Reduce regularization: remove weight decay (now {ctx.weight_decay:g}).",
                          Change(trainer={"weight_decay": 0.0})))
    out.append(Remedy(f"Train longer (about {2 * n} epochs).", Change(trainer={"max_epochs": 2 * n})))
    out.append(Remedy(f"Check the learning rate{lr_note(lr)} with Trainer.lr_find()."))
    return tuple(out)


def diverge_remedies(lr: float | None, clip: float,
                     ctx: TrainedWith = _NO_CONTEXT) -> tuple[Remedy, ...]:
    """Divergence: a 10x lower rate, gradient clipping, batch norm (unless the model has it), a
    data check.

    Args:
        lr: The last logged learning rate, when known (else ``3e-4`` is suggested).
        clip: The gradient-norm clipping threshold to suggest.
        ctx: What the run had.
    """
    new_lr = float(f"{lr / 10:.3g}") if lr is not None else 3e-4
    basis = f"ten times lower than {lr:.3g}" if lr is not None else "e.g. 3e-4 below Adam's 1e-3"
    bn = [] if ctx.batch_norm else [Remedy("Add batch norm, which keeps activations in range.",
                                           Change(builder={"batch_norm": True}))]
    return (
        Remedy(f"Lower the learning rate ({basis}); Trainer.lr_find() shows where loss blows up.",
               Change(trainer={"lr": new_lr})),
        Remedy("Clip the gradient norm.", Change(trainer={"grad_clip": float(f"{clip:.3g}")})),
        *bn,
        Remedy("Check the inputs for NaN/inf and unnormalized ranges with check_data(X, y)."),
    )


def short_run_remedies() -> tuple[Remedy, ...]:
    """Too few epochs to judge: train for at least ``MIN_EPOCHS`` (better 10)."""
    return (Remedy(f"Train for at least {MIN_EPOCHS} epochs (10 give the trend tests more power).",
                   Change(trainer={"max_epochs": max(MIN_EPOCHS, 10)})),)


def borderline_remedies(total_epochs: int | None,
                        ctx: TrainedWith = _NO_CONTEXT) -> tuple[Remedy, ...]:
    """Evidence short of a verdict: run long enough to settle it, keeping the best weights.

    Args:
        total_epochs: Epochs in all at which the evidence would settle, when more epochs can.
        ctx: What the run had.
    """
    out = []
    if total_epochs is not None:
        total = round_epochs(total_epochs)
        out.append(Remedy(f"Train for about {total} epochs in all, keeping the best weights, to "
                          "settle it.", Change(trainer={"max_epochs": total})))
    if not ctx.restores_best:
        out.append(Remedy("Stop early and keep the best epoch's weights "
                          "(EarlyStopping(restore_best_weights=True)): right either way.",
                          _EARLY_STOPPING))
    return tuple(out)


def schedule_remedies(n: int) -> tuple[Remedy, ...]:
    """A schedule still warming up or only beginning to anneal: let it finish.

    Args:
        n: Epochs run.
    """
    total = round_epochs(2 * n)
    return (
        Remedy("Let the schedule run its course: train for every epoch it was set up for and "
               "diagnose the finished run (pass planned_epochs= to diagnose a run in progress)."),
        Remedy(f"If the run was meant to end here, train for about {total} epochs with the "
               "schedule spread over them.", Change(trainer={"max_epochs": total})),
    )


def lr_high_remedies(lr: float | None, clip: float) -> tuple[Remedy, ...]:
    """A training loss that oscillates within epochs with growing gradients: a rate 3x lower
    (10x when it keeps oscillating), gradient clipping.

    Args:
        lr: The last logged learning rate, when known.
        clip: The gradient-norm clipping threshold to suggest.
    """
    if lr is not None:
        rate = Remedy(f"Lower the learning rate 3x (from {lr:.3g}; 10x if the loss still "
                      "oscillates); Trainer.lr_find() shows where the loss turns unstable.",
                      Change(trainer={"lr": float(f"{lr / 3:.3g}")}))
    else:
        rate = Remedy("Lower the learning rate 3-10x; Trainer.lr_find() shows where the loss "
                      "turns unstable.")
    return (rate, Remedy(f"Clip the gradient norm (e.g. at {clip:.3g}).",
                         Change(trainer={"grad_clip": float(f"{clip:.3g}")})))


def setup_remedies() -> tuple[Remedy, ...]:
    """A first-epoch loss far above chance: labels, targets, initialization, normalization."""
    return (
        Remedy("Check the labels and targets: class indices 0..C-1 matching the outputs, logits "
               "(not probabilities) into the cross-entropy; check_data(X, y) reports label "
               "problems."),
        Remedy("Check the initialization (an output layer whose logits start large predicts "
               "confidently wrong) and the input normalization: check_data(X, y) reports "
               "unnormalized ranges."),
    )


def leakage_remedies() -> tuple[Remedy, ...]:
    """Validation better than training beyond what regularization explains: look for leakage."""
    return (
        Remedy("Look for leakage between the splits: check_data(X, y, val=(X_val, y_val)) "
               "reports images shared by the training and validation sets."),
        Remedy("Check that the validation set is drawn like the training set (same classes, "
               "same source) and that nothing in the inputs encodes the label."),
    )
