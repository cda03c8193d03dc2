"""The confidence of a verdict: the decisive rule's margin mapped to [0, 1].

Each decisive rule records in its evidence a ``margin``: how far its statistic cleared its
threshold, in the statistic's own units of noise (standard errors for the pooled test, noise
units for the end-point tests; 0 is exactly at the threshold). The confidence is the normal
distribution function of the largest margin among the findings behind the label, Phi(margin):
0.5 at the threshold, 0.84 one unit above it, 0.98 two units above. It reads as "how likely a
fresh draw of the same noise would still clear the threshold", the noise being what the rule
measured. Findings whose evidence is categorical (a non-finite loss, too few epochs, an
explosion) carry no margin and give 1.

``healthy`` is as confident as the nearest miss allows: 1 - Phi(margin) of the pooled overfitting
test when it applies (:func:`~cnnkit.diagnosis.overfitting.overfit_near_miss`), else 1.
``inconclusive`` from borderline evidence reports how evenly it is balanced:
1 - |2 Phi(margin) - 1|, 1 exactly at the threshold. numpy only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from cnnkit.diagnosis.findings import Finding, Label
from cnnkit.diagnosis.overfitting import overfit_near_miss
from cnnkit.diagnosis.pooled import normal_cdf
from cnnkit.diagnosis.series import Curves

__all__ = ["confidence"]


def _margin(f: Finding) -> float | None:
    m = f.evidence.get("margin")
    if isinstance(m, bool) or not isinstance(m, (int, float)) or not math.isfinite(m):
        return None
    return float(m)


def confidence(label: Label, findings: Sequence[Finding], curves: Curves) -> float:
    """The confidence of ``label`` given the ``findings`` that :func:`~cnnkit.diagnosis.rules.decide`
    kept and the prepared ``curves``: a float in [0, 1] (see the module docstring)."""
    margins = [m for f in findings if f.label == label for m in (_margin(f),) if m is not None]
    if label == Label.HEALTHY:
        near = overfit_near_miss(curves)
        return 1.0 if near is None else round(1.0 - normal_cdf(near), 3)
    if not margins:
        return 1.0
    if label == Label.INCONCLUSIVE:
        return round(1.0 - abs(2.0 * normal_cdf(max(margins)) - 1.0), 3)
    return round(normal_cdf(max(margins)), 3)
