"""Photometric transforms: colour jitter, and erasing a random rectangle (cutout).

Both change pixel values in place of moving them: :class:`ColorJitter` fuses brightness,
contrast and saturation into one pass; :class:`RandomErasing` writes every image's rectangle
with one masked fill.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor

from cnnkit._validate import check_finite, is_number

from .base import Augmentation, _compute_dtype, _from_compute, _to_compute
from .checks import PairOrNumber, _check_box_ranges, _pair, _symmetric_range
from .sampling import _BOX_TRIES, _rand, _randn, _sample_boxes


def _factor_range(value: PairOrNumber, name: str) -> tuple[float, float]:
    """torchvision's colour factor convention: ``v -> (max(0, 1 - v), 1 + v)`` or a pair."""
    low, high = _symmetric_range(value, name, center=1.0)
    if is_number(value):
        low = max(0.0, low)
    if low < 0:
        raise ValueError(f"{name} factors must be non-negative, got {value!r}")
    return (low, high)


class ColorJitter(Augmentation):
    """Random brightness, contrast and saturation, per image, fused into one pass.

    For each selected image, factors ``b``, ``c``, ``s`` are drawn uniformly from their ranges
    and applied in the fixed order brightness -> contrast -> saturation (torchvision shuffles
    the order per call): ``x <- b*x``; ``x <- c*x + (1-c)*mean(gray(x))``;
    ``x <- s*x + (1-s)*gray(x)`` with ITU-R 601 luma weights. Because every step is linear, the
    three are fused into ``alpha*s*x + alpha*(1-s)*gray(x0) + beta`` (one pass over the batch).
    Hue is not supported.

    Values are clamped once at the end: uint8 to ``[0, 255]``, float to ``value_range`` when
    given. By default float results are **not** clamped (unlike torchvision, which clamps to
    ``[0, 1]``), so the transform also works on normalized images; pass ``value_range=(0, 1)``
    for torchvision's behaviour on ``[0, 1]`` images.

    Args:
        brightness: a number ``v`` (factor in ``[max(0, 1-v), 1+v]``) or a ``(min, max)`` pair.
        contrast: same convention.
        saturation: same convention; needs 1 (no-op) or 3 channels when non-zero.
        value_range: ``(low, high)`` to clamp float outputs into, or ``None``.
        p: probability that an image is jittered; the others are returned exactly.
        generator: optional random generator for reproducibility.

    Shapes:
        ``(N, C, H, W) -> (N, C, H, W)``, same dtype. Contrast uses luma for 3 channels and the
        channel mean otherwise.

    Raises:
        ValueError: malformed or negative factors; at call time, non-trivial saturation on
            images with neither 1 nor 3 channels.

    Example:
        >>> jitter = ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2)
        >>> jitter(torch.rand(4, 3, 8, 8)).shape
        torch.Size([4, 3, 8, 8])
    """

    def __init__(
        self,
        brightness: PairOrNumber = 0.0,
        contrast: PairOrNumber = 0.0,
        saturation: PairOrNumber = 0.0,
        value_range: Sequence[float] | None = None,
        p: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(p, generator)
        self.brightness = _factor_range(brightness, "brightness")
        self.contrast = _factor_range(contrast, "contrast")
        self.saturation = _factor_range(saturation, "saturation")
        self.value_range = None if value_range is None else _pair(value_range, "value_range")

    def transform(self, x: Tensor) -> Tensor:
        n, channels = x.shape[:2]
        device = x.device
        dtype = _compute_dtype(x)
        u = self._rand(4, n, device=device)
        apply = u[3] < self.p
        one = torch.ones(n, device=device)

        def factor(r: Tensor, bounds: tuple[float, float]) -> Tensor:
            return torch.where(apply, bounds[0] + (bounds[1] - bounds[0]) * r, one)

        b = factor(u[0], self.brightness)
        c = factor(u[1], self.contrast)
        s = factor(u[2], self.saturation)
        use_contrast = self.contrast != (1.0, 1.0)
        use_saturation = self.saturation != (1.0, 1.0) and channels != 1
        if use_saturation and channels != 3:
            raise ValueError(
                f"ColorJitter saturation needs RGB (3-channel) or 1-channel images, got "
                f"{channels} channels; set saturation=0"
            )
        xf = _to_compute(x)
        alpha = (b * c).to(dtype).view(n, 1, 1, 1)
        if not (use_contrast or use_saturation):
            out = xf * alpha
        else:
            if channels == 3:
                # gray = 0.299 R + 0.587 G + 0.114 B, built on (N, 1, H, W) slices only.
                gray = xf[:, 0:1] * 0.299
                gray.add_(xf[:, 1:2], alpha=0.587).add_(xf[:, 2:3], alpha=0.114)
            elif channels == 1:
                gray = xf
            else:
                gray = xf.mean(dim=1, keepdim=True)
            s4 = s.to(dtype).view(n, 1, 1, 1)
            # Contrast blends with the mean gray of the brightness-adjusted image = b * mean.
            beta = ((1 - c) * b).to(dtype).view(n, 1, 1, 1) * gray.mean(dim=(2, 3), keepdim=True)
            if use_saturation:
                offset = torch.addcmul(beta, gray, alpha * (1 - s4))  # (N, 1, H, W)
                out = torch.addcmul(offset, xf, alpha * s4)
            else:
                out = torch.addcmul(beta, xf, alpha)
        if x.dtype != torch.uint8 and self.value_range is not None:
            out = out.clamp_(*self.value_range)
        return _from_compute(out, x)

    def extra_repr(self) -> str:
        return (
            f"brightness={self.brightness}, contrast={self.contrast}, "
            f"saturation={self.saturation}, value_range={self.value_range}, {self._common_repr()}"
        )


class RandomErasing(Augmentation):
    """Erase (cut out) one random rectangle per selected image.

    As torchvision's ``RandomErasing``: the rectangle's area is a fraction in ``scale`` of the
    image and its aspect ratio is log-uniform in ``ratio``; 10 candidates per image are drawn at
    once and the first that fits is used (if none fits, the image is left as it is). All
    rectangles are written with one masked fill.

    Args:
        p: probability that an image gets a rectangle erased.
        scale: ``(min, max)`` fraction of the image area, ``0 < min <= max <= 1``.
        ratio: ``(min, max)`` aspect ratio of the rectangle, ``0 < min <= max``.
        value: fill value (a number), or ``"random"`` for per-pixel noise (standard normal for
            float images, uniform 0..255 for uint8).
        generator: optional random generator for reproducibility.

    Shapes:
        ``(N, C, H, W) -> (N, C, H, W)``, same dtype.

    Raises:
        ValueError: malformed ``scale``, ``ratio`` or ``value``.

    Example:
        >>> erase = RandomErasing(p=1.0, scale=(0.1, 0.2))
        >>> out = erase(torch.ones(2, 3, 16, 16))
        >>> bool((out == 0).any())
        True
    """

    def __init__(
        self,
        p: float = 0.5,
        scale: Sequence[float] = (0.02, 0.33),
        ratio: Sequence[float] = (0.3, 3.3),
        value: float | Literal["random"] = 0.0,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(p, generator)
        self.scale, self.ratio = _check_box_ranges(scale, ratio)
        if value != "random":
            value = check_finite(value, "value (a number or 'random')")
        self.value: float | str = value

    def masks(self, n: int, height: int, width: int, device: torch.device) -> Tensor:
        """Draw the rectangles: a boolean mask ``(n, 1, height, width)``, True where erased."""
        u = self._rand(2 * _BOX_TRIES + 3, n, device=device)
        h, w, found = _sample_boxes(u[: 2 * _BOX_TRIES], height, width, self.scale, self.ratio)
        keep = found & (u[-1] < self.p)
        h = torch.where(keep, h, torch.zeros_like(h))
        w = torch.where(keep, w, torch.zeros_like(w))
        top = torch.floor(u[-3] * (height - h + 1)).long().clamp_max(height - h)
        left = torch.floor(u[-2] * (width - w + 1)).long().clamp_max(width - w)
        rows = torch.arange(height, device=device)
        cols = torch.arange(width, device=device)
        in_rows = (rows >= top[:, None]) & (rows < (top + h)[:, None])  # (N, H)
        in_cols = (cols >= left[:, None]) & (cols < (left + w)[:, None])  # (N, W)
        return in_rows[:, None, :, None] & in_cols[:, None, None, :]

    def transform(self, x: Tensor) -> Tensor:
        n, _, height, width = x.shape
        mask = self.masks(n, height, width, x.device)
        if self.value == "random":
            shape = tuple(x.shape)
            if x.dtype == torch.uint8:
                noise = (
                    (_rand(shape, self.generator, x.device) * 256).clamp_max(255).to(torch.uint8)
                )
            else:
                noise = _randn(shape, self.generator, x.device).to(x.dtype)
            return torch.where(mask, noise, x)
        value = float(self.value)
        if x.dtype == torch.uint8:
            value = min(max(round(value), 0), 255)
        return x.masked_fill(mask, value)

    def extra_repr(self) -> str:
        return (
            f"scale={self.scale}, ratio={self.ratio}, value={self.value!r}, {self._common_repr()}"
        )
