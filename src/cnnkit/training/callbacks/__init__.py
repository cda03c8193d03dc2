"""Callbacks: a small protocol for code that runs at fixed points of :meth:`Trainer.fit`.

The protocol (hooks, order, checkpointed state) is described in
:mod:`cnnkit.training.callbacks.base`; the built-in callbacks are :class:`EarlyStopping`,
:class:`ModelCheckpoint`, :class:`CSVLogger` and :class:`TensorBoardLogger`, and
:func:`callback_from_dict` builds any of them from a remedy's dict.

Example:
    >>> from cnnkit.training.callbacks import EarlyStopping
    >>> EarlyStopping(patience=3).patience
    3
"""

from ..state import FitState
from .base import Callback
from .csv_logger import CSVLogger
from .early_stopping import EarlyStopping
from .model_checkpoint import ModelCheckpoint
from .registry import callback_from_dict
from .tensorboard_logger import TensorBoardLogger

__all__ = [
    "CSVLogger",
    "Callback",
    "EarlyStopping",
    "FitState",
    "ModelCheckpoint",
    "TensorBoardLogger",
    "callback_from_dict",
]
