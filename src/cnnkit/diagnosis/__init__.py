"""Diagnose a training run from its history: overfitting, underfitting, slow convergence, divergence.

:func:`diagnose` reads per-epoch curves (a cnnkit ``History``, a Keras ``history.history`` dict or
any mapping of per-epoch lists) and returns a :class:`Diagnosis`: a primary :class:`Label`, every
:class:`Finding` that holds with the numbers behind it, and :class:`Remedy` objects whose
:class:`Change` cnnkit can apply (``cnnkit.study.apply_change``: ``ModelBuilder.replace``,
``Trainer.replace``, augmentation, callbacks). :func:`diagnose_file` does the same for a cnnkit
CSV/JSON history, a Keras ``CSVLogger`` file or a Lightning ``CSVLogger`` ``metrics.csv``.
:func:`check_data` reports data bugs in the same form.

Every rule is noise-aware. The noise of a series is the median absolute deviation of its second
differences (robust to outliers, blind to any locally linear trend); trends are judged over a
trailing window with a Theil-Sen slope and a one-sided Mann-Kendall test; accuracies are measured
against chance; the validation loss is compared with its own (smoothed) minimum. The statistics are
written in numpy (``cnnkit.diagnosis.stats``) so that the diagnosis needs neither scipy nor torch:
this package imports and runs with numpy alone. Every threshold is a constant of
``cnnkit.diagnosis.thresholds`` with its rationale; ``docs/diagnosis.md`` tabulates them.

Label priority (the first that holds is ``Diagnosis.label``): ``diverging`` > ``inconclusive`` >
``overfitting`` > ``underfitting`` > ``slow-converging`` > ``healthy`` (``PRIORITY``; the rules
and their order are in ``cnnkit.diagnosis.rules``).

Layout: ``findings`` (the result types), ``change`` (remedies' typed change), ``thresholds``,
``stats``, ``pooled`` (the pooled rise statistic), ``series`` (name mapping and the prepared
curves), ``context`` (what was trained: model, builder, trainer), ``rules`` with
``divergence``, ``overfitting`` and ``convergence``, ``remedies``, ``confidence``, ``verdict``
(``diagnose``), ``files`` and ``data_checks``.

Examples:
    >>> d = diagnose({"train_loss": [0.69, 0.5, 0.4, 0.33, 0.3, 0.28, 0.27, 0.265],
    ...               "val_loss": [0.68, 0.52, 0.45, 0.43, 0.46, 0.52, 0.58, 0.63]})
    >>> d.label
    <Label.OVERFITTING: 'overfitting'>
"""

from cnnkit.diagnosis.change import (
    AUGMENT_PRESETS,
    AUGMENT_SETTINGS,
    BUILDER_SETTINGS,
    CALLBACK_TYPES,
    TRAINER_FIELDS,
    Change,
)
from cnnkit.diagnosis.context import TrainedWith, trained_with
from cnnkit.diagnosis.data_checks import check_data
from cnnkit.diagnosis.files import diagnose_file
from cnnkit.diagnosis.findings import Diagnosis, Finding, Label, Remedy, Severity
from cnnkit.diagnosis.thresholds import (
    ANNEALED_LR_FRACTION,
    AT_CHANCE_SKILL,
    DIVERGE_CHANCE_RATIO,
    DIVERGE_ERRATIC_FRACTION,
    DIVERGE_LOSS_RATIO,
    DIVERGE_LOSS_RATIO_NO_ACC,
    DIVERGE_RISE_FRACTION,
    DIVERGE_SPIKE_RATIO,
    FIRST_LOSS_CHANCE_RATIO,
    GAP_LARGE_ACC,
    GAP_LARGE_LOSS_RATIO,
    GAP_MIN_MARGIN,
    GRAD_EXPLODE_RATIO,
    INFER_MAX_CLASSES,
    LEAK_NEAR_PERFECT,
    LEAK_VAL_ABOVE_TRAIN,
    LEAK_VAL_ABOVE_TRAIN_REGULARIZED,
    LR_STEP_FACTOR,
    MAX_DROPOUT,
    MAX_WEIGHT_DECAY,
    MAX_WINDOW,
    MIN_EPOCHS,
    MIN_PROJECTED_ACC_GAIN,
    MIN_WINDOW,
    NOISE_FLOOR_REL,
    OSCILLATION_EPOCHS,
    OSCILLATION_GRAD_RATIO,
    OSCILLATION_STEP_CV,
    OVERFIT_ACC_DROP_SIGMAS,
    OVERFIT_MIN_ACC_DROP,
    OVERFIT_MIN_EPOCHS_AFTER_BEST,
    OVERFIT_MIN_REL_RISE,
    OVERFIT_MIN_TRAIN_DROP,
    OVERFIT_RISE_SIGMAS,
    OVERFIT_TRAIN_DROP_SIGMAS,
    POOL_BORDERLINE,
    POOL_MAX_PHI,
    POOL_MIN_EPOCHS,
    POOL_REF_FRACTION,
    POOL_TAIL_FRACTION,
    POOL_Z,
    PRIORITY,
    REPORT_REMEDIES,
    RETRAIN_MIN_EPOCH,
    SCHEDULE_EARLY_FRACTION,
    SLOW_MIN_PROJECTED_GAIN,
    SLOW_RATE_RATIO,
    SLOW_TARGET_FACTOR,
    SLOW_VAL_RATE_RATIO,
    SLOW_VAL_REMAINING_GAIN,
    SMOOTH_WIDTH,
    STRONG_AUGMENT,
    TREND_ALPHA,
    TREND_MIN_SIGMAS,
    TREND_WINDOW_FRACTION,
    UNDERFIT_LOSS_FRACTION,
    UNDERFIT_MAX_SKILL,
    UNDERFIT_TARGET_MARGIN,
)
from cnnkit.diagnosis.verdict import diagnose
from cnnkit.metric_names import canonical_name

