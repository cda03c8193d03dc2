"""ModelCheckpoint: write ``last.pt`` every epoch and ``best.pt`` on improvement, for resume."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cnnkit.saving.model_file import save_model

from ..state import FitState
from .base import Callback
from .monitor import BestTracker, check_monitor, monitored

__all__ = ["ModelCheckpoint"]


class ModelCheckpoint(Callback):
    """Write ``last.pt`` after every epoch and ``best.pt`` whenever the monitored metric improves.

    Files are full training checkpoints (model, optimizer, scheduler, grad scaler, RNG states,
    epoch, history, callback states), written atomically and loadable with
    ``torch.load(path, weights_only=True)`` or :func:`~cnnkit.training.load_checkpoint`; pass
    ``last.pt`` to ``Trainer.fit(..., resume_from=...)`` to continue a run. Only rank 0 writes.
    An epoch whose training loss is not finite is not saved, so ``last.pt`` keeps the last good
    state of a diverged run.

    Args:
        dirpath: Directory for ``last.pt`` / ``best.pt`` (created if missing); not a file name.
        save_best: Write ``best.pt`` when ``monitor`` improves.
        save_last: Write ``last.pt`` after every epoch.
        monitor: Metric deciding "best"; ``None`` means ``"val_loss"`` with validation data and
            ``"train_loss"`` without.
        mode: ``"min"``, ``"max"`` or ``"auto"`` (``"max"`` for accuracies).
        save_model: Also write ``best_model.pt`` / ``last_model.pt`` in the one-file format of
            :func:`cnnkit.save_model` (weights, builder spec, ``classes``, the trainer's
            ``normalize``), which :func:`cnnkit.load_model` turns back into a ready model. The
            model must be one a ``ModelBuilder`` built.
        classes: Class names stored in those model files.

    Raises:
        ValueError: If ``dirpath`` ends in ``.pt``, ``.pth`` or ``.ckpt`` (a file name, not a
            directory), or if both ``save_best`` and ``save_last`` are False.
        TypeError: At the first save with ``save_model=True``, for a model without a builder
            spec.

    Example:
        >>> ckpt = ModelCheckpoint("runs/exp1")
        >>> # Trainer(max_epochs=20, callbacks=[ckpt]).fit(model, train, val)
        >>> # later: Trainer(max_epochs=20, callbacks=[ckpt]).fit(model, train, val,
        >>> #            resume_from="runs/exp1/last.pt")
    """

    def __init__(
        self,
        dirpath: str | os.PathLike[str],
        save_best: bool = True,
        save_last: bool = True,
        monitor: str | None = None,
        mode: str = "auto",
        save_model: bool = False,
        classes: Sequence[str] | None = None,
    ) -> None:
        if not (save_best or save_last):
            raise ValueError(
                "ModelCheckpoint with save_best=False and save_last=False saves nothing"
            )
        if Path(dirpath).suffix.lower() in (".pt", ".pth", ".ckpt"):
            raise ValueError(
                f"ModelCheckpoint({str(dirpath)!r}) takes a directory, not a file: it writes "
                f"last.pt and best.pt inside it; pass e.g. ModelCheckpoint({str(Path(dirpath).parent)!r})"
            )
        self.dirpath = Path(dirpath)
        self.save_best = save_best
        self.save_last = save_last
        self.monitor = monitor
        self.mode = mode
        self.save_model = save_model
        self.classes = None if classes is None else [str(c) for c in classes]
        self._tracker: BestTracker | None = None
        if monitor is not None:
            self._tracker = BestTracker(monitor, mode, 0.0)

    @property
    def last_path(self) -> Path:
        """``dirpath / "last.pt"``."""
        return self.dirpath / "last.pt"

    @property
    def best_path(self) -> Path:
        """``dirpath / "best.pt"``."""
        return self.dirpath / "best.pt"

    def on_fit_start(self, state: FitState) -> None:
        """Resolve the monitor and reset the best value (unless resuming)."""
        monitor = self.monitor or ("val_loss" if state.has_val else "train_loss")
        check_monitor(state, monitor, "ModelCheckpoint")
        if state.epoch == 0 or self._tracker is None or self._tracker.monitor != monitor:
            self._tracker = BestTracker(monitor, self.mode, 0.0)

    def on_epoch_end(self, state: FitState) -> None:
        """Save ``best.pt`` on improvement, then ``last.pt`` (never weights from a diverged epoch)."""
        assert self._tracker is not None
        if not math.isfinite(state.history.train_loss[-1]):
            return  # keep the last good checkpoint rather than overwrite it with NaN weights
        value = monitored(state, self._tracker.monitor)
        is_best = self._tracker.improved(value)
        if is_best:
            self._tracker.best = value
            self._tracker.best_epoch = state.epoch
        if is_best and self.save_best:
            state.save_checkpoint(self.best_path)
            self._write_model(state, self.dirpath / "best_model.pt")
        if self.save_last:
            state.save_checkpoint(self.last_path)
            self._write_model(state, self.dirpath / "last_model.pt")

    def _write_model(self, state: FitState, path: Path) -> None:
        if self.save_model and state.is_main:
            save_model(state.model, path, classes=self.classes, normalize=state.trainer.normalize,
                       extra={"epoch": state.epoch})  # fmt: skip

    def state_dict(self) -> dict[str, Any] | None:
        """The best value so far and its epoch."""
        if self._tracker is None:
            return None
        return {
            "monitor": self._tracker.monitor,
            "best": self._tracker.best,
            "best_epoch": self._tracker.best_epoch,
        }

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        """Restore what :meth:`state_dict` returned."""
        if not state:
            return
        self._tracker = BestTracker(str(state["monitor"]), self.mode, 0.0)
        self._tracker.best = float(state["best"])
        self._tracker.best_epoch = int(state["best_epoch"])
