"""Reading a file cnnkit wrote with ``torch.load(weights_only=True)``, with errors that help.

``weights_only=True`` runs no pickled code, so a model file from someone else cannot execute
anything; but when it refuses a file, torch's message advises ``weights_only=False`` (run the
file's code). :func:`safe_torch_load` says instead what is wrong (empty, truncated, not written
by ``torch.save``, holding a pickled object) and never chains torch's error, so that advice is
not shown.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import torch

__all__ = ["safe_torch_load", "unreadable_reason"]


def safe_torch_load(
    path: Path, *, what: str, hint: str, map_location: str | torch.device = "cpu"
) -> Any:
    """``torch.load(path, weights_only=True)``, or a ``ValueError`` that says what to do.

    Args:
        path: an existing file.
        what: what the file should be, for the message (e.g. ``"a cnnkit model file"``).
        hint: the advice that ends the message (e.g. which function writes such files).
        map_location: where tensors are loaded (default CPU).

    Returns:
        What the file holds (tensors and plain values only).

    Raises:
        PermissionError: the file cannot be read.
        ValueError: the file is empty, damaged, not written by ``torch.save`` or holds pickled
            objects other than tensors and plain values.
    """
    try:
        with warnings.catch_warnings():
            # A plain pickle makes torch warn about its protocol and ask for a bug report.
            warnings.filterwarnings("ignore", "Detected pickle protocol", UserWarning)
            return torch.load(path, map_location=map_location, weights_only=True)
    except PermissionError:
        raise
    except Exception as err:
        # torch's message advises weights_only=False, i.e. running code from the file: say what
        # is wrong instead, and do not chain (that would print the advice).
        raise ValueError(
            f"{path} is not {what} or is damaged: {unreadable_reason(err, path)}. {hint}"
        ) from None


def unreadable_reason(err: BaseException, path: Path) -> str:
    """Why ``torch.load`` could not read ``path``, in words that never suggest unsafe loading.

    Args:
        err: the exception ``torch.load`` raised.
        path: the file.

    Returns:
        A short reason, e.g. ``"the file is empty"``.
    """
    with path.open("rb") as fh:
        head = fh.read(4)
    found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(err))
    if found:
        return (
            f"it holds a pickled Python object ({found.group(1)}), not only tensors and plain "
            "values, and cnnkit never unpickles objects (that would run code from the file)"
        )
    if not head:
        return "the file is empty"
    if head.startswith(b"PK"):  # torch.save's zip archive, cut short or corrupted
        return "it is truncated or corrupted (torch.load cannot read its archive)"
    return "it is not a file written by torch.save"
