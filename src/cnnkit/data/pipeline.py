"""The path both loaders share once they know their files: options, the cache, decoding.

:func:`load_image_csv` and :func:`load_image_folder` each turn their layout into a list of
image files with integer labels (a :class:`FileList`, the one discovery step), then call
:func:`_finish`: with ``lazy=True`` it wraps the files in a :class:`LazyImageDataset`, otherwise
:func:`_load_files` reads the cache entry for those files and settings if there is one, and
otherwise decodes them and writes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from cnnkit._validate import size_pair

from .cache import CacheArg, _cache_dir, _cache_key, _cache_load, _cache_save
from .dataset import ImageDataset, OnError, SizeLike, _to_nchw
from .decode import _decode_all, _warn_skipped
from .lazy import LazyImageDataset, Transform

__all__: list[str] = []


class FileList(NamedTuple):
    """What a layout's discovery step found: the one input of both the eager and lazy paths.

    Attributes:
        kind: the loader (``"csv"`` or ``"folder"``), part of the cache key.
        root: the data folder.
        files: the image files, in output order.
        labels: ``labels[i]`` is the label of ``files[i]``.
        classes: the class names; label ``k`` is ``classes[k]``.
        early_skips: messages of rows already left out (``on_error="skip"``).
        settings: the loader's settings for the cache key (JSON-serializable).
    """

    kind: str
    root: Path
    files: list[Path]
    labels: list[int]
    classes: list[str]
    early_skips: list[str]
    settings: dict[str, Any]


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


def _finish(
    found: FileList,
    size: tuple[int, int] | None,
    lazy: bool,
    transform: Transform | None,
    cache: CacheArg,
    on_error: OnError,
    num_workers: int | None,
) -> ImageDataset | LazyImageDataset:
    """Turn a layout's discovered files into the eager :class:`ImageDataset` or the lazy form.

    Raises:
        ValueError: ``cache`` or ``num_workers`` with ``lazy=True`` (they set up the eager
            decoding), or ``transform`` without it.
    """
    if not lazy:
        if transform is not None:
            raise ValueError(
                "transform= applies to lazy datasets (lazy=True), where each image is decoded "
                "on access; for in-memory images use Trainer(augment=...) or transform the "
                "returned tensor"
            )
        return _load_files(
            found.kind,
            found.root,
            found.files,
            found.labels,
            found.classes,
            found.early_skips,
            found.settings,
            size,
            cache,
            on_error,
            num_workers,
        )
    if cache is not None and cache is not False:
        raise ValueError(
            f"cache={cache!r} caches the decoded images of the in-memory path; with lazy=True "
            "images are decoded on access and nothing is cached: drop cache=..., or use "
            "lazy=False"
        )
    if num_workers is not None:
        raise ValueError(
            f"num_workers={num_workers!r} sets the decoding threads of the in-memory path; with "
            "lazy=True images are decoded in __getitem__: pass num_workers to the DataLoader "
            "(or Trainer(num_workers=...)) instead"
        )
    return LazyImageDataset(
        found.files,
        found.labels,
        found.classes,
        size=size,
        on_error=on_error,
        transform=transform,
        skipped=found.early_skips,
    )
