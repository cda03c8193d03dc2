"""What a data folder holds, and which loader call reads it.

:func:`load_image_csv` finds its CSV and columns here when they are not given, by these rules:

* **The CSV** (``csv=None``): ``root/labels.csv``, else ``root/train.csv`` (the original
  vehicle data set's name), else the folder's only ``.csv`` file. Several other ``.csv`` files
  and none at all are errors that say what was looked for.
* **The image column** (``image_column=None``): ``image_names`` (the case study's) if the CSV
  has it, else the one column whose every non-blank value ends in an image extension
  (:data:`IMAGE_EXTENSIONS`, any case).
* **The label column** (``label_column=None``): ``emergency_or_not`` (the case study's) if the
  CSV has it, else the other column of a two-column CSV.

The same rules let every error of the loaders end with a call that would work on the folder,
checked against its files (:func:`_working_csv_call`), rather than a guess.
"""

from __future__ import annotations

import csv as _csv
import os
from collections.abc import Sequence
from pathlib import Path

from .dataset import IMAGE_EXTENSIONS

__all__ = ["DEFAULT_IMAGE_COLUMN", "DEFAULT_LABEL_COLUMN", "LABEL_CSV_NAMES"]

#: The CSV names :func:`load_image_csv` looks for first, in this order, when ``csv=None``.
LABEL_CSV_NAMES: tuple[str, ...] = ("labels.csv", "train.csv")
#: The case study's column of image file names, taken when the CSV has it.
DEFAULT_IMAGE_COLUMN = "image_names"
#: The case study's column of labels, taken when the CSV has it.
DEFAULT_LABEL_COLUMN = "emergency_or_not"

_CSV_RULE = "labels.csv, then train.csv, then the folder's only .csv file"
_COLUMN_RULE = (
    f"the image column is {DEFAULT_IMAGE_COLUMN!r} if present, else the one column whose every "
    "value ends in an image extension (.jpg, .png, ...); the label column is "
    f"{DEFAULT_LABEL_COLUMN!r} if present, else the other column of a two-column CSV"
)

Rows = list[dict[str | None, str | None]]


def _call(function: str, root: str | os.PathLike[str], **kwargs: str) -> str:
    """The text of a call, e.g. ``load_image_csv('data/x', csv='a.csv')``."""
    args = [repr(str(root))] + [f"{k}={v!r}" for k, v in kwargs.items()]
    return f"{function}({', '.join(args)})"


def _csv_files(root: Path) -> list[Path]:
    """The ``.csv`` files directly in ``root`` (any case, hidden ones left out), sorted."""
    if not root.is_dir():
        return []
    return sorted(
        p
        for p in root.iterdir()
        if p.suffix.lower() == ".csv" and not p.name.startswith(".") and p.is_file()
    )


def _pick_csv(root: Path) -> tuple[Path | None, list[Path]]:
    """``(the CSV the rule picks or None, every .csv file in root)``."""
    for name in LABEL_CSV_NAMES:
        if (root / name).is_file():
            return root / name, _csv_files(root)
    found = _csv_files(root)
    return (found[0] if len(found) == 1 else None), found


def _read_table(path: Path) -> tuple[list[str], Rows]:
    """The header (stripped names) and the rows of a CSV with a header row."""
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = _csv.DictReader(fh)
        header = [h.strip() for h in (reader.fieldnames or [])]
        reader.fieldnames = header
        rows: Rows = list(reader)  # type: ignore[arg-type]
    return header, rows


def _is_image_name(value: str) -> bool:
    return value.strip().lower().endswith(IMAGE_EXTENSIONS)


def _image_name_columns(header: Sequence[str], rows: Rows) -> list[str]:
    """Columns with at least one value, every non-blank one ending in an image extension."""
    found = []
    for column in header:
        values = [(row.get(column) or "").strip() for row in rows]
        values = [v for v in values if v]
        if values and all(_is_image_name(v) for v in values):
            found.append(column)
    return found


