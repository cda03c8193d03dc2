"""CSVLogger and TensorBoardLogger: rows as epochs end, a SIGKILL keeps them, resume appends."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from cnnkit.training import (
    Callback,
    CSVLogger,
    FitState,
    ModelCheckpoint,
    TensorBoardLogger,
    Trainer,
    callback_from_dict,
)
from cnnkit.training import progress as progress_mod
from cnnkit.training.distributed import DistInfo
from training_helpers import blobs, mlp

TESTS = Path(__file__).parent


class _Kill(Callback):
    """SIGKILL this process at the end of epoch ``at`` (after the loggers wrote it)."""

    def __init__(self, at: int) -> None:
        self.at = at

    def on_epoch_end(self, state: FitState) -> None:
        if state.epoch == self.at:
            os.kill(os.getpid(), signal.SIGKILL)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _scalars(log_dir: Path, tag: str) -> list[tuple[int, float]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(log_dir))
    acc.Reload()
    return [(e.step, e.value) for e in acc.Scalars(tag)]


def _trainer(callbacks: list[Any], epochs: int, **kw: Any) -> Trainer:
    return Trainer(
        max_epochs=epochs, batch_size=16, seed=0, progress=False, callbacks=callbacks, **kw
    )


def child_main(folder: str) -> None:
    """The child process of the SIGKILL test: both loggers, killed at the end of epoch 3."""
    torch.set_num_threads(1)
    d = Path(folder)
    x, y = blobs(48)
    cbs = [CSVLogger(d / "log.csv"), TensorBoardLogger(d / "tb"), _Kill(3)]
    _trainer(cbs, 6).fit(mlp(), (x, y), val=(x, y))


def test_csv_rows_are_written_per_epoch_with_per_step_lr(tmp_path: Path) -> None:
    x, y = blobs(48)
    logger = CSVLogger(tmp_path / "runs" / "log.csv")
    h = _trainer([logger], 3, scheduler="cosine").fit(mlp(), (x, y), val=(x[:16], y[:16]))
    rows = _rows(logger.path)
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert list(rows[0])[:5] == ["epoch", "train_loss", "val_loss", "train_acc", "val_acc"]
    assert [float(r["val_loss"]) for r in rows] == h.val_loss
    steps = _rows(logger.steps_path)
    assert len(steps) == 9 and [int(r["step"]) for r in steps] == list(range(1, 10))
    lrs = [float(r["lr"]) for r in steps]
    assert lrs[0] == pytest.approx(1e-3) and lrs == sorted(lrs, reverse=True)  # cosine decays
    assert float(rows[1]["lr"]) == lrs[3]  # the epoch's lr is its first step's


def test_a_sigkill_mid_run_keeps_every_finished_epoch(tmp_path: Path) -> None:
    code = (
        f"import sys; sys.path.insert(0, {str(TESTS)!r}); import test_loggers; "
        f"test_loggers.child_main({str(tmp_path)!r})"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert [int(r["epoch"]) for r in _rows(tmp_path / "log.csv")] == [1, 2, 3]
    assert len(_rows(tmp_path / "log.steps.csv")) == 9
    assert [s for s, _ in _scalars(tmp_path / "tb", "loss/train")] == [1, 2, 3]
    assert len(_scalars(tmp_path / "tb" / "steps", "lr")) == 9


def test_resume_appends_without_duplicate_epochs(tmp_path: Path) -> None:
    x, y = blobs(48)
    csv_path, tb = tmp_path / "log.csv", tmp_path / "tb"

    def callbacks() -> list[Any]:
        return [CSVLogger(csv_path), TensorBoardLogger(tb), ModelCheckpoint(tmp_path / "ck")]

    _trainer(callbacks(), 2).fit(mlp(), (x, y), val=(x, y))
    # A crash after epoch 3 was logged but before its checkpoint: the row and events exist.
    with csv_path.open("a") as fh:
        fh.write("3,99.0,99.0,0.0,0.0,0.1,1.0,1.0\n4,1")  # and a row cut short
    h = _trainer(callbacks(), 4).fit(
        mlp(), (x, y), val=(x, y), resume_from=tmp_path / "ck" / "last.pt"
    )
    rows = _rows(csv_path)
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4]
    assert [float(r["train_loss"]) for r in rows] == h.train_loss
    steps = _rows(csv_path.with_name("log.steps.csv"))
    assert [int(r["step"]) for r in steps] == list(range(1, 13))
    assert [s for s, _ in _scalars(tb, "loss/train")] == [1, 2, 3, 4]
    assert [v for _, v in _scalars(tb, "loss/train")] == pytest.approx(h.train_loss)
    assert [s for s, _ in _scalars(tb / "steps", "lr")] == list(range(1, 13))


def test_a_fresh_fit_starts_the_file_anew(tmp_path: Path) -> None:
    x, y = blobs(32)
    path = tmp_path / "log.csv"
    path.write_text("old,content\n1,2\n")
    _trainer([CSVLogger(path, steps=False)], 1).fit(mlp(), (x, y))
    rows = _rows(path)
    assert len(rows) == 1 and "val_loss" not in rows[0] and "old" not in rows[0]
    assert not path.with_name("log.steps.csv").exists()


def test_registry_and_bad_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cb = callback_from_dict({"type": "CSVLogger", "path": str(tmp_path / "a.csv")})
    assert isinstance(cb, CSVLogger)
    assert isinstance(callback_from_dict({"type": "TensorBoardLogger", "log_dir": "x"}), Callback)
    with pytest.raises(ValueError, match="file name, not a directory"):
        CSVLogger(tmp_path)
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    with pytest.raises(ImportError, match=r"cnnkit\[tensorboard\]"):
        TensorBoardLogger(tmp_path / "tb")


def test_progress_bar_shows_in_a_notebook(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not progress_mod.in_notebook()  # pytest is no Jupyter kernel
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    assert progress_mod.epoch_bar(True, DistInfo(), 1, 2, 3) is None
    monkeypatch.setattr(progress_mod, "in_notebook", lambda: True)
    bar = progress_mod.epoch_bar(True, DistInfo(), 1, 2, 3)
    assert bar is not None and bar.total == 3
    bar.close()
    assert progress_mod.epoch_bar(False, DistInfo(), 1, 2, 3) is None