__all__ = [
    "ANNEALED_LR_FRACTION",
    "AT_CHANCE_SKILL",
    "AUGMENT_PRESETS",
    "AUGMENT_SETTINGS",
    "BUILDER_SETTINGS",
    "CALLBACK_TYPES",
    "DIVERGE_CHANCE_RATIO",
    "DIVERGE_ERRATIC_FRACTION",
    "DIVERGE_LOSS_RATIO",
    "DIVERGE_LOSS_RATIO_NO_ACC",
    "DIVERGE_RISE_FRACTION",
    "DIVERGE_SPIKE_RATIO",
    "FIRST_LOSS_CHANCE_RATIO",
    "GAP_LARGE_ACC",
    "GAP_LARGE_LOSS_RATIO",
    "GAP_MIN_MARGIN",
    "GRAD_EXPLODE_RATIO",
    "INFER_MAX_CLASSES",
    "LEAK_NEAR_PERFECT",
    "LEAK_VAL_ABOVE_TRAIN",
    "LEAK_VAL_ABOVE_TRAIN_REGULARIZED",
    "LR_STEP_FACTOR",
    "MAX_DROPOUT",
    "MAX_WEIGHT_DECAY",
    "MAX_WINDOW",
    "MIN_EPOCHS",
    "MIN_PROJECTED_ACC_GAIN",
    "MIN_WINDOW",
    "NOISE_FLOOR_REL",
    "OSCILLATION_EPOCHS",
    "OSCILLATION_GRAD_RATIO",
    "OSCILLATION_STEP_CV",
    "OVERFIT_ACC_DROP_SIGMAS",
    "OVERFIT_MIN_ACC_DROP",
    "OVERFIT_MIN_EPOCHS_AFTER_BEST",
    "OVERFIT_MIN_REL_RISE",
    "OVERFIT_MIN_TRAIN_DROP",
    "OVERFIT_RISE_SIGMAS",
    "OVERFIT_TRAIN_DROP_SIGMAS",
    "POOL_BORDERLINE",
    "POOL_MAX_PHI",
    "POOL_MIN_EPOCHS",
    "POOL_REF_FRACTION",
    "POOL_TAIL_FRACTION",
    "POOL_Z",
    "PRIORITY",
    "REPORT_REMEDIES",
    "RETRAIN_MIN_EPOCH",
    "SCHEDULE_EARLY_FRACTION",
    "SLOW_MIN_PROJECTED_GAIN",
    "SLOW_RATE_RATIO",
    "SLOW_TARGET_FACTOR",
    "SLOW_VAL_RATE_RATIO",
    "SLOW_VAL_REMAINING_GAIN",
    "SMOOTH_WIDTH",
    "STRONG_AUGMENT",
    "TRAINER_FIELDS",
    "TREND_ALPHA",
    "TREND_MIN_SIGMAS",
    "TREND_WINDOW_FRACTION",
    "UNDERFIT_LOSS_FRACTION",
    "UNDERFIT_MAX_SKILL",
    "UNDERFIT_TARGET_MARGIN",
    "Change",
    "Diagnosis",
    "Finding",
    "Label",
    "Remedy",
    "Severity",
    "TrainedWith",
    "canonical_name",
    "check_data",
    "diagnose",
    "diagnose_file",
    "trained_with",
]
