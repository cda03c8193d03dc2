"""Checks of the augmentations' arguments and inputs: ranges, generators, image batches, targets.

The checks every cnnkit module shares (numbers, probabilities, sizes, choices) live in
:mod:`cnnkit._validate`; this module holds only what is specific to the augmentations: the
``(low, high)`` range conventions borrowed from torchvision, the optional ``torch.Generator``,
and the ``(N, C, H, W)`` image batch with its targets.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypeAlias

import torch
from torch import Tensor

from cnnkit._validate import check_finite, is_number

#: A number ``v`` (a symmetric range, e.g. ``(-v, v)``) or a ``(low, high)`` pair.
PairOrNumber: TypeAlias = int | float | Sequence[int | float]


def _check_generator(generator: object) -> torch.Generator | None:
    """``generator`` itself if it is a ``torch.Generator`` or ``None``.

    Raises:
        TypeError: anything else, with how to make a generator.
    """
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(
            f"generator must be a torch.Generator or None, got {type(generator).__name__}; "
            "create one with torch.Generator().manual_seed(seed)"
        )
    return generator


def _pair(value: object, name: str, *, ordered: bool = True) -> tuple[float, float]:
    """A pair of finite numbers; with ``ordered``, a ``(low, high)`` range with ``low <= high``.

    Raises:
        ValueError: ``value`` is not two finite numbers, or (``ordered``) ``low > high``.
    """
    if (
        not isinstance(value, Sequence)
        or isinstance(value, str)
        or len(value) != 2
        or not all(is_number(v) and math.isfinite(v) for v in value)
    ):
        what = "a number or a (low, high) pair of numbers" if ordered else "a pair of numbers"
        raise ValueError(f"{name} must be {what}, got {value!r}")
    low, high = float(value[0]), float(value[1])
    if ordered and low > high:
        raise ValueError(f"{name} must be (low, high) with low <= high, got {value!r}")
    return (low, high)


def _symmetric_range(value: PairOrNumber, name: str, *, center: float = 0.0) -> tuple[float, float]:
    """``v -> (center - v, center + v)`` (``v >= 0``), or a ``(low, high)`` pair as given.

    Raises:
        ValueError: a negative or non-finite number, or a malformed pair (see :func:`_pair`).
    """
    if is_number(value):
        v = check_finite(value, name)
        if v < 0:
            raise ValueError(f"{name} must be non-negative when given as a single number, got {v}")
        return (center - v, center + v)
    return _pair(value, name)


def _check_box_ranges(
    scale: object, ratio: object
) -> tuple[tuple[float, float], tuple[float, float]]:
    """The ``(scale, ratio)`` ranges of a random box (RandomResizedCrop, RandomErasing).

    Args:
        scale: ``(min, max)`` fraction of the image area, ``0 < min <= max <= 1``.
        ratio: ``(min, max)`` aspect ratio ``width / height``, ``0 < min <= max``.

    Returns:
        Both ranges as pairs of floats.

    Raises:
        ValueError: a range that is malformed or out of these bounds.
    """
    scale_range = _pair(scale, "scale")
    if not 0.0 < scale_range[0] <= scale_range[1] <= 1.0:
        raise ValueError(f"scale must satisfy 0 < min <= max <= 1, got {scale!r}")
    ratio_range = _pair(ratio, "ratio")
    if ratio_range[0] <= 0.0:
        raise ValueError(f"ratio must be positive, got {ratio!r}")
    return scale_range, ratio_range


def _check_images(x: object, who: str) -> Tensor:
    """``x`` itself if it is an ``(N, C, H, W)`` float or uint8 tensor that is not channels-last.

    Args:
        x: the batch given to the transform.
        who: the transform's name, for the error.

    Raises:
        TypeError: ``x`` is not a tensor, or of a dtype other than float or uint8.
        ValueError: ``x`` is not 4-D, looks channels-last (``C > 4`` and ``W`` in {1, 3}), or
            has an empty channel or spatial dimension.
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"{who} expects a torch.Tensor of images, got {type(x).__name__}")
    if x.dim() != 4:
        hint = " (add a batch dimension with x.unsqueeze(0))" if x.dim() == 3 else ""
        raise ValueError(
            f"{who} expects a batch of images shaped (N, C, H, W), got a {x.dim()}-D tensor of "
            f"shape {tuple(x.shape)}{hint}"
        )
    if not (x.is_floating_point() or x.dtype == torch.uint8):
        raise TypeError(
            f"{who} expects float or uint8 images, got dtype {x.dtype}; convert with x.float()"
        )
    _, c, h, w = x.shape
    if c > 4 and w in (1, 3):
        raise ValueError(
            f"{who} got images of shape {tuple(x.shape)}, which look channels-last (N, H, W, C); "
            "convert them with x.permute(0, 3, 1, 2) (not reshape)"
        )
    if c == 0 or h == 0 or w == 0:
        raise ValueError(f"{who} got images with an empty dimension: shape {tuple(x.shape)}")
    return x


def _check_targets(y: object, n: int, who: str) -> Tensor:
    """``y`` itself if it is a tensor with one entry per image (``n`` along dimension 0).

    Raises:
        TypeError: ``y`` is not a tensor.
        ValueError: ``y`` is a scalar or its first dimension is not ``n``.
    """
    if not isinstance(y, Tensor):
        raise TypeError(f"{who} expects targets y as a torch.Tensor, got {type(y).__name__}")
    if y.dim() == 0 or y.shape[0] != n:
        raise ValueError(
            f"{who} got {n} images but targets of shape {tuple(y.shape)}; y must have one "
            "entry per image along its first dimension"
        )
    return y
