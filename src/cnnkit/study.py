"""Studies: train several model variants on the same data and tabulate them; the remedy loop.

:func:`compare` trains each variant (a :class:`~cnnkit.builder.ModelBuilder`, optionally with
trainer settings and an augmentation) on the same split and seeds and returns a
:class:`StudyResult` table: train and validation accuracy (mean and spread over seeds), the gap,
the best epoch, epochs to reach a training loss, time, parameters and the diagnosis.

:func:`improve` trains a model, diagnoses the run, applies the top applicable remedy's change
(:func:`apply_change`), and retrains, until the run is healthy or the rounds run out.
"""

from __future__ import annotations

import csv
import math
import os
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from cnnkit import augment as augment_lib
from cnnkit.builder import ModelBuilder
from cnnkit.diagnosis import Diagnosis, Label, Remedy, diagnose
from cnnkit.training import History, Trainer, callback_from_dict

__all__ = [
    "ImproveResult",
    "ImproveRound",
    "StudyResult",
    "StudyRow",
    "Variant",
    "apply_change",
    "compare",
    "improve",
]

AugmentSpec = Callable[..., Any] | str | Mapping[str, Any] | None


@dataclass
class Variant:
    """One model configuration of a study.

    Args:
        builder: the model to build (a fresh model is built for every seed).
        trainer: settings that override the study's trainer for this variant, as
            :meth:`Trainer.replace` keywords (e.g. ``{"lr": 3e-4}``).
        augment: a per-batch augmentation ``(x, y) -> (x, y)``, ``"default"`` for
            :func:`cnnkit.augment.default`, ``{"strength": s}`` for ``default(strength=s)``, or
            ``None``.
    """

    builder: ModelBuilder
    trainer: Mapping[str, Any] = field(default_factory=dict)
    augment: AugmentSpec = None

    def make_trainer(self, base: Trainer) -> Trainer:
        """The study's trainer with this variant's settings and augmentation applied."""
        changes = dict(self.trainer)
        if self.augment is not None:
            changes["augment"] = resolve_augment(self.augment)
        return base.replace(**changes) if changes else base


@dataclass(frozen=True)
class StudyRow:
    """One variant's results, aggregated over seeds (accuracies are fractions in [0, 1])."""

    name: str
    params: int
    train_acc: float  # final-epoch training accuracy, mean over seeds
    train_acc_std: float  # its standard deviation over seeds (0 for one seed)
    val_acc: float  # final-epoch validation accuracy, mean over seeds
    val_acc_std: float
    gap: float  # train_acc - val_acc
    best_epoch: float  # epoch of the lowest validation loss (1-based), mean over seeds
    epochs_to_loss: float | None  # first epoch with train loss <= the study's loss_threshold
    seconds: float  # training time per seed, mean
    label: str  # diagnosis label (most common over seeds)

    def to_dict(self) -> dict[str, Any]:
        """The row as a plain dict."""
        return dict(self.__dict__)


@dataclass
class StudyResult:
    """The table :func:`compare` returns, with every run's history and diagnosis.

    Attributes:
        rows: one :class:`StudyRow` per variant, in the order given.
        histories: ``{variant: [History per seed]}``.
        diagnoses: ``{variant: [Diagnosis per seed]}``.
        loss_threshold: the training loss that ``epochs_to_loss`` counts epochs to.
    """

    rows: list[StudyRow]
    histories: dict[str, list[History]]
    diagnoses: dict[str, list[Diagnosis]]
    loss_threshold: float

    COLUMNS = ("variant", "params", "train acc", "val acc", "gap", "best epoch",
               "epochs to loss", "time (s)", "diagnosis")  # fmt: skip

    def _cells(self, row: StudyRow) -> list[str]:
        seeds = len(self.histories[row.name])

        def spread(std: float) -> str:
            return f" ± {100 * std:.1f}" if seeds > 1 else ""

        return [
            row.name,
            f"{row.params:,}",
            f"{100 * row.train_acc:.1f}%{spread(row.train_acc_std)}",
            f"{100 * row.val_acc:.1f}%{spread(row.val_acc_std)}",
            f"{100 * row.gap:+.1f}",
            f"{row.best_epoch:.0f}" if seeds == 1 else f"{row.best_epoch:.1f}",
            "-" if row.epochs_to_loss is None else f"{row.epochs_to_loss:.0f}",
            f"{row.seconds:.1f}",
            row.label,
        ]

    def to_text(self) -> str:
        """An aligned plain-text table (accuracy as mean ± std over seeds, in %)."""
        table = [list(self.COLUMNS), *(self._cells(r) for r in self.rows)]
        widths = [max(len(r[i]) for r in table) for i in range(len(self.COLUMNS))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in table]
        lines.insert(1, "  ".join("-" * w for w in widths))
        lines.append(f"(epochs to loss: first epoch with train loss <= {self.loss_threshold:.3f})")
        return "\n".join(lines)

    def to_markdown(self) -> str:
        """A Markdown table."""
        out = ["| " + " | ".join(self.COLUMNS) + " |", "|" + "---|" * len(self.COLUMNS)]
        out += ["| " + " | ".join(self._cells(r)) + " |" for r in self.rows]
        return "\n".join(out)

    def to_csv(self, path: str | os.PathLike[str]) -> None:
        """Write one row per variant with every :class:`StudyRow` field (raw numbers)."""
        fields = list(StudyRow.__dataclass_fields__)
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            for row in self.rows:
                writer.writerow(row.to_dict())

    def __str__(self) -> str:
        return self.to_text()

    def __getitem__(self, name: str) -> StudyRow:
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(f"no variant {name!r}; variants: {[r.name for r in self.rows]}")


