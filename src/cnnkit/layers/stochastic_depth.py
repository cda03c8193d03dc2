"""Stochastic depth (Huang et al., 2016): drop a residual branch for whole samples.

A function and a module, in the style of timm: :func:`drop_path` for use inside ``forward`` and
:class:`DropPath` as a layer.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from cnnkit._validate import check_probability

__all__ = ["DropPath", "drop_path"]


def drop_path(
    x: Tensor, p: float = 0.0, training: bool = False, *, generator: torch.Generator | None = None
) -> Tensor:
    """Zero whole samples of ``x`` with probability ``p`` and rescale the rest by ``1 / (1 - p)``.

    Applied to a residual branch before it is added to the shortcut, each sample of the batch
    skips the branch with probability ``p`` (the block becomes the identity for that sample),
    and the expected output is unchanged. The identity when ``training`` is false or ``p == 0``.

    Args:
        x: a batch ``(N, ...)``; one keep/drop draw per sample (the first dimension).
        p: drop probability in ``[0, 1)``.
        training: apply the drop (pass ``self.training``); the identity otherwise.
        generator: a ``torch.Generator`` on ``x``'s device for reproducible masks; ``None`` uses
            the global RNG (seeded by ``torch.manual_seed``).

    Returns:
        A tensor of ``x``'s shape and dtype.

    Raises:
        ValueError: ``p`` outside ``[0, 1)`` or a 0-D ``x``.

    Example:
        >>> x = torch.ones(4, 8, 2, 2)
        >>> drop_path(x, 0.5, training=True).flatten(1).unique(dim=1).shape[1]  # per sample
        1
    """
    rate = check_probability(p, "drop_path", allow_one=False)
    if not training or rate == 0.0:
        return x
    if x.dim() == 0:
        raise ValueError("drop_path needs a batch (N, ...), got a 0-D tensor")
    keep = 1.0 - rate
    shape = (x.shape[0],) + (1,) * (x.dim() - 1)
    mask = torch.rand(shape, generator=generator, device=x.device) < keep
    return x * mask.to(x.dtype) / keep


class DropPath(nn.Module):
    """Stochastic depth as a layer: :func:`drop_path` with ``training=self.training``.

    Args:
        p: probability that a sample's branch is dropped, in ``[0, 1)``.

    Raises:
        ValueError: ``p`` outside ``[0, 1)``.

    Input shape:
        ``(N, ...)``, usually the residual branch ``(N, C, H, W)``.

    Output shape:
        Same as the input.

    Example:
        >>> layer = DropPath(0.1)
        >>> layer.eval()(torch.randn(2, 4, 8, 8)).shape
        torch.Size([2, 4, 8, 8])
    """

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        self.p = check_probability(p, "p", allow_one=False)

    def forward(self, x: Tensor) -> Tensor:
        return drop_path(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"
