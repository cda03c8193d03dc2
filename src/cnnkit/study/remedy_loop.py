"""The remedy loop: :func:`apply_change` applies a remedy's change to a builder and a trainer;
:func:`improve` trains, diagnoses, applies the top remedy and retrains, until the run is healthy
or the rounds run out. A change that cannot be applied is an error, never skipped."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from cnnkit.builder import ModelBuilder
from cnnkit.diagnosis import Change, Diagnosis, Label, Remedy, diagnose
from cnnkit.study.variants import resolve_augment
from cnnkit.training import History, Trainer, callback_from_dict

__all__ = ["ImproveResult", "ImproveRound", "apply_change", "improve"]


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
        applied: the remedy whose change produced this round's configuration (``None`` in round 0).
        seconds: wall time of the round.
    """

    round: int
    builder: ModelBuilder
    trainer: Trainer
    history: History
    diagnosis: Diagnosis
    applied: Remedy | None
    seconds: float


@dataclass
class ImproveResult:
    """Every round of :func:`improve`, with a readable report."""

    rounds: list[ImproveRound]

    @property
    def final(self) -> ImproveRound:
        """The last round."""
        return self.rounds[-1]

    @property
    def best(self) -> ImproveRound:
        """The round with the highest final validation accuracy."""
        return max(self.rounds, key=lambda r: r.history.val_acc[-1] if r.history.val_acc else -1.0)

    def to_text(self) -> str:
        """One line per round: label, accuracies and the change applied."""
        lines = []
        for r in self.rounds:
            h = r.history
            acc = (
                f"train {100 * h.train_acc[-1]:.1f}% / val {100 * h.val_acc[-1]:.1f}%"
                if h.train_acc and h.val_acc
                else "no accuracy"
            )
            how = "start" if r.applied is None else f"applied: {r.applied.text} {dict(r.applied.change)}"
            lines.append(f"round {r.round}: {r.diagnosis.label} ({acc}); {how}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()


def improve(
    builder: ModelBuilder,
    train: Any,
    val: Any,
    *,
    trainer: Trainer,
    rounds: int = 3,
    num_classes: int | None = None,
    diagnose_options: Mapping[str, Any] | None = None,
    seed: int = 0,
    on_round: Callable[[ImproveRound], None] | None = None,
) -> ImproveResult:
    """Train, diagnose, apply the top remedy, retrain: until healthy or out of rounds.

    In each round the remedies of the diagnosis' findings are tried in order (the primary
    finding first); the first one whose change leads to a configuration not tried before is
    used. Remedies without a change (advice only) are skipped; a change that cannot be applied
    (an unknown name, a value the builder or trainer rejects) raises: it is a bug in the remedy,
    and skipping it would hide it.

    Args:
        builder: the starting model description.
        train: training data for :meth:`Trainer.fit`.
        val: validation data (required).
        trainer: the starting trainer.
        rounds: the most remedies to apply (so at most ``rounds + 1`` trainings).
        num_classes: passed to :func:`~cnnkit.diagnosis.diagnose`, with each round's model,
            builder and trainer (so that no remedy repeats what the round already had).
        diagnose_options: more keyword arguments for :func:`~cnnkit.diagnosis.diagnose`.
        seed: the seed of every training run (same data order and initialization scheme).
        on_round: called after each round, e.g. to print progress.

    Returns:
        An :class:`ImproveResult` with every round.

    Raises:
        ValueError: ``val`` is ``None``, ``rounds < 0``, or a remedy's change cannot be applied.
    """
    if val is None:
        raise ValueError("improve() needs validation data: pass val=(X_val, y_val)")
    if rounds < 0:
        raise ValueError(f"rounds must be >= 0, got {rounds}")
    tried = [_config_key(builder, trainer)]
    result: list[ImproveRound] = []
    applied: Remedy | None = None
    for i in range(rounds + 1):
        t0 = time.perf_counter()
        torch.manual_seed(seed)
        model = builder.build()
        history = trainer.replace(seed=seed).fit(model, train, val)
        diagnosis = diagnose(history, num_classes=num_classes, model=model, builder=builder,
                             trainer=trainer, **(diagnose_options or {}))
        step = ImproveRound(i, builder, trainer, history, diagnosis, applied, time.perf_counter() - t0)
        result.append(step)
        if on_round is not None:
            on_round(step)
        if diagnosis.label in (Label.HEALTHY, Label.INCONCLUSIVE) or i == rounds:
            break
        for remedy in diagnosis.remedies:
            if not remedy.change:
                continue
            new_builder, new_trainer = apply_change(remedy.change, builder, trainer)
            key = _config_key(new_builder, new_trainer)
            if key not in tried:
                tried.append(key)
                builder, trainer, applied = new_builder, new_trainer, remedy
                break
        else:
            break  # nothing left to try
    return ImproveResult(result)


def _config_key(builder: ModelBuilder, trainer: Trainer) -> str:
    settings = {k: v for k, v in vars(trainer).items() if k not in ("callbacks", "augment", "progress")}
    callbacks = [type(c).__name__ for c in trainer.callbacks]
    return repr((builder, sorted(settings.items(), key=lambda kv: kv[0]), callbacks, trainer.augment is not None))
