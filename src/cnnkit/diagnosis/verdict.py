"""The :func:`diagnose` entry point: options, prepared curves, rules, verdict.

(Named ``verdict`` rather than ``diagnose`` so that the module does not shadow the function
``cnnkit.diagnosis.diagnose``.)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cnnkit.diagnosis.confidence import confidence
from cnnkit.diagnosis.context import trained_with
from cnnkit.diagnosis.findings import Diagnosis
from cnnkit.diagnosis.rules import decide, run_rules
from cnnkit.diagnosis.series import extract, prepare

__all__ = ["diagnose"]


def diagnose(
    history: Any,
    *,
    num_classes: int | None = None,
    target_accuracy: float | None = None,
    planned_epochs: int | None = None,
    chance_accuracy: float | None = None,
    model: Any = None,
    builder: Any = None,
    trainer: Any = None,
) -> Diagnosis:
    """Diagnose a training run from its per-epoch curves.

    Args:
        history: A cnnkit ``History``, anything with ``to_dict()``, a Keras ``History`` (its
            ``.history``), or a mapping of per-epoch lists. Recognized names (see
            :func:`~cnnkit.metric_names.canonical_name`): ``train_loss``/``loss``, ``val_loss``,
            ``train_acc``/``accuracy``/``acc``, ``val_acc``/``val_accuracy``, and optional
            ``lr``, ``grad_norm``, ``epoch_time``; unknown keys are ignored. Accuracies are
            fractions in [0, 1] (percentages are detected and divided by 100). NaN/inf in a loss
            means the loss was non-finite; NaN in an accuracy means a missing value.
        num_classes: Number of classes; chance accuracy is then ``1 / num_classes``.
        target_accuracy: Accuracy the task should reach (fraction). Enables the "target would take
            many times the epochs run" slow-convergence rule and sharpens underfitting.
        planned_epochs: Epochs the run is meant to last. A shorter history is a run in progress:
            still improving is then expected, not slow, unless it needs more than planned.
        chance_accuracy: Accuracy of always predicting the majority class, when known (overrides
            ``1 / num_classes``; ``check_data`` reports it).
        model: The trained model, when at hand (anything with ``modules()``, e.g. a torch
            ``nn.Module``; read by class names, torch is never imported): the remedies then
            never suggest batch norm it has or dropout at or below its rate.
        builder: Its ``ModelBuilder`` (``defaults``/``to_dict()``): dropout, batch norm, width.
        trainer: Its ``Trainer`` (``augment``, ``weight_decay``, ``scheduler``, ``callbacks``):
            augmentation already on is escalated, not suggested again, and so on
            (:mod:`cnnkit.diagnosis.context`).

    Returns:
        A :class:`~cnnkit.diagnosis.Diagnosis`.

    Raises:
        TypeError: ``history`` is not a mapping or History-like object.
        ValueError: No loss series, unequal series lengths, non-numeric values, or invalid
            options (``num_classes < 2``, accuracies outside (0, 1)).

    Examples:
        >>> d = diagnose({"train_loss": [0.69, 0.5, 0.4, 0.33, 0.3, 0.28, 0.27, 0.265],
        ...               "val_loss": [0.68, 0.52, 0.45, 0.43, 0.46, 0.52, 0.58, 0.63]})
        >>> d.label
        <Label.OVERFITTING: 'overfitting'>
        >>> diagnose({"loss": [0.7, 0.6, 0.5, 0.4, 0.3, 0.2], "val_loss": [float("nan")] * 6}).label.value
        'diverging'
    """
    if num_classes is not None and (not isinstance(num_classes, int) or num_classes < 2):
        raise ValueError(f"num_classes must be an integer >= 2, got {num_classes!r}")
    for name, v in (("target_accuracy", target_accuracy), ("chance_accuracy", chance_accuracy)):
        if v is not None and not (0.0 < float(v) < 1.0):
            raise ValueError(f"{name} must be a fraction in (0, 1), got {v!r}")
    if planned_epochs is not None and planned_epochs < 1:
        raise ValueError(f"planned_epochs must be a positive integer, got {planned_epochs!r}")
    series, notes = extract(history)
    # Extreme but finite values (1e308) can overflow in differences and ratios; the rules treat the
    # resulting inf/NaN through their isfinite checks, so numpy's warnings would only be noise.
    with np.errstate(all="ignore"):
        curves = prepare(series, notes, num_classes=num_classes, target=target_accuracy,
                         planned=planned_epochs, chance=chance_accuracy,
                         trained=trained_with(model, builder, trainer))
        summary = curves.summary()
        label, findings = decide(run_rules(curves))
        sure = confidence(label, findings, curves)
    return Diagnosis(label, findings, summary, sure)
