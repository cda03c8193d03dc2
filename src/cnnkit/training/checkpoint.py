"""Atomic, ``weights_only``-loadable checkpoints and the RNG state they carry.

A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts, so it loads with
``torch.load(path, weights_only=True)`` (no arbitrary pickled code runs). It is written to a
temporary file in the same directory and moved over the target with :func:`os.replace`, so a crash
(even ``SIGKILL``) leaves either the old file or the new one, never a truncated one.
"""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

__all__ = [
    "CHECKPOINT_FORMAT",
    "get_rng_state",
    "load_checkpoint",
    "save_checkpoint",
    "set_rng_state",
]

#: Version tag stored under the key ``"cnnkit_checkpoint"``.
CHECKPOINT_FORMAT = 1


def save_checkpoint(payload: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write ``payload`` with :func:`torch.save` atomically (temporary file + ``os.replace``).

    Args:
        payload: Dict of tensors, numbers, strings, lists and dicts.
        path: Destination; parent directories are created.

    Returns:
        The destination path.
    """
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(payload, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return dest


def load_checkpoint(
    path: str | os.PathLike[str],
    model: nn.Module | None = None,
    *,
    map_location: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Load a cnnkit checkpoint with ``weights_only=True``, optionally into ``model``.

    Args:
        path: A file written by :class:`~cnnkit.training.ModelCheckpoint` (``last.pt``/``best.pt``).
        model: If given, ``model.load_state_dict(checkpoint["model"])`` is called.
        map_location: Where tensors are loaded (default CPU).

    Returns:
        The checkpoint dict: ``model``, ``optimizer``, ``scheduler``, ``scaler``, ``rng``,
        ``epoch`` (completed epochs), ``history`` (a :meth:`History.to_dict`), ``callbacks``.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If the file is not a cnnkit checkpoint.

    Example:
        >>> # load_checkpoint("runs/best.pt", model)
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"no checkpoint at {p}; pass the path of last.pt or best.pt")
    ckpt = torch.load(p, map_location=map_location, weights_only=True)
    if not isinstance(ckpt, dict) or "cnnkit_checkpoint" not in ckpt:
        raise ValueError(
            f"{p} is not a cnnkit checkpoint (no 'cnnkit_checkpoint' key); for a bare state_dict "
            "use model.load_state_dict(torch.load(path, weights_only=True))"
        )
    if model is not None:
        model.load_state_dict(ckpt["model"])
    return ckpt


def get_rng_state(shuffle: torch.Generator | None = None) -> dict[str, Any]:
    """Capture every random stream training may draw from, in a ``weights_only``-safe form.

    Args:
        shuffle: The trainer's data-order generator, if any.

    Returns:
        Dict with ``torch`` (CPU), ``cuda`` (list, one per device), ``numpy``, ``python`` and
        ``shuffle`` states.
    """
    np_state: Any = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        # numpy's legacy state tuple holds an ndarray, which weights_only refuses: store a tensor.
        "numpy": {
            "keys": torch.from_numpy(np.asarray(np_state[1], dtype=np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "python": _python_state_to_list(random.getstate()),
        "shuffle": shuffle.get_state() if shuffle is not None else None,
    }
    return state


def set_rng_state(state: dict[str, Any], shuffle: torch.Generator | None = None) -> None:
    """Restore the streams captured by :func:`get_rng_state`.

    Args:
        state: Output of :func:`get_rng_state` (possibly after a save/load round trip).
        shuffle: The trainer's data-order generator to restore, if any.
    """
    torch.set_rng_state(state["torch"].cpu())
    if state.get("cuda") and torch.cuda.is_available():
        cuda_states = [s.cpu() for s in state["cuda"]]
        if len(cuda_states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda_states)
    npd = state["numpy"]
    keys = npd["keys"].cpu().numpy().astype(np.uint32)
    np.random.set_state(("MT19937", keys, npd["pos"], npd["has_gauss"], npd["cached_gaussian"]))
    random.setstate(_python_state_from_list(state["python"]))
    if shuffle is not None and state.get("shuffle") is not None:
        shuffle.set_state(state["shuffle"].cpu())


def _python_state_to_list(st: tuple[Any, ...]) -> list[Any]:
    version, internal, gauss = st
    return [int(version), [int(v) for v in internal], gauss]


def _python_state_from_list(st: list[Any]) -> tuple[Any, ...]:
    version, internal, gauss = st
    return (int(version), tuple(int(v) for v in internal), gauss)
