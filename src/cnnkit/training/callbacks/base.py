"""The callback protocol: :class:`Callback` (no-op hooks), the hook names, and how they are called.

The protocol
------------
A callback is any object with some of these methods (subclass :class:`Callback` to get no-op
defaults for the rest). Each receives the :class:`~cnnkit.training.FitState` of the running fit:

* ``on_fit_start(state)``: after the model, optimizer and data are set up (and a checkpoint
  resumed), before the first epoch. Validate options here and reset per-run state.
* ``on_epoch_start(state)``: before each epoch; ``state.epoch`` is the number of completed epochs.
* ``on_epoch_end(state)``: after each epoch's metrics are in ``state.history``; ``state.epoch`` is
  the 1-based number of the epoch just finished. Set ``state.should_stop = True`` (and
  ``state.stop_reason``) to end training after this epoch.
* ``on_fit_end(state)``: once, after the last epoch (also after an early stop).
* ``state_dict()`` / ``load_state_dict(d)``: the callback's own state, stored in checkpoints so
  that a resumed run behaves exactly as an uninterrupted one. Return only tensors, numbers,
  strings, lists, dicts and ``None`` (checkpoints load with ``weights_only=True``).

Order: callbacks run in the order given, except
:class:`~cnnkit.training.ModelCheckpoint` instances, which run last so that the checkpoint they
write holds every other callback's state for that epoch. All ranks call every hook in
distributed training; ``state.is_main`` is true on rank 0 only, which alone should print or
write files.
"""

from __future__ import annotations

from typing import Any

from ..state import FitState

__all__ = ["HOOKS", "Callback", "call_hook", "is_callback"]

#: The hook names of the protocol, in the order a fit calls them.
HOOKS = ("on_fit_start", "on_epoch_start", "on_epoch_end", "on_fit_end")


class Callback:
    """Base class with no-op hooks; override the ones you need (see :mod:`cnnkit.training.callbacks`).

    Example:
        >>> class PrintLR(Callback):
        ...     def on_epoch_end(self, state: FitState) -> None:
        ...         if state.is_main:
        ...             print(state.history.lr[-1])
    """

    def on_fit_start(self, state: FitState) -> None:
        """Called once before the first epoch."""

    def on_epoch_start(self, state: FitState) -> None:
        """Called before each epoch."""

    def on_epoch_end(self, state: FitState) -> None:
        """Called after each epoch, with its metrics already in ``state.history``."""

    def on_fit_end(self, state: FitState) -> None:
        """Called once after training ends."""

    def state_dict(self) -> dict[str, Any] | None:
        """Return state to store in checkpoints (``weights_only``-safe values only)."""
        return None

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        """Restore what :meth:`state_dict` returned."""


def is_callback(obj: Any) -> bool:
    """True if ``obj`` has at least one hook of the protocol (duck typing, no base class needed)."""
    return any(hasattr(obj, h) for h in HOOKS)


def call_hook(cb: Any, hook: str, state: FitState) -> None:
    """Call ``cb.<hook>(state)`` if the callback defines that hook.

    Args:
        cb: A callback.
        hook: One of :data:`HOOKS`.
        state: The running fit.
    """
    fn = getattr(cb, hook, None)
    if fn is not None:
        fn(state)
