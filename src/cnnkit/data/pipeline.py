"""The path both loaders share once they know their files: options, the cache, decoding.

:func:`load_image_csv` and :func:`load_image_folder` each turn their layout into a list of
image files with integer labels, then call :func:`_load_files`, which reads the cache entry
for those files and settings if there is one, and otherwise decodes them and writes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cnnkit._validate import size_pair

from .cache import CacheArg, _cache_dir, _cache_key, _cache_load, _cache_save
from .dataset import ImageDataset, OnError, SizeLike, _to_nchw
from .decode import _decode_all, _warn_skipped

__all__: list[str] = []


def _check_on_error(on_error: str) -> None:
    """Raise ``ValueError`` unless ``on_error`` is ``"raise"`` or ``"skip"``."""
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")


def _normalize_size(size: SizeLike | None) -> tuple[int, int] | None:
    """``size`` (an int or ``(H, W)``) as ``(H, W)``; ``None`` stays ``None``.

    Raises:
        SizeTypeError: (a ``TypeError`` and a ``ValueError``) ``size`` is not an int or a pair
            of ints.
        ValueError: a side is not positive.
    """
    return None if size is None else size_pair(size, "size")


def _load_files(
    kind: str,
    root: Path,
    files: Sequence[Path],
    labels: Sequence[int],
    classes: list[str],
    early_skips: list[str],
    settings: dict[str, Any],
    size: tuple[int, int] | None,
    cache: CacheArg,
    on_error: OnError,
    num_workers: int | None,
) -> ImageDataset:
    """Decode (or read from the cache) ``files`` and bundle the result.

    Args:
        kind: the loader (``"csv"`` or ``"folder"``), part of the cache key and file name.
        root: the data folder (``cache=True`` caches under ``root/.cnnkit_cache``).
        files: the image files, in output order.
        labels: ``labels[i]`` is the label of ``files[i]``.
        classes: the class names.
        early_skips: messages of rows the loader already left out (``on_error="skip"``).
        settings: the loader's settings for the cache key (JSON-serializable).
        size: ``(height, width)`` or ``None``.
        cache: the loader's ``cache`` argument.
        on_error: ``"raise"`` or ``"skip"``.
        num_workers: decoding threads, ``None`` for every available core.

    Returns:
        :class:`ImageDataset` of the files that loaded, with their labels.
    """
    cache_dir = _cache_dir(root, cache)
    cache_path: Path | None = None
    if cache_dir is not None:
        key = _cache_key(kind, {**settings, "size": size, "on_error": on_error}, files)
        cache_path = cache_dir / f"{kind}-{key}.npz"
        hit = _cache_load(cache_path)
        if hit is not None:
            dataset, skipped = hit
            _warn_skipped(early_skips + skipped)
            return dataset
    array, kept, skipped = _decode_all(files, size, on_error, num_workers)
    label_array = np.asarray([labels[i] for i in kept], dtype=np.int64)
    if cache_path is not None:
        _cache_save(cache_path, array, label_array, classes, skipped)
    _warn_skipped(early_skips + skipped)
    return ImageDataset(_to_nchw(array), torch.from_numpy(label_array), list(classes))
