"""The learning-rate range test behind :meth:`Trainer.lr_find` and its result type.

Train a few steps with an exponentially growing learning rate (as fastai and Lightning do),
stop when the smoothed loss diverges, and suggest the rate where it falls fastest.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .loop import Run, prepare
from .precision import autocast
from .sources import Source

__all__ = ["LRFindResult", "range_test"]


@dataclass
class LRFindResult:
    """The learning-rate range test's curve and its suggestion.

    Attributes:
        lrs: Learning rate of each step (exponentially increasing).
        losses: Training loss of each step (raw).
        smoothed: Exponentially smoothed, bias-corrected losses (what the suggestion uses).
        suggestion: Learning rate where the smoothed loss falls fastest (steepest negative slope
            against ``log(lr)``), or ``None`` when the curve is too short to tell.
    """

    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    suggestion: float | None

    def to_dict(self) -> dict[str, Any]:
        """Return the result as a plain JSON-serializable dict."""
        return dataclasses.asdict(self)


def range_test(
    run: Run,
    src: Source,
    gen: torch.Generator,
    *,
    start_lr: float,
    end_lr: float,
    num_iter: int,
    smooth: float,
    diverge: float,
) -> LRFindResult:
    """Train ``num_iter`` steps with lr growing from ``start_lr`` to ``end_lr`` and record the loss.

    The caller restores the model's weights and the RNG state afterwards.

    Args:
        run: A run with model, optimizer and (fp16 on CUDA) scaler.
        src: The training data (cycled if shorter than ``num_iter`` batches).
        gen: The data-order generator.
        start_lr: First learning rate.
        end_lr: Last learning rate.
        num_iter: Number of steps (>= 2).
        smooth: Weight of the newest loss in the exponential smoothing.
        diverge: Stop when the smoothed loss exceeds ``diverge`` times its minimum.

    Returns:
        The curve and its suggestion.

    Raises:
        ValueError: If the training data produces no batches.
    """
    opt, scaler = run.optimizer, run.scaler
    assert opt is not None
    gamma = (end_lr / start_lr) ** (1.0 / (num_iter - 1))
    lrs: list[float] = []
    losses: list[float] = []
    smoothed: list[float] = []
    avg, best = 0.0, math.inf
    run.model.train()
    batches = _cycle(lambda: src.train_batches(run.opts.batch_size, gen, 0, 1, 0))
    for it in range(num_iter):
        lr = start_lr * gamma**it
        for group in opt.param_groups:
            group["lr"] = lr
        xb, yb, _ = next(batches)
        xb, yb = prepare(run, xb, yb, train=True)
        with autocast(run.opts.precision, run.device):
            loss = run.loss_fn(run.net(xb), yb)
        (scaler.scale(loss) if scaler else loss).backward()
        if scaler:
            scaler.step(opt)
            scaler.update()
        else:
            opt.step()
        opt.zero_grad(set_to_none=True)
        value = float(loss.item())
        avg = (1 - smooth) * avg + smooth * value
        debiased = avg / (1 - (1 - smooth) ** (it + 1))
        lrs.append(lr)
        losses.append(value)
        smoothed.append(debiased)
        if not math.isfinite(debiased) or debiased > diverge * best:
            break
        best = min(best, debiased)
    return LRFindResult(lrs, losses, smoothed, steepest(lrs, smoothed))


def _cycle(make: Callable[[], Iterator[Any]]) -> Iterator[Any]:
    while True:
        empty = True
        for item in make():
            empty = False
            yield item
        if empty:
            raise ValueError("the training data produced no batches")


def steepest(lrs: list[float], losses: list[float]) -> float | None:
    """The lr at the most negative slope of loss against log(lr), ignoring the first/last points.

    Args:
        lrs: Learning rates, increasing.
        losses: The (smoothed) loss at each.

    Returns:
        The learning rate, or ``None`` with fewer than 5 finite points.
    """
    finite = [(lr, loss) for lr, loss in zip(lrs, losses, strict=False) if math.isfinite(loss)]
    if len(finite) < 5:
        return None
    x = np.log(np.array([p[0] for p in finite]))
    y = np.array([p[1] for p in finite])
    slope = np.gradient(y, x)
    inner = slope[1:-1]
    return float(finite[int(np.argmin(inner)) + 1][0])
