"""What :func:`~cnnkit.study.improve` tries next: compound, escalating steps for each label.

A diagnosis says what is wrong; its remedies are single changes. The loop needs to get far in a
few rounds, so it tries these steps first, each a bundle of changes that work together and
that start from what the run already has (so a step never repeats it, it escalates):

- **overfitting**: first what the run lacks: batch norm and augmentation; the recipe's
  optimizer bundle (AdamW with decoupled weight decay, a one-cycle schedule, label smoothing);
  channel dropout. Then more of what it has: stronger augmentation; more dropout and weight
  decay. Last, a global-average-pooling head (the flatten head of a small CNN is most of its
  weights, and memorizes; but on a narrow model it can starve the classifier).
- **underfitting** and **healthy** (when the loop goes on): capacity, as another conv block (a
  CNN's depth is its receptive field, and each block halves the map, so the head shrinks), then
  width; then more epochs with a schedule.
- **slow convergence**: batch norm and a one-cycle schedule with more epochs; then a 3x rate.

Every step is applied to the best configuration so far, so good steps accumulate and a step that
made a round worse is dropped (see :func:`~cnnkit.study.improve`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cnnkit.builder import ModelBuilder
from cnnkit.diagnosis import Change, Label
from cnnkit.training import Trainer

__all__ = ["MAX_WIDTH", "STRONGER_AUGMENT", "Step", "add_blocks", "escalation_steps"]

STRONGER_AUGMENT = 1.5
"""Factor by which a step raises an existing ``augment.default`` strength (capped at 3)."""

MAX_WIDTH = 256
"""Channels of a block that a capacity step adds at most (the recipe's widest block)."""

MIN_MAP_SIDE = 4
"""A depth step is not offered when another 2x2 pooling would leave a map under 4 pixels."""


@dataclass(frozen=True)
class Step:
    """One thing :func:`~cnnkit.study.improve` can apply: a text, a change, and conv blocks to add.

    Attributes:
        text: What the step does and why, in one sentence.
        change: A :class:`~cnnkit.diagnosis.Change` for
            :func:`~cnnkit.study.apply_change` (builder settings, trainer options, augmentation).
        add_blocks: Conv blocks appended to the builder's features (each twice the channels of
            the last, at most :data:`MAX_WIDTH`), before the change.
    """

    text: str
    change: Change
    add_blocks: int = 0


def add_blocks(builder: ModelBuilder, count: int) -> ModelBuilder:
    """A copy of ``builder`` with ``count`` more conv blocks, each doubling the last width.

    Raises:
        ValueError: the builder has dense blocks (conv blocks must come before them) or no conv
            block to continue from.
    """
    new = builder.copy()
    feats = [layer for layer in new.layers if layer["type"] in ("conv", "residual")]
    if not feats:
        raise ValueError("add_blocks needs a builder with at least one conv block to continue from")
    width = feats[-1]["out_channels"]
    for _ in range(count):
        width = min(MAX_WIDTH, 2 * width)
        new.conv(width)
    return new


def _map_side(builder: ModelBuilder) -> int:
    shapes = builder.output_shapes()
    feature_shapes = [shape for name, shape in shapes if name.startswith("features.")]
    if not feature_shapes:
        return min(builder.input_size)
    return min(feature_shapes[-1][1:])


def augment_strength(trainer: Trainer) -> float | None:
    """0 for no augmentation, the strength of an ``augment.default`` pipeline, else ``None``."""
    if trainer.augment is None:
        return 0.0
    strength = getattr(trainer.augment, "strength", None)
    return float(strength) if isinstance(strength, (int, float)) else None


def _regularize(builder: ModelBuilder, trainer: Trainer) -> Step | None:
    """Batch norm and augmentation, whichever the run lacks."""
    parts: dict[str, Any] = {}
    words = []
    if not builder.defaults["batch_norm"]:
        parts["builder"] = {"batch_norm": True}
        words.append("batch norm after every conv")
    if augment_strength(trainer) == 0.0:
        parts["augment"] = "default"
        words.append("augment.default()")
    if not parts:
        return None
    return Step("Regularize: " + " and ".join(words) + ".", Change(**parts))


def _stronger_augment(trainer: Trainer) -> Step | None:
    strength = augment_strength(trainer)
    if not strength or strength >= 3.0:
        return None  # none (that is _regularize's), already the strongest, or not a default()
    new = min(3.0, round(strength * STRONGER_AUGMENT, 2))
    return Step(f"Augment harder: strength {strength:g} -> {new:g}.", Change(augment={"strength": new}))


def _dropout(builder: ModelBuilder) -> Step | None:
    if builder.defaults["dropout"] > 0:
        return None
    return Step("Add channel dropout 0.1 to every conv block.",
                Change(builder={"dropout": 0.1, "dropout_kind": "channel"}))


def _optimizer_bundle(trainer: Trainer) -> Step | None:
    changes: dict[str, Any] = {}
    if trainer.optimizer != "adamw" or trainer.weight_decay < 0.01:
        changes.update(optimizer="adamw", weight_decay=max(0.05, trainer.weight_decay))
        if trainer.optimizer == "adam" and trainer.scheduler is None:
            changes["lr"] = max(trainer.lr, 2e-3)  # one-cycle's peak can be higher than Adam's
    if trainer.scheduler is None:
        changes["scheduler"] = "onecycle"
    if trainer.label_smoothing == 0.0:
        changes["label_smoothing"] = 0.1
    if not changes:
        return None
    return Step("Optimize like the recipe: " + ", ".join(f"{k}={v!r}" for k, v in changes.items()) + ".",
                Change(trainer=changes))


def _more_dropout(builder: ModelBuilder, trainer: Trainer) -> Step | None:
    """Twice the dropout (at most 0.3) and, with AdamW, twice the weight decay (at most 0.2)."""
    rate = float(builder.defaults["dropout"])
    changes: dict[str, Any] = {}
    if 0 < rate < 0.3:
        changes["builder"] = {"dropout": min(0.3, round(2 * rate, 3))}
    if trainer.optimizer == "adamw" and 0 < trainer.weight_decay < 0.2:
        changes["trainer"] = {"weight_decay": min(0.2, 2 * trainer.weight_decay)}
    if not changes:
        return None
    words = [f"{k} {v}" for part in changes.values() for k, v in part.items()]
    return Step("Regularize harder: " + ", ".join(words) + ".", Change(**changes))


def _avg_head(builder: ModelBuilder) -> Step | None:
    if builder.defaults["head"] == "avg":
        return None
    return Step("Use a global-average-pooling head: the flatten head holds most of the weights "
                "and memorizes.", Change(builder={"head": "avg"}))


def _capacity(builder: ModelBuilder, trainer: Trainer) -> list[Step]:
    steps = []
    if _map_side(builder) // 2 >= MIN_MAP_SIDE and not any(layer["type"] == "dense" for layer in builder.layers):
        steps.append(Step("More capacity: another conv block with twice the channels (a larger "
                          "receptive field, and a smaller map for the head).", Change(), add_blocks=1))
    width = float(builder.defaults["width"])
    if width < 4:
        steps.append(Step(f"More capacity: width {width:g} -> {2 * width:g}.",
                          Change(builder={"width": 2 * width})))
    steps.append(_longer(trainer))
    return steps


def _longer(trainer: Trainer) -> Step:
    changes: dict[str, Any] = {"max_epochs": 2 * trainer.max_epochs}
    if trainer.scheduler is None:
        changes["scheduler"] = "onecycle"
    return Step(f"Train longer: {trainer.max_epochs} -> {2 * trainer.max_epochs} epochs"
                + (" with a one-cycle schedule." if "scheduler" in changes else "."),
                Change(trainer=changes))


def escalation_steps(label: Label | str, builder: ModelBuilder, trainer: Trainer) -> list[Step]:
    """The steps :func:`~cnnkit.study.improve` tries for a run with ``label``, in order.

    Args:
        label: the diagnosis' label.
        builder: the run's model description (steps start from its settings).
        trainer: the run's trainer.

    Returns:
        The steps, first the most promising; none repeats what the run already has.

    Example:
        >>> from cnnkit import ModelBuilder, Trainer
        >>> steps = escalation_steps("overfitting", ModelBuilder(3, 2, 64).conv(4), Trainer(max_epochs=5))
        >>> steps[0].text
        'Regularize: batch norm after every conv and augment.default().'
    """
    label = Label(label)
    if label is Label.OVERFITTING:
        # first what the run lacks, then more of what it has, then the head
        found = [_regularize(builder, trainer), _optimizer_bundle(trainer), _dropout(builder),
                 _stronger_augment(trainer), _more_dropout(builder, trainer), _avg_head(builder)]
    elif label in (Label.UNDERFITTING, Label.HEALTHY):
        found = [*_capacity(builder, trainer), _optimizer_bundle(trainer)]
    elif label is Label.SLOW_CONVERGING:
        bundle = _longer(trainer)
        if not builder.defaults["batch_norm"]:
            bundle = Step("Batch norm, and " + bundle.text[0].lower() + bundle.text[1:],
                          Change(builder={"batch_norm": True}, trainer=bundle.change.trainer))
        found = [bundle, Step(f"Raise the learning rate 3x ({trainer.lr:g} -> {3 * trainer.lr:g}).",
                              Change(trainer={"lr": float(f"{3 * trainer.lr:.3g}")}))]
    else:
        found = []
    return [step for step in found if step is not None]
