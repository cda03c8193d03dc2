"""DropBlock (Ghiasi et al., 2018): dropout of contiguous squares of a feature map."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cnnkit._validate import check_positive_int, check_probability

__all__ = ["DropBlock2d"]


class DropBlock2d(nn.Module):
    """DropBlock (Ghiasi et al., 2018): drop contiguous ``block_size`` squares of feature maps.

    Plain dropout on convolutional features is weak because neighbouring activations are
    correlated: the network reads a dropped unit off its neighbours. DropBlock removes whole
    squares instead. Each channel of each sample gets its own mask; kept activations are rescaled
    so the batch mean is preserved. Identity in eval mode or when ``p == 0``.

    Block centres are drawn on a grid that extends ``block_size - 1`` beyond the map, so that every
    position is covered by exactly ``block_size**2`` candidate blocks and is dropped with
    probability exactly ``p`` (the paper's ``gamma`` formula is an approximation that ignores block
    overlap and under-drops near the borders); blocks that stick out of the map are clipped.

    Args:
        p: probability that a given activation is dropped, in ``[0, 1)``.
        block_size: side of the dropped squares (positive int); clipped to the map size.

    Raises:
        ValueError: ``p`` outside ``[0, 1)`` or a ``block_size`` that is not a positive int.

    Input shape:
        ``(N, C, H, W)``.

    Output shape:
        Same as the input.

    Example:
        >>> drop = DropBlock2d(0.1, block_size=5)
        >>> drop(torch.randn(8, 16, 32, 32)).shape
        torch.Size([8, 16, 32, 32])
    """

    def __init__(self, p: float = 0.1, block_size: int = 7) -> None:
        super().__init__()
        self.p = check_probability(p, "p", allow_one=False)
        self.block_size = check_positive_int(block_size, "block_size")

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        if x.dim() != 4:
            raise ValueError(f"DropBlock2d expects (N, C, H, W) input, got shape {tuple(x.shape)}")
        n, c, h, w = x.shape
        bs = min(self.block_size, h, w)
        # Per-centre rate such that 1 - (1 - gamma) ** (bs * bs) == p for every position.
        gamma = 1.0 - (1.0 - self.p) ** (1.0 / (bs * bs))
        centres = torch.rand(n, c, h + bs - 1, w + bs - 1, device=x.device) < gamma
        dropped = F.max_pool2d(centres.to(x.dtype), kernel_size=bs, stride=1)
        keep = 1.0 - dropped
        scale = keep.numel() / keep.sum().clamp_min(1.0)
        return x * keep * scale

    def extra_repr(self) -> str:
        return f"p={self.p}, block_size={self.block_size}"
