"""Histories saved to disk: :func:`diagnose_file` and its CSV/JSON readers (standard library
``csv``/``json`` plus numpy)."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cnnkit.diagnosis.findings import Diagnosis
from cnnkit.diagnosis.series import CORE, extract
from cnnkit.diagnosis.verdict import diagnose
from cnnkit.metric_names import canonical_name

__all__ = ["diagnose_file", "read_history_file"]


def _to_float(value: Any, path: Path, column: str, row: int) -> float | None:
    """A cell as a float; empty/None/"null" -> None (missing); "nan"/"inf" stay non-finite."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return float(value)  # the common case first: this runs once per cell
    except (TypeError, ValueError):
        pass
    t = str(value).strip()
    if t == "" or t.lower() in ("none", "null"):
        return None
    raise ValueError(f"{path}: column {column!r}, row {row}: {value!r} is not a number")


def _records_to_series(records: list[dict[str, Any]], columns: list[str],
                       path: Path) -> dict[str, list[float]]:
    """Group rows by epoch (mean of the values logged in each epoch), keep recognized columns,
    and keep the epochs where every recognized core series has a value."""
    # A column that exists but is empty throughout (Lightning writes every key in the header)
    # does not count: e.g. train_loss_epoch when only train_loss_step was logged.
    filled = {col for rec in records for col, v in rec.items() if v is not None and v != ""}
    best: dict[str, tuple[int, str]] = {}
    for col in (c for c in columns if c in filled):
        cn = canonical_name(col)
        if cn is not None and (cn[0] not in best or cn[1] < best[cn[0]][0]):
            best[cn[0]] = (cn[1], col)
    if "train_loss" not in best and "val_loss" not in best:
        raise ValueError(
            f"no non-empty loss column in {path}: found columns {columns}; expected a training or "
            "validation loss such as 'train_loss', 'loss', 'train_loss_epoch' or 'val_loss' "
            "(see docs/diagnosis.md)"
        )
    epoch_col = next((c for c in columns if c.strip().lower() == "epoch"), None)
    groups: dict[Any, dict[str, list[float]]] = {}
    for i, rec in enumerate(records):
        key: Any = _to_float(rec.get(epoch_col), path, "epoch", i + 2) if epoch_col else i
        if key is None:
            key = ("row", i)
        g = groups.setdefault(key, {})
        for canon, (_, col) in best.items():
            v = _to_float(rec.get(col), path, col, i + 2)
            if v is not None:
                g.setdefault(canon, []).append(v)
    core = [c for c in CORE if c in best]
    out: dict[str, list[float]] = {c: [] for c in best}
    for g in groups.values():
        if not all(c in g for c in core):
            continue
        for name in best:
            vals = g.get(name)
            out[name].append(math.fsum(vals) / len(vals) if vals else math.nan)
    return out


def read_history_file(path: str | Path) -> dict[str, list[float]]:
    """Read the per-epoch series of a history file (the formats of :func:`diagnose_file`).

    Args:
        path: The ``.csv`` or ``.json`` file.

    Returns:
        ``{canonical name: per-epoch values}`` (see :func:`~cnnkit.metric_names.canonical_name`).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: The file has no loss series (the message names the file and the columns
            found), a non-numeric cell, or is not CSV/JSON.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"no history file at {p}")
    text = p.read_text(encoding="utf-8-sig")
    stripped = text.lstrip()
    if p.suffix.lower() == ".json" or stripped.startswith(("{", "[")):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{p} is not valid JSON: {exc}") from None
        if isinstance(data, Mapping) and isinstance(data.get("history"), Mapping):
            data = data["history"]
        if isinstance(data, Mapping):
            try:
                series, _ = extract(data, source=str(p))
            except TypeError as exc:
                raise ValueError(f"{p}: {exc}") from None
            return {k: v.tolist() for k, v in series.items()}
        if isinstance(data, list) and data and all(isinstance(r, Mapping) for r in data):
            columns = list(dict.fromkeys(str(k) for r in data for k in r))
            records = [{str(k): v for k, v in r.items()} for r in data]
            return _records_to_series(records, columns, p)
        raise ValueError(f"{p}: expected a JSON object of per-epoch lists or a list of records")
    rows = list(csv.reader(text.splitlines()))
    if not rows:
        raise ValueError(f"{p} is empty: expected a header row and one row per epoch")
    header = [h.strip() for h in rows[0]]
    records = [dict(zip(header, row, strict=False)) for row in rows[1:] if any(c.strip() for c in row)]
    return _records_to_series(records, header, p)


def diagnose_file(path: str | Path, **options: Any) -> Diagnosis:
    """Diagnose a history saved to disk.

    Reads (with the stdlib ``csv``/``json`` modules):

    * a cnnkit ``History.to_csv`` / ``History.to_json`` file;
    * a Keras ``CSVLogger`` file (``epoch,accuracy,loss,val_accuracy,val_loss[,lr]``) or a JSON dump
      of ``history.history``;
    * a Lightning ``CSVLogger`` ``metrics.csv`` (step rows and epoch rows interleaved, empty cells,
      ``_step``/``_epoch`` suffixes); a JSON list of per-row records is read the same way.

    Column names are mapped by :func:`~cnnkit.metric_names.canonical_name`. Rows are grouped by
    the ``epoch`` column (each row is an epoch when there is none); a metric logged several times
    in an epoch is averaged; epochs lacking a recognized loss/accuracy series (e.g. a Lightning
    epoch with only step rows) are dropped. An empty cell is a missing value; ``nan``/``inf`` are
    kept as non-finite values.

    Args:
        path: The ``.csv`` or ``.json`` file.
        **options: Passed to :func:`~cnnkit.diagnosis.diagnose` (``num_classes``,
            ``target_accuracy``, ...).

    Returns:
        A :class:`~cnnkit.diagnosis.Diagnosis`.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: The file has no loss series (the message names the file and the columns
            found), a non-numeric cell, or is not CSV/JSON.

    Examples:
        >>> d = diagnose_file("logs/lightning/version_0/metrics.csv")  # doctest: +SKIP
    """
    return diagnose(read_history_file(path), **options)
