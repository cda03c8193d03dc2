"""An exponential moving average of the weights (``Trainer(ema=0.999)``), on torch's own tools.

The average is a :class:`torch.optim.swa_utils.AveragedModel` with
:func:`~torch.optim.swa_utils.get_ema_multi_avg_fn` (one fused ``_foreach_lerp_`` per device
and dtype after every optimizer step) and ``use_buffers=True``, so batch-norm statistics are
averaged as well (as timm's ``ModelEmaV2`` does): the averaged model is complete and can be
validated as it is. Validation during ``fit`` runs on the averaged weights; the training
metrics come from the weights being trained.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

__all__ = ["check_ema", "copy_to", "ema_state", "evaluating", "load_ema_state", "make_ema"]


def check_ema(decay: Any) -> float | None:
    """Check ``Trainer(ema=...)``: ``None`` (off) or a decay in ``(0, 1)``.

    Args:
        decay: The option's value.

    Returns:
        The decay as a float, or ``None``.

    Raises:
        ValueError: For a value that is not a number in ``(0, 1)``.
    """
    if decay is None:
        return None
    if (
        isinstance(decay, bool)
        or not isinstance(decay, (int, float))
        or not math.isfinite(decay)
        or not 0 < decay < 1
    ):
        raise ValueError(
            f"Trainer(ema={decay!r}): the decay of the weights' moving average must be a number "
            "in (0, 1), e.g. ema=0.999 (about the last 1000 steps; use 0.99 for short runs of a "
            "few hundred steps), or None for no averaging"
        )
    return float(decay)


def make_ema(model: nn.Module, decay: float) -> AveragedModel:
    """A moving average of ``model``'s parameters and buffers, on the model's device.

    Args:
        model: The model being trained (already on its device).
        decay: Weight of the old average at each update, in ``(0, 1)``.

    Returns:
        The averaged model; call ``update_parameters(model)`` after every optimizer step (the
        first call copies the weights).
    """
    avg_fn = get_ema_multi_avg_fn(decay)  # type: ignore[no-untyped-call]
    return AveragedModel(model, multi_avg_fn=avg_fn, use_buffers=True)


@contextlib.contextmanager
def evaluating(run: Any) -> Iterator[None]:
    """Within the block, ``run.net`` is the averaged model (when ``run.ema`` is set).

    Args:
        run: A ``cnnkit.training.loop.Run``.
    """
    ema = getattr(run, "ema", None)
    if ema is None:
        yield
        return
    net = run.net
    run.net = ema.module
    try:
        yield
    finally:
        run.net = net


def ema_state(ema: AveragedModel, decay: float) -> dict[str, Any]:
    """The average's state for a checkpoint: ``decay``, ``n_averaged`` and ``weights``.

    ``weights`` is a plain ``state_dict`` of the model (no ``module.`` prefix), so
    ``model.load_state_dict(ckpt["ema"]["weights"])`` loads the averaged weights.
    """
    return {
        "decay": decay,
        "n_averaged": int(ema.n_averaged.item()),
        "weights": ema.module.state_dict(),
    }


def load_ema_state(ema: AveragedModel, state: dict[str, Any]) -> None:
    """Restore what :func:`ema_state` returned (the decay comes from the trainer)."""
    ema.module.load_state_dict(state["weights"])
    ema.n_averaged.fill_(int(state["n_averaged"]))


def copy_to(ema: AveragedModel, model: nn.Module) -> None:
    """Load the averaged weights into ``model`` (in place)."""
    with torch.no_grad():
        model.load_state_dict(ema.module.state_dict())
