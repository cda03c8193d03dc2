"""Studies: train several model variants on the same data and tabulate them; the remedy loop.

:func:`compare` trains each variant (a :class:`~cnnkit.builder.ModelBuilder`, optionally with
trainer settings and an augmentation) on the same split and seeds and returns a
:class:`StudyResult` table: train and validation accuracy (mean and spread over seeds), the gap,
the best epoch, epochs to reach a training loss, time, parameters and the diagnosis.

:func:`improve` trains a model, diagnoses the run, applies the top applicable remedy's change
(:func:`apply_change`), and retrains, until the run is healthy or the rounds run out. A change
that names an unknown setting is an error, never skipped.

Layout: ``variants`` (:class:`Variant`, :func:`resolve_augment`), ``comparison``
(:func:`compare` and its table) and ``remedy_loop`` (:func:`apply_change`, :func:`improve`).
"""

from cnnkit.study.comparison import StudyResult, StudyRow, compare
from cnnkit.study.remedy_loop import ImproveResult, ImproveRound, apply_change, improve
from cnnkit.study.variants import Variant, resolve_augment

__all__ = [
    "ImproveResult",
    "ImproveRound",
    "StudyResult",
    "StudyRow",
    "Variant",
    "apply_change",
    "compare",
    "improve",
    "resolve_augment",
]