def resolve_augment(spec: AugmentSpec) -> Callable[..., Any] | None:
    """Turn an augmentation spec into a callable (see :class:`Variant`)."""
    if spec is None or callable(spec):
        return spec
    if spec == "default":
        return augment_lib.default()
    if isinstance(spec, Mapping):
        return augment_lib.default(**spec)
    raise ValueError(f"augment must be a callable, 'default', a dict of default() settings or None; got {spec!r}")


def compare(
    variants: Mapping[str, ModelBuilder | Variant],
    train: Any,
    val: Any,
    *,
    trainer: Trainer,
    seeds: Sequence[int] = (0,),
    loss_threshold: float | None = None,
    num_classes: int | None = None,
    diagnose_options: Mapping[str, Any] | None = None,
    on_run: Callable[[str, int, History, Diagnosis], None] | None = None,
) -> StudyResult:
    """Train every variant on the same data for every seed and tabulate the results.

    Args:
        variants: ``{name: ModelBuilder or Variant}``, in the order to report.
        train: training data, as accepted by :meth:`Trainer.fit` (e.g. ``(X, y)``).
        val: validation data (required: the study compares generalization).
        trainer: the base trainer; each run uses ``trainer.replace(seed=seed)`` plus the
            variant's settings.
        seeds: one run per seed; the table shows mean and spread over them.
        loss_threshold: the training loss for the "epochs to loss" column. ``None``: the highest
            final training loss among all runs, i.e. a level every run reached, so the column
            compares convergence speed.
        num_classes: passed to :func:`~cnnkit.diagnosis.diagnose` (chance level).
        diagnose_options: more keyword arguments for :func:`~cnnkit.diagnosis.diagnose`, e.g.
            ``{"chance_accuracy": 0.58}`` (the majority-class share) or ``{"target_accuracy": 0.9}``.
        on_run: called after each run with ``(name, seed, history, diagnosis)``, e.g. to print
            progress or save files.

    Returns:
        A :class:`StudyResult`; ``print(result)`` shows the table.

    Raises:
        ValueError: no variants, no seeds, or ``val`` is ``None``.
    """
    if not isinstance(variants, Mapping):
        raise TypeError(
            "compare() takes a dict of variants, {name: ModelBuilder or Variant}, e.g. "
            f"{{'baseline': builder}}; got {type(variants).__name__}"
        )
    if not variants:
        raise ValueError("compare() needs at least one variant")
    if not seeds:
        raise ValueError("compare() needs at least one seed")
    if val is None:
        raise ValueError("compare() needs validation data: pass val=(X_val, y_val)")
    histories: dict[str, list[History]] = {}
    diagnoses: dict[str, list[Diagnosis]] = {}
    params: dict[str, int] = {}
    for name, spec in variants.items():
        variant = spec if isinstance(spec, Variant) else Variant(spec)
        if not isinstance(variant.builder, ModelBuilder):
            hint = " (pass the ModelBuilder, not the built model)" if isinstance(spec, torch.nn.Module) else ""
            raise TypeError(
                f"variant {name!r} must be a ModelBuilder or a Variant, got {type(spec).__name__}{hint}"
            )
        variant_trainer = variant.make_trainer(trainer)
        params[name] = variant.builder.num_parameters()
        histories[name], diagnoses[name] = [], []
        for seed in seeds:
            torch.manual_seed(seed)  # the model's initial weights depend on the seed too
            model = variant.builder.build()
            history = variant_trainer.replace(seed=seed).fit(model, train, val)
            diagnosis = diagnose(history, num_classes=num_classes, **(diagnose_options or {}))
            histories[name].append(history)
            diagnoses[name].append(diagnosis)
            if on_run is not None:
                on_run(name, seed, history, diagnosis)
    if loss_threshold is None:
        finals = [h.train_loss[-1] for hs in histories.values() for h in hs if h.train_loss]
        finite = [v for v in finals if math.isfinite(v)]
        loss_threshold = max(finite) if finite else math.inf
    rows = [
        _row(name, params[name], histories[name], diagnoses[name], loss_threshold)
        for name in variants
    ]
    return StudyResult(rows, histories, diagnoses, loss_threshold)


