"""Callbacks: a small protocol for code that runs at fixed points of :meth:`Trainer.fit`.

The protocol
------------
A callback is any object with some of these methods (subclass :class:`Callback` to get no-op
defaults for the rest). Each receives the :class:`FitState` of the running fit:

* ``on_fit_start(state)``: after the model, optimizer and data are set up (and a checkpoint
  resumed), before the first epoch. Validate options here and reset per-run state.
* ``on_epoch_start(state)``: before each epoch; ``state.epoch`` is the number of completed epochs.
* ``on_epoch_end(state)``: after each epoch's metrics are in ``state.history``; ``state.epoch`` is
  the 1-based number of the epoch just finished. Set ``state.should_stop = True`` (and
  ``state.stop_reason``) to end training after this epoch.
* ``on_fit_end(state)``: once, after the last epoch (also after an early stop).
* ``state_dict()`` / ``load_state_dict(d)``: the callback's own state, stored in checkpoints so
  that a resumed run behaves exactly as an uninterrupted one. Return only tensors, numbers,
  strings, lists, dicts and ``None`` (checkpoints load with ``weights_only=True``).

Order: callbacks run in the order given, except :class:`ModelCheckpoint` instances, which run last
so that the checkpoint they write holds every other callback's state for that epoch. All ranks
call every hook in distributed training; ``state.is_main`` is true on rank 0 only, which alone
should print or write files.
"""

from __future__ import annotations

import copy
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import torch
from torch import nn

from .checkpoint import CHECKPOINT_FORMAT, get_rng_state, save_checkpoint
from .history import History

if TYPE_CHECKING:
    from .trainer import Trainer

__all__ = ["Callback", "EarlyStopping", "FitState", "ModelCheckpoint", "callback_from_dict"]


@dataclass(eq=False)
class FitState:
    """Everything a callback may read (and the few fields it may set) during :meth:`Trainer.fit`.

    Attributes:
        trainer: The running trainer (read its options, do not change them mid-fit).
        model: The user's model (unwrapped: not the DDP or compiled wrapper).
        optimizer: The optimizer.
        scheduler: The learning-rate scheduler, or ``None``.
        scaler: The fp16 gradient scaler, or ``None``.
        history: The history so far (global metrics, identical on every rank).
        epoch: Completed epochs (in ``on_epoch_end``: the epoch just finished, 1-based).
        max_epochs: Planned number of epochs.
        has_val: Whether validation data was given (``val_*`` series are recorded).
        is_main: True on rank 0 (or single-process): only it prints or writes.
        world_size: Number of processes.
        callbacks: All callbacks of this fit, in calling order.
        shuffle_generator: The generator that orders training samples each epoch.
        should_stop: Set to ``True`` in ``on_epoch_end`` to stop after this epoch.
        stop_reason: Human-readable reason, copied to ``History.stop_reason`` on stop.
        schedule_steps: Total optimizer steps the learning-rate schedule was built for
            (``None`` without a step-based schedule); a resume must plan the same number.
    """

    trainer: Trainer
    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: Any
    history: History
    epoch: int
    max_epochs: int
    has_val: bool
    is_main: bool
    world_size: int
    callbacks: list[Any] = field(default_factory=list)
    shuffle_generator: torch.Generator | None = None
    should_stop: bool = False
    stop_reason: str | None = None
    schedule_steps: int | None = None

    def checkpoint(self) -> dict[str, Any]:
        """Return the full training state as a ``weights_only``-loadable dict.

        Returns:
            Dict with ``cnnkit_checkpoint`` (format version), ``epoch``, ``model``,
            ``optimizer``, ``scheduler``, ``scaler``, ``rng``, ``history``, ``callbacks``,
            ``should_stop``, ``stop_reason``, ``max_epochs`` and ``schedule_steps`` (the total
            optimizer steps the learning-rate schedule was built for; ``None`` without one).
        """
        return {
            "cnnkit_checkpoint": CHECKPOINT_FORMAT,
            "epoch": self.epoch,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "scaler": None if self.scaler is None else self.scaler.state_dict(),
            "rng": get_rng_state(self.shuffle_generator),
            "history": {**self.history.to_dict(), "stop_reason": self.stop_reason},
            "callbacks": callback_states(self.callbacks),
            "should_stop": self.should_stop,
            "stop_reason": self.stop_reason,
            "max_epochs": self.max_epochs,
            "schedule_steps": self.schedule_steps,
        }

    def save_checkpoint(self, path: str | os.PathLike[str]) -> Path | None:
        """Write :meth:`checkpoint` atomically to ``path`` (rank 0 only).

        Args:
            path: Destination file.

        Returns:
            The path written, or ``None`` on ranks other than 0.
        """
        if not self.is_main:
            return None
        return save_checkpoint(self.checkpoint(), path)


def callback_keys(callbacks: list[Any]) -> list[str]:
    """Stable keys for callback states: class name plus its index among callbacks of that class.

    Keys (not positions) let a resumed fit add or drop unrelated callbacks.
    """
    seen: dict[str, int] = {}
    keys = []
    for cb in callbacks:
        name = type(cb).__qualname__
        keys.append(f"{name}:{seen.get(name, 0)}")
        seen[name] = seen.get(name, 0) + 1
    return keys


def callback_states(callbacks: list[Any]) -> dict[str, Any]:
    """``{key: cb.state_dict()}`` for every callback that has a ``state_dict`` method."""
    out = {}
    for key, cb in zip(callback_keys(callbacks), callbacks, strict=False):
        fn = getattr(cb, "state_dict", None)
        if callable(fn):
            out[key] = fn()
    return out


