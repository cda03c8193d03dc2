""":func:`compare`: train several model variants on the same data and seeds, and tabulate them.

Each variant (a :class:`~cnnkit.builder.ModelBuilder`, optionally with trainer settings and an
augmentation) is trained on the same split and seeds; the :class:`StudyResult` table shows train
and validation accuracy (mean and spread over seeds), the gap, the best epoch, epochs to reach a
training loss, time, parameters and the diagnosis.
"""

from __future__ import annotations

import csv
import math
import os
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from cnnkit.builder import ModelBuilder
from cnnkit.diagnosis import Diagnosis, diagnose
from cnnkit.study.variants import Variant
from cnnkit.training import History, Trainer

__all__ = ["StudyResult", "StudyRow", "compare"]


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
    best_epoch: float  # History.best_epoch (lowest finite val loss, 1-based), mean over seeds
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
        num_classes: passed to :func:`~cnnkit.diagnosis.diagnose` (chance level). Each run's
            model, builder and trainer are passed too, so the remedies know what it had.
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
            diagnosis = diagnose(history, num_classes=num_classes, model=model,
                                 builder=variant.builder, trainer=variant_trainer,
                                 **(diagnose_options or {}))
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
    best = stats(math.nan if h.best_epoch is None else float(h.best_epoch) for h in hs)[0]
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
