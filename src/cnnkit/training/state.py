"""What a callback sees of a running fit: :class:`FitState`, with no tie to the trainer module.

``FitState.trainer`` is typed with :class:`TrainerOptions`, the options a callback (or the
epoch loop) may read; :class:`~cnnkit.training.Trainer` satisfies it without this module
importing it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from cnnkit.history import History

from .checkpoint import build_checkpoint, save_checkpoint

__all__ = ["AugmentFn", "FitState", "LossFn", "TrainerOptions"]

#: ``loss(logits (N, C), targets (N,) int64 or (N, C) float) -> scalar`` (mean over the batch).
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
#: ``augment(x (N, C, H, W) float on device, y) -> (x, y)``; training batches only.
AugmentFn = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


class TrainerOptions(Protocol):
    """The trainer options a callback or the epoch loop reads (see ``Trainer`` for each)."""

    @property
    def max_epochs(self) -> int: ...
    @property
    def batch_size(self) -> int: ...
    @property
    def eval_batch_size(self) -> int | None: ...
    @property
    def lr(self) -> float: ...
    @property
    def accumulate(self) -> int: ...
    @property
    def grad_clip(self) -> float | None: ...
    @property
    def precision(self) -> str: ...
    @property
    def channels_last(self) -> bool: ...
    @property
    def augment(self) -> AugmentFn | None: ...
    @property
    def progress(self) -> bool: ...
    @property
    def seed(self) -> int | None: ...
    @property
    def normalize(self) -> Any: ...


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
        ema: The moving average of the weights (``Trainer(ema=...)``: a
            ``torch.optim.swa_utils.AveragedModel``; its ``.module`` is the averaged model that
            validation runs on), or ``None``.
        ema_decay: Its decay, or ``None``.
        step_lr: The learning rate of each optimizer step of the epoch just trained (before
            the step), for per-step logs.
    """

    trainer: TrainerOptions
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
    ema: Any = None
    ema_decay: float | None = None
    step_lr: list[float] = field(default_factory=list)

    def checkpoint(self) -> dict[str, Any]:
        """Return the full training state as a ``weights_only``-loadable dict.

        Returns:
            Dict with ``cnnkit_checkpoint`` (format version), ``epoch``, ``model``,
            ``optimizer``, ``scheduler``, ``scaler``, ``rng``, ``history``, ``callbacks``,
            ``should_stop``, ``stop_reason``, ``max_epochs`` and ``schedule_steps`` (the total
            optimizer steps the learning-rate schedule was built for; ``None`` without one).
        """
        return build_checkpoint(self)

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
