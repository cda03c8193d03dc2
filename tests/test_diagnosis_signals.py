"""Issue 13, item 4: the signals History records beyond the learning curves, as advisory findings
with evidence and remedies (``lr-too-high``, ``first-loss-high``, ``val-above-train``), and the
schedule rule (``schedule-in-progress``). Each threshold is tested on both sides."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from cnnkit.diagnosis import (
    FIRST_LOSS_CHANCE_RATIO,
    LEAK_NEAR_PERFECT,
    LEAK_VAL_ABOVE_TRAIN,
    LEAK_VAL_ABOVE_TRAIN_REGULARIZED,
    OSCILLATION_GRAD_RATIO,
    OSCILLATION_STEP_CV,
    SCHEDULE_EARLY_FRACTION,
    Label,
    diagnose,
)
from cnnkit.diagnosis.oscillation import step_loss_cv
from cnnkit.diagnosis.schedule import schedule_phase
from cnnkit.training import History

N = 20
T = np.arange(1, N + 1, dtype=float)


def _codes(d: Any) -> set[str]:
    return {f.code for f in d.findings}


def _finding(d: Any, code: str) -> Any:
    return next(f for f in d.findings if f.code == code)


def _converging() -> dict[str, list[float]]:
    rng = np.random.default_rng(0)
    tl = 0.3 + 0.4 * np.exp(-T / 4) + rng.normal(0, 0.003, N)
    return {
        "train_loss": tl.tolist(),
        "val_loss": (tl + 0.05 + rng.normal(0, 0.005, N)).tolist(),
        "train_acc": (0.9 - 0.35 * np.exp(-T / 4)).tolist(),
        "val_acc": (0.87 - 0.35 * np.exp(-T / 4)).tolist(),
    }


# ------------------------------------------------------------------------------------------------
# lr-too-high: the batch losses swing and the gradients grow.
# ------------------------------------------------------------------------------------------------


def _steps(cv: float, batches: int = 30, seed: int = 1) -> list[float]:
    """Batch losses about the epoch means of ``_converging`` with relative spread ``cv``."""
    rng = np.random.default_rng(seed)
    level = np.repeat(np.array(_converging()["train_loss"]), batches)
    return (level * np.clip(1 + rng.normal(0, cv, level.size), 0.05, None)).tolist()


def _grads(growth: float) -> list[float]:
    return (2.0 * np.linspace(1.0, growth, N)).tolist()


def test_step_loss_cv_measures_the_swing_within_epochs() -> None:
    assert step_loss_cv(np.full(200, 0.5), 20) == 0.0
    assert step_loss_cv(np.array(_steps(0.3)), 30) == pytest.approx(0.3, rel=0.15)
    falling = np.repeat(np.linspace(2.0, 0.5, 10), 20)  # epoch to epoch: no swing within
    assert step_loss_cv(falling, 20) == 0.0
    assert math.isnan(step_loss_cv(np.ones(3), 5)) and math.isnan(step_loss_cv(np.ones(9), 1))


def test_an_oscillating_loss_with_growing_gradients_says_lower_the_rate() -> None:
    h = {**_converging(), "step_loss": _steps(0.7), "grad_norm": _grads(4.0), "lr": [0.3] * N}
    d = diagnose(h)
    f = _finding(d, "lr-too-high")
    assert f.label is None and f.severity.value == "warning"  # advisory: the label is the curves'
    assert f.evidence["step_loss_cv"] >= OSCILLATION_STEP_CV
    assert f.evidence["grad_norm_ratio"] >= OSCILLATION_GRAD_RATIO
    assert f.evidence["batches_per_epoch"] == 30
    changes = [r.change.to_dict() for r in f.remedies]
    assert {"trainer": {"lr": 0.1}} in changes  # a third of the rate
    assert any("grad_clip" in c.get("trainer", {}) for c in changes)
    assert "10x" in f.remedies[0].text
    assert "lr-too-high" in str(d)


@pytest.mark.parametrize(("cv", "growth", "fires"), [
    (0.7, 4.0, True),
    (0.15, 4.0, False),  # batch-sampling noise: no swing
    (0.7, 1.0, False),   # swinging but the gradients settle: a small batch, not the rate
    (0.7, 1.5, False),   # grew, but less than OSCILLATION_GRAD_RATIO
])  # fmt: skip
def test_lr_too_high_needs_both_signals(cv: float, growth: float, fires: bool) -> None:
    h = {**_converging(), "step_loss": _steps(cv), "grad_norm": _grads(growth)}
    assert ("lr-too-high" in _codes(diagnose(h))) is fires


def test_lr_too_high_needs_step_loss_and_grad_norm() -> None:
    base = _converging()
    assert "lr-too-high" not in _codes(diagnose({**base, "grad_norm": _grads(4.0)}))
    assert "lr-too-high" not in _codes(diagnose({**base, "step_loss": _steps(0.7)}))
    few = {**base, "step_loss": _steps(1.0, batches=4), "grad_norm": _grads(4.0)}
    assert "lr-too-high" not in _codes(diagnose(few))  # too few batches an epoch to tell


def test_lr_too_high_reads_a_cnnkit_history() -> None:
    base = _converging()
    h = History(
        train_loss=base["train_loss"],
        val_loss=base["val_loss"],
        train_acc=base["train_acc"],
        val_acc=base["val_acc"],
        grad_norm=_grads(4.0),
        step_loss=_steps(0.7),
    )
    assert "lr-too-high" in _codes(diagnose(h))
    assert diagnose(h).label == diagnose(base).label  # advisory only


# ------------------------------------------------------------------------------------------------
# first-loss-high: the first epoch far above ln C.
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("ratio", "fires"), [(5.0, True), (3.2, True), (2.8, False), (1.0, False)])
def test_a_first_loss_far_above_chance_points_at_labels_and_init(ratio: float, fires: bool) -> None:
    h = _converging()
    h["train_loss"] = [ratio * math.log(10), *h["train_loss"][1:]]
    d = diagnose(h, num_classes=10)
    assert ("first-loss-high" in _codes(d)) is fires, str(d)
    if fires:
        f = _finding(d, "first-loss-high")
        assert f.label is None and f.evidence["ratio"] >= FIRST_LOSS_CHANCE_RATIO
        assert f.evidence["chance_loss"] == pytest.approx(math.log(10))
        text = " ".join(r.text for r in f.remedies)
        assert "labels" in text and "initialization" in text and "normalization" in text
        assert "check_data" in text


def test_first_loss_high_needs_a_known_class_count() -> None:
    """Inferred from the first loss itself, the chance level cannot judge that loss."""
    h = _converging()
    h["train_loss"] = [5.0 * math.log(10), *h["train_loss"][1:]]
    assert "first-loss-high" not in _codes(diagnose(h))
    assert "first-loss-high" in _codes(diagnose(h, chance_accuracy=0.1))


# ------------------------------------------------------------------------------------------------
# val-above-train: possible leakage.
# ------------------------------------------------------------------------------------------------


class _Plain:
    """A model without dropout and a trainer without augmentation (duck-typed, no torch)."""

    augment = None
    weight_decay = 0.0
    scheduler = None
    callbacks = ()

    def modules(self) -> list[object]:
        return [self]


def _lead(lead: float, acc: float = 0.8, seed: int = 0) -> dict[str, list[float]]:
    rng = np.random.default_rng(seed)
    h = _converging()
    ta = acc - 0.3 * np.exp(-T / 4) + rng.normal(0, 0.004, N)
    h["train_acc"] = ta.tolist()
    h["val_acc"] = np.clip(ta + lead + rng.normal(0, 0.006, N), 0, 1).tolist()
    return h


@pytest.mark.parametrize(("lead", "plain", "fires"), [
    (0.08, True, True),    # no dropout, no augmentation: 8 points ahead is not noise
    (0.08, False, False),  # unknown regularization can explain 8 points
    (0.02, True, False),   # within the noise even unregularized
    (0.22, False, True),   # more than any regularization explains
    (-0.05, True, False),  # validation behind training: nothing to see
])  # fmt: skip
def test_validation_above_training_suggests_check_data(
    lead: float, plain: bool, fires: bool
) -> None:
    ctx = {"model": _Plain(), "trainer": _Plain()} if plain else {}
    d = diagnose(_lead(lead), **ctx)
    assert ("val-above-train" in _codes(d)) is fires, str(d)
    if fires:
        f = _finding(d, "val-above-train")
        assert f.label is None
        assert f.evidence["limit"] == (
            LEAK_VAL_ABOVE_TRAIN if plain else LEAK_VAL_ABOVE_TRAIN_REGULARIZED
        )
        assert f.evidence["regularized"] is (not plain)
        assert any("check_data(X, y, val=" in r.text for r in f.remedies)


def test_near_perfect_validation_above_training_is_suspicious() -> None:
    h = _lead(0.03, acc=0.975)
    d = diagnose(h)
    f = _finding(d, "val-above-train")
    assert f.evidence["near_perfect"] and f.evidence["val_acc"] >= LEAK_NEAR_PERFECT
    perfect_both = _lead(0.0, acc=0.999)
    perfect_both["val_acc"] = [min(v, 0.998) for v in perfect_both["train_acc"]]
    assert "val-above-train" not in _codes(diagnose(perfect_both))  # not ahead of training


# ------------------------------------------------------------------------------------------------
# schedule-in-progress: warm-up or annealing only begun.
# ------------------------------------------------------------------------------------------------


def _cosine(n: int, upto: int, warmup: int = 0) -> np.ndarray:
    t = np.arange(n, dtype=float)
    lr = 1e-3 * 0.5 * (1 + np.cos(math.pi * np.clip(t - warmup, 0, None) / (n - warmup)))
    if warmup:
        lr[:warmup] = 1e-3 * np.linspace(0.04, 1.0, warmup)
    return lr[:upto]


def test_schedule_phase_reads_the_logged_rate() -> None:
    assert schedule_phase(_cosine(60, 12, warmup=15))[0] == "warm-up"
    kind, frac = schedule_phase(_cosine(60, 12))
    assert kind == "early-anneal" and frac >= SCHEDULE_EARLY_FRACTION
    assert schedule_phase(_cosine(60, 30)) is None  # half-way: the annealing is under way
    assert schedule_phase(_cosine(60, 60)) is None  # finished
    assert schedule_phase(np.full(20, 1e-3)) is None  # a constant rate is no schedule
    assert schedule_phase(None) is None and schedule_phase(np.full(3, 1e-3)) is None


def test_a_run_still_warming_up_is_not_judged_converged() -> None:
    h = {**_converging(), "lr": _cosine(60, N, warmup=25).tolist()}
    d = diagnose(h)
    assert d.label == Label.SLOW_CONVERGING, str(d)
    f = d.findings[0]
    assert f.code == "schedule-in-progress" and f.evidence["phase"] == "warm-up"
    assert {"trainer": {"max_epochs": 40}} in [r.change.to_dict() for r in f.remedies]
    planned = diagnose(h, planned_epochs=60)  # known to be in progress: a note, not a verdict
    assert planned.label == Label.HEALTHY
    assert _finding(planned, "schedule-in-progress").severity.value == "info"


def test_the_schedule_rule_leaves_finished_and_constant_schedules_alone() -> None:
    base = _converging()
    assert diagnose({**base, "lr": [1e-3] * N}).label == Label.HEALTHY
    assert diagnose({**base, "lr": _cosine(N, N).tolist()}).label == Label.HEALTHY
    assert diagnose({**base, "lr": _cosine(4 * N, N).tolist()}).label == Label.SLOW_CONVERGING
