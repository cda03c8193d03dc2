"""The results of a diagnosis as types: :class:`Label`, :class:`Severity`, :class:`Remedy`,
:class:`Finding` and :class:`Diagnosis` (with its report and plain-data form).

``check_data`` returns the same :class:`Finding` type, so data checks and run diagnoses read
alike. numpy only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from cnnkit.diagnosis._format import fmt, jsonable
from cnnkit.diagnosis.change import Change
from cnnkit.diagnosis.thresholds import REPORT_REMEDIES

__all__ = ["Diagnosis", "Finding", "Label", "Remedy", "Severity"]


class Label(str, Enum):
    """The primary verdict on a run (a ``str``: ``Label.OVERFITTING == "overfitting"``)."""

    OVERFITTING = "overfitting"
    UNDERFITTING = "underfitting"
    SLOW_CONVERGING = "slow-converging"
    HEALTHY = "healthy"
    DIVERGING = "diverging"
    INCONCLUSIVE = "inconclusive"

    def __str__(self) -> str:
        return self.value


class Severity(str, Enum):
    """How much a finding matters: ``info`` < ``warning`` < ``error``."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, init=False)
class Remedy:
    """A concrete change that addresses a finding.

    Args:
        text: One sentence saying what to do and why.
        change: A :class:`Change`, or its dict form with keys among ``"builder"`` (settings for
            ``ModelBuilder.replace``), ``"trainer"`` (options for ``Trainer.replace``),
            ``"augment"`` (``"default"`` or ``{"strength": float}``) and ``"callbacks"`` (a list
            of ``{"type": ..., **kwargs}``); converted to a :class:`Change`, so every name is
            checked here. Empty (the default) when the fix is outside cnnkit (e.g. data).

    Attributes:
        text: As given.
        change: The :class:`Change`; it reads like the 0.1.0 dict (``change["builder"]``).

    Raises:
        ValueError: An unknown name in ``change`` (see :class:`Change`).

    Examples:
        >>> Remedy("Add dropout.", {"builder": {"dropout": 0.25}}).change["builder"]
        {'dropout': 0.25}
    """

    text: str
    change: Change = field(default_factory=Change)

    def __init__(self, text: str, change: Mapping[str, Any] | None = None) -> None:
        object.__setattr__(self, "text", text)
        object.__setattr__(self, "change", Change() if change is None else Change.from_mapping(change))

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"text": ..., "change": ...}`` (JSON-serializable)."""
        return {"text": self.text, "change": self.change.to_dict()}


@dataclass(frozen=True)
class Finding:
    """One condition that holds for a run or a data set.

    Attributes:
        code: Short identifier of the rule, e.g. ``"val-loss-rising"``, ``"channels-last"``.
        label: The :class:`Label` this finding supports, or ``None`` for advisory findings
            (warnings that do not decide the label, and every data check).
        severity: :class:`Severity`.
        message: One readable sentence with the key numbers.
        evidence: The numbers behind it (floats, ints, strings, bools).
        remedies: What to do about it, most recommended first.

    Examples:
        >>> f = Finding("x", None, Severity.INFO, "A note.")
        >>> str(f)
        '[info] x: A note.'
    """

    code: str
    label: Label | None
    severity: Severity
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    remedies: tuple[Remedy, ...] = ()

    def __str__(self) -> str:
        return f"[{self.severity.value}] {self.code}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serializable dict of every field (non-finite numbers become ``None``)."""
        return {
            "code": self.code,
            "label": None if self.label is None else self.label.value,
            "severity": self.severity.value,
            "message": self.message,
            "evidence": jsonable(self.evidence),
            "remedies": [r.to_dict() for r in self.remedies],
        }


@dataclass(frozen=True)
class Diagnosis:
    """The verdict on a run: primary label, every finding, and a summary of the curves.

    Attributes:
        label: The primary :class:`Label` (highest priority among the findings of severity
            warning or error; ``healthy`` when none).
        findings: Every condition that holds, decisive ones first.
        summary: Key numbers (epochs, final/best losses and accuracies, chance level, noise).
        confidence: How sure the label is, in [0, 1]: the normal distribution function of the
            decisive rule's margin over its threshold in noise units (0.5 at the threshold; 1 for
            categorical evidence such as a NaN loss). See ``cnnkit.diagnosis.confidence``.

    Examples:
        >>> from cnnkit.diagnosis import diagnose
        >>> d = diagnose({"loss": [1.0, 0.6, 0.45, 0.4, 0.38, 0.375, 0.372, 0.371]})
        >>> d.label.value
        'healthy'
    """

    label: Label
    findings: tuple[Finding, ...]
    summary: dict[str, Any] = field(default_factory=dict)
    confidence: float = 1.0

    @property
    def remedies(self) -> list[Remedy]:
        """Remedies of the findings that support :attr:`label` (most recommended first)."""
        return [r for f in self.findings if f.label == self.label for r in f.remedies]

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"label", "confidence", "findings", "summary"}`` as plain JSON-serializable
        data."""
        return {
            "label": self.label.value,
            "confidence": jsonable(self.confidence),
            "findings": [f.to_dict() for f in self.findings],
            "summary": jsonable(self.summary),
        }

    def __str__(self) -> str:
        s = self.summary
        head = f"Diagnosis: {self.label.value.upper()} ({s.get('epochs', 0)} epochs"
        if s.get("chance") is not None:
            head += f", chance accuracy {fmt(s['chance'])} ({s.get('chance_source')})"
        lines = [head + f"), confidence {self.confidence:.2f}"]
        curves = []
        for key, name in (("train_loss", "train loss"), ("val_loss", "val loss"),
                          ("train_acc", "train acc"), ("val_acc", "val acc")):
            if s.get(f"{key}_final") is not None:
                curves.append(f"{name} {fmt(s.get(f'{key}_first'))} -> {fmt(s[f'{key}_final'])}")
        if s.get("best_val_epoch") is not None:
            curves.append(f"best val loss {fmt(s.get('val_loss_best'))} (3-epoch median) "
                          f"@ epoch {s['best_val_epoch']}")
        if curves:
            lines.append("  " + "; ".join(curves))
        if not self.findings:
            lines.append("  No problem found: the run converged without overfitting.")
        for f in self.findings:
            lines.append(f"  {f}")
            for r in f.remedies[:REPORT_REMEDIES]:
                change = f" {json.dumps(r.change.to_dict())}" if r.change else ""
                lines.append(f"      -> {r.text}{change}")
        return "\n".join(lines)
