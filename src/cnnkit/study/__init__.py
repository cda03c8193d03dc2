"""Studies: train several model variants on the same data and tabulate them; the remedy loop.

:func:`compare` trains each variant (a :class:`~cnnkit.builder.ModelBuilder`, optionally with
trainer settings and an augmentation) on the same split and seeds and returns a
:class:`StudyResult` table: train and validation accuracy (mean and spread over seeds), the gap,
the best epoch, epochs to reach a training loss, time, parameters and the diagnosis.

:func:`improve` trains a model, diagnoses the run, applies the next step to the best
configuration so far (compound, escalating :func:`escalation_steps`, then the diagnosis'
remedies, through :func:`apply_change`), and retrains, keeping only the rounds that helped, until
the run is healthy, a target is met, or the rounds or minutes run out. A change that names an
unknown setting is an error, never skipped.

Layout: ``variants`` (:class:`Variant`, :func:`resolve_augment`), ``comparison``
(:func:`compare` and its table), ``escalation`` (:class:`Step`, :func:`escalation_steps`) and
``remedy_loop`` (:func:`apply_change`, :func:`improve`).
"""

from cnnkit.study.comparison import StudyResult, StudyRow, compare
from cnnkit.study.escalation import Step, add_blocks, escalation_steps
from cnnkit.study.remedy_loop import ImproveResult, ImproveRound, apply_change, improve
from cnnkit.study.variants import Variant, resolve_augment

__all__ = [
    "ImproveResult",
    "ImproveRound",
    "Step",
    "StudyResult",
    "StudyRow",
    "Variant",
    "add_blocks",
    "apply_change",
    "compare",
    "escalation_steps",
    "improve",
    "resolve_augment",
]
