"""matplotlib, imported only when a plot is drawn, and the PNG writer every plot shares.

Figures are drawn on the non-interactive Agg canvas and are not registered with ``pyplot``, so
saving works on machines without a display and no figure needs closing.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["require_matplotlib", "save_png"]


def require_matplotlib() -> tuple[Any, Any]:
    """Import matplotlib's ``Figure`` and Agg canvas, or explain how to install matplotlib.

    Returns:
        ``(Figure, FigureCanvasAgg)``.

    Raises:
        ImportError: matplotlib is not installed (``pip install cnnkit[plot]``).
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(
            "plotting needs matplotlib, which is not installed; install it with "
            "`pip install cnnkit[plot]` (or `pip install matplotlib`)"
        ) from exc
    return Figure, FigureCanvasAgg


def save_png(fig: Any, path: str | os.PathLike[str] | None) -> None:
    """Save ``fig`` as a PNG at ``path`` (creating its folder); ``None`` saves nothing.

    Args:
        fig: A matplotlib figure.
        path: The file, or ``None``.
    """
    if path is None:
        return
    target = os.fspath(path)
    parent = os.path.dirname(target)
    if parent:
        os.makedirs(parent, exist_ok=True)
    fig.savefig(target, format="png")
