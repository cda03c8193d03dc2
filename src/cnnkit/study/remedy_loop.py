"""The remedy loop: :func:`apply_change` applies a remedy's change to a builder and a trainer;
:func:`improve` trains, diagnoses, applies the next escalation step or remedy to the best
configuration so far and retrains, keeping only what helped, until the run is healthy, reaches a
target, or the rounds or minutes run out. A change that cannot be applied is an error, never
skipped."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from cnnkit.builder import ModelBuilder
from cnnkit.diagnosis import Change, Diagnosis, Label, Remedy, diagnose
from cnnkit.study.escalation import Step, add_blocks, augment_strength, escalation_steps
from cnnkit.study.variants import resolve_augment
from cnnkit.training import History, Trainer, callback_from_dict

__all__ = ["SCORE_EPOCHS", "ImproveResult", "ImproveRound", "apply_change", "improve"]


def apply_change(
    change: Change | Mapping[str, Any], builder: ModelBuilder, trainer: Trainer
) -> tuple[ModelBuilder, Trainer]:
    """Apply a remedy's machine-readable ``change`` to a builder and a trainer (copies).

    Args:
        change: a :class:`~cnnkit.diagnosis.Change` (:attr:`Remedy.change
            <cnnkit.diagnosis.Remedy.change>`) or its dict form, with parts ``"builder"``
            (:meth:`ModelBuilder.replace` settings), ``"trainer"`` (:meth:`Trainer.replace`
            options), ``"augment"`` (see :class:`Variant`; an explicit ``None`` in a dict turns
            augmentation off) and ``"callbacks"`` (dicts for
            :func:`~cnnkit.training.callback_from_dict`, added to the trainer's callbacks,
            replacing any of the same type).
        builder: the current model description.
        trainer: the current trainer.

    Returns:
        ``(new_builder, new_trainer)``; the inputs are not modified.

    Raises:
        ValueError: an unknown part, setting, option, augmentation or callback name (the message
            lists the valid names), or a value the builder or trainer rejects. Nothing is ever
            skipped silently.
        TypeError: a part of the wrong type.

    Examples:
        >>> from cnnkit import ModelBuilder, Trainer
        >>> builder, trainer = ModelBuilder(3, 2, 32).conv(4), Trainer(max_epochs=5)
        >>> b, t = apply_change({"builder": {"dropout": 0.25}, "trainer": {"lr": 3e-4}}, builder, trainer)
        >>> b
        ModelBuilder(3, 2, (32, 32), dropout=0.25).conv(4)
        >>> t.lr, trainer.lr
        (0.0003, 0.001)
    """
    change = Change.from_mapping(change)
    if change.builder:
        builder = builder.replace(**change.builder)
    trainer_changes = dict(change.trainer)
    if change.augment is not None:
        trainer_changes["augment"] = resolve_augment(change.augment)
    if change.callbacks:
        new = [callback_from_dict(dict(c)) for c in change.callbacks]
        kinds = {type(c) for c in new}
        trainer_changes["callbacks"] = [c for c in trainer.callbacks if type(c) not in kinds] + new
    if trainer_changes:
        trainer = trainer.replace(**trainer_changes)
    return builder, trainer


@dataclass
class ImproveRound:
    """One round of :func:`improve`.

    Attributes:
        round: 0 for the starting configuration, then 1, 2, ...
        builder: the model description trained in this round.
        trainer: the trainer used in this round.
        history: the run's history.
        diagnosis: its diagnosis.
        applied: the step (an escalation :class:`~cnnkit.study.Step` or a diagnosis
            :class:`~cnnkit.diagnosis.Remedy`) that produced this round's configuration from the
            best one before it (``None`` in round 0).
        seconds: wall time of the round.
        score: the mean validation accuracy of the last :data:`SCORE_EPOCHS` epochs (what the
            final model is worth, steadier than one epoch's figure).
        kept: whether this round became the best configuration; a round that scored no better
            is dropped, and the next step starts from the best one again.
        model: the model this round trained (its final weights), so the best one can be used
            or evaluated without training it again.
    """

    round: int
    builder: ModelBuilder
    trainer: Trainer
    history: History
    diagnosis: Diagnosis
    applied: Step | Remedy | None
    seconds: float
    score: float = float("nan")
    kept: bool = True
    model: nn.Module | None = None


@dataclass
class ImproveResult:
    """Every round of :func:`improve`, with a readable report.

    Attributes:
        rounds: the rounds in order.
        stopped: why the loop ended (``"healthy"``, ``"rounds"``, ``"budget"``, ``"target"``,
            ``"nothing left to try"``, ...).
    """

    rounds: list[ImproveRound]
    stopped: str = ""

    @property
    def final(self) -> ImproveRound:
        """The last round trained (which may have been dropped; see :attr:`best`)."""
        return self.rounds[-1]

    @property
    def best(self) -> ImproveRound:
        """The kept round with the highest score: the configuration to use."""
        return max(self.rounds, key=lambda r: (r.kept, r.score))

    def to_text(self) -> str:
        """One line per round: label, accuracies, score, the change applied, kept or dropped."""
        lines = []
        for r in self.rounds:
            h = r.history
            acc = (
                f"train {100 * h.train_acc[-1]:.1f}% / val {100 * h.val_acc[-1]:.1f}%"
                if h.train_acc and h.val_acc
                else "no accuracy"
            )
            how = "start" if r.applied is None else f"applied: {r.applied.text}"
            verdict = "" if r.applied is None else ("; kept" if r.kept else "; dropped (no better)")
            lines.append(f"round {r.round}: {r.diagnosis.label} ({acc}, score {100 * r.score:.1f}%, "
                         f"{r.seconds / 60:.1f} min); {how}{verdict}")
        if self.stopped:
            lines.append(f"stopped: {self.stopped}; best: round {self.best.round}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()


SCORE_EPOCHS = 3
"""Epochs averaged into a round's score: one epoch's validation accuracy on a few hundred images
moves by a point or two from noise alone; three give a steadier figure without waiting long."""


def improve(
    builder: ModelBuilder,
    train: Any,
    val: Any,
    *,
    trainer: Trainer,
    rounds: int = 3,
    max_minutes: float | None = None,
    target: float | None = None,
    stop_when_healthy: bool = True,
    num_classes: int | None = None,
    diagnose_options: Mapping[str, Any] | None = None,
    seed: int = 0,
    on_round: Callable[[ImproveRound], None] | None = None,
) -> ImproveResult:
    """Train, diagnose, apply the next step, retrain: keep what helps, drop what does not.

    Each round applies one step to the **best configuration so far**: first the compound,
    escalating steps of :func:`~cnnkit.study.escalation_steps` for the best round's label
    (batch norm and augmentation, then the recipe's optimizer, then more dropout, ... for
    overfitting; depth and width for underfitting), then the diagnosis' own remedies. A round
    whose score (mean validation accuracy of its last :data:`SCORE_EPOCHS` epochs) is no better
    than the best is dropped, so a step that made things worse is never built upon; good steps
    accumulate. Nothing is tried twice. A change that cannot be applied raises: it is a bug in
    the remedy, and skipping it would hide it.

    Args:
        builder: the starting model description.
        train: training data for :meth:`Trainer.fit`.
        val: validation data (required).
        trainer: the starting trainer.
        rounds: the most steps to apply (so at most ``rounds + 1`` trainings).
        max_minutes: a wall-clock budget: no round starts that is expected (from the last
            round's time, scaled by the epochs and the model's size) to end after it.
        target: stop once a round's score reaches this validation accuracy.
        stop_when_healthy: stop at the first healthy (or inconclusive) best round; with
            ``False`` the loop goes on adding capacity to healthy runs while rounds and budget
            last (a healthy run is often not the best one).
        num_classes: passed to :func:`~cnnkit.diagnosis.diagnose`, with each round's model,
            builder and trainer (so that no remedy repeats what the round already had).
        diagnose_options: more keyword arguments for :func:`~cnnkit.diagnosis.diagnose`.
        seed: the seed of every training run (same data order and initialization scheme).
        on_round: called after each round, e.g. to print progress.

    Returns:
        An :class:`ImproveResult`: every round, why it stopped, and :attr:`~ImproveResult.best`.

    Raises:
        ValueError: ``val`` is ``None``, ``rounds < 0``, a non-positive ``max_minutes``, or a
            remedy's change cannot be applied.
    """
    if val is None:
        raise ValueError("improve() needs validation data: pass val=(X_val, y_val)")
    if rounds < 0:
        raise ValueError(f"rounds must be >= 0, got {rounds}")
    if max_minutes is not None and not max_minutes > 0:
        raise ValueError(f"max_minutes must be a positive number of minutes, got {max_minutes!r}")
    start = time.perf_counter()
    tried = {_config_key(builder, trainer)}
    result: list[ImproveRound] = []
    best: ImproveRound | None = None
    applied: Step | Remedy | None = None
    stopped = "rounds"
    for i in range(rounds + 1):
        t0 = time.perf_counter()
        torch.manual_seed(seed)
        model = builder.build()
        history = trainer.replace(seed=seed).fit(model, train, val)
        diagnosis = diagnose(history, num_classes=num_classes, model=model, builder=builder,
                             trainer=trainer, **(diagnose_options or {}))
        score = _score(history)
        kept = best is None or score > best.score
        step = ImproveRound(i, builder, trainer, history, diagnosis, applied,
                            time.perf_counter() - t0, score, kept, model)
        result.append(step)
        if kept:
            best = step
        if on_round is not None:
            on_round(step)
        assert best is not None
        if target is not None and best.score >= target:
            stopped = "target"
            break
        if stop_when_healthy and best.diagnosis.label in (Label.HEALTHY, Label.INCONCLUSIVE):
            stopped = str(best.diagnosis.label)
            break
        if i == rounds:
            break
        found = _next(best, tried)
        if found is None:
            stopped = "nothing left to try"
            break
        new_builder, new_trainer, applied = found
        if max_minutes is not None:
            expected = step.seconds * _cost_ratio(step, new_builder, new_trainer)
            if time.perf_counter() - start + expected > 60 * max_minutes:
                stopped = "budget"
                break
        builder, trainer = new_builder, new_trainer
    return ImproveResult(result, stopped)


def _score(history: History) -> float:
    values = history.val_acc[-SCORE_EPOCHS:]
    return sum(values) / len(values) if values else float("-inf")


def _next(best: ImproveRound, tried: set[str]) -> tuple[ModelBuilder, Trainer, Step | Remedy] | None:
    """The first untried configuration from the best round: escalation steps, then remedies."""
    candidates: list[Step | Remedy] = [
        *escalation_steps(best.diagnosis.label, best.builder, best.trainer),
        *(r for r in best.diagnosis.remedies if r.change),
    ]
    # Every candidate is applied (so a remedy that cannot be applied raises even when an
    # earlier one is chosen), then the first untried configuration wins.
    applied = []
    for candidate in candidates:
        builder = best.builder
        if isinstance(candidate, Step) and candidate.add_blocks:
            builder = add_blocks(builder, candidate.add_blocks)
        applied.append((*apply_change(candidate.change, builder, best.trainer), candidate))
    for new_builder, new_trainer, candidate in applied:
        key = _config_key(new_builder, new_trainer)
        if key not in tried:
            tried.add(key)
            return new_builder, new_trainer, candidate
    return None


def _cost_ratio(done: ImproveRound, builder: ModelBuilder, trainer: Trainer) -> float:
    """How much longer the next round should take than ``done``: epochs times model cost."""
    epochs = trainer.max_epochs / max(1, done.trainer.max_epochs)
    return epochs * max(1.0, _conv_cost(builder) / max(1.0, _conv_cost(done.builder)))


def _conv_cost(builder: ModelBuilder) -> float:
    """A rough multiply count of the conv blocks (channels in x out x map pixels)."""
    cost, channels = 0.0, builder.in_channels
    for name, shape in builder.output_shapes():
        if name.startswith("features.") and len(shape) == 3:
            # before pooling the map was up to 4x larger; the ratio is what matters
            cost += channels * shape[0] * shape[1] * shape[2] * 4
            channels = shape[0]
    return cost


def _config_key(builder: ModelBuilder, trainer: Trainer) -> str:
    settings = {k: v for k, v in vars(trainer).items() if k not in ("callbacks", "augment", "progress")}
    callbacks = [type(c).__name__ for c in trainer.callbacks]
    # the augmentation by its default() strength (0 for none), else by its type
    strength = augment_strength(trainer)
    augment = strength if strength is not None else type(trainer.augment).__name__
    return repr((builder, sorted(settings.items(), key=lambda kv: kv[0]), callbacks, augment))
