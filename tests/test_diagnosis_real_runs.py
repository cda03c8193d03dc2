"""diagnose() on the real-run set: prefixes of real training runs, labelled by their future.

The fixtures (``tests/fixtures/real_runs/*.json``) were recorded by
``benchmarks/record_real_runs.py`` with cnnkit's Trainer on the shared real photos, with a
condition induced; every labelled prefix was labelled by what the same run did after it (the
rules are in that script and in docs/diagnosis.md, "The real-run set"). This test only reads the
JSON files: no training. It diagnoses every labelled prefix with the class count and chance
level the recorder knew (``num_classes`` and the majority fraction of the training labels) and
the logged ``lr`` and ``grad_norm``, and holds diagnose() to issue 13's bar.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

from cnnkit.diagnosis import diagnose

FIXTURES = Path(__file__).parent / "fixtures" / "real_runs"

#: Issue 13's bar on the real-run set: at least this fraction of all labelled prefixes right ...
ISSUE_OVERALL_BAR = 0.90
#: ... and at least this fraction right on each label. Reached (see docs/diagnosis.md, "The
#: real-run set"): ``test_issue_bar`` asserts it.
ISSUE_PER_LABEL_BAR = 0.80
#: What diagnose() measurably achieves on the committed set today (deterministic: the same
#: fixtures always give the same labels), asserted as floors so that no change makes it worse:
#: overall 92/101 right. Measured with ``.venv/bin/python tests/test_diagnosis_real_runs.py``.
MEASURED_OVERALL_FLOOR = 92 / 101
#: ... and per label: diverging 12/12, healthy 6/7, overfitting 36/37, slow-converging 26/32,
#: underfitting 12/13.
MEASURED_PER_LABEL_FLOOR = {"diverging": 12 / 12, "healthy": 6 / 7, "overfitting": 36 / 37,
                            "slow-converging": 26 / 32, "underfitting": 12 / 13}


def _cases() -> list[tuple[str, int, str, dict[str, Any]]]:
    """(run name, prefix epochs, label, run record) for every labelled prefix."""
    out = []
    for path in sorted(FIXTURES.glob("*.json")):
        rec = json.loads(path.read_text())
        for q in rec["prefixes"]:
            out.append((rec["name"], q["epochs"], q["label"], rec))
    return out


def _prefix(rec: dict[str, Any], p: int) -> dict[str, list[float]]:
    return {k: [math.nan if v is None else v for v in vals[:p]]
            for k, vals in rec["history"].items()}


def predict(rec: dict[str, Any], p: int) -> str:
    """diagnose()'s label for the first ``p`` epochs of the recorded run ``rec``."""
    d = diagnose(_prefix(rec, p), num_classes=rec["num_classes"],
                 chance_accuracy=rec["chance_accuracy"])
    return d.label.value


def score() -> tuple[dict[str, tuple[int, int]], list[tuple[str, int, str, str]]]:
    """Per label (right, total), and the misses (run, epochs, label, predicted)."""
    right: Counter[str] = Counter()
    total: Counter[str] = Counter()
    misses = []
    for name, p, label, rec in _cases():
        got = predict(rec, p)
        total[label] += 1
        if got == label:
            right[label] += 1
        else:
            misses.append((name, p, label, got))
    return {lab: (right[lab], total[lab]) for lab in sorted(total)}, misses


def test_fixtures_are_small_and_complete() -> None:
    files = sorted(FIXTURES.glob("*.json"))
    assert len(files) >= 25
    assert sum(f.stat().st_size for f in files) < 1_000_000
    labels = {q["label"] for f in files for q in json.loads(f.read_text())["prefixes"]}
    assert labels == {"overfitting", "underfitting", "slow-converging", "diverging", "healthy"}
    for f in files:
        rec = json.loads(f.read_text())
        for key in ("dataset", "condition", "seed", "num_classes", "chance_accuracy", "history"):
            assert key in rec, (f.name, key)


def _check(overall_bar: float, per_label_bar: dict[str, float]) -> None:
    per_label, misses = score()
    right = sum(r for r, _ in per_label.values())
    total = sum(t for _, t in per_label.values())
    report = ", ".join(f"{lab} {r}/{t}" for lab, (r, t) in per_label.items())
    detail = "; ".join(f"{n}@{p}: {lab} -> {got}" for n, p, lab, got in misses)
    assert right / total >= overall_bar - 1e-9, f"{right}/{total} right ({report}); misses: {detail}"
    for lab, (r, t) in per_label.items():
        assert r / t >= per_label_bar[lab] - 1e-9, f"{lab}: {r}/{t} ({report}); misses: {detail}"


def test_real_run_accuracy_holds_the_measured_floors() -> None:
    _check(MEASURED_OVERALL_FLOOR, MEASURED_PER_LABEL_FLOOR)


def test_issue_bar() -> None:
    _check(ISSUE_OVERALL_BAR, dict.fromkeys(MEASURED_PER_LABEL_FLOOR, ISSUE_PER_LABEL_BAR))


if __name__ == "__main__":  # pragma: no cover - the measurement printed for the docs
    per_label, misses = score()
    for lab, (r, t) in per_label.items():
        print(f"{lab:16s} {r:3d}/{t:3d}  {100 * r / t:5.1f} %")
    right = sum(r for r, _ in per_label.values())
    total = sum(t for _, t in per_label.values())
    print(f"{'overall':16s} {right:3d}/{total:3d}  {100 * right / total:5.1f} %")
    for m in misses:
        print("miss:", *m)
