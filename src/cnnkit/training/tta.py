"""Test-time augmentation: average the softmax outputs over flipped copies of each batch.

``Trainer.predict(..., tta=True)`` and ``Trainer.evaluate(..., tta=True)`` wrap the model in
:class:`TTA`: it runs the model on the batch and on its horizontal flip (the flip directions of
:class:`cnnkit.augment.RandomFlip`, applied to every image with ``Tensor.flip``, so no random
number is drawn) and returns the log of the mean softmax, so the
argmax is the averaged prediction and cross-entropy on it is the loss of the averaged
probabilities.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from cnnkit.augment.geometric import RandomFlip

__all__ = ["TTA", "TTA_VIEWS", "check_tta", "wrap"]

#: The views ``tta=`` may name; ``tta=True`` is ``("identity", "horizontal")``.
TTA_VIEWS = ("identity", "horizontal", "vertical", "both")


def check_tta(tta: Any) -> tuple[str, ...]:
    """The views of a ``tta=`` argument (empty: no test-time augmentation).

    Args:
        tta: ``False``, ``True`` (the image and its left-right flip) or a sequence of
            :data:`TTA_VIEWS`, e.g. ``("identity", "horizontal", "vertical")``.

    Returns:
        The view names.

    Raises:
        ValueError: For an unknown view or an empty sequence.
    """
    if tta is False or tta is None:
        return ()
    if tta is True:
        return ("identity", "horizontal")
    if isinstance(tta, str) or not isinstance(tta, Sequence) or not tta:
        raise ValueError(
            f"tta={tta!r}: pass True (the image and its horizontal flip), False, or a list of "
            f"views from {TTA_VIEWS}"
        )
    for view in tta:
        if view not in TTA_VIEWS:
            raise ValueError(f"tta view {view!r} is unknown; the views are {TTA_VIEWS}")
    return tuple(tta)


def wrap(net: nn.Module, tta: Any) -> nn.Module:
    """``net`` wrapped in :class:`TTA` for the views of ``tta`` (see :func:`check_tta`), or
    ``net`` itself when ``tta`` is false."""
    views = check_tta(tta)
    return TTA(net, views) if views else net


class TTA(nn.Module):
    """Wrap a classifier so its output is the log of its mean softmax over flipped views.

    Args:
        net: The classifier, returning logits ``(N, num_classes)``.
        views: Names from :data:`TTA_VIEWS`.

    Shapes:
        ``(N, C, H, W) -> (N, num_classes)`` log-probabilities (``exp`` gives probabilities
        that sum to 1).

    Raises:
        ValueError: In ``forward``, for an input that is not a batch of images ``(N, C, H, W)``.

    Example:
        >>> net = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 2))
        >>> TTA(net, ("identity", "horizontal"))(torch.rand(2, 3, 4, 4)).exp().sum(1).round()
        tensor([1., 1.], grad_fn=<RoundBackward0>)
    """

    def __init__(self, net: nn.Module, views: Sequence[str]) -> None:
        super().__init__()
        self.net = net
        self.views = tuple(views)
        self._dims = {v: RandomFlip._DIMS[v] for v in self.views if v != "identity"}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4:
            raise ValueError(
                f"tta=True flips images, so it needs a batch of images (N, C, H, W); got an "
                f"input of shape {tuple(x.shape)}. Call predict/evaluate with tta=False for "
                "other inputs"
            )
        total: torch.Tensor | None = None
        for view in self.views:
            xv = x if view == "identity" else x.flip(self._dims[view])
            p = torch.softmax(self.net(xv).float(), dim=1)
            total = p if total is None else total + p
        assert total is not None
        return torch.log((total / len(self.views)).clamp_min(1e-12))
