"""Training: the :class:`Trainer`, its :class:`History`, callbacks, checkpoints and DDP support.

Example:
    >>> from cnnkit.training import Trainer, EarlyStopping
    >>> trainer = Trainer(max_epochs=20, callbacks=[EarlyStopping(patience=3)])
"""

from .callbacks import Callback, EarlyStopping, FitState, ModelCheckpoint, callback_from_dict
from .checkpoint import load_checkpoint, save_checkpoint
from .history import History
from .trainer import LRFindResult, Trainer, seed_everything

__all__ = [
    "Callback",
    "EarlyStopping",
    "FitState",
    "History",
    "LRFindResult",
    "ModelCheckpoint",
    "Trainer",
    "callback_from_dict",
    "load_checkpoint",
    "save_checkpoint",
    "seed_everything",
]
