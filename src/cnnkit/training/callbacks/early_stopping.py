"""EarlyStopping: stop training when a monitored metric has stopped improving (Keras semantics)."""

from __future__ import annotations

from typing import Any

import torch

from ..state import FitState
from .base import Callback
from .monitor import BestTracker, check_monitor, monitored, resolve_mode

__all__ = ["EarlyStopping"]


class EarlyStopping(Callback):
    """Stop training when a monitored metric has stopped improving.

    Args:
        monitor: ``"val_loss"`` (default), ``"val_acc"``, ``"train_loss"`` or ``"train_acc"``.
        patience: Number of epochs without improvement after which training stops (as in
            Keras: with ``patience=2`` training stops at the second epoch in a row that does
            not improve).
        min_delta: Smallest change that counts as an improvement.
        mode: ``"min"``, ``"max"`` or ``"auto"`` (``"max"`` for accuracies, else ``"min"``).
        restore_best_weights: At the end of training, load the weights of the best epoch into
            the model (whether training stopped early or ran all epochs).

    Raises:
        ValueError: For a negative ``patience``, a bad ``mode``, an unknown ``monitor``, or a
            ``val_*`` monitor without validation data (at fit start).

    Example:
        >>> stopper = EarlyStopping(patience=3)
        >>> # Trainer(max_epochs=50, callbacks=[stopper]).fit(model, train, val)
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 5,
        min_delta: float = 0.0,
        mode: str = "auto",
        restore_best_weights: bool = True,
    ) -> None:
        if patience < 0:
            raise ValueError(f"patience must be >= 0, got {patience}")
        self.monitor = monitor
        self.patience = int(patience)
        self.min_delta = float(min_delta)
        self.mode = resolve_mode(monitor, mode)
        self.restore_best_weights = restore_best_weights
        self._reset()

    def _reset(self) -> None:
        self._tracker = BestTracker(self.monitor, self.mode, self.min_delta)
        self.wait = 0
        self.stopped_epoch: int | None = None
        self._best_weights: dict[str, torch.Tensor] | None = None

    @property
    def best(self) -> float:
        """Best monitored value so far."""
        return self._tracker.best

    @property
    def best_epoch(self) -> int:
        """1-based epoch of the best value (0 before any improvement)."""
        return self._tracker.best_epoch

    def on_fit_start(self, state: FitState) -> None:
        """Check the monitor exists; reset unless resuming (resumed state is loaded after)."""
        check_monitor(state, self.monitor, "EarlyStopping")
        if state.epoch == 0:
            self._reset()

    def on_epoch_end(self, state: FitState) -> None:
        """Track the best value; request a stop after ``patience`` epochs without improvement."""
        value = monitored(state, self.monitor)
        if self._tracker.improved(value):
            self._tracker.best = value
            self._tracker.best_epoch = state.epoch
            self.wait = 0
            if self.restore_best_weights:
                # With Trainer(ema=...), the averaged weights are the ones validation judged.
                src = state.model if state.ema is None else state.ema.module
                self._best_weights = {
                    k: v.detach().to("cpu", copy=True) for k, v in src.state_dict().items()
                }
            return
        self.wait += 1
        if self.wait >= self.patience:  # Keras semantics: patience=0 stops at the first miss
            self.stopped_epoch = state.epoch
            state.should_stop = True
            state.stop_reason = (
                f"early stopping: {self.monitor} did not improve for {self.wait} epochs "
                f"(best {self.best:.4g} at epoch {self.best_epoch})"
            )

    def on_fit_end(self, state: FitState) -> None:
        """Load the best epoch's weights into the model if asked to."""
        if self.restore_best_weights and self._best_weights is not None:
            state.model.load_state_dict(self._best_weights)

    def state_dict(self) -> dict[str, Any]:
        """Best value, its epoch, the wait counter and the best weights (for resume)."""
        return {
            "best": self._tracker.best,
            "best_epoch": self._tracker.best_epoch,
            "wait": self.wait,
            "stopped_epoch": self.stopped_epoch,
            "best_weights": self._best_weights,
        }

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        """Restore what :meth:`state_dict` returned."""
        if not state:
            return
        self._tracker.best = float(state["best"])
        self._tracker.best_epoch = int(state["best_epoch"])
        self.wait = int(state["wait"])
        self.stopped_epoch = state["stopped_epoch"]
        self._best_weights = state["best_weights"]