def _row(
    name: str, params: int, hs: list[History], ds: list[Diagnosis], threshold: float
) -> StudyRow:
    def stats(values: Iterable[float]) -> tuple[float, float]:
        v = [x for x in values if math.isfinite(x)]
        if not v:
            return math.nan, math.nan
        return statistics.fmean(v), (statistics.stdev(v) if len(v) > 1 else 0.0)

    tr, tr_sd = stats(h.train_acc[-1] if h.train_acc else math.nan for h in hs)
    va, va_sd = stats(h.val_acc[-1] if h.val_acc else math.nan for h in hs)
    best = stats(_best_epoch(h) for h in hs)[0]
    reach = [next((i + 1 for i, v in enumerate(h.train_loss) if v <= threshold), None) for h in hs]
    reached = [r for r in reach if r is not None]
    label = Counter(str(d.label) for d in ds).most_common(1)[0][0]
    return StudyRow(
        name=name,
        params=params,
        train_acc=tr,
        train_acc_std=tr_sd,
        val_acc=va,
        val_acc_std=va_sd,
        gap=tr - va,
        best_epoch=best,
        epochs_to_loss=statistics.fmean(reached) if len(reached) == len(reach) else None,
        seconds=statistics.fmean(sum(h.epoch_time) for h in hs),
        label=label,
    )


def _best_epoch(h: History) -> float:
    losses = [v if math.isfinite(v) else math.inf for v in h.val_loss]
    if not losses:
        return math.nan
    return float(min(range(len(losses)), key=losses.__getitem__) + 1)


# ----------------------------------------------------------------------------- remedies


def apply_change(
    change: Mapping[str, Any], builder: ModelBuilder, trainer: Trainer
) -> tuple[ModelBuilder, Trainer]:
    """Apply a remedy's machine-readable ``change`` to a builder and a trainer (copies).

    Args:
        change: a :attr:`Remedy.change <cnnkit.diagnosis.Remedy.change>` dict with keys among
            ``"builder"`` (:meth:`ModelBuilder.replace` settings), ``"trainer"``
            (:meth:`Trainer.replace` settings), ``"augment"`` (see :class:`Variant`) and
            ``"callbacks"`` (dicts for :func:`~cnnkit.training.callback_from_dict`, added to the
            trainer's callbacks, replacing any of the same type).
        builder: the current model description.
        trainer: the current trainer.

    Returns:
        ``(new_builder, new_trainer)``; the inputs are not modified.

    Raises:
        ValueError: an unknown key in ``change``.

    Example:
        >>> from cnnkit import ModelBuilder, Trainer
        >>> builder, trainer = ModelBuilder(3, 2, 32).conv(4), Trainer(max_epochs=5)
        >>> b, t = apply_change({"builder": {"dropout": 0.25}, "trainer": {"lr": 3e-4}}, builder, trainer)
        >>> b
        ModelBuilder(3, 2, (32, 32), dropout=0.25).conv(4)
        >>> t.lr, trainer.lr
        (0.0003, 0.001)
    """
    unknown = set(change) - {"builder", "trainer", "augment", "callbacks"}
    if unknown:
        raise ValueError(
            f"cannot apply change keys {sorted(unknown)}; known: builder, trainer, augment, callbacks"
        )
    if change.get("builder"):
        builder = builder.replace(**change["builder"])
    trainer_changes = dict(change.get("trainer") or {})
    if "augment" in change:
        trainer_changes["augment"] = resolve_augment(change["augment"])
    if change.get("callbacks"):
        new = [callback_from_dict(dict(c)) for c in change["callbacks"]]
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
            how = "start" if r.applied is None else f"applied: {r.applied.text} {r.applied.change}"
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
    finding first); the first one whose change applies and leads to a configuration not tried
    before is used. Remedies without a change (advice only) are skipped.

    Args:
        builder: the starting model description.
        train: training data for :meth:`Trainer.fit`.
        val: validation data (required).
        trainer: the starting trainer.
        rounds: the most remedies to apply (so at most ``rounds + 1`` trainings).
        num_classes: passed to :func:`~cnnkit.diagnosis.diagnose`.
        diagnose_options: more keyword arguments for :func:`~cnnkit.diagnosis.diagnose`.
        seed: the seed of every training run (same data order and initialization scheme).
        on_round: called after each round, e.g. to print progress.

    Returns:
        An :class:`ImproveResult` with every round.
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
        history = trainer.replace(seed=seed).fit(builder.build(), train, val)
        diagnosis = diagnose(history, num_classes=num_classes, **(diagnose_options or {}))
        step = ImproveRound(i, builder, trainer, history, diagnosis, applied, time.perf_counter() - t0)
        result.append(step)
        if on_round is not None:
            on_round(step)
        if diagnosis.label in (Label.HEALTHY, Label.INCONCLUSIVE) or i == rounds:
            break
        for remedy in diagnosis.remedies:
            if not remedy.change:
                continue
            try:
                new_builder, new_trainer = apply_change(remedy.change, builder, trainer)
            except (ValueError, TypeError):
                continue  # a change this loop cannot apply (e.g. an unknown key)
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
