"""TensorBoardLogger: each epoch's metrics and every step's learning rate, as TensorBoard scalars."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..state import FitState
from .base import Callback
from .csv_logger import epoch_row

__all__ = ["TensorBoardLogger"]


def _summary_writer() -> Any:
    """``torch.utils.tensorboard.SummaryWriter``, or an ImportError naming the extra."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as err:
        raise ImportError(
            "TensorBoardLogger needs the tensorboard package; install it with "
            "pip install 'cnnkit[tensorboard]' (or pip install tensorboard), or log with "
            "CSVLogger instead"
        ) from err
    return SummaryWriter


class TensorBoardLogger(Callback):
    """Write each epoch's metrics to TensorBoard as it ends (``torch.utils.tensorboard``).

    Epoch scalars (``train_loss``, ``val_loss``, ``train_acc``, ``val_acc``, ``lr``,
    ``epoch_time``, ``grad_norm`` and ``Trainer(metrics=...)``'s series), grouped as
    ``loss/train``, ``acc/val``, ... where the name has a ``train_``/``val_`` prefix, are
    written at global step = epoch to ``log_dir``; the learning rate of every optimizer step
    goes to ``log_dir/steps`` (tag ``lr``, global step = optimizer step of the run). The
    writers are flushed after every epoch, so a crash keeps every finished epoch. A fit
    resumed with ``resume_from`` purges the events after the checkpoint (TensorBoard's
    ``purge_step``), so no epoch is shown twice. Only rank 0 writes. View with
    ``tensorboard --logdir <log_dir>``.

    Args:
        log_dir: The run's directory (created if missing).
        steps: Also log the learning rate of every optimizer step.

    Raises:
        ImportError: If the ``tensorboard`` package is missing (``pip install
            'cnnkit[tensorboard]'``).

    Example:
        >>> # Trainer(max_epochs=20, callbacks=[TensorBoardLogger("runs/exp1")]).fit(...)
    """

    def __init__(self, log_dir: str | os.PathLike[str], steps: bool = True) -> None:
        self._writer_cls = _summary_writer()
        self.log_dir = Path(log_dir)
        self.steps = steps
        self._step = 0
        self._writer: Any = None
        self._step_writer: Any = None

    def on_fit_start(self, state: FitState) -> None:
        """Open the writers; on resume, purge what was logged after the checkpoint."""
        self._close()
        if state.epoch == 0:
            self._step = 0
        if not state.is_main:
            return
        resumed = state.epoch > 0
        self._writer = self._writer_cls(
            str(self.log_dir), purge_step=state.epoch + 1 if resumed else None
        )
        if self.steps:
            self._step_writer = self._writer_cls(
                str(self.log_dir / "steps"), purge_step=self._step + 1 if resumed else None
            )

    def on_epoch_end(self, state: FitState) -> None:
        """Write the epoch's scalars (and its steps' learning rates), then flush."""
        steps = len(state.step_lr)
        if not state.is_main or self._writer is None:
            self._step += steps
            return
        for key, value in epoch_row(state).items():
            if key != "epoch":
                self._writer.add_scalar(_tag(key), value, state.epoch)
        self._writer.flush()
        if self._step_writer is not None:
            for lr in state.step_lr:
                self._step += 1
                self._step_writer.add_scalar("lr", lr, self._step)
            self._step_writer.flush()
        else:
            self._step += steps

    def on_fit_end(self, state: FitState) -> None:
        """Close the writers."""
        self._close()

    def state_dict(self) -> dict[str, Any]:
        """The optimizer steps logged so far (where a resumed run's step axis continues)."""
        return {"steps": self._step}

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        """Restore what :meth:`state_dict` returned."""
        if state:
            self._step = int(state["steps"])

    def _close(self) -> None:
        for w in (self._writer, self._step_writer):
            if w is not None:
                w.close()
        self._writer = self._step_writer = None


def _tag(key: str) -> str:
    """``train_loss`` -> ``loss/train``, ``val_f1`` -> ``f1/val``; others as they are."""
    for prefix in ("train_", "val_"):
        if key.startswith(prefix):
            return f"{key[len(prefix) :]}/{prefix[:-1]}"
    return key
