"""Compatibility path: :class:`History` lives in :mod:`cnnkit.history` (it needs no torch)."""

from cnnkit.history import EPOCH_KEYS, History, best_epoch

__all__ = ["EPOCH_KEYS", "History", "best_epoch"]
