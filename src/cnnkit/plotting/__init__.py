"""Plots of a training run: learning curves and the confusion matrix (matplotlib, an extra).

matplotlib is an optional dependency (``pip install cnnkit[plot]``); it is imported only when a
plot is drawn.

Example:
    >>> from cnnkit.plotting import plot_confusion_matrix, plot_history
"""

from .confusion import plot_confusion_matrix
from .curves import plot_history

__all__ = ["plot_confusion_matrix", "plot_history"]
