"""Load a local weights file into a backbone: the body must match, the head may differ."""

from __future__ import annotations

import os
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from cnnkit.backbones.head import classifier_name

__all__ = ["WEIGHT_KEYS", "load_weights", "read_state_dict"]

WEIGHT_KEYS = ("state_dict", "model_state_dict", "model", "weights")
"""Keys under which a saved file may hold the state dict (a cnnkit saved model or checkpoint,
a Lightning checkpoint, common hand-written formats); a bare state dict is read as it is."""

_PREFIXES = ("module.", "_orig_mod.")  # DistributedDataParallel, torch.compile
_SHOWN = 6


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, Tensor]:
    """Read a state dict from ``path`` with ``torch.load(..., weights_only=True)``.

    Accepts a bare ``model.state_dict()`` or a dict holding one under one of
    :data:`WEIGHT_KEYS` (a cnnkit saved model or checkpoint). The ``module.`` prefix of
    ``DistributedDataParallel`` and the ``_orig_mod.`` prefix of ``torch.compile`` are removed.

    Args:
        path: a file written by ``torch.save``.

    Returns:
        ``{name: tensor}`` on the CPU.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file is not a ``torch.save`` file of tensors, or holds no state dict.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"weights file {str(p)!r} does not exist; pass a local file path")
    try:
        obj: Any = torch.load(p, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError) as exc:
        raise ValueError(
            f"cannot read {str(p)!r} as weights with torch.load(weights_only=True): "
            f"{_why_unreadable(p, exc)}. Save the weights alone with "
            "torch.save(model.state_dict(), path) and pass that file"
        ) from exc
    state = _find_state_dict(obj)
    if state is None:
        keys = sorted(obj)[:_SHOWN] if isinstance(obj, Mapping) else type(obj).__name__
        raise ValueError(
            f"{str(p)!r} holds no state dict (found {keys}); expected a bare "
            f"model.state_dict() or a dict with one under one of {list(WEIGHT_KEYS)}"
        )
    return {_strip(k): v for k, v in state.items()}


def _why_unreadable(path: Path, exc: BaseException) -> str:
    """A short reason, without torch's advice to turn the safe loading off."""
    with path.open("rb") as fh:
        head = fh.read(2)
    if head != b"PK":
        return "it is not a file written by torch.save"
    if isinstance(exc, pickle.UnpicklingError):
        return (
            "it holds pickled objects other than tensors and plain containers (a whole "
            "nn.Module, an optimizer or a custom class), which safe loading refuses"
        )
    return "the torch.save archive is cut short or corrupted"


def _is_state_dict(obj: object) -> bool:
    return (
        isinstance(obj, Mapping)
        and len(obj) > 0
        and all(isinstance(k, str) and isinstance(v, Tensor) for k, v in obj.items())
    )


def _find_state_dict(obj: object) -> Mapping[str, Tensor] | None:
    if _is_state_dict(obj):
        return obj  # type: ignore[return-value]
    if isinstance(obj, Mapping):
        for key in WEIGHT_KEYS:
            if _is_state_dict(obj.get(key)):
                return obj[key]  # type: ignore[no-any-return]
    return None


def _strip(key: str) -> str:
    changed = True
    while changed:
        changed = False
        for prefix in _PREFIXES:
            if key.startswith(prefix):
                key, changed = key[len(prefix) :], True
    return key


def load_weights(
    model: nn.Module, weights: str | os.PathLike[str] | Mapping[str, Tensor], *, name: str = ""
) -> bool:
    """Copy saved weights into ``model``: every body tensor must match, the head may differ.

    The classifier (:func:`~cnnkit.backbones.classifier_name`) is copied too when its shape
    matches; otherwise ``model`` keeps its own freshly initialized one (the head is replaced:
    the usual case when fine-tuning on a task with another number of classes).

    Args:
        model: the model to fill, already built with its final classifier.
        weights: a file path (see :func:`read_state_dict`) or a state dict.
        name: the backbone's name, used in the error message.

    Returns:
        ``True`` when the classifier came from the file, ``False`` when it was kept new.

    Raises:
        ValueError: the file belongs to another architecture (the message lists the missing
            keys, the unexpected keys and the shape mismatches, and says what to do).
    """
    source = f"{str(weights)!r}" if isinstance(weights, (str, os.PathLike)) else "the state dict"
    state = (
        read_state_dict(weights)
        if isinstance(weights, (str, os.PathLike))
        else {_strip(k): v for k, v in weights.items()}
    )
    own = model.state_dict()
    head = classifier_name(model) + "."
    body_own = {k for k in own if not k.startswith(head)}
    body_file = {k for k in state if not k.startswith(head)}
    missing = [k for k in own if k in body_own - body_file]  # in the model's order
    unexpected = [k for k in state if k in body_file - body_own]  # in the file's order
    mismatched = [
        f"{k}: file {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
        for k in own
        if k in body_own & body_file and state[k].shape != own[k].shape
    ]
    if missing or unexpected or mismatched:
        raise ValueError(_mismatch_message(source, name or type(model).__name__,
                                           missing, unexpected, mismatched))  # fmt: skip
    head_keys = [k for k in own if k.startswith(head)]
    head_fits = all(k in state and state[k].shape == own[k].shape for k in head_keys)
    merged = {k: (state[k] if (k in body_own or head_fits) else v) for k, v in own.items()}
    model.load_state_dict(merged, strict=True)
    return head_fits


def _mismatch_message(
    source: str, name: str, missing: list[str], unexpected: list[str], mismatched: list[str]
) -> str:
    def show(items: list[str]) -> str:
        more = f" and {len(items) - _SHOWN} more" if len(items) > _SHOWN else ""
        return ", ".join(items[:_SHOWN]) + more

    parts = [
        f"{len(items)} {what} ({show(items)})"
        for what, items in (
            ("missing keys", missing),
            ("unexpected keys", unexpected),
            ("shape mismatches", mismatched),
        )
        if items
    ]
    return (
        f"{source} does not fit backbone {name!r}: {'; '.join(parts)}. The file was saved from "
        "another architecture: pass the backbone name it was trained as (see "
        "cnnkit.list_backbones()) with the same width and in_channels, or rebuild that model "
        "(ModelBuilder.from_dict(spec)) and load it with model.load_state_dict(...)"
    )
