"""Exact geometric transforms: flips and crops, done by re-indexing pixels (no resampling).

Both transforms gather every output pixel from its source pixel in one indexing operation for
the whole batch, so values are copied exactly, whatever the dtype.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Literal

import torch
from torch import Tensor

from cnnkit._validate import check_choice, check_finite, size_pair

from .base import Augmentation


class RandomFlip(Augmentation):
    """Flip each image horizontally and/or vertically with probability ``p``.

    Args:
        direction: ``"horizontal"`` (left-right), ``"vertical"`` (up-down) or ``"both"`` (each
            axis flipped independently with probability ``p``).
        p: probability of flipping each image (per axis).
        generator: optional random generator for reproducibility.

    Shapes:
        ``(N, C, H, W) -> (N, C, H, W)``, any dtype accepted by the module (no arithmetic, so
        values are exact).

    Raises:
        ValueError: unknown ``direction`` or ``p`` outside ``[0, 1]``.

    Example:
        >>> flip = RandomFlip("horizontal", p=1.0)
        >>> x = torch.arange(4.0).view(1, 1, 1, 4)
        >>> flip(x).flatten().tolist()
        [3.0, 2.0, 1.0, 0.0]
    """

    _DIMS: ClassVar[dict[str, tuple[int, ...]]] = {
        "horizontal": (-1,),
        "vertical": (-2,),
        "both": (-1, -2),
    }

    def __init__(
        self,
        direction: Literal["horizontal", "vertical", "both"] = "horizontal",
        p: float = 0.5,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(p, generator)
        self.direction = check_choice(direction, "direction", tuple(self._DIMS))

    def transform(self, x: Tensor) -> Tensor:
        n, c, height, width = x.shape
        dims = self._DIMS[self.direction]
        flip = self._rand(len(dims), n, device=x.device) < self.p
        if not bool(flip.any()):
            return x
        # Per axis, one gather with a per-image source index (reversed or not): a single pass
        # over the batch, faster on CPU than flipping a gathered subset and scattering it back.
        out = x
        for row, dim in zip(flip, dims, strict=True):  # at most 2 axes, never the images
            if not bool(row.any()):
                continue
            size = width if dim == -1 else height
            ramp = torch.arange(size, device=x.device).expand(n, size)
            index = torch.where(row[:, None], size - 1 - ramp, ramp)
            shape = (n, 1, 1, size) if dim == -1 else (n, 1, size, 1)
            out = out.gather(dim, index.view(shape).expand(n, c, height, width))
        return out

    def extra_repr(self) -> str:
        return f"direction={self.direction!r}, {self._common_repr()}"


_PaddingMode = Literal["constant", "edge", "reflect", "symmetric"]


def _source_index(pos: Tensor, length: int, mode: str) -> tuple[Tensor, Tensor | None]:
    """Map positions (possibly outside ``[0, length)``) to source indices under a padding mode.

    Returns the indices (clamped into range) and, for ``"constant"`` mode, the mask of positions
    that fall outside the image (to be filled), else ``None``.
    """
    if mode == "constant":
        outside = (pos < 0) | (pos >= length)
        return pos.clamp(0, length - 1), outside
    if mode == "edge" or length == 1:
        return pos.clamp(0, length - 1), None
    if mode == "reflect":  # d c b | a b c d | c b a  (edge not repeated)
        period = 2 * length - 2
        r = pos.remainder(period)
        return torch.where(r >= length, period - r, r), None
    # symmetric: c b a | a b c d | d c b  (edge repeated)
    period = 2 * length
    r = pos.remainder(period)
    return torch.where(r >= length, period - 1 - r, r), None


class RandomCrop(Augmentation):
    """Crop a random ``size`` window from each (optionally padded) image.

    All crops are gathered in one indexing operation; the padding is never materialized (the
    padded positions are mapped back into the image or filled).

    Args:
        size: output ``(height, width)``, or an int for a square crop.
        padding: pixels added on each border before cropping: an int (all sides), a
            ``(left/right, top/bottom)`` pair or ``(left, top, right, bottom)``, like torchvision.
        padding_mode: ``"constant"`` (fill with ``fill``), ``"edge"``, ``"reflect"`` (mirror
            without repeating the edge) or ``"symmetric"`` (mirror repeating it).
        fill: value of constant padding.
        p: probability that an image gets a random crop; the others get the centre crop (the
            output must have one size).
        generator: optional random generator for reproducibility.

    Shapes:
        ``(N, C, H, W) -> (N, C, size[0], size[1])``, same dtype.

    Raises:
        ValueError: invalid ``size``/``padding``/``padding_mode``; at call time, a crop larger
            than the padded image.

    Example:
        >>> crop = RandomCrop(32, padding=4, padding_mode="reflect")
        >>> crop(torch.rand(8, 3, 32, 32)).shape
        torch.Size([8, 3, 32, 32])
    """

    def __init__(
        self,
        size: int | Sequence[int],
        padding: int | Sequence[int] | None = None,
        padding_mode: _PaddingMode = "constant",
        fill: float = 0.0,
        p: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(p, generator)
        self.size = size_pair(size)
        self.padding = self._check_padding(padding)
        self.padding_mode = check_choice(
            padding_mode, "padding_mode", ("constant", "edge", "reflect", "symmetric")
        )
        self.fill = check_finite(fill, "fill")

    @staticmethod
    def _check_padding(padding: object) -> tuple[int, int, int, int]:
        """``padding`` as ``(left, top, right, bottom)``; raises ``ValueError`` if malformed."""
        if padding is None:
            return (0, 0, 0, 0)
        values: Sequence[object]
        if isinstance(padding, int) and not isinstance(padding, bool):
            values = [padding] * 4
        elif isinstance(padding, Sequence) and not isinstance(padding, str) and len(padding) == 2:
            values = [padding[0], padding[1], padding[0], padding[1]]
        elif isinstance(padding, Sequence) and not isinstance(padding, str) and len(padding) == 4:
            values = list(padding)
        else:
            raise ValueError(
                "padding must be an int, a (left/right, top/bottom) pair or (left, top, right, "
                f"bottom), got {padding!r}"
            )
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values):
            raise ValueError(f"padding must contain non-negative integers, got {padding!r}")
        return (int(values[0]), int(values[1]), int(values[2]), int(values[3]))  # type: ignore[call-overload]

    def transform(self, x: Tensor) -> Tensor:
        n, c, height, width = x.shape
        left, top, right, bottom = self.padding
        out_h, out_w = self.size
        padded_h, padded_w = height + top + bottom, width + left + right
        if out_h > padded_h or out_w > padded_w:
            raise ValueError(
                f"RandomCrop size {self.size} is larger than the padded image "
                f"({padded_h}, {padded_w}); increase padding or reduce size"
            )
        u = self._rand(3, n, device=x.device)
        apply = u[2] < self.p
        span_y, span_x = padded_h - out_h, padded_w - out_w
        top_offset = torch.where(
            apply,
            (u[0] * (span_y + 1)).long().clamp_max(span_y),
            torch.full_like(apply, span_y // 2, dtype=torch.long),
        )
        left_offset = torch.where(
            apply,
            (u[1] * (span_x + 1)).long().clamp_max(span_x),
            torch.full_like(apply, span_x // 2, dtype=torch.long),
        )
        # Positions in image coordinates (the padded image starts at -top / -left).
        rows = top_offset[:, None] + torch.arange(out_h, device=x.device) - top  # (N, out_h)
        cols = left_offset[:, None] + torch.arange(out_w, device=x.device) - left  # (N, out_w)
        src_rows, rows_out = _source_index(rows, height, self.padding_mode)
        src_cols, cols_out = _source_index(cols, width, self.padding_mode)
        flat = (src_rows[:, :, None] * width + src_cols[:, None, :]).view(n, 1, out_h * out_w)
        out = x.reshape(n, c, height * width).gather(2, flat.expand(n, c, out_h * out_w))
        out = out.view(n, c, out_h, out_w)
        if rows_out is not None and cols_out is not None:
            outside = rows_out[:, None, :, None] | cols_out[:, None, None, :]
            if bool(outside.any()):
                fill = self.fill if x.is_floating_point() else min(max(round(self.fill), 0), 255)
                out = out.masked_fill(outside, fill)
        return out

    def extra_repr(self) -> str:
        return (
            f"size={self.size}, padding={self.padding}, padding_mode={self.padding_mode!r}, "
            f"fill={self.fill}, {self._common_repr()}"
        )
