"""The base classes of every transform, and the helpers they share to run on a batch.

:class:`_BatchTransform` gives every transform its typed ``t(x)`` / ``t(x, y)`` call;
:class:`Augmentation` adds ``p``, the generator and the input checks of the per-image image
transforms. The compute-dtype helpers fix how uint8 and low-precision floats are computed on
(float32, rounded back), and :func:`_on_subset` applies a transform to the selected images only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import overload

import torch
from torch import Tensor, nn

from cnnkit._validate import check_probability

from .checks import _check_generator, _check_images, _check_targets
from .sampling import _rand


class _BatchTransform(nn.Module):
    """A module called as ``t(x) -> x`` or ``t(x, y) -> (x, y)``, typed for both forms.

    The base of every transform here, so that one typed ``__call__`` serves them all.
    """

    @overload
    def __call__(self, x: Tensor) -> Tensor: ...

    @overload
    def __call__(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]: ...

    def __call__(self, x: Tensor, y: Tensor | None = None) -> Tensor | tuple[Tensor, Tensor]:
        if y is None:
            return super().__call__(x)  # type: ignore[no-any-return]
        return super().__call__(x, y)  # type: ignore[no-any-return]


class Augmentation(_BatchTransform):
    """Base class of the per-image image augmentations of this module.

    Subclasses implement :meth:`transform` on a checked, non-empty ``(N, C, H, W)`` batch.
    Calling the module validates the input, applies the transform and passes targets through.

    Args:
        p: probability that each image is transformed (independently per image).
        generator: optional :class:`torch.Generator` that all random draws use (for
            reproducible runs). It may live on another device than the images; the random
            parameters are drawn there and moved to the images' device.

    Raises:
        ValueError: if ``p`` is not in ``[0, 1]``.
        TypeError: if ``generator`` is not a ``torch.Generator``.
    """

    def __init__(self, p: float, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.p = check_probability(p)
        self.generator = _check_generator(generator)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor | tuple[Tensor, Tensor]:
        """Augment a batch.

        Args:
            x: images ``(N, C, H, W)``, float (any range) or uint8.
            y: optional targets with ``N`` rows; returned unchanged.

        Returns:
            The augmented images (same dtype and device; same shape unless the transform
            resizes), or ``(images, y)`` when ``y`` is given.

        Raises:
            ValueError: wrong rank, channels-last looking input, empty dimension, or ``y``
                with a different number of rows.
            TypeError: ``x`` not a tensor or of an unsupported dtype.
        """
        who = type(self).__name__
        x = _check_images(x, who)
        if y is not None:
            _check_targets(y, x.shape[0], who)
        out = self.transform(x) if x.shape[0] > 0 else x
        return out if y is None else (out, y)

    def transform(self, x: Tensor) -> Tensor:
        """Transform a checked, non-empty batch ``(N, C, H, W)``; implemented by subclasses."""
        raise NotImplementedError

    def _rand(self, *shape: int, device: torch.device) -> Tensor:
        """Uniform ``[0, 1)`` numbers of ``shape`` from this transform's generator, on ``device``."""
        return _rand(tuple(shape), self.generator, device)

    def _common_repr(self) -> str:
        return f"p={self.p}" + (
            ", generator=<torch.Generator>" if self.generator is not None else ""
        )


def _compute_dtype(x: Tensor) -> torch.dtype:
    """Float dtype used for arithmetic on ``x``: float64 stays, everything else uses float32."""
    return torch.float64 if x.dtype == torch.float64 else torch.float32


def _to_compute(x: Tensor) -> Tensor:
    """``x`` cast to its compute dtype (see :func:`_compute_dtype`)."""
    return x.to(_compute_dtype(x))


def _from_compute(out: Tensor, like: Tensor) -> Tensor:
    """Cast back to the input dtype; uint8 is rounded and clamped to [0, 255]."""
    if like.dtype == torch.uint8:
        return out.round_().clamp_(0, 255).to(torch.uint8)
    return out.to(like.dtype)


def _on_subset(x: Tensor, mask: Tensor, fn: Callable[[Tensor, Tensor | None], Tensor]) -> Tensor:
    """Apply ``fn(images, index)`` to the images selected by boolean ``mask`` only.

    ``fn`` receives either the whole batch with ``index=None`` or the selected images with
    their indices, and must return images of the same shape. The images not selected are
    returned exactly (no resampling round-off). When most images are selected, ``fn`` runs on
    the whole batch and the few others are copied back (cheaper than gathering and scattering
    the selected ones); otherwise it runs on the selected images only. Returns ``x`` itself
    when none is selected.

    Args:
        x: images ``(N, C, H, W)``.
        mask: ``(N,)`` bool, the images to transform.
        fn: the transform, ``fn(images (M, C, H, W), index (M,) or None) -> (M, C, H, W)``.

    Returns:
        ``(N, C, H, W)``: ``fn``'s output for the selected images, ``x``'s for the others.
    """
    index = mask.nonzero().squeeze(1)
    count, n = index.numel(), x.shape[0]
    if count == 0:
        return x
    if 2 * count >= n:
        out = fn(x, None)
        if count < n:
            keep = (~mask).nonzero().squeeze(1)
            out[keep] = x[keep].to(out.dtype)
        return out
    out = x.clone()
    out[index] = fn(x[index], index)
    return out
