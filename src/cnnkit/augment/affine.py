"""Affine resampling transforms: random resized crops and random affine maps.

Each draws one affine matrix per image (a box to zoom into, or a rotation, translation, zoom
and shear about the centre) and warps the whole batch with one ``grid_sample``
(see :mod:`cnnkit.augment.warp`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor

from cnnkit._validate import check_choice, check_finite, size_pair

from .base import Augmentation, _on_subset
from .checks import PairOrNumber, _check_box_ranges, _pair, _symmetric_range
from .sampling import _BOX_TRIES, _sample_boxes
from .warp import _check_interpolation, _Interpolation, _warp


class RandomResizedCrop(Augmentation):
    """Crop a random box of random area and aspect ratio from each image and resize it.

    Like torchvision's: the box area is a fraction in ``scale`` of the image area and its
    aspect ratio (width / height) is log-uniform in ``ratio``; 10 candidate boxes are drawn per
    image (all at once) and the first that fits is used, else a centre crop with the ratio
    clamped into range. All crops are resized in one ``grid_sample`` (no antialiasing, so strong
    downscaling can alias, as in Kornia's default).

    Args:
        size: output ``(height, width)`` or an int for square output.
        scale: ``(min, max)`` fraction of the image area, ``0 < min <= max <= 1``.
        ratio: ``(min, max)`` aspect ratio, ``0 < min <= max``.
        interpolation: ``"bilinear"`` or ``"nearest"``.
        p: probability that an image is randomly cropped; the others are resized whole (and
            returned exactly when ``size`` is the input size).
        generator: optional random generator for reproducibility.

    Shapes:
        ``(N, C, H, W) -> (N, C, size[0], size[1])``, same dtype.

    Raises:
        ValueError: invalid ``size``, ``scale``, ``ratio`` or ``interpolation``.

    Example:
        >>> rrc = RandomResizedCrop(24, scale=(0.5, 1.0))
        >>> rrc(torch.rand(4, 3, 32, 32)).shape
        torch.Size([4, 3, 24, 24])
    """

    def __init__(
        self,
        size: int | Sequence[int],
        scale: Sequence[float] = (0.08, 1.0),
        ratio: Sequence[float] = (3.0 / 4.0, 4.0 / 3.0),
        interpolation: _Interpolation = "bilinear",
        p: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(p, generator)
        self.size = size_pair(size)
        self.scale, self.ratio = _check_box_ranges(scale, ratio)
        self.interpolation = _check_interpolation(interpolation)

    def transform(self, x: Tensor) -> Tensor:
        n, _, height, width = x.shape
        device = x.device
        u = self._rand(2 * _BOX_TRIES + 3, n, device=device)
        h, w, found = _sample_boxes(u[: 2 * _BOX_TRIES], height, width, self.scale, self.ratio)
        # Fallback (as torchvision): the whole image, its ratio clamped into `ratio`.
        in_ratio = width / height
        if in_ratio < self.ratio[0]:
            fb_w, fb_h = width, round(width / self.ratio[0])
        elif in_ratio > self.ratio[1]:
            fb_h, fb_w = height, round(height * self.ratio[1])
        else:
            fb_w, fb_h = width, height
        apply = u[-1] < self.p
        use_box = found & apply
        # Selected images without a valid box use the fallback; unselected ones the whole image.
        fallback = apply & ~found
        h = torch.where(use_box, h, torch.where(fallback, fb_h, height))
        w = torch.where(use_box, w, torch.where(fallback, fb_w, width))
        top = torch.floor(u[-3] * (height - h + 1)).clamp_max(height - h)
        left = torch.floor(u[-2] * (width - w + 1)).clamp_max(width - w)
        top = torch.where(use_box, top, torch.div(height - h, 2, rounding_mode="floor").float())
        left = torch.where(use_box, left, torch.div(width - w, 2, rounding_mode="floor").float())
        hf, wf = h.float(), w.float()
        theta = torch.zeros(n, 2, 3, device=device)
        theta[:, 0, 0] = wf / width
        theta[:, 0, 2] = (2 * left + wf) / width - 1
        theta[:, 1, 1] = hf / height
        theta[:, 1, 2] = (2 * top + hf) / height - 1
        if self.size != (height, width):
            return _warp(x, theta, self.size, self.interpolation, "border")
        # Same size: the images not selected are returned exactly (no resampling).
        return _on_subset(
            x,
            apply,
            lambda sub, idx: _warp(
                sub, theta if idx is None else theta[idx], self.size, self.interpolation, "border"
            ),
        )

    def extra_repr(self) -> str:
        return (
            f"size={self.size}, scale={self.scale}, ratio={self.ratio}, "
            f"interpolation={self.interpolation!r}, {self._common_repr()}"
        )


class RandomAffine(Augmentation):
    """Random rotation, translation, scale and shear, composed into one matrix per image.

    Each selected image gets its own rotation angle, translation, scale and shear, composed
    into one affine matrix about the image centre; the whole batch is then warped by a single
    ``affine_grid`` + ``grid_sample``. Parameters as in torchvision's ``RandomAffine``.

    Args:
        degrees: rotation range in degrees; a number ``d`` means ``(-d, d)``. Positive angles
            rotate counter-clockwise.
        translate: ``(a, b)``: horizontal shift drawn in ``(-a*W, a*W)`` pixels and vertical in
            ``(-b*H, b*H)``; ``0 <= a, b <= 1``. ``None`` for no shift.
        scale: ``(min, max)`` zoom factor range, ``0 < min <= max``. ``None`` for no zoom.
        shear: degrees; a number ``s`` means x-shear in ``(-s, s)``; a pair is an x-shear range;
            four numbers are an x- then a y-shear range. ``None`` for no shear.
        interpolation: ``"bilinear"`` or ``"nearest"``.
        padding_mode: how to fill outside the image: ``"zeros"`` (the constant ``fill``),
            ``"border"`` (repeat the edge) or ``"reflection"``.
        fill: value outside the image with ``padding_mode="zeros"``.
        p: probability that an image is transformed; the others are returned exactly.
        generator: optional random generator for reproducibility.

    Shapes:
        ``(N, C, H, W) -> (N, C, H, W)``, same dtype (uint8 is rounded back).

    Raises:
        ValueError: a range that is malformed, negative where it must not be, or out of bounds.

    Example:
        >>> aff = RandomAffine(degrees=15, translate=(0.1, 0.1), scale=(0.9, 1.1), shear=10)
        >>> aff(torch.rand(4, 3, 32, 32)).shape
        torch.Size([4, 3, 32, 32])
    """

    def __init__(
        self,
        degrees: PairOrNumber,
        translate: Sequence[float] | None = None,
        scale: Sequence[float] | None = None,
        shear: PairOrNumber | None = None,
        interpolation: _Interpolation = "bilinear",
        padding_mode: Literal["zeros", "border", "reflection"] = "zeros",
        fill: float = 0.0,
        p: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(p, generator)
        self.degrees = _symmetric_range(degrees, "degrees")
        self.translate: tuple[float, float] | None = None
        if translate is not None:
            tx, ty = _pair(translate, "translate", ordered=False)
            if not (0.0 <= tx <= 1.0 and 0.0 <= ty <= 1.0):
                raise ValueError(f"translate values must be in [0, 1], got {translate!r}")
            self.translate = (tx, ty)
        self.scale: tuple[float, float] | None = None
        if scale is not None:
            self.scale = _pair(scale, "scale")
            if self.scale[0] <= 0:
                raise ValueError(f"scale values must be positive, got {scale!r}")
        self.shear: tuple[float, float, float, float] | None = None
        if shear is not None:
            if isinstance(shear, Sequence) and not isinstance(shear, str) and len(shear) == 4:
                sx = _pair(shear[:2], "shear")
                sy = _pair(shear[2:], "shear")
            else:
                sx = _symmetric_range(shear, "shear")
                sy = (0.0, 0.0)
            if max(abs(v) for v in (*sx, *sy)) >= 90.0:
                raise ValueError(f"shear angles must be in (-90, 90) degrees, got {shear!r}")
            self.shear = (*sx, *sy)
        self.interpolation = _check_interpolation(interpolation)
        self.padding_mode = check_choice(
            padding_mode, "padding_mode", ("zeros", "border", "reflection")
        )
        self.fill = check_finite(fill, "fill")

    def matrices(
        self, n: int, height: int, width: int, device: torch.device
    ) -> tuple[Tensor, Tensor]:
        """Draw per-image parameters and return ``(theta, apply)``.

        Returns:
            ``theta`` ``(n, 2, 3)``: for each image, the map from output to input in
            ``affine_grid``'s normalized coordinates (identity where not applied), and
            ``apply`` ``(n,)`` bool, the images selected with probability ``p``.
        """
        u = self._rand(7, n, device=device)

        def lerp(r: Tensor, bounds: tuple[float, float]) -> Tensor:
            return bounds[0] + (bounds[1] - bounds[0]) * r

        apply = u[6] < self.p
        angle = torch.deg2rad(lerp(u[0], self.degrees))
        if self.translate is not None:
            tx = lerp(u[1], (-self.translate[0] * width, self.translate[0] * width))
            ty = lerp(u[2], (-self.translate[1] * height, self.translate[1] * height))
        else:
            tx = ty = torch.zeros(n, device=device)
        zoom = lerp(u[3], self.scale) if self.scale is not None else torch.ones(n, device=device)
        if self.shear is not None:
            shx = torch.tan(torch.deg2rad(lerp(u[4], self.shear[:2])))
            shy = torch.tan(torch.deg2rad(lerp(u[5], self.shear[2:])))
        else:
            shx = shy = torch.zeros(n, device=device)
        # Forward map in pixel coordinates centred on the image (y pointing down):
        #   A = R(angle) @ ShearY @ ShearX * zoom,  out = A @ in + t
        cos, sin = torch.cos(angle), torch.sin(angle)
        # ShearY @ ShearX = [[1, shx], [shy, 1 + shy * shx]]
        s00, s01, s10, s11 = torch.ones_like(shx), shx, shy, 1 + shy * shx
        a00 = (cos * s00 + sin * s10) * zoom
        a01 = (cos * s01 + sin * s11) * zoom
        a10 = (-sin * s00 + cos * s10) * zoom
        a11 = (-sin * s01 + cos * s11) * zoom
        det = a00 * a11 - a01 * a10
        i00, i01, i10, i11 = a11 / det, -a01 / det, -a10 / det, a00 / det
        # Back to normalized coordinates: pixel = D @ normalized, D = diag(W/2, H/2).
        theta = torch.empty(n, 2, 3, device=device)
        theta[:, 0, 0] = i00
        theta[:, 0, 1] = i01 * height / width
        theta[:, 1, 0] = i10 * width / height
        theta[:, 1, 1] = i11
        theta[:, 0, 2] = -(i00 * tx + i01 * ty) * 2 / width
        theta[:, 1, 2] = -(i10 * tx + i11 * ty) * 2 / height
        identity = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], device=device)
        theta = torch.where(apply[:, None, None], theta, identity)
        return theta, apply

    def transform(self, x: Tensor) -> Tensor:
        n, _, height, width = x.shape
        theta, apply = self.matrices(n, height, width, x.device)
        return _on_subset(
            x,
            apply,
            lambda sub, idx: _warp(
                sub,
                theta if idx is None else theta[idx],
                (height, width),
                self.interpolation,
                self.padding_mode,
                self.fill,
            ),
        )

    def extra_repr(self) -> str:
        return (
            f"degrees={self.degrees}, translate={self.translate}, scale={self.scale}, "
            f"shear={self.shear}, interpolation={self.interpolation!r}, "
            f"padding_mode={self.padding_mode!r}, fill={self.fill}, {self._common_repr()}"
        )
