"""Progress output: a tqdm bar per epoch on a terminal or in Jupyter, else one line per epoch.

The bar is ``tqdm.auto``'s: a widget in a Jupyter notebook (text when ``ipywidgets`` is
missing), text on a terminal. Only rank 0 prints; ``Trainer(progress=False)`` prints nothing.
"""

from __future__ import annotations

import sys
from typing import Any

from cnnkit.history import History

from .distributed import DistInfo

__all__ = ["epoch_bar", "finish_epoch", "in_notebook", "summary"]


def in_notebook() -> bool:
    """True inside a Jupyter kernel (IPython's ``ZMQInteractiveShell``), without importing IPython."""
    ipython = sys.modules.get("IPython")
    get = getattr(ipython, "get_ipython", None)
    shell = get() if callable(get) else None
    return type(shell).__name__ == "ZMQInteractiveShell"


def epoch_bar(
    progress: bool, info: DistInfo, epoch: int, max_epochs: int, total: int | None
) -> Any:
    """A tqdm bar for one epoch when progress is on, this is rank 0 and stderr is a terminal
    (or this runs in a Jupyter notebook, whose stderr is not one).

    Args:
        progress: The ``Trainer(progress=...)`` option.
        info: The job layout.
        epoch: The 1-based epoch.
        max_epochs: Planned epochs.
        total: Batches in the epoch (``None``: unknown).

    Returns:
        The bar (call ``update(1)`` per batch), or ``None``.
    """
    if not (progress and info.is_main and (sys.stderr.isatty() or in_notebook())):
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=f"epoch {epoch}/{max_epochs}", leave=True, dynamic_ncols=True)


def summary(h: History) -> str:
    """The last epoch's metrics on one line, e.g. ``train_loss 0.6931  train_acc 0.500 ...``."""
    parts = [f"train_loss {h.train_loss[-1]:.4f}", f"train_acc {h.train_acc[-1]:.3f}"]
    if h.val_loss:
        parts += [f"val_loss {h.val_loss[-1]:.4f}", f"val_acc {h.val_acc[-1]:.3f}"]
    parts += [f"lr {h.lr[-1]:.3g}", f"{h.epoch_time[-1]:.1f}s"]
    return "  ".join(parts)


def finish_epoch(
    bar: Any, progress: bool, info: DistInfo, epoch: int, max_epochs: int, h: History
) -> None:
    """Close the epoch's bar with its summary, or print the summary line (rank 0 only).

    Args:
        bar: The epoch's bar from :func:`epoch_bar`, or ``None``.
        progress: The ``Trainer(progress=...)`` option.
        info: The job layout.
        epoch: The 1-based epoch just finished.
        max_epochs: Planned epochs.
        h: The history, with the epoch recorded.
    """
    if bar is not None:
        bar.set_postfix_str(summary(h), refresh=False)
        bar.close()
    elif info.is_main and progress:
        print(f"epoch {epoch}/{max_epochs}  {summary(h)}", flush=True)