def _infer_columns(
    header: Sequence[str],
    rows: Rows,
    image_column: str | None = None,
    label_column: str | None = None,
) -> tuple[str | None, str | None]:
    """``(image column, label column)`` by the module's rule; ``None`` where it finds none.

    A column passed explicitly is returned as is (whether or not the CSV has it).
    """
    image = image_column
    if image is None:
        if DEFAULT_IMAGE_COLUMN in header:
            image = DEFAULT_IMAGE_COLUMN
        else:
            candidates = _image_name_columns(header, rows)
            image = candidates[0] if len(candidates) == 1 else None
    label = label_column
    if label is None:
        if DEFAULT_LABEL_COLUMN in header:
            label = DEFAULT_LABEL_COLUMN
        elif len(header) == 2 and image in header:
            label = header[1] if header[0] == image else header[0]
    return image, label


def _images_dir_kwargs(root: Path, rows: Rows, image_column: str) -> dict[str, str] | None:
    """``{}`` if the first image is in ``root/images``, ``{"images_dir": d}`` if it is in
    ``root/d`` (``"."`` for ``root`` itself), ``None`` if it is in neither."""
    first = next((str(r.get(image_column) or "").strip() for r in rows), "")
    if not first:
        return None
    if (root / "images" / first).is_file():
        return {}
    if (root / first).is_file():
        return {"images_dir": "."}
    for sub in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if (sub / first).is_file():
            return {"images_dir": sub.name}
    return None


def _working_csv_call(root_arg: str | os.PathLike[str], root: Path) -> str | None:
    """A ``load_image_csv`` call that gets through the CSV, its columns and the first image.

    Tries the CSV the rule picks, else each ``.csv`` file in ``root``; returns ``None`` when no
    CSV in ``root`` has columns the rule recognizes and a first image that exists.
    """
    picked, found = _pick_csv(root)
    for path in [picked] if picked is not None else found:
        try:
            header, rows = _read_table(path)
        except (OSError, UnicodeDecodeError, _csv.Error):
            continue
        image, label = _infer_columns(header, rows)
        if image is None or label is None or not rows:
            continue
        dir_kwargs = _images_dir_kwargs(root, rows, image)
        if dir_kwargs is None:
            continue
        csv_kwargs = {} if path == picked else {"csv": path.name}
        return _call("load_image_csv", root_arg, **csv_kwargs, **dir_kwargs)
    return None


def _class_folders(root: Path) -> list[str]:
    """Non-hidden sub-folders of ``root``, sorted: what :func:`load_image_folder` takes as classes."""
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def _is_class_layout(root: Path) -> bool:
    """True when ``root`` has two or more class sub-folders, each holding an image file."""
    names = _class_folders(root)
    return len(names) >= 2 and all(
        any(p.is_file() and _is_image_name(p.name) for p in (root / n).iterdir()) for n in names
    )


def _find_label_csv(root_arg: str | os.PathLike[str], root: Path) -> Path:
    """The CSV ``load_image_csv(root)`` reads: ``labels.csv``, ``train.csv``, the only ``.csv``.

    Raises:
        FileNotFoundError: ``root`` is not a folder, or the rule picks no CSV (none, or several
            others); the message says what was looked for and a call that works, if any.
    """
    if not root.is_dir():
        raise FileNotFoundError(
            f"data folder not found: {root}; load_image_csv reads a folder holding a label CSV "
            "and an images/ folder"
        )
    picked, found = _pick_csv(root)
    if picked is not None:
        return picked
    looked = f"load_image_csv({str(root_arg)!r}) looks for {_CSV_RULE}"
    if not found:
        if _is_class_layout(root):
            hint = (
                f"; it holds one sub-folder per class {_class_folders(root)}: use "
                f"{_call('load_image_folder', root_arg)}"
            )
        else:
            hint = "; pass csv=... naming the CSV of image names and labels (relative to root or absolute)"
        raise FileNotFoundError(f"no label CSV in {root}: {looked}, and it has no .csv file{hint}")
    names = [p.name for p in found]
    works = _working_csv_call(root_arg, root)
    hint = (
        f"; e.g. {works}"
        if works is not None
        else (
            "; none of them has columns that load_image_csv recognizes "
            f"({_COLUMN_RULE}), so pass csv=..., image_column=... and label_column=..."
        )
    )
    raise FileNotFoundError(
        f"no label CSV chosen in {root}: {looked}, and it holds {len(found)} .csv files "
        f"{names}; pass csv=... to choose one{hint}"
    )


