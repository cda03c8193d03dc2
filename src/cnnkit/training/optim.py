"""Optimizer and learning-rate scheduler factories, and the weight-decay parameter groups.

Weight decay follows nanoGPT's rule: only tensors with 2+ dimensions (conv kernels, linear
weights) are decayed, never biases or normalization scales.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from cnnkit.backbones.head import head_name
from cnnkit.history import History

from .callbacks.monitor import resolve_mode

__all__ = [
    "OPTIMIZERS",
    "SCHEDULERS",
    "SCHEDULER_OPTIONS",
    "OptimizerFactory",
    "SchedulerFactory",
    "check_scheduler_options",
    "is_plateau",
    "make_optimizer",
    "make_scheduler",
    "param_groups",
    "plateau_monitor",
    "plateau_value",
]

#: ``factory(param_groups, lr=lr) -> Optimizer``; param groups already carry ``weight_decay``.
OptimizerFactory = Callable[..., torch.optim.Optimizer]
#: ``factory(optimizer, total_steps) -> scheduler``; stepped after every optimizer step
#: (a ``ReduceLROnPlateau`` is stepped once per epoch with the validation, else training, loss).
SchedulerFactory = Callable[[torch.optim.Optimizer, int], Any]

#: The optimizers ``Trainer(optimizer=...)`` names.
OPTIMIZERS = ("adam", "adamw", "sgd")
#: The schedules ``Trainer(scheduler=...)`` names.
SCHEDULERS = ("onecycle", "cosine", "plateau")

#: The ``Trainer(scheduler_options=...)`` each named schedule accepts (torch's own argument
#: names, plus ``monitor`` for ``"plateau"``).
SCHEDULER_OPTIONS: dict[str, tuple[str, ...]] = {
    "onecycle": ("pct_start", "div_factor", "final_div_factor", "anneal_strategy"),
    "cosine": ("eta_min",),
    "plateau": ("monitor", "mode", "factor", "patience", "threshold", "cooldown", "min_lr"),
}

#: The series a ``"plateau"`` schedule may monitor besides ``train_<m>``/``val_<m>`` metrics.
_PLATEAU_MONITORS = ("val_loss", "val_acc", "train_loss", "train_acc")


def param_groups(
    model: nn.Module, weight_decay: float, *, backbone_lr: float | None = None
) -> list[dict[str, Any]]:
    """The trainable parameters, split so that only 2+ dimensional tensors are decayed.

    Args:
        model: The model.
        weight_decay: The decay of weights (0: one group without decay).
        backbone_lr: When given, the parameters outside the head (``head_name(model)`` of
            :mod:`cnnkit.backbones`: a ``ConvNet``'s ``head``, else the final classifier) form
            groups of their own with this ``"lr"``; the head's groups keep the optimizer's rate.

    Returns:
        Parameter groups, each with its ``weight_decay`` (and ``lr`` for the body); empty
        groups are left out.
    """
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    parts: list[tuple[list[nn.Parameter], dict[str, Any]]] = [([p for _, p in named], {})]
    if backbone_lr is not None:
        head = head_name(model)
        in_head = [n == head or n.startswith(head + ".") for n, _ in named]
        parts = [
            ([p for (_, p), h in zip(named, in_head, strict=True) if not h], {"lr": backbone_lr}),
            ([p for (_, p), h in zip(named, in_head, strict=True) if h], {}),
        ]
    groups: list[dict[str, Any]] = []
    for params, extra in parts:
        if weight_decay > 0:
            groups += [
                {"params": [p for p in params if p.ndim >= 2], "weight_decay": weight_decay, **extra},
                {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0, **extra},
            ]
        else:
            groups.append({"params": params, "weight_decay": 0.0, **extra})
    return [g for g in groups if g["params"]] or [{"params": [], "weight_decay": 0.0}]


def make_optimizer(
    optimizer: str | OptimizerFactory,
    model: nn.Module,
    lr: float,
    weight_decay: float,
    *,
    backbone_lr: float | None = None,
) -> torch.optim.Optimizer:
    """Build the optimizer a ``Trainer`` option names.

    Args:
        optimizer: ``"adam"``, ``"adamw"``, ``"sgd"`` (momentum 0.9, Nesterov) or a factory
            called as ``factory(param_groups, lr=lr)``.
        model: The model whose trainable parameters are optimized.
        lr: The learning rate.
        weight_decay: See :func:`param_groups`.
        backbone_lr: See :func:`param_groups`.

    Returns:
        The optimizer.

    Raises:
        TypeError: If a factory returns something that is not a ``torch.optim.Optimizer``.
    """
    groups = param_groups(model, weight_decay, backbone_lr=backbone_lr)
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


def check_scheduler_options(
    scheduler: Any, options: Any, metrics: Any = None
) -> dict[str, Any] | None:
    """Check ``Trainer(scheduler_options=...)`` against the schedule it configures.

    Args:
        scheduler: ``Trainer(scheduler=...)``.
        options: ``None`` or a mapping of the options :data:`SCHEDULER_OPTIONS` lists for it.
        metrics: ``Trainer(metrics=...)`` (their ``train_``/``val_`` names may be monitored).

    Returns:
        The options as a plain dict, or ``None``.

    Raises:
        ValueError: For options without a named schedule, an unknown option, an unknown
            ``monitor``, a ``factor`` outside ``(0, 1)``, a negative ``patience`` or a bad
            ``mode``.
        TypeError: For options that are not a mapping.
    """
    if options is None:
        return None
    if not isinstance(options, Mapping):
        raise TypeError(
            f"Trainer(scheduler_options={options!r}): pass a dict, e.g. "
            "scheduler_options={'factor': 0.5, 'patience': 3}"
        )
    if not isinstance(scheduler, str) or scheduler not in SCHEDULER_OPTIONS:
        raise ValueError(
            f"Trainer(scheduler_options={dict(options)!r}) configures a named schedule, but "
            f"scheduler={scheduler!r}; pass scheduler= one of {SCHEDULERS}, or put the "
            "arguments in your factory"
        )
    allowed = SCHEDULER_OPTIONS[scheduler]
    for key in options:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(
                f"Trainer(scheduler={scheduler!r}) has no option {key!r}{hint}; its options "
                f"are {', '.join(allowed)}"
            )
    out = dict(options)
    if scheduler == "plateau":
        monitor = out.get("monitor", "val_loss")
        names = [
            *_PLATEAU_MONITORS,
            *(f"{p}_{n}" for n in (metrics or {}) for p in ("val", "train")),
        ]
        if monitor not in names:
            raise ValueError(
                f"Trainer(scheduler='plateau') cannot monitor {monitor!r}; monitor one of "
                f"{', '.join(names)} (add Trainer(metrics={{'f1': fn}}) to monitor 'val_f1')"
            )
        factor = out.get("factor", 0.1)
        if not (isinstance(factor, (int, float)) and 0 < factor < 1):
            raise ValueError(
                f"Trainer(scheduler='plateau'): factor={factor!r} must be in (0, 1) (the lr is "
                "multiplied by it on a plateau), e.g. factor=0.5"
            )
        patience = out.get("patience", 10)
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(
                f"Trainer(scheduler='plateau'): patience={patience!r} must be an integer >= 0 "
                "(epochs without improvement before the lr is reduced)"
            )
        if out.get("mode", "auto") not in ("auto", "min", "max"):
            raise ValueError(
                f"Trainer(scheduler='plateau'): mode={out['mode']!r} must be 'auto', 'min' or 'max'"
            )
    return out


def plateau_monitor(scheduler: Any, options: Any, has_val: bool) -> str:
    """The series a plateau schedule follows: ``monitor`` (default ``val_loss``, or
    ``train_loss`` without validation data when not set).

    Args:
        scheduler: ``Trainer(scheduler=...)``.
        options: The checked ``scheduler_options`` (or ``None``).
        has_val: Whether the fit has validation data.

    Returns:
        The monitored series name.

    Raises:
        ValueError: For a ``val_*`` monitor without validation data.
    """
    opts = options or {}
    if scheduler != "plateau" or "monitor" not in opts:
        return "val_loss" if has_val else "train_loss"
    monitor = str(opts["monitor"])
    if monitor.startswith("val_") and not has_val:
        raise ValueError(
            f"Trainer(scheduler='plateau') monitors {monitor!r} but fit() got no validation "
            f"data; pass val=(X, y) or scheduler_options={{'monitor': "
            f"'{monitor.replace('val_', 'train_', 1)}'}}"
        )
    return monitor


def plateau_value(history: History, monitor: str) -> float:
    """The last value of ``monitor`` in ``history`` (a base series or a ``metrics`` entry)."""
    series = getattr(history, monitor, None)
    if not isinstance(series, list):
        series = getattr(history, "metrics", {}).get(monitor, [])
    return float(series[-1]) if series else math.nan


def make_scheduler(
    scheduler: str | SchedulerFactory | None,
    opt: torch.optim.Optimizer,
    lr: float,
    max_epochs: int,
    steps_per_epoch: int | None,
    options: Mapping[str, Any] | None = None,
) -> Any:
    """Build the learning-rate schedule a ``Trainer`` option names, for the whole run.

    Args:
        scheduler: ``None``, ``"onecycle"`` (peak ``lr``), ``"cosine"`` (``lr`` to 0),
            ``"plateau"`` (``ReduceLROnPlateau``, stepped once per epoch with the monitored
            metric) or ``factory(optimizer, total_steps)``.
        opt: The optimizer.
        lr: The peak learning rate of ``"onecycle"``.
        max_epochs: Planned epochs.
        steps_per_epoch: Optimizer steps per epoch (``None``: unknown).
        options: ``Trainer(scheduler_options=...)``, checked by
            :func:`check_scheduler_options`.

    Returns:
        The scheduler, or ``None``.

    Raises:
        ValueError: For a per-step schedule when the number of steps is unknown.
    """
    if scheduler is None:
        return None
    opts = dict(options or {})
    if scheduler == "plateau":
        monitor = str(opts.pop("monitor", "val_loss"))
        mode = resolve_mode(monitor, str(opts.pop("mode", "auto")))
        opts.setdefault("factor", 0.1)
        opts.setdefault("patience", 10)
        return torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode=mode, **opts)
    if steps_per_epoch is None:
        raise ValueError(
            f"scheduler={scheduler!r} needs the number of steps, but the training "
            "DataLoader has no len(); pass a map-style Dataset or no scheduler"
        )
    total = steps_per_epoch * max_epochs
    if scheduler == "onecycle":
        # Each group peaks at its own rate, so a fine-tuned body stays proportionally slower.
        max_lr = [float(g.get("initial_lr", g["lr"])) for g in opt.param_groups]
        return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=max_lr, total_steps=total, **opts)
    if scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total, **opts)
    assert callable(scheduler)
    return scheduler(opt, total)


def is_plateau(scheduler: Any) -> bool:
    """True for a ``ReduceLROnPlateau``, which is stepped per epoch with a loss, not per step."""
    return isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
