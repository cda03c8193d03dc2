"""The case study's layout: a CSV of image names and labels plus a folder of images."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, overload

from .cache import _stamp
from .dataset import ImageDataset, OnError, SizeLike
from .decode import _require_pillow
from .layout import (
    _call,
    _column_error,
    _find_label_csv,
    _infer_columns,
    _missing_csv_message,
    _read_table,
)
from .lazy import LazyImageDataset, Transform
from .pipeline import FileList, _check_on_error, _finish, _normalize_size

__all__ = ["load_image_csv"]


def _sort_label_values(values: set[str]) -> list[str]:
    """Numeric order when every value is an integer ("2" < "10"), else string order."""
    try:
        return sorted(values, key=lambda v: (int(v), v))
    except ValueError:
        return sorted(values)


def _missing_images_dir(
    image_root: Path,
    root: Path,
    first: str,
    root_arg: str | os.PathLike[str],
    call_kwargs: dict[str, str],
) -> str:
    """The error for an images folder that does not exist (and holds none of the images).

    Where the first image is found (in ``root`` or one of its sub-folders) the message ends
    with the call that reads it: the caller's other arguments plus ``images_dir=...``.
    """
    message = (
        f"images folder not found: {image_root} (the CSV's image names are read relative to "
        "images_dir, 'images' by default)"
    )
    subs = [p for p in root.iterdir() if p.is_dir()] if root.is_dir() else []
    candidates = [root, *sorted(p for p in subs if not p.name.startswith("."))]
    for folder in candidates:
        if (folder / first).is_file():
            images_dir = "." if folder == root else folder.name
            call = _call("load_image_csv", root_arg, **call_kwargs, images_dir=images_dir)
            return f"{message}; the first image, {first!r}, is in {folder}: use {call}"
    return f"{message}; pass images_dir=... naming the folder that holds {first!r}"


def _discover_csv(
    root: str | os.PathLike[str],
    csv: str | os.PathLike[str] | None,
    image_column: str | None,
    label_column: str | None,
    images_dir: str | os.PathLike[str],
    classes: Sequence[str] | None,
    on_error: OnError,
) -> FileList:
    """The CSV layout's files, labels and classes: the step the eager and lazy paths share.

    Raises:
        FileNotFoundError / ValueError: as :func:`load_image_csv` documents (everything up to
            decoding: the CSV, its columns, its rows, the images folder).
    """
    root_path = Path(root)
    call_kwargs: dict[str, str] = {}
    if csv is None:
        csv_path = _find_label_csv(root, root_path)
    else:
        call_kwargs["csv"] = str(csv)
        csv_path = Path(csv)
        if not csv_path.is_absolute():
            csv_path = root_path / csv_path
        if not csv_path.is_file():
            raise FileNotFoundError(_missing_csv_message(csv_path, root, root_path))
    image_root = Path(images_dir)
    if not image_root.is_absolute():
        image_root = root_path / image_root

    header, table = _read_table(csv_path)
    problem = _column_error(
        csv_path, header, table, image_column, label_column, call_kwargs, root, image_root
    )
    if problem is not None:
        raise ValueError(problem)
    image_col, label_col = _infer_columns(header, table, image_column, label_column)
    assert image_col is not None and label_col is not None  # _column_error checked them
    rows = [(row.get(image_col) or "", row.get(label_col) or "") for row in table]
    if not rows:
        raise ValueError(f"{csv_path} has no data rows")

    allowed = None if classes is None else [str(c) for c in classes]
    if allowed is not None and len(set(allowed)) != len(allowed):
        raise ValueError(f"classes contains duplicates: {allowed}")
    early_skips: list[str] = []
    good: list[tuple[str, str]] = []
    for line, (name, value) in enumerate(rows, start=2):
        name, value = name.strip(), value.strip()
        problem = None
        if not name:
            problem = f"{csv_path} line {line}: blank image name"
        elif not value:
            problem = f"{csv_path} line {line}: blank label for image {name!r}"
        elif allowed is not None and value not in allowed:
            problem = (
                f"{csv_path} line {line}: unknown label {value!r} for image {name!r}; "
                f"expected one of {allowed}"
            )
        if problem is not None:
            if on_error == "raise":
                raise ValueError(problem + " (pass on_error='skip' to leave such rows out)")
            early_skips.append(problem)
            continue
        good.append((name, value))
    if not good:
        raise ValueError(f"no usable rows in {csv_path}: {early_skips[0]}")

    class_names = allowed if allowed is not None else _sort_label_values({v for _, v in good})
    index = {c: i for i, c in enumerate(class_names)}
    files = [image_root / name for name, _ in good]
    labels = [index[v] for _, v in good]
    if not image_root.is_dir() and not any(f.is_file() for f in files):
        columns = {"image_column": image_col} if image_column is not None else {}
        if label_column is not None:
            columns["label_column"] = label_col
        raise FileNotFoundError(
            _missing_images_dir(image_root, root_path, good[0][0], root, {**call_kwargs, **columns})
        )
    settings: dict[str, Any] = {
        "csv": str(csv_path.resolve()),
        "csv_stamp": _stamp(csv_path),
        "columns": [image_col, label_col],
        "classes": class_names,
    }
    return FileList("csv", root_path, files, labels, class_names, early_skips, settings)


@overload
def load_image_csv(
    root: str | os.PathLike[str],
    csv: str | os.PathLike[str] | None = None,
    *,
    image_column: str | None = None,
    label_column: str | None = None,
    size: SizeLike | None = 224,
    images_dir: str | os.PathLike[str] = "images",
    classes: Sequence[str] | None = None,
    cache: bool | str | os.PathLike[str] | None = None,
    on_error: OnError = "raise",
    num_workers: int | None = None,
    lazy: Literal[False] = False,
    transform: Transform | None = None,
) -> ImageDataset: ...


@overload
def load_image_csv(
    root: str | os.PathLike[str],
    csv: str | os.PathLike[str] | None = None,
    *,
    image_column: str | None = None,
    label_column: str | None = None,
    size: SizeLike | None = 224,
    images_dir: str | os.PathLike[str] = "images",
    classes: Sequence[str] | None = None,
    cache: bool | str | os.PathLike[str] | None = None,
    on_error: OnError = "raise",
    num_workers: int | None = None,
    lazy: Literal[True],
    transform: Transform | None = None,
) -> LazyImageDataset: ...


@overload
def load_image_csv(
    root: str | os.PathLike[str],
    csv: str | os.PathLike[str] | None = None,
    *,
    image_column: str | None = None,
    label_column: str | None = None,
    size: SizeLike | None = 224,
    images_dir: str | os.PathLike[str] = "images",
    classes: Sequence[str] | None = None,
    cache: bool | str | os.PathLike[str] | None = None,
    on_error: OnError = "raise",
    num_workers: int | None = None,
    lazy: bool = False,
    transform: Transform | None = None,
) -> ImageDataset | LazyImageDataset: ...


def load_image_csv(
    root: str | os.PathLike[str],
    csv: str | os.PathLike[str] | None = None,
    *,
    image_column: str | None = None,
    label_column: str | None = None,
    size: SizeLike | None = 224,
    images_dir: str | os.PathLike[str] = "images",
    classes: Sequence[str] | None = None,
    cache: bool | str | os.PathLike[str] | None = None,
    on_error: OnError = "raise",
    num_workers: int | None = None,
    lazy: bool = False,
    transform: Transform | None = None,
) -> ImageDataset | LazyImageDataset:
    """Load the case study's layout: a CSV of image names and labels plus a folder of images.

    The CSV has a header row with (at least) a column of image file names, each naming a file
    in ``root/images/``, and a column of labels. Both the case study's sample
    (``labels.csv``) and the original data set (``train.csv``, columns
    ``image_names,emergency_or_not``) load with ``load_image_csv(root)``. Images are decoded
    with Pillow, converted to RGB (grey, palette and CMYK images are converted; transparent
    ones are composited onto white; the EXIF orientation is applied) and resized to ``size``
    with Pillow's bilinear filter.

    When not given, the CSV and the columns are found by these rules:

    * ``csv=None``: ``root/labels.csv``, else ``root/train.csv``, else the only ``.csv``
      file in ``root``.
    * ``image_column=None``: ``image_names`` if the CSV has it, else the one column whose
      every non-blank value ends in an image extension (``IMAGE_EXTENSIONS``, any case).
    * ``label_column=None``: ``emergency_or_not`` if the CSV has it, else the other column of
      a two-column CSV.

    Class names are the label values as strings. Unless ``classes`` is given they are the
    distinct values of the label column, sorted numerically when every value is an integer
    (``"0", "1", "2", "10"``) and as strings otherwise; label ``k`` means ``class_names[k]``.
    For the case study's CSV this gives ``["0", "1"]``, so label 1 is "emergency".

    Args:
        root: folder holding the CSV and the images folder.
        csv: the CSV's path, relative to ``root`` or absolute; ``None`` finds it by the rule
            above.
        image_column: column with the image file names (relative to ``images_dir``);
            ``None`` finds it by the rule above.
        label_column: column with the labels; ``None`` finds it by the rule above.
        size: output size, an int (square) or ``(height, width)``; ``None`` keeps each image's
            own size, which must then be the same for all of them.
        images_dir: folder of the images, relative to ``root`` or absolute.
        classes: the allowed label values, in label order; a value outside it is an "unknown
            label" error. ``None`` takes the distinct values found in the CSV.
        cache: ``True`` caches the decoded images under ``root/.cnnkit_cache``; a path caches
            them in that folder; ``None``/``False`` does not cache. The cache key covers every
            file's path, modification time and byte size and the loader's settings, so a
            changed file is decoded again. A cache that cannot be written only gives a warning.
        on_error: ``"raise"`` (default) stops at the first bad row or file; ``"skip"`` leaves
            bad rows and files out and emits one ``UserWarning`` with their count.
        num_workers: decoding threads; ``None`` uses every core this process may run on.
        lazy: ``False`` (default) decodes every image now; ``True`` returns a
            :class:`LazyImageDataset` over the same files, labels and classes, which decodes
            each image when it is indexed (for data that does not fit in memory; give the
            ``DataLoader`` or ``Trainer`` workers). ``cache`` and ``num_workers`` are for the
            eager path and are refused with ``lazy=True``.
        transform: with ``lazy=True``, a callable applied to each decoded ``uint8``
            ``(3, H, W)`` tensor in ``__getitem__``; refused without ``lazy=True``.

    Returns:
        :class:`ImageDataset`: ``images`` ``uint8`` ``(N, 3, H, W)``, ``labels`` ``int64``
        ``(N,)`` in CSV row order, ``class_names``. With ``lazy=True`` a
        :class:`LazyImageDataset` of the same files in the same order.

    Raises:
        ImportError: Pillow is not installed (``pip install cnnkit[images]``).
        FileNotFoundError: ``root`` does not exist, no CSV is found by the rule (none, or
            several other ``.csv`` files), the given CSV or the images folder does not exist,
            or an image file does not exist (with ``on_error="raise"``). The message says what
            was looked for and, where the folder allows one, a call that works.
        ValueError: a column is missing or cannot be told by the rule, a label is blank or
            unknown, an image cannot be decoded (with ``on_error="raise"``), or no image is
            left.
        TypeError: ``size`` is not an int or a pair of ints (a ``SizeTypeError``, also a
            ``ValueError``).

    Example:
        >>> X, y, classes = load_image_csv("data/emergency_vehicles", size=64)  # doctest: +SKIP
        >>> X.shape, classes                                                    # doctest: +SKIP
        (torch.Size([201, 3, 64, 64]), ['0', '1'])
    """
    _check_on_error(on_error)
    hw = _normalize_size(size)
    _require_pillow()
    found = _discover_csv(root, csv, image_column, label_column, images_dir, classes, on_error)
    return _finish(found, hw, lazy, transform, cache, on_error, num_workers)