class Callback:
    """Base class with no-op hooks; override the ones you need (see the module docstring).

    Example:
        >>> class PrintLR(Callback):
        ...     def on_epoch_end(self, state: FitState) -> None:
        ...         if state.is_main:
        ...             print(state.history.lr[-1])
    """

    def on_fit_start(self, state: FitState) -> None:
        """Called once before the first epoch."""

    def on_epoch_start(self, state: FitState) -> None:
        """Called before each epoch."""

    def on_epoch_end(self, state: FitState) -> None:
        """Called after each epoch, with its metrics already in ``state.history``."""

    def on_fit_end(self, state: FitState) -> None:
        """Called once after training ends."""

    def state_dict(self) -> dict[str, Any] | None:
        """Return state to store in checkpoints (``weights_only``-safe values only)."""
        return None

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        """Restore what :meth:`state_dict` returned."""


def _resolve_mode(monitor: str, mode: str) -> Literal["min", "max"]:
    if mode == "auto":
        return "max" if "acc" in monitor else "min"
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min', 'max' or 'auto', got {mode!r}")
    return "min" if mode == "min" else "max"


def _monitored(state: FitState, monitor: str, owner: str) -> float:
    series = getattr(state.history, monitor)
    return float(series[-1]) if series else math.nan


def _check_monitor(state: FitState, monitor: str, owner: str) -> None:
    valid = ("train_loss", "val_loss", "train_acc", "val_acc")
    if monitor not in valid:
        raise ValueError(f"{owner}: monitor must be one of {valid}, got {monitor!r}")
    if monitor.startswith("val_") and not state.has_val:
        raise ValueError(
            f"{owner} monitors {monitor!r} but fit() got no validation data; pass val=(X, y) "
            f"or use monitor='{monitor.replace('val_', 'train_')}'"
        )


class _BestTracker:
    """Shared 'is this value an improvement' logic of EarlyStopping and ModelCheckpoint."""

    def __init__(self, monitor: str, mode: str, min_delta: float) -> None:
        self.monitor = monitor
        self.mode = _resolve_mode(monitor, mode)
        self.min_delta = abs(float(min_delta))
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = 0

    def improved(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta


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
        self.mode = _resolve_mode(monitor, mode)
        self.restore_best_weights = restore_best_weights
        self._reset()

    def _reset(self) -> None:
        self._tracker = _BestTracker(self.monitor, self.mode, self.min_delta)
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
        _check_monitor(state, self.monitor, "EarlyStopping")
        if state.epoch == 0:
            self._reset()

    def on_epoch_end(self, state: FitState) -> None:
        """Track the best value; request a stop after ``patience`` epochs without improvement."""
        value = _monitored(state, self.monitor, "EarlyStopping")
        if self._tracker.improved(value):
            self._tracker.best = value
            self._tracker.best_epoch = state.epoch
            self.wait = 0
            if self.restore_best_weights:
                self._best_weights = {
                    k: v.detach().to("cpu", copy=True) for k, v in state.model.state_dict().items()
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

    Raises:
        ValueError: If ``dirpath`` ends in ``.pt``, ``.pth`` or ``.ckpt`` (a file name, not a
            directory), or if both ``save_best`` and ``save_last`` are False.

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
        self._tracker: _BestTracker | None = None
        if monitor is not None:
            self._tracker = _BestTracker(monitor, mode, 0.0)

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
        _check_monitor(state, monitor, "ModelCheckpoint")
        if state.epoch == 0 or self._tracker is None or self._tracker.monitor != monitor:
            self._tracker = _BestTracker(monitor, self.mode, 0.0)

    def on_epoch_end(self, state: FitState) -> None:
        """Save ``best.pt`` on improvement, then ``last.pt`` (never weights from a diverged epoch)."""
        assert self._tracker is not None
        if not math.isfinite(state.history.train_loss[-1]):
            return  # keep the last good checkpoint rather than overwrite it with NaN weights
        value = _monitored(state, self._tracker.monitor, "ModelCheckpoint")
        is_best = self._tracker.improved(value)
        if is_best:
            self._tracker.best = value
            self._tracker.best_epoch = state.epoch
        if is_best and self.save_best:
            state.save_checkpoint(self.best_path)
        if self.save_last:
            state.save_checkpoint(self.last_path)

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
        self._tracker = _BestTracker(str(state["monitor"]), self.mode, 0.0)
        self._tracker.best = float(state["best"])
        self._tracker.best_epoch = int(state["best_epoch"])


_REGISTRY: dict[str, type[Callback]] = {
    "EarlyStopping": EarlyStopping,
    "ModelCheckpoint": ModelCheckpoint,
}


def callback_from_dict(spec: dict[str, Any]) -> Callback:
    """Build a callback from a remedy-style dict such as ``{"type": "EarlyStopping", "patience": 5}``.

    Args:
        spec: ``"type"`` (``"EarlyStopping"`` or ``"ModelCheckpoint"``) plus constructor kwargs.

    Returns:
        The callback.

    Raises:
        ValueError: For a missing or unknown ``"type"``.

    Example:
        >>> callback_from_dict({"type": "EarlyStopping", "patience": 2}).patience
        2
    """
    spec = copy.deepcopy(dict(spec))
    kind = spec.pop("type", None)
    if kind not in _REGISTRY:
        raise ValueError(f"unknown callback type {kind!r}; expected one of {sorted(_REGISTRY)}")
    return _REGISTRY[kind](**spec)
