"""The rule table and the label priority, in one place.

A rule is a function from the prepared :class:`~cnnkit.diagnosis.series.Curves` to a list of
:class:`~cnnkit.diagnosis.findings.Finding`. :data:`RULES` lists them in the order they run;
each may be skipped when an earlier rule already found one of the labels in its ``skip_if``
(nothing is judged once a run diverged or is too short, underfitting is not tested while the
loss is still falling, and so on). :func:`decide` then picks the label by ``PRIORITY`` and sorts
the findings. To add a rule: write the function (in the module of its label, or a new one), add
its thresholds with ``#:`` comments to :mod:`cnnkit.diagnosis.thresholds` (the docs table is
generated from them), and add a :class:`Rule` to :data:`RULES`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from cnnkit.diagnosis.convergence import slow_convergence, too_few_epochs, underfitting
from cnnkit.diagnosis.divergence import divergence
from cnnkit.diagnosis.findings import Finding, Label, Severity
from cnnkit.diagnosis.first_loss import first_loss_high
from cnnkit.diagnosis.leakage import val_above_train
from cnnkit.diagnosis.oscillation import lr_too_high
from cnnkit.diagnosis.overfitting import gap_stalled, gap_warning, validation_worsening
from cnnkit.diagnosis.schedule import schedule_in_progress
from cnnkit.diagnosis.series import Curves
from cnnkit.diagnosis.thresholds import PRIORITY

__all__ = ["ABSTAIN_CODES", "RULES", "Rule", "decide", "run_rules"]

#: Advisory findings that become the verdict ``inconclusive`` when no other finding decides: the
#: evidence is borderline, and calling the run healthy would be a guess.
ABSTAIN_CODES: frozenset[str] = frozenset({"val-loss-borderline"})

_D, _I, _O, _S = Label.DIVERGING, Label.INCONCLUSIVE, Label.OVERFITTING, Label.SLOW_CONVERGING


@dataclass(frozen=True)
class Rule:
    """One rule of the run diagnosis.

    Attributes:
        check: ``check(curves) -> findings`` (empty when the rule does not hold).
        skip_if: The rule is not run when an earlier finding supports one of these labels.
    """

    check: Callable[[Curves], list[Finding]]
    skip_if: frozenset[Label] = frozenset()

    @property
    def name(self) -> str:
        """The rule function's name."""
        return getattr(self.check, "__name__", repr(self.check))


#: The rules in the order they run (the order of the findings before sorting).
RULES: tuple[Rule, ...] = (
    Rule(divergence),
    Rule(too_few_epochs, frozenset({_D})),
    Rule(validation_worsening, frozenset({_D, _I})),
    Rule(gap_stalled, frozenset({_D, _I, _O})),
    Rule(slow_convergence, frozenset({_D, _I})),
    Rule(schedule_in_progress, frozenset({_D, _I, _O, _S})),
    Rule(underfitting, frozenset({_D, _I, _S})),
    Rule(gap_warning, frozenset({_D, _I, _O})),
    # Advisory signals (issue 13, item 4): they never decide the label.
    Rule(lr_too_high, frozenset({_D})),
    Rule(first_loss_high, frozenset({_D})),
    Rule(val_above_train, frozenset({_D})),
)

_SEVERITY_ORDER = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


def run_rules(curves: Curves, rules: Sequence[Rule] = RULES) -> list[Finding]:
    """Run ``rules`` in order on ``curves``; every finding, in the order found."""
    findings: list[Finding] = []
    for rule in rules:
        if any(f.label in rule.skip_if for f in findings):
            continue
        findings += rule.check(curves)
    return findings


def decide(findings: Sequence[Finding]) -> tuple[Label, tuple[Finding, ...]]:
    """The primary label and the findings in report order.

    The label is the highest in ``PRIORITY`` among the labels of findings of severity warning
    or error; with none, ``inconclusive`` when an ``ABSTAIN_CODES`` finding says the evidence is
    borderline (it is then promoted to a warning), else ``healthy``. Findings are sorted: those
    supporting the label first, then by label priority (advisory ones last), then by severity;
    ties keep their order.
    """
    decisive = [f.label for f in findings if f.label is not None and f.severity != Severity.INFO]
    label = Label.HEALTHY
    if decisive:
        label = min(decisive, key=lambda lab: PRIORITY.index(lab.value))
    elif any(f.code in ABSTAIN_CODES for f in findings):
        label = Label.INCONCLUSIVE
        findings = [replace(f, label=label, severity=Severity.WARNING)
                    if f.code in ABSTAIN_CODES else f for f in findings]
    ordered = sorted(findings, key=lambda f: (
        f.label != label, PRIORITY.index(f.label.value) if f.label else 99,
        _SEVERITY_ORDER[f.severity]))
    return label, tuple(ordered)