def _missing_csv_message(csv_path: Path, root_arg: str | os.PathLike[str], root: Path) -> str:
    """The error for an explicit ``csv=`` that does not exist, with a call that works."""
    message = f"label file not found: {csv_path}"
    if not root.is_dir():
        return f"{message}; the data folder {root} does not exist either"
    works = _working_csv_call(root_arg, root)
    names = [p.name for p in _csv_files(root)]
    if works is not None:
        return f"{message}; {root} holds {names}: {works} reads it"
    if names:
        return f"{message}; {root} holds {names}: pass csv=... naming one of them"
    return f"{message}; {root} has no .csv file"


def _file_name_columns(header: Sequence[str], rows: Rows, image_root: Path) -> list[str]:
    """Columns whose first non-blank value names an existing file in ``image_root``."""
    found = []
    for column in header:
        first = next((v for v in ((r.get(column) or "").strip() for r in rows) if v), "")
        if first and (image_root / first).is_file():
            found.append(column)
    return found


def _column_error(
    csv_path: Path,
    header: Sequence[str],
    rows: Rows,
    image_column: str | None,
    label_column: str | None,
    call_kwargs: dict[str, str],
    root_arg: str | os.PathLike[str],
    image_root: Path,
) -> str | None:
    """The error for columns that are missing or cannot be told apart, or ``None`` if fine.

    The suggested call names an image column whose first value is a file in ``image_root``
    (else one whose values end in an image extension), so it gets past the first image.

    Args:
        csv_path: the CSV, for the message.
        header: its columns.
        rows: its rows.
        image_column: the ``image_column`` argument (``None`` = by the rule).
        label_column: the ``label_column`` argument (``None`` = by the rule).
        call_kwargs: the other arguments the suggested call must repeat (``csv=...``).
        root_arg: ``root`` as the caller gave it.
        image_root: the images folder.
    """
    image, label = _infer_columns(header, rows, image_column, label_column)
    absent = [c for c in (image_column, label_column) if c is not None and c not in header]
    if not absent and image is not None and label is not None:
        return None
    if len(header) < 2:
        return (
            f"{csv_path} has the columns {list(header)}: it needs one column of image file names "
            "and one of labels"
        )
    if absent:
        head = (
            f"column {absent[0]!r} not found in {csv_path}; its columns are {list(header)}; "
            "pass image_column=... / label_column=... to name the right ones"
        )
    else:
        missing = " and ".join(
            what for what, found in (("image", image), ("label", label)) if found is None
        )
        plural = "s" if image is None and label is None else ""
        head = (
            f"cannot tell the {missing} column{plural} of {csv_path}, whose columns are "
            f"{list(header)}: {_COLUMN_RULE}"
        )
    images: list[str]
    if image is not None and image in header:
        images = [image]
    else:
        images = _file_name_columns(header, rows, image_root) or _image_name_columns(header, rows)
    if not images:
        return (
            f"{head}; none of its columns names a file in {image_root}: pass image_column=... "
            "(and images_dir=... for the folder that holds the images)"
        )
    labels = (
        [label] if label is not None and label in header else [c for c in header if c != images[0]]
    )
    suggestion = _call(
        "load_image_csv", root_arg, **call_kwargs, image_column=images[0], label_column=labels[0]
    )
    choice = f" (the label column may be any of {labels})" if len(labels) > 1 else ""
    return f"{head}; e.g. {suggestion}{choice}"
