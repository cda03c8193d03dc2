"""Optimizer and learning-rate scheduler factories, and the weight-decay parameter groups.

Weight decay follows nanoGPT's rule: only tensors with 2+ dimensions (conv kernels, linear
weights) are decayed, never biases or normalization scales.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

__all__ = [
    "OPTIMIZERS",
    "SCHEDULERS",
    "OptimizerFactory",
    "SchedulerFactory",
    "is_plateau",
    "make_optimizer",
    "make_scheduler",
    "param_groups",
]

#: ``factory(param_groups, lr=lr) -> Optimizer``; param groups already carry ``weight_decay``.
OptimizerFactory = Callable[..., torch.optim.Optimizer]
#: ``factory(optimizer, total_steps) -> scheduler``; stepped after every optimizer step
#: (a ``ReduceLROnPlateau`` is stepped once per epoch with the validation, else training, loss).
SchedulerFactory = Callable[[torch.optim.Optimizer, int], Any]

#: The optimizers ``Trainer(optimizer=...)`` names.
OPTIMIZERS = ("adam", "adamw", "sgd")
#: The schedules ``Trainer(scheduler=...)`` names.
SCHEDULERS = ("onecycle", "cosine")


def param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """The trainable parameters, split so that only 2+ dimensional tensors are decayed.

    Args:
        model: The model.
        weight_decay: The decay of weights (0: one group without decay).

    Returns:
        Parameter groups, each with its ``weight_decay``; empty groups are left out.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    if weight_decay > 0:
        groups: list[dict[str, Any]] = [
            {"params": [p for p in params if p.ndim >= 2], "weight_decay": weight_decay},
            {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
        ]
        return [g for g in groups if g["params"]]
    return [{"params": params, "weight_decay": 0.0}]


def make_optimizer(
    optimizer: str | OptimizerFactory, model: nn.Module, lr: float, weight_decay: float
) -> torch.optim.Optimizer:
    """Build the optimizer a ``Trainer`` option names.

    Args:
        optimizer: ``"adam"``, ``"adamw"``, ``"sgd"`` (momentum 0.9, Nesterov) or a factory
            called as ``factory(param_groups, lr=lr)``.
        model: The model whose trainable parameters are optimized.
        lr: The learning rate.
        weight_decay: See :func:`param_groups`.

    Returns:
        The optimizer.

    Raises:
        TypeError: If a factory returns something that is not a ``torch.optim.Optimizer``.
    """
    groups = param_groups(model, weight_decay)
    if optimizer == "adam":
        return torch.optim.Adam(groups, lr=lr)
    if optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=lr)
    if optimizer == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=0.9, nesterov=True)
    assert callable(optimizer)
    opt = optimizer(groups, lr=lr)
    if not isinstance(opt, torch.optim.Optimizer):
        raise TypeError(
            f"the optimizer factory returned {type(opt).__name__}, not a torch.optim.Optimizer"
        )
    return opt


def make_scheduler(
    scheduler: str | SchedulerFactory | None,
    opt: torch.optim.Optimizer,
    lr: float,
    max_epochs: int,
    steps_per_epoch: int | None,
) -> Any:
    """Build the learning-rate schedule a ``Trainer`` option names, for the whole run.

    Args:
        scheduler: ``None``, ``"onecycle"`` (peak ``lr``), ``"cosine"`` (``lr`` to 0) or
            ``factory(optimizer, total_steps)``.
        opt: The optimizer.
        lr: The peak learning rate of ``"onecycle"``.
        max_epochs: Planned epochs.
        steps_per_epoch: Optimizer steps per epoch (``None``: unknown).

    Returns:
        The scheduler, or ``None``.

    Raises:
        ValueError: For a schedule when the number of steps is unknown.
    """
    if scheduler is None:
        return None
    if steps_per_epoch is None:
        raise ValueError(
            f"scheduler={scheduler!r} needs the number of steps, but the training "
            "DataLoader has no len(); pass a map-style Dataset or no scheduler"
        )
    total = steps_per_epoch * max_epochs
    if scheduler == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=total)
    if scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
    assert callable(scheduler)
    return scheduler(opt, total)


def is_plateau(scheduler: Any) -> bool:
    """True for a ``ReduceLROnPlateau``, which is stepped per epoch with a loss, not per step."""
    return isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
