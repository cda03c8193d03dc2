"""Build a built-in callback from a remedy-style dict (what ``diagnose()`` remedies carry)."""

from __future__ import annotations

import copy
from typing import Any

from .base import Callback
from .csv_logger import CSVLogger
from .early_stopping import EarlyStopping
from .model_checkpoint import ModelCheckpoint
from .tensorboard_logger import TensorBoardLogger

__all__ = ["callback_from_dict"]

#: The callback types :func:`callback_from_dict` builds, by their ``"type"`` name.
_REGISTRY: dict[str, type[Callback]] = {
    "EarlyStopping": EarlyStopping,
    "ModelCheckpoint": ModelCheckpoint,
    "CSVLogger": CSVLogger,
    "TensorBoardLogger": TensorBoardLogger,
}


def callback_from_dict(spec: dict[str, Any]) -> Callback:
    """Build a callback from a remedy-style dict such as ``{"type": "EarlyStopping", "patience": 5}``.

    Args:
        spec: ``"type"`` (``"EarlyStopping"``, ``"ModelCheckpoint"``, ``"CSVLogger"`` or
            ``"TensorBoardLogger"``) plus constructor kwargs.

    Returns:
        The callback.

    Raises:
        ValueError: For a missing or unknown ``"type"``.

    Example:
        >>> callback_from_dict({"type": "EarlyStopping", "patience": 2}).patience
        2
    """
    spec = copy.deepcopy(dict(spec))
    kind = spec.pop("type", None)
    if kind not in _REGISTRY:
        raise ValueError(f"unknown callback type {kind!r}; expected one of {sorted(_REGISTRY)}")
    return _REGISTRY[kind](**spec)
