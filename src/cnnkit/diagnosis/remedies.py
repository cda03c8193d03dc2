"""Every remedy the run diagnosis can emit, one function per kind of problem.

Each ``*_remedies`` function returns the remedies of one rule family, most recommended first,
with a :class:`~cnnkit.diagnosis.change.Change` that ``cnnkit.study.apply_change`` can apply
(or an empty one for advice only). Keeping them together keeps their wording and their numbers
consistent, and ``tests/test_diagnosis_change.py`` applies every one of them to a real
``ModelBuilder`` and ``Trainer``: a new ``*_remedies`` function must be added there too.
"""

from __future__ import annotations

import math

from cnnkit.diagnosis.change import Change
from cnnkit.diagnosis.findings import Remedy
from cnnkit.diagnosis.thresholds import MIN_EPOCHS

__all__ = [
    "diverge_remedies",
    "gap_remedies",
    "lr_note",
    "overfit_remedies",
    "round_epochs",
    "short_run_remedies",
    "slow_remedies",
    "underfit_remedies",
]

_EARLY_STOPPING = Change(callbacks=({"type": "EarlyStopping", "patience": 5,
                                     "restore_best_weights": True},))


def round_epochs(e: float) -> int:
    """``e`` epochs rounded up to a multiple of 5 (at least 5)."""
    return int(5 * math.ceil(max(e, 1.0) / 5))


def lr_note(lr: float | None) -> str:
    """`` (last rate 0.001)`` when the rate was logged, else an empty string."""
    return f" (last rate {lr:.3g})" if lr is not None else ""


def overfit_remedies(best_epoch: int | None, n: int) -> tuple[Remedy, ...]:
    """Overfitting: dropout, augmentation, [retrain to the best epoch], early stopping, weight decay.

    Args:
        best_epoch: The (1-based) best validation epoch, when known.
        n: Epochs run.
    """
    out = [
        Remedy("Add dropout to every conv block (the case study's fix for overfitting).",
               Change(builder={"dropout": 0.25})),
        Remedy("Augment the training images; with a small training set this is the strongest fix.",
               Change(augment="default")),
        Remedy("Stop early and keep the best epoch's weights.", _EARLY_STOPPING),
        Remedy("Add weight decay.", Change(trainer={"weight_decay": 5e-4})),
    ]
    if best_epoch is not None and best_epoch < n:
        out.insert(2, Remedy(
            f"Retrain for about {best_epoch} epochs (validation was best at epoch {best_epoch}).",
            Change(trainer={"max_epochs": int(best_epoch)})))
    return tuple(out)


def gap_remedies() -> tuple[Remedy, ...]:
    """A large train/validation gap that is not (yet) overfitting: early stopping, augmentation."""
    return (
        Remedy("Stop early when validation stops improving.", _EARLY_STOPPING),
        Remedy("Augment the training images.", Change(augment="default")),
    )


def slow_remedies(lr: float | None, total_epochs: int) -> tuple[Remedy, ...]:
    """Slow convergence: batch norm, more epochs, a larger learning rate.

    Args:
        lr: The last logged learning rate (the suggestion is 3x it), when known.
        total_epochs: The suggested total number of epochs.
    """
    out = [
        Remedy("Add batch norm after each conv (in the case study it reached by epoch 5 the "
               "training loss the baseline had after 25).", Change(builder={"batch_norm": True})),
        Remedy(f"Train for about {total_epochs} epochs in all.",
               Change(trainer={"max_epochs": total_epochs})),
    ]
    if lr is not None:
        out.append(Remedy(f"Raise the learning rate{lr_note(lr)}; Trainer.lr_find() suggests one.",
                          Change(trainer={"lr": float(f"{lr * 3:.3g}")})))
    else:
        out.append(Remedy("Use a larger learning rate; Trainer.lr_find() suggests one."))
    return tuple(out)


def underfit_remedies(n: int, lr: float | None) -> tuple[Remedy, ...]:
    """Underfitting: more capacity, no dropout, twice the epochs, check the rate.

    Args:
        n: Epochs run.
        lr: The last logged learning rate, when known.
    """
    return (
        Remedy("Give the model more capacity (twice the channels in every conv).",
               Change(builder={"width": 2.0})),
        Remedy("Reduce regularization: remove dropout.", Change(builder={"dropout": 0.0})),
        Remedy(f"Train longer (about {2 * n} epochs).", Change(trainer={"max_epochs": 2 * n})),
        Remedy(f"Check the learning rate{lr_note(lr)} with Trainer.lr_find()."),
    )


def diverge_remedies(lr: float | None, clip: float) -> tuple[Remedy, ...]:
    """Divergence: a 10x lower rate, gradient clipping, batch norm, a data check.

    Args:
        lr: The last logged learning rate, when known (else ``3e-4`` is suggested).
        clip: The gradient-norm clipping threshold to suggest.
    """
    new_lr = float(f"{lr / 10:.3g}") if lr is not None else 3e-4
    basis = f"ten times lower than {lr:.3g}" if lr is not None else "e.g. 3e-4 below Adam's 1e-3"
    return (
        Remedy(f"Lower the learning rate ({basis}); Trainer.lr_find() shows where loss blows up.",
               Change(trainer={"lr": new_lr})),
        Remedy("Clip the gradient norm.", Change(trainer={"grad_clip": float(f"{clip:.3g}")})),
        Remedy("Add batch norm, which keeps activations in range.",
               Change(builder={"batch_norm": True})),
        Remedy("Check the inputs for NaN/inf and unnormalized ranges with check_data(X, y)."),
    )


def short_run_remedies() -> tuple[Remedy, ...]:
    """Too few epochs to judge: train for at least ``MIN_EPOCHS`` (better 10)."""
    return (Remedy(f"Train for at least {MIN_EPOCHS} epochs (10 give the trend tests more power).",
                   Change(trainer={"max_epochs": max(MIN_EPOCHS, 10)})),)
