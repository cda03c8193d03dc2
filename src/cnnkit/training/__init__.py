"""Training: the :class:`Trainer`, its :class:`History`, callbacks, checkpoints and DDP support.

Example:
    >>> from cnnkit.training import Trainer, EarlyStopping
    >>> trainer = Trainer(max_epochs=20, callbacks=[EarlyStopping(patience=3)])
"""

from cnnkit.history import History

from .allocator import tune_cpu_allocator
from .callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    ModelCheckpoint,
    TensorBoardLogger,
    callback_from_dict,
)
from .checkpoint import load_checkpoint, save_checkpoint
from .lr_find import LRFindResult
from .seed import seed_everything
from .state import FitState
from .trainer import Trainer

__all__ = [
    "CSVLogger",
    "Callback",
    "EarlyStopping",
    "FitState",
    "History",
    "LRFindResult",
    "ModelCheckpoint",
    "TensorBoardLogger",
    "Trainer",
    "callback_from_dict",
    "load_checkpoint",
    "save_checkpoint",
    "seed_everything",
    "tune_cpu_allocator",
]
