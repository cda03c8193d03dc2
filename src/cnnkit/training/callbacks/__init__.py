"""Callbacks: a small protocol for code that runs at fixed points of :meth:`Trainer.fit`.

The protocol (hooks, order, checkpointed state) is described in
:mod:`cnnkit.training.callbacks.base`; the built-in callbacks are :class:`EarlyStopping` and
:class:`ModelCheckpoint`, and :func:`callback_from_dict` builds either from a remedy's dict.

Example:
    >>> from cnnkit.training.callbacks import EarlyStopping
    >>> EarlyStopping(patience=3).patience
    3
"""

from ..state import FitState
from .base import Callback
from .early_stopping import EarlyStopping
from .model_checkpoint import ModelCheckpoint
from .registry import callback_from_dict

__all__ = ["Callback", "EarlyStopping", "FitState", "ModelCheckpoint", "callback_from_dict"]
