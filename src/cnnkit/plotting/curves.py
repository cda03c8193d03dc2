"""Learning curves: loss and accuracy per epoch, training and validation, for one or more runs.

matplotlib is an optional dependency (``pip install cnnkit[plot]``); it is imported only when a
plot is drawn, and figures are drawn with the non-interactive Agg canvas so that saving works on
machines without a display.

Example:
    >>> from cnnkit.plotting import plot_history
    >>> history = {"train_loss": [0.7, 0.5, 0.4], "val_loss": [0.7, 0.6, 0.65],
    ...            "train_acc": [0.5, 0.7, 0.8], "val_acc": [0.5, 0.6, 0.58]}
    >>> fig = plot_history(history, "curves.png", title="baseline")  # doctest: +SKIP
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

from cnnkit.history import best_epoch
from cnnkit.metric_names import pick_series

from .backend import require_matplotlib, save_png

__all__ = ["plot_history"]

#: Series drawn in each panel: (panel title, training key, validation key).
_PANELS = (("loss", "train_loss", "val_loss"), ("accuracy", "train_acc", "val_acc"))


def _as_series(history: Any) -> dict[str, list[float]]:
    """Per-epoch series of a History (anything with ``to_dict()``) or a mapping."""
    data = history.to_dict() if hasattr(history, "to_dict") else history
    if not isinstance(data, Mapping):
        raise TypeError(
            "a history must be a mapping of per-epoch lists or have a to_dict() method, "
            f"got {type(history).__name__}"
        )
    # Any name cnnkit's readers understand (Keras' ``loss``/``val_accuracy``, Lightning's
    # ``*_epoch``): one alias table for plots and diagnosis alike.
    picked = pick_series(data)
    out: dict[str, list[float]] = {
        key: [float(v) if v is not None else math.nan for v in picked[key]]
        for key in ("train_loss", "val_loss", "train_acc", "val_acc")
        if key in picked
    }
    if not out:
        raise ValueError(
            "the history has none of the series train_loss, val_loss, train_acc, val_acc "
            f"(keys: {sorted(map(str, data))})"
        )
    return out


def _diagnosis_text(diagnosis: Any) -> str | None:
    """Text of a diagnosis: a string, or anything with a ``label`` attribute (duck typing)."""
    if diagnosis is None:
        return None
    if isinstance(diagnosis, str):
        return diagnosis
    label = getattr(diagnosis, "label", None)
    if label is None:
        raise TypeError(
            f"diagnosis must be a string or have a .label attribute, got {type(diagnosis)}"
        )
    return str(getattr(label, "value", label))


def plot_history(
    history_or_histories: Any,
    path: str | os.PathLike[str] | None = None,
    *,
    title: str | None = None,
    labels: Sequence[str] | None = None,
    diagnosis: Any = None,
) -> Any:
    """Plot learning curves: loss (left) and accuracy (right) per epoch, train and validation.

    Training curves are dashed, validation curves solid, one colour per run; a dotted vertical
    line and a marker show each run's best epoch (lowest validation loss, or highest validation
    accuracy when no validation loss was recorded).

    Args:
        history_or_histories: one history, or a mapping ``{run name: history}`` / a sequence of
            histories to overlay. A history is a ``cnnkit.History`` (anything with a
            ``to_dict()`` method) or a mapping of per-epoch lists with the keys ``train_loss``,
            ``val_loss``, ``train_acc``, ``val_acc`` (Keras names ``loss``, ``accuracy``,
            ``val_accuracy`` also work); missing series are left out.
        path: where to save the figure as PNG; ``None`` does not save.
        title: figure title.
        labels: run names for a sequence of histories (a mapping's keys are used otherwise).
        diagnosis: a string, or a diagnosis object (anything with a ``.label`` attribute);
            appended to the title as ``"... (overfitting)"``. For several runs, a mapping
            ``{run name: diagnosis}`` puts each one in that run's legend entry.

    Returns:
        The ``matplotlib.figure.Figure`` (not attached to pyplot, so it needs no closing).

    Raises:
        ImportError: matplotlib is not installed (``pip install cnnkit[plot]``).
        TypeError: a history is neither a mapping nor has ``to_dict()``.
        ValueError: a history has no plottable series, no history is given, or ``labels`` does
            not match the number of histories.

    Example:
        >>> hist = {"train_loss": [0.7, 0.4], "val_loss": [0.7, 0.6]}
        >>> fig = plot_history({"baseline": hist}, "runs/curves.png")  # doctest: +SKIP
    """
    figure_cls, canvas_cls = require_matplotlib()

    runs: list[tuple[str | None, Any]]
    if isinstance(history_or_histories, Mapping) and not _looks_like_history(history_or_histories):
        runs = [(str(k), v) for k, v in history_or_histories.items()]
    elif isinstance(history_or_histories, Sequence) and not isinstance(
        history_or_histories, (str, bytes)
    ):
        runs = [(None, h) for h in history_or_histories]
    else:
        runs = [(None, history_or_histories)]
    if not runs:
        raise ValueError("no history to plot")
    if labels is not None:
        if len(labels) != len(runs):
            raise ValueError(f"got {len(labels)} labels for {len(runs)} histories")
        runs = [(str(lab), h) for lab, (_, h) in zip(labels, runs, strict=True)]
    if len(runs) > 1:
        runs = [(name or f"run {i + 1}", h) for i, (name, h) in enumerate(runs)]

    per_run_diag: Mapping[str, Any] = {}
    headline = title or ""
    if isinstance(diagnosis, Mapping):
        per_run_diag = diagnosis
    else:
        text = _diagnosis_text(diagnosis)
        if text:
            headline = f"{headline} ({text})" if headline else text

    fig = figure_cls(figsize=(11, 4.2), dpi=100, layout="constrained")
    canvas_cls(fig)
    axes = fig.subplots(1, 2)
    colours = [f"C{i % 10}" for i in range(len(runs))]
    for (name, history), colour in zip(runs, colours, strict=True):
        series = _as_series(history)
        # The marker shows the validation optimum only: without validation there is none to mark.
        best = best_epoch({k: v for k, v in series.items() if k.startswith("val_")})
        run_label = name
        if name is not None and name in per_run_diag:
            run_label = f"{name} ({_diagnosis_text(per_run_diag[name])})"
        for ax, (panel, train_key, val_key) in zip(axes, _PANELS, strict=True):
            for key, style, part in ((train_key, "--", "train"), (val_key, "-", "val")):
                values = series.get(key)
                if not values:
                    continue
                epochs = range(1, len(values) + 1)
                label = part if run_label is None else f"{run_label} {part}"
                ax.plot(epochs, values, style, color=colour, label=label, linewidth=1.6)
                if part == "val" and best is not None and best <= len(values):
                    ax.plot([best], [values[best - 1]], "o", color=colour, markersize=6)
            if best is not None:
                ax.axvline(best, color=colour, linestyle=":", linewidth=1.0, alpha=0.7)
            ax.set_title(panel)
            ax.set_xlabel("epoch")
            ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("loss")
    axes[1].set_ylabel("accuracy")
    axes[0].legend(fontsize=8, loc="best")
    if len(runs) == 1 and runs[0][0] is not None and not headline:
        headline = runs[0][0]
    note = "dotted line / dot: best epoch (lowest validation loss)"
    fig.suptitle(f"{headline}\n{note}" if headline else note, fontsize=10)
    save_png(fig, path)
    return fig


def _looks_like_history(mapping: Mapping[Any, Any]) -> bool:
    """True when ``mapping`` is one history, not ``{name: history}``.

    A mapping whose values are all histories (mappings or objects with ``to_dict()``) is a
    collection of runs; anything else (per-epoch lists) is one history.
    """
    if not mapping:
        return False
    return not all(isinstance(v, Mapping) or hasattr(v, "to_dict") for v in mapping.values())
