"""The type every loader returns, :class:`ImageDataset`, and the conversions of its images.

Images are ``uint8`` tensors in NCHW layout, ``(N, 3, H, W)``, labels ``int64`` of shape
``(N,)``. Decoders and the synthetic drawing produce NHWC arrays ``(N, H, W, 3)``; they become
NCHW through :func:`_to_nchw`, which uses ``permute``, never ``reshape``: reshaping NHWC memory
into NCHW shape scrambles pixels into nonsense channels (the classic bug of the original case
study's code).
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

import numpy as np
import torch
from torch import Tensor

__all__ = ["IMAGE_EXTENSIONS", "ImageDataset", "OnError", "SizeLike", "to_float"]

#: File name endings (lower case) that :func:`load_image_folder` treats as images.
IMAGE_EXTENSIONS: tuple[str, ...] = (
    ".jpg",
    ".jpeg",
    ".png",
    ".bmp",
    ".gif",
    ".tif",
    ".tiff",
    ".webp",
    ".ppm",
    ".pgm",
)

#: What a loader does with a bad row or file: stop (``"raise"``) or leave it out (``"skip"``).
OnError = Literal["raise", "skip"]
#: An image size: an int for a square, or ``(height, width)``.
SizeLike = int | tuple[int, int]


class ImageDataset(NamedTuple):
    """Images, labels and class names, as every loader in :mod:`cnnkit.data` returns them.

    Attributes:
        images: ``uint8`` tensor of shape ``(N, 3, H, W)`` (NCHW, RGB, values 0..255).
        labels: ``int64`` tensor of shape ``(N,)`` with values in ``[0, len(class_names))``.
        class_names: name of each class; ``class_names[k]`` is the class of label ``k``.

    Example:
        >>> from cnnkit.data import synthetic_vehicles
        >>> X, y, classes = synthetic_vehicles(n=8, size=32)
        >>> X.shape, y.dtype, classes
        (torch.Size([8, 3, 32, 32]), torch.int64, ['non-emergency', 'emergency'])
    """

    images: Tensor
    labels: Tensor
    class_names: list[str]


def to_float(images: Tensor) -> Tensor:
    """Convert ``uint8`` images (0..255) to ``float32`` in ``[0, 1]``; float input is cast.

    Args:
        images: tensor of any shape, usually ``(N, 3, H, W)``.

    Returns:
        ``float32`` tensor of the same shape (``images / 255`` for ``uint8`` input).

    Raises:
        TypeError: ``images`` is not a tensor, or has an integer dtype other than ``uint8``
            (whose scale is ambiguous).

    Example:
        >>> to_float(torch.tensor([0, 255], dtype=torch.uint8))
        tensor([0., 1.])
    """
    if not isinstance(images, Tensor):
        raise TypeError(f"images must be a torch tensor, got {type(images)}")
    if images.dtype == torch.uint8:
        return images.to(torch.float32).div_(255.0)
    if images.is_floating_point():
        return images.to(torch.float32)
    raise TypeError(
        f"cannot tell the value range of {images.dtype} images; pass uint8 (0..255) or float"
    )


def _to_nchw(array: np.ndarray[Any, Any]) -> Tensor:
    """(N, H, W, 3) uint8 array -> contiguous (N, 3, H, W) uint8 tensor, via permute."""
    return torch.from_numpy(np.ascontiguousarray(array)).permute(0, 3, 1, 2).contiguous()
