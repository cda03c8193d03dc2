"""The record of one training run: per-epoch metrics plus the per-step training loss.

A :class:`History` is what :meth:`cnnkit.training.Trainer.fit` returns and what
:func:`cnnkit.diagnose` reads. It is a plain container of Python lists, so it converts losslessly to
a dict, JSON and CSV and back.

Conventions (shared by every cnnkit module):

* accuracies are fractions in ``[0, 1]``;
* every per-epoch series either has one value per epoch or is empty (it was not recorded, e.g.
  ``val_loss`` without validation data);
* a non-finite loss is stored as it was (``nan`` / ``inf``) so a diagnosis can call the run
  "diverging"; the reason training stopped is kept in :attr:`History.stop_reason`.
"""

from __future__ import annotations

import csv
import json
import math
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnnkit._atomic import atomic_write_text

__all__ = ["EPOCH_KEYS", "History", "best_epoch"]

#: The per-epoch series, in the column order used by :meth:`History.to_csv`.
EPOCH_KEYS: tuple[str, ...] = (
    "train_loss",
    "val_loss",
    "train_acc",
    "val_acc",
    "lr",
    "epoch_time",
    "grad_norm",
)


def _is_main_process() -> bool:
    """True unless this is a non-zero rank of an initialized ``torch.distributed`` job.

    Looks the module up in ``sys.modules`` rather than importing it: a process group can only
    exist if torch.distributed was imported already, and this module must not need torch.
    """
    dist = sys.modules.get("torch.distributed")
    if dist is None:
        return True
    return not (dist.is_available() and dist.is_initialized() and dist.get_rank() != 0)


def best_epoch(series: Mapping[str, Sequence[float | None]]) -> int | None:
    """The 1-based epoch a run is judged by: the one with the lowest finite validation loss.

    This is the one meaning of "best epoch" in cnnkit (``History.best_epoch``, the study tables,
    the marker on learning-curve plots, ``EarlyStopping(restore_best_weights=True)`` on its
    default monitor). Without a validation loss it falls back to the highest validation
    accuracy, then to the lowest training loss. Ties go to the earliest epoch. The diagnosis
    uses a different quantity on purpose, the minimum of the *smoothed* validation loss, which
    one lucky epoch cannot move (see ``cnnkit.diagnosis``).

    Args:
        series: Canonical per-epoch lists (``val_loss``, ``val_acc``, ``train_loss``); ``None``
            and non-finite entries are skipped.

    Returns:
        The epoch number (1-based), or ``None`` when no series has a finite value.

    Example:
        >>> best_epoch({"val_loss": [0.9, 0.5, 0.5, 0.7]})
        2
        >>> best_epoch({"val_acc": [0.6, 0.8, 0.7]})
        2
    """
    for key, sign in (("val_loss", 1.0), ("val_acc", -1.0), ("train_loss", 1.0)):
        best: int | None = None
        for i, v in enumerate(series.get(key) or ()):
            if v is None or not math.isfinite(v):
                continue
            if best is None or sign * v < sign * float(series[key][best]):  # type: ignore[arg-type]
                best = i
        if best is not None:
            return best + 1
    return None


def _is_metric_key(key: Any) -> bool:
    """An extra metric's name: ``train_*`` or ``val_*`` and not one of :data:`EPOCH_KEYS`."""
    return (
        isinstance(key, str)
        and key.startswith(("train_", "val_"))
        and key not in EPOCH_KEYS
    )


def _floats(values: Any, key: str) -> list[float]:
    if values is None:
        return []
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(
            f"History series {key!r} must be a list of numbers, got {type(values).__name__}"
        )
    out = []
    for v in values:
        if v is None:
            out.append(math.nan)
        else:
            out.append(float(v))
    return out


