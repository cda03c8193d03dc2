"""Exact duplicate images: find them, and drop them before a split so validation stays unseen.

The case study's 1646 photos hold exact copies of one another (15 of its 165 validation images
also sit in its training set), so a plain split scores the model on images it trained on. Run
:func:`deduplicate` before :func:`~cnnkit.data.train_val_split`.
"""

from __future__ import annotations

import hashlib
import warnings
from typing import Any

import numpy as np
import torch
from torch import Tensor

__all__ = ["deduplicate", "duplicate_groups"]


def _digests(images: Tensor | np.ndarray[Any, Any]) -> list[bytes]:
    array = images.detach().cpu().numpy() if isinstance(images, Tensor) else np.asarray(images)
    if array.ndim < 2 or len(array) == 0:
        raise ValueError(f"images must be a non-empty batch (N, ...), got shape {array.shape}")
    flat = np.ascontiguousarray(array).reshape(len(array), -1)
    # blake2b of the raw bytes: exact equality, 16-byte digests keep 1e5 images in a few MB.
    return [hashlib.blake2b(row.tobytes(), digest_size=16).digest() for row in flat]


def duplicate_groups(images: Tensor | np.ndarray[Any, Any]) -> list[list[int]]:
    """Indices of images that are exact copies of each other (same shape, dtype and values).

    Args:
        images: A batch ``(N, C, H, W)`` (tensor or array, any dtype).

    Returns:
        One sorted list of indices per group of two or more identical images, ordered by
        their first index; images without a copy are not listed.

    Example:
        >>> import torch
        >>> x = torch.zeros(4, 1, 2, 2, dtype=torch.uint8); x[1] = 7
        >>> duplicate_groups(x)
        [[0, 2, 3]]
    """
    groups: dict[bytes, list[int]] = {}
    for i, d in enumerate(_digests(images)):
        groups.setdefault(d, []).append(i)
    return sorted((g for g in groups.values() if len(g) > 1), key=lambda g: g[0])


def deduplicate(
    images: Tensor, labels: Tensor, *, conflicting: str = "drop"
) -> tuple[Tensor, Tensor, Tensor]:
    """Keep the first of each group of identical images.

    Args:
        images: ``(N, C, H, W)`` images.
        labels: ``(N,)`` class indices.
        conflicting: What to do with copies that carry different labels: ``"drop"`` (default:
            drop every copy, since one of the labels is wrong and there is no telling which)
            or ``"first"`` (keep the first copy and its label). Either way it warns.

    Returns:
        ``(images, labels, kept)``: the unique images and their labels, and ``kept``, the
        ``int64`` indices into the inputs of the images kept, in their original order.

    Raises:
        ValueError: ``images`` and ``labels`` differ in length, or ``conflicting`` is unknown.

    Example:
        >>> import torch
        >>> x = torch.zeros(3, 1, 2, 2, dtype=torch.uint8); x[1] = 7
        >>> _, y, kept = deduplicate(x, torch.tensor([0, 1, 0]))
        >>> kept.tolist(), y.tolist()
        ([0, 1], [0, 1])
    """
    if conflicting not in ("drop", "first"):
        raise ValueError(f"unknown conflicting {conflicting!r}; use one of ['drop', 'first']")
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels; pass one label per image")
    drop: set[int] = set()
    conflicts = 0
    for group in duplicate_groups(images):
        if len({int(labels[i]) for i in group}) > 1:
            conflicts += 1
            if conflicting == "drop":
                drop.update(group)
                continue
        drop.update(group[1:])
    if conflicts:
        action = "dropped every copy" if conflicting == "drop" else "kept the first copy's label"
        warnings.warn(
            f"{conflicts} group(s) of identical images carry different labels; {action} "
            "(check those labels: duplicate_groups(images) lists the indices)",
            UserWarning,
            stacklevel=2,
        )
    kept = torch.tensor([i for i in range(len(labels)) if i not in drop], dtype=torch.int64)
    return images[kept.to(images.device)], labels[kept.to(labels.device)], kept
