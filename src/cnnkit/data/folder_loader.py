"""One sub-folder per class: ``root/<class name>/<image file>``."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, overload

from .dataset import IMAGE_EXTENSIONS, ImageDataset, OnError, SizeLike
from .decode import _require_pillow
from .layout import _call, _class_folders, _csv_files, _working_csv_call
from .lazy import LazyImageDataset, Transform
from .pipeline import FileList, _check_on_error, _finish, _normalize_size

__all__ = ["load_image_folder"]


def _csv_hint(root_arg: str | os.PathLike[str], root: Path) -> str:
    """``"; it holds x.csv: use load_image_csv(...)"`` for a folder in the CSV layout, else ``""``.

    The suggested call is one that gets through the CSV, its columns and the first image.
    """
    names = [p.name for p in _csv_files(root)]
    if not names:
        return ""
    shown = names[0] if len(names) == 1 else names
    works = _working_csv_call(root_arg, root)
    if works is not None:
        return f"; it holds {shown}: use {works}"
    return (
        f"; it holds {shown}, in which load_image_csv finds no usable columns: read it with "
        f"{_call('load_image_csv', root_arg)[:-1]}, csv=..., image_column=..., label_column=...)"
    )


def _discover_folder(
    root: str | os.PathLike[str], classes: Sequence[str] | None, extensions: Sequence[str]
) -> FileList:
    """The class-folder layout's files, labels and classes: shared by the eager and lazy paths.

    Raises:
        FileNotFoundError / ValueError: as :func:`load_image_folder` documents (everything up
            to decoding: the folder, its class sub-folders, their image files).
    """
    root_path = Path(root)
    if not root_path.is_dir():
        raise FileNotFoundError(f"image folder not found: {root_path}")
    if classes is None:
        class_names = _class_folders(root_path)
        if len(class_names) < 2:
            raise ValueError(
                f"{root_path} has {len(class_names)} class sub-folder(s) {class_names}; "
                "load_image_folder expects one sub-folder per class (at least two)"
                f"{_csv_hint(root, root_path)}"
            )
    else:
        class_names = [str(c) for c in classes]
        for name in class_names:
            if not (root_path / name).is_dir():
                raise FileNotFoundError(f"class folder not found: {root_path / name}")
    endings = tuple(e.lower() for e in extensions)
    files: list[Path] = []
    labels: list[int] = []
    for k, name in enumerate(class_names):
        found = sorted(
            p
            for p in (root_path / name).iterdir()
            if p.is_file() and not p.name.startswith(".") and p.name.lower().endswith(endings)
        )
        if not found:
            raise ValueError(
                f"class folder {root_path / name} has no image files (endings {list(endings)})"
            )
        files.extend(found)
        labels.extend([k] * len(found))
    settings: dict[str, Any] = {"root": str(root_path.resolve()), "classes": class_names}
    return FileList("folder", root_path, files, labels, class_names, [], settings)


@overload
def load_image_folder(
    root: str | os.PathLike[str],
    *,
    size: SizeLike | None = 224,
    classes: Sequence[str] | None = None,
    extensions: Sequence[str] = IMAGE_EXTENSIONS,
    cache: bool | str | os.PathLike[str] | None = None,
    on_error: OnError = "raise",
    num_workers: int | None = None,
    lazy: Literal[False] = False,
    transform: Transform | None = None,
) -> ImageDataset: ...


@overload
def load_image_folder(
    root: str | os.PathLike[str],
    *,
    size: SizeLike | None = 224,
    classes: Sequence[str] | None = None,
    extensions: Sequence[str] = IMAGE_EXTENSIONS,
    cache: bool | str | os.PathLike[str] | None = None,
    on_error: OnError = "raise",
    num_workers: int | None = None,
    lazy: Literal[True],
    transform: Transform | None = None,
) -> LazyImageDataset: ...


@overload
def load_image_folder(
    root: str | os.PathLike[str],
    *,
    size: SizeLike | None = 224,
    classes: Sequence[str] | None = None,
    extensions: Sequence[str] = IMAGE_EXTENSIONS,
    cache: bool | str | os.PathLike[str] | None = None,
    on_error: OnError = "raise",
    num_workers: int | None = None,
    lazy: bool = False,
    transform: Transform | None = None,
) -> ImageDataset | LazyImageDataset: ...


def load_image_folder(
    root: str | os.PathLike[str],
    *,
    size: SizeLike | None = 224,
    classes: Sequence[str] | None = None,
    extensions: Sequence[str] = IMAGE_EXTENSIONS,
    cache: bool | str | os.PathLike[str] | None = None,
    on_error: OnError = "raise",
    num_workers: int | None = None,
    lazy: bool = False,
    transform: Transform | None = None,
) -> ImageDataset | LazyImageDataset:
    """Load images stored as one sub-folder per class: ``root/<class name>/<image file>``.

    Class names are the sub-folder names, sorted (hidden folders such as ``.cnnkit_cache`` are
    ignored); label ``k`` means ``class_names[k]``. Files are taken in sorted order within each
    class; only names ending in one of ``extensions`` (any case) are read. Decoding is the same
    as in :func:`load_image_csv`.

    Args:
        root: folder holding one sub-folder per class.
        size: output size, an int (square) or ``(height, width)``; ``None`` keeps each image's
            own size, which must then be the same for all of them.
        classes: sub-folders to use, in label order; ``None`` uses every sub-folder, sorted.
        extensions: file name endings treated as images.
        cache: as in :func:`load_image_csv` (``True`` -> ``root/.cnnkit_cache``).
        on_error: ``"raise"`` or ``"skip"`` (leave unreadable files out with one warning).
        num_workers: decoding threads; ``None`` uses every available core.
        lazy: ``True`` returns a :class:`LazyImageDataset` that decodes on access, as in
            :func:`load_image_csv`.
        transform: with ``lazy=True``, applied to each decoded ``uint8`` ``(3, H, W)`` tensor.

    Returns:
        :class:`ImageDataset` with ``images`` ``uint8`` ``(N, 3, H, W)``, ``labels`` ``int64``
        ``(N,)`` (grouped by class) and ``class_names``; with ``lazy=True`` a
        :class:`LazyImageDataset` of the same files in the same order.

    Raises:
        ImportError: Pillow is not installed (``pip install cnnkit[images]``).
        FileNotFoundError: ``root`` or a requested class folder does not exist.
        ValueError: fewer than two class folders (unless ``classes`` names them; when ``root``
            holds a CSV the message gives the :func:`load_image_csv` call that reads it), a
            class folder without images, an image that cannot be decoded (with
            ``on_error="raise"``), or no image left.
        TypeError: ``size`` is not an int or a pair of ints (a ``SizeTypeError``, also a
            ``ValueError``).

    Example:
        >>> X, y, classes = load_image_folder("data/vehicles", size=64)  # doctest: +SKIP
    """
    _check_on_error(on_error)
    hw = _normalize_size(size)
    _require_pillow()
    found = _discover_folder(root, classes, extensions)
    return _finish(found, hw, lazy, transform, cache, on_error, num_workers)
