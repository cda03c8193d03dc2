"""Turn what users pass as images and labels into tensors, with errors that say how to fix them.

Used by the data sources (:mod:`cnnkit.training.sources`) once per fit for in-memory data and once
per batch for a ``Dataset`` or ``DataLoader``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

__all__ = ["check_labels_dtype", "nhwc_hint", "to_tensor"]


def to_tensor(value: Any, what: str) -> torch.Tensor:
    """Return ``value`` as a tensor (numpy arrays share memory; lists are copied).

    Args:
        value: A tensor, a numpy array, or a list/tuple of numbers.
        what: The value's name in messages, e.g. ``"train X"``.

    Returns:
        The tensor.

    Raises:
        TypeError: For string/object arrays (with the fix for string labels) or other types.
    """
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "USO":  # str, bytes, object: no tensor form
            raise TypeError(
                f"{what} is a numpy array of {value.dtype} values (e.g. {value.flat[0]!r}); "
                + (
                    "labels must be integer class indices: map names to indices, e.g. "
                    "class_names, y = np.unique(y, return_inverse=True)"
                    if what.endswith(("y", "labels"))
                    else "it must hold numbers (uint8 or float images)"
                )
            )
        return torch.from_numpy(np.ascontiguousarray(value))
    if isinstance(value, (list, tuple)):
        if value and isinstance(value[0], (str, bytes)):
            return to_tensor(np.asarray(value), what)  # the numpy message names the fix
        return torch.as_tensor(value)
    raise TypeError(f"{what} must be a torch.Tensor or numpy array, got {type(value).__name__}")


def nhwc_hint(shape: Sequence[int], what: str, *, numpy: bool = False) -> str | None:
    """Return an error message if ``shape`` looks channels-last (``(N, H, W, C)`` or ``(H, W, C)``).

    Args:
        shape: The images' shape.
        what: Their name in the message.
        numpy: Suggest ``X.transpose(...)`` (a numpy array) instead of ``X.permute(...)``.

    Returns:
        The message, or ``None`` when the shape looks channels-first (or is not an image).
    """
    if len(shape) == 4:
        c_first, c_last = shape[1], shape[3]
        axes = "(0, 3, 1, 2)"
    elif len(shape) == 3:
        c_first, c_last = shape[0], shape[2]
        axes = "(2, 0, 1)"
    else:
        return None
    if c_last in (1, 3, 4) and c_first not in (1, 3, 4):
        fix = f"X.transpose{axes}" if numpy else f"X.permute{axes}"
        return (
            f"{what} has shape {tuple(shape)}, which looks channels-last (NHWC); cnnkit expects "
            f"channels-first (NCHW). Convert with {fix} (not reshape/view, which "
            "scrambles the pixels)"
        )
    return None


def check_labels_dtype(y: torch.Tensor, what: str, *, numpy: bool = False) -> torch.Tensor:
    """Check labels are ``(N,)`` integer class indices or ``(N, C)`` float soft targets.

    Args:
        y: The labels.
        what: Their name in messages.
        numpy: Phrase the fix for a numpy array (``y.astype("int64")``) instead of a tensor.

    Returns:
        ``y`` as int64 class indices, or the float soft targets unchanged.

    Raises:
        TypeError: For float class indices or integer soft targets.
        ValueError: For ``(N, 1)`` labels or any other shape.
    """
    if y.ndim == 1:
        if y.dtype.is_floating_point or y.is_complex():
            fix = 'y.astype("int64")' if numpy else "y.long()"
            raise TypeError(
                f"{what} holds {y.dtype} values; class labels must be integers (convert with "
                f"{fix}), or soft targets of shape (N, num_classes)"
            )
        return y if y.dtype == torch.int64 else y.long()
    if y.ndim == 2 and y.shape[1] == 1 and not y.dtype.is_floating_point:
        raise ValueError(
            f"{what} has shape {tuple(y.shape)}: class labels must be a flat (N,) vector; "
            "use y.squeeze(1) or y.reshape(-1)"
        )
    if y.ndim == 2:
        if not y.dtype.is_floating_point:
            raise TypeError(
                f"soft targets {what} of shape {tuple(y.shape)} must be float, got {y.dtype}"
            )
        return y
    raise ValueError(
        f"{what} must have shape (N,) (class indices) or (N, num_classes) (soft targets), "
        f"got {tuple(y.shape)}"
    )
