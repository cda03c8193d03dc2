"""CSVLogger: append each epoch's metrics to a CSV file as it ends, fsynced, resume-aware."""

from __future__ import annotations

import csv
import io
import math
import os
from pathlib import Path

from cnnkit._atomic import atomic_write_text

from ..state import FitState
from .base import Callback

__all__ = ["CSVLogger", "epoch_row"]


def epoch_row(state: FitState) -> dict[str, float | int]:
    """The last epoch of ``state.history`` as ``{column: value}``, ``epoch`` first.

    Every recorded per-epoch series is a column (``train_loss``, ``train_acc``, ``val_loss``,
    ``val_acc``, ``lr``, ``epoch_time``, ``grad_norm`` and ``Trainer(metrics=...)``'s).
    """
    hist = state.history.to_dict()
    n = len(hist["epoch"])
    row: dict[str, float | int] = {"epoch": int(hist["epoch"][-1])}
    for key, values in hist.items():
        if key not in ("epoch", "step_loss") and len(values) == n:
            row[key] = values[-1]
    return row


def _fmt(value: float | int) -> str:
    return str(value) if isinstance(value, int) or math.isfinite(value) else repr(float(value))


class CSVLogger(Callback):
    """Write one CSV row per epoch to ``path`` the moment the epoch ends.

    Each row is flushed and ``fsync``-ed, so a crash (even ``SIGKILL``) keeps every finished
    epoch. Columns: ``epoch`` and every per-epoch series of the history (``train_loss``,
    ``train_acc``, ``val_loss``, ``val_acc``, ``lr``, ``epoch_time``, ``grad_norm``, and the
    ``train_``/``val_`` series of ``Trainer(metrics=...)``). With ``steps=True`` a second file
    beside it (``log.csv`` -> ``log.steps.csv``) gets one row per optimizer step: ``epoch``,
    ``step`` (counted over the run) and ``lr`` (the rate that step used).

    A fresh fit (``state.epoch == 0`` at its start) starts the files anew. A fit resumed with
    ``resume_from`` keeps the rows up to the checkpoint's epoch and drops later ones (epochs
    that were logged after the checkpoint and will be trained again), so the file never holds
    an epoch twice. Only rank 0 writes.

    Args:
        path: The CSV file (parent directories are created).
        steps: Also log the learning rate of every optimizer step.

    Raises:
        ValueError: If ``path`` is a directory.

    Example:
        >>> logger = CSVLogger("runs/exp1/log.csv")
        >>> # Trainer(max_epochs=20, callbacks=[logger]).fit(model, train, val)
    """

    def __init__(self, path: str | os.PathLike[str], steps: bool = True) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise ValueError(
                f"CSVLogger({str(path)!r}) takes a file name, not a directory; pass e.g. "
                f"CSVLogger({str(self.path / 'log.csv')!r})"
            )
        self.steps = steps
        self._columns: list[str] | None = None
        self._step = 0

    @property
    def steps_path(self) -> Path:
        """The per-step file: ``log.csv`` -> ``log.steps.csv``."""
        return self.path.with_name(self.path.stem + ".steps" + (self.path.suffix or ".csv"))

    def on_fit_start(self, state: FitState) -> None:
        """Start the files (fresh fit) or cut them back to the resumed epoch."""
        self._columns, self._step = None, 0
        if not state.is_main:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if state.epoch == 0:
            for p in (self.path, self.steps_path):
                if p.exists():
                    p.unlink()
            return
        self._columns = _truncate(self.path, state.epoch)
        if self.steps:
            _truncate(self.steps_path, state.epoch)
            self._step = _count_rows(self.steps_path)

    def on_epoch_end(self, state: FitState) -> None:
        """Append the epoch's row (and its steps' rows), flushed and fsynced."""
        if not state.is_main:
            return
        row = epoch_row(state)
        if self._columns is None:
            self._columns = list(row)
        if self.steps:
            lines = []
            for lr in state.step_lr:
                self._step += 1
                lines.append([str(state.epoch), str(self._step), _fmt(lr)])
            _append(self.steps_path, ["epoch", "step", "lr"], lines)
        values = [_fmt(row[c]) if c in row else "" for c in self._columns]
        _append(self.path, self._columns, [values])


def _append(path: Path, header: list[str], rows: list[list[str]]) -> None:
    """Append ``rows`` (writing ``header`` first to a new or empty file), then fsync."""
    new = not path.exists() or path.stat().st_size == 0
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    if new:
        writer.writerow(header)
    writer.writerows(rows)
    with path.open("a", encoding="utf-8", newline="") as fh:
        fh.write(buf.getvalue())
        fh.flush()
        os.fsync(fh.fileno())


def _truncate(path: Path, last_epoch: int) -> list[str] | None:
    """Keep the header and the complete rows of epochs ``<= last_epoch``; return the header."""
    if not path.exists():
        return None
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    if not lines:
        return None
    header = next(csv.reader([lines[0]]))
    kept = [lines[0] if lines[0].endswith("\n") else lines[0] + "\n"]
    for line in lines[1:]:
        if not line.endswith("\n"):
            break  # a row cut short by a crash
        cells = next(csv.reader([line]))
        if len(cells) != len(header):
            break
        try:
            epoch = int(cells[0])
        except ValueError:
            break
        if epoch > last_epoch:
            break
        kept.append(line)
    atomic_write_text(path, "".join(kept))
    return header


def _count_rows(path: Path) -> int:
    if not path.exists():
        return 0
    return max(0, len(path.read_text(encoding="utf-8").splitlines()) - 1)
