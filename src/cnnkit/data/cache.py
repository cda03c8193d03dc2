"""The on-disk cache of decoded images: where it lives, its key, reading and writing it.

One loader call with one set of files and settings is one ``.npz`` file holding the decoded
``(N, H, W, 3)`` ``uint8`` images, the labels, the class names and the messages of the items
left out. The key hashes the loader's settings and every file's path, modification time and
byte size, so a changed, added or removed file gives another key and a stale entry is never
read. Writes go through :func:`cnnkit._atomic.atomic_write` (temporary file, ``fsync``,
``os.replace``), so a crash never leaves half a cache file behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch

from cnnkit._atomic import atomic_write

from .dataset import ImageDataset, _to_nchw

__all__: list[str] = []

#: Bumped whenever decoding changes, so that old cache files are not reused.
_CACHE_FORMAT = 1

#: What a loader's ``cache`` argument accepts: ``True``, a folder, or ``None``/``False``.
CacheArg = bool | str | os.PathLike[str] | None


def _cache_dir(root: Path, cache: CacheArg) -> Path | None:
    """The cache folder for ``cache`` (``True`` -> ``root/.cnnkit_cache``), or ``None``."""
    if cache is None or cache is False:
        return None
    if cache is True:
        return root / ".cnnkit_cache"
    return Path(cache)


def _stamp(path: Path) -> list[int]:
    """``[mtime_ns, size]`` of ``path``, the part of the cache key that changes with it."""
    st = path.stat()
    return [st.st_mtime_ns, st.st_size]


def _cache_key(kind: str, settings: dict[str, Any], files: Sequence[Path]) -> str:
    """Hash of the loader settings and every file's path, mtime and size (32 hex digits)."""
    digest = hashlib.sha256()
    digest.update(json.dumps({"format": _CACHE_FORMAT, "kind": kind, **settings}).encode())
    for path in files:
        try:
            st = path.stat()
            stamp = f"{path.resolve()}|{st.st_mtime_ns}|{st.st_size}\n"
        except OSError:
            stamp = f"{path.resolve()}|missing\n"
        digest.update(stamp.encode())
    return digest.hexdigest()[:32]


def _cache_load(path: Path) -> tuple[ImageDataset, list[str]] | None:
    """Read a cache entry: ``(dataset, skipped messages)``, or ``None`` if absent or unreadable.

    An unreadable file gives a ``UserWarning`` and ``None``, so the caller decodes again.
    """
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            images = _to_nchw(data["images"])
            labels = torch.from_numpy(data["labels"].astype(np.int64))
            classes = [str(c) for c in data["class_names"]]
            skipped = [str(s) for s in data["skipped"]]
    except (OSError, KeyError, ValueError) as exc:
        warnings.warn(f"ignoring unreadable cache file {path}: {exc}", UserWarning, stacklevel=3)
        return None
    return ImageDataset(images, labels, classes), skipped


def _cache_save(
    path: Path,
    array: np.ndarray[Any, Any],
    labels: np.ndarray[Any, Any],
    classes: Sequence[str],
    skipped: Sequence[str],
) -> None:
    """Write a cache entry atomically; a failure to write only gives a ``UserWarning``.

    Args:
        path: the ``.npz`` file; missing folders are created.
        array: decoded images, ``uint8`` ``(N, H, W, 3)``.
        labels: ``int64`` ``(N,)``.
        classes: the class names.
        skipped: messages of the items left out, replayed as a warning on a cache hit.
    """

    def write(fh: IO[bytes]) -> None:
        np.savez(
            fh,
            images=array,
            labels=labels,
            class_names=np.array(list(classes), dtype=np.str_),
            skipped=np.array(list(skipped), dtype=np.str_),
        )

    try:
        atomic_write(path, write)
    except OSError as exc:
        warnings.warn(
            f"could not write the image cache {path}: {exc}; continuing without it",
            UserWarning,
            stacklevel=3,
        )