@dataclass
class History:
    """Metrics of a training run, one entry per epoch (plus one per training step).

    Attributes:
        train_loss: Mean training loss of each epoch (weighted by batch size).
        val_loss: Mean validation loss after each epoch; empty without validation data.
        train_acc: Training accuracy in ``[0, 1]`` of each epoch, measured on the training batches
            as they were seen (model in training mode, as Keras reports it).
        val_acc: Validation accuracy in ``[0, 1]`` after each epoch; empty without validation.
        lr: Learning rate of the first parameter group at the start of each epoch.
        epoch_time: Wall-clock seconds of each epoch (training plus validation).
        grad_norm: Mean over the epoch's optimizer steps of the global L2 norm of the gradients
            (before clipping; non-finite norms, e.g. skipped fp16 steps, are left out).
        step_loss: Training loss of every batch, in order (one entry per batch of every epoch).
        stop_reason: Why training ended before ``max_epochs`` (early stopping, a non-finite loss),
            or ``None``.
        metrics: Extra per-epoch series by name, e.g. ``{"train_f1": [...], "val_f1": [...]}``
            (what ``Trainer(metrics={"f1": fn})`` records; each name starts with ``train_`` or
            ``val_``). :meth:`to_dict`, JSON and CSV keep them beside the series above.

    Example:
        >>> h = History(train_loss=[0.9, 0.5], train_acc=[0.6, 0.8])
        >>> h.epochs, h.best_epoch
        (2, 2)
        >>> len(h.to_dict()["val_loss"])  # not recorded: an empty series
        0
    """

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    epoch_time: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)
    step_loss: list[float] = field(default_factory=list)
    stop_reason: str | None = None
    metrics: dict[str, list[float]] = field(default_factory=dict)

    @property
    def epochs(self) -> int:
        """Number of recorded epochs (the length of ``train_loss``)."""
        return len(self.train_loss)

    def __len__(self) -> int:
        return self.epochs

    def __repr__(self) -> str:
        """A one-line summary (the full series are in :meth:`to_dict`), e.g.
        ``History(epochs=3, train_loss=0.41, val_loss=0.52, train_acc=0.83, val_acc=0.78,
        best_epoch=2)``."""
        parts = [f"epochs={self.epochs}"]
        for key in ("train_loss", "val_loss", "train_acc", "val_acc"):
            series = getattr(self, key)
            if series:
                parts.append(f"{key}={series[-1]:.4g}")
        parts.append(f"best_epoch={self.best_epoch}")
        if self.stop_reason is not None:
            parts.append(f"stop_reason={self.stop_reason!r}")
        return f"History({', '.join(parts)})"

    @property
    def best_epoch(self) -> int | None:
        """The 1-based best epoch by :func:`best_epoch`: lowest finite ``val_loss``, else highest
        ``val_acc``, else lowest ``train_loss``; ``None`` when nothing finite was recorded."""
        return best_epoch(self.to_dict())

    def to_dict(self) -> dict[str, list[float] | list[int]]:
        """Return the history as a plain JSON-serializable dict of lists.

        Returns:
            ``{"epoch": [1..n], "train_loss": [...], "val_loss": [...], "train_acc": [...],
            "val_acc": [...], "lr": [...], "epoch_time": [...], "grad_norm": [...],
            "step_loss": [...]}``, then the extra :attr:`metrics` (``"val_f1": [...]``).
            Unrecorded series are empty lists; non-finite values stay as ``nan`` / ``inf``.
        """
        out: dict[str, list[float] | list[int]] = {"epoch": list(range(1, self.epochs + 1))}
        for key in (*EPOCH_KEYS, "step_loss"):
            out[key] = list(getattr(self, key))
        for key, values in self.metrics.items():
            out[key] = list(values)
        return out

    def series(self, name: str) -> list[float]:
        """One per-epoch series by name: one of :data:`EPOCH_KEYS` or of :attr:`metrics`.

        Args:
            name: ``"val_loss"``, ``"val_f1"``, ...

        Returns:
            The list itself (not a copy).

        Raises:
            KeyError: For a name that is not recorded, listing the names that are.

        Example:
            >>> History(train_loss=[0.5], metrics={"train_f1": [0.7]}).series("train_f1")
            [0.7]
        """
        if name in EPOCH_KEYS:
            values: list[float] = getattr(self, name)
            return values
        if name in self.metrics:
            return self.metrics[name]
        raise KeyError(
            f"History has no series {name!r}; recorded: {', '.join(self.series_names())}"
        )

    def series_names(self) -> list[str]:
        """The per-epoch series names: :data:`EPOCH_KEYS`, then the extra :attr:`metrics`."""
        return [*EPOCH_KEYS, *self.metrics]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> History:
        """Build a history from :meth:`to_dict` output (unknown keys such as ``"meta"`` are ignored).

        Keys that start with ``train_`` or ``val_``, are not one of :data:`EPOCH_KEYS` and hold
        a list are extra :attr:`metrics`.

        Args:
            data: Mapping with some of the keys of :meth:`to_dict`; missing series become empty.

        Returns:
            A new :class:`History`.

        Raises:
            TypeError: If a series is not a list of numbers.
            ValueError: If a per-epoch series is neither empty nor as long as ``train_loss``.
        """
        kwargs: dict[str, Any] = {k: _floats(data.get(k), k) for k in (*EPOCH_KEYS, "step_loss")}
        reason = data.get("stop_reason")
        extra = {
            str(k): _floats(v, str(k))
            for k, v in data.items()
            if _is_metric_key(k) and isinstance(v, (list, tuple))
        }
        hist = cls(**kwargs, stop_reason=None if reason is None else str(reason), metrics=extra)
        n = hist.epochs
        for key in hist.series_names():
            length = len(hist.series(key))
            if length not in (0, n):
                raise ValueError(
                    f"History series {key!r} has {length} values but train_loss has {n}; every "
                    "per-epoch series must have one value per epoch or be empty"
                )
        return hist

    def to_json(self, path: str | os.PathLike[str], *, all_ranks: bool = False) -> None:
        """Write :meth:`to_dict` plus ``"best_epoch"`` and ``"stop_reason"`` to a JSON file.

        The write is atomic (temporary file + rename). Non-finite values are written as the
        ``NaN`` / ``Infinity`` tokens that Python's :mod:`json` reads back.

        Args:
            path: Destination file; parent directories are created.
            all_ranks: Under ``torch.distributed`` only rank 0 writes unless this is ``True``.
        """
        if not (all_ranks or _is_main_process()):
            return
        payload: dict[str, Any] = dict(self.to_dict())
        payload["best_epoch"] = self.best_epoch
        payload["stop_reason"] = self.stop_reason
        atomic_write_text(path, json.dumps(payload, indent=1) + "\n")

    @classmethod
    def from_json(cls, path: str | os.PathLike[str]) -> History:
        """Read a history written by :meth:`to_json` (extra keys are ignored).

        Args:
            path: A JSON file holding a dict of per-epoch lists.

        Returns:
            A new :class:`History`.

        Raises:
            ValueError: If the file does not hold a JSON object.
        """
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a JSON object of lists, got {type(data).__name__}")
        return cls.from_dict(data)

    def to_csv(self, path: str | os.PathLike[str], *, all_ranks: bool = False) -> None:
        """Write one row per epoch under the header ``epoch,train_loss,...,grad_norm`` (then
        one column per extra metric, e.g. ``train_f1,val_f1``).

        Missing values are empty cells. ``step_loss`` and ``stop_reason`` are not part of the CSV
        (use :meth:`to_json` to keep them). The write is atomic.

        Args:
            path: Destination file; parent directories are created.
            all_ranks: Under ``torch.distributed`` only rank 0 writes unless this is ``True``.
        """
        if not (all_ranks or _is_main_process()):
            return
        import io

        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        keys = self.series_names()
        writer.writerow(["epoch", *keys])
        for i in range(self.epochs):
            row: list[str | int] = [i + 1]
            for key in keys:
                series = self.series(key)
                row.append(repr(series[i]) if i < len(series) else "")
            writer.writerow(row)
        atomic_write_text(path, buf.getvalue())

    @classmethod
    def from_csv(cls, path: str | os.PathLike[str]) -> History:
        """Read a history written by :meth:`to_csv` (unknown columns are ignored).

        Args:
            path: A CSV file with an ``epoch`` column and some of the per-epoch columns.

        Returns:
            A new :class:`History` (``step_loss`` empty). A column whose cells are all empty
            becomes an empty series; a single empty cell becomes ``nan``. Columns named
            ``train_*`` / ``val_*`` other than :data:`EPOCH_KEYS` become :attr:`metrics`.
        """
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        data: dict[str, list[float | None]] = {}
        columns = [str(k) for k in (rows[0] if rows else {}) if k is not None]
        for key in (*EPOCH_KEYS, *(c for c in columns if _is_metric_key(c))):
            cells = [row.get(key) or "" for row in rows]
            if any(c.strip() for c in cells):
                data[key] = [float(c) if c.strip() else None for c in cells]
        return cls.from_dict(data)
