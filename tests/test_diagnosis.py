"""Tests of cnnkit.diagnosis.diagnose: labels on families of noisy synthetic curves, the case
study's numbers, findings/remedies/report, input handling, and the statistics underneath."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cnnkit.diagnosis import (
    GAP_LARGE_ACC,
    MIN_EPOCHS,
    Diagnosis,
    Finding,
    Label,
    Remedy,
    Severity,
    canonical_name,
    diagnose,
)
from cnnkit.diagnosis.stats import mann_kendall, noise, theil_sen
from diagnosis_curves import FAMILIES

# ------------------------------------------------------------------------------------------------
# Families of synthetic curves (tests/diagnosis_curves.py): every label, binary and 10-class.
# ------------------------------------------------------------------------------------------------


def _family(name: str, classes: int, seed: int) -> dict[str, list[float]]:
    rng = np.random.default_rng([seed, classes, list(FAMILIES).index(name)])
    return FAMILIES[name](rng, classes)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("classes", [2, 10])
@pytest.mark.parametrize("family", list(FAMILIES))
def test_family_label(family: str, classes: int, seed: int) -> None:
    h = _family(family, classes, seed)
    # Half the cases say how many classes there are, half leave chance to be inferred.
    d = diagnose(h, num_classes=classes if seed % 2 else None)
    assert d.label == Label(family), str(d)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_family_accuracy_over_many_seeds(family: str) -> None:
    """Beyond the first seeds: at least 97 % right over 50 more draws per class count (measured
    99-100 %; the misses are noise-driven borderline draws, e.g. a 3-sigma dip of a flat curve)."""
    right = total = 0
    for classes in (2, 10):
        for seed in range(8, 58):
            right += diagnose(_family(family, classes, seed)).label == Label(family)
            total += 1
    assert right / total >= 0.97


# ------------------------------------------------------------------------------------------------
# The case study (SPEC): 25 epochs, Adam 1e-4, binary. Curves built from its published numbers.
# ------------------------------------------------------------------------------------------------


def _case_curves(seed: int, *, tau_train: float, train_loss_end: float, train_acc_end: float,
                 best_epoch: float, val_loss_min: float, val_rise: float, val_acc_peak: float,
                 val_acc_end: float, n: int = 25) -> dict[str, list[float]]:
    """Train curves approach their asymptote with time constant ``tau_train`` and pass through the
    published end values; validation improves until ``best_epoch`` then degrades linearly."""
    rng = np.random.default_rng(seed)
    t = np.arange(1, n + 1, dtype=float)
    start = math.log(2)
    e_end = math.exp(-n / tau_train)
    # Choose the asymptote so that the curve passes through the published value at epoch n.
    l_inf = (train_loss_end - start * e_end) / (1 - e_end)
    a_inf = (train_acc_end - 0.5 * e_end) / (1 - e_end)
    tl = (l_inf + (start - l_inf) * np.exp(-t / tau_train)) * (1 + rng.normal(0, 0.01, n))
    ta = a_inf + (0.5 - a_inf) * np.exp(-t / tau_train) + rng.normal(0, 0.005, n)
    after = np.clip((t - best_epoch) / max(n - best_epoch, 1), 0, None)
    approach = np.exp(-t / (best_epoch / 3))
    vl = (val_loss_min + (start - val_loss_min) * approach + val_rise * after) * (
        1 + rng.normal(0, 0.02, n))
    va = (val_acc_peak + (0.5 - val_acc_peak) * approach - (val_acc_peak - val_acc_end) * after
          + rng.normal(0, 0.01, n))
    return {"loss": tl.tolist(), "accuracy": ta.tolist(), "val_loss": vl.tolist(),
            "val_accuracy": va.tolist()}


def baseline(seed: int) -> dict[str, list[float]]:
    """No batch norm: train loss 0.385 after 25 epochs and still falling, 87.8 % / 69.7 %."""
    return _case_curves(seed, tau_train=20.0, train_loss_end=0.385, train_acc_end=0.878,
                        best_epoch=12, val_loss_min=0.58, val_rise=0.12, val_acc_peak=0.72,
                        val_acc_end=0.697)


def batchnorm(seed: int) -> dict[str, list[float]]:
    """Batch norm: train loss 0.339 by epoch 5, 91 % / 63 %."""
    tau = 3.0
    # 0.339 at epoch 5 fixes the asymptote: l_inf + (ln2 - l_inf) e^{-5/3} = 0.339.
    e5 = math.exp(-5 / tau)
    l_inf = (0.339 - math.log(2) * e5) / (1 - e5)
    loss_25 = l_inf + (math.log(2) - l_inf) * math.exp(-25 / tau)
    return _case_curves(seed, tau_train=tau, train_loss_end=loss_25, train_acc_end=0.91,
                        best_epoch=5, val_loss_min=0.6, val_rise=0.35, val_acc_peak=0.70,
                        val_acc_end=0.63)


def with_dropout(seed: int) -> dict[str, list[float]]:
    """Dropout 0.5: 73.6 % / 70.3 %, validation still creeping up, no rise of its loss."""
    return _case_curves(seed, tau_train=8.0, train_loss_end=0.53, train_acc_end=0.736,
                        best_epoch=25, val_loss_min=0.57, val_rise=0.0, val_acc_peak=0.703,
                        val_acc_end=0.703)


@pytest.mark.parametrize("seed", range(5))
def test_case_study_baseline_overfits_and_converges_slowly(seed: int) -> None:
    h = baseline(seed)
    assert h["loss"][-1] == pytest.approx(0.385, abs=0.02)
    d = diagnose(h, num_classes=2)
    assert d.label == Label.OVERFITTING, str(d)
    codes = {f.code for f in d.findings}
    assert "loss-still-falling" in codes, str(d)  # a run can overfit and converge slowly
    overfit = next(f for f in d.findings if f.label == Label.OVERFITTING)
    assert overfit.evidence["accuracy_gap"] == pytest.approx(0.878 - 0.697, abs=0.04)
    assert 6 <= overfit.evidence["best_epoch"] <= 15  # validation is flat from epoch 6 to 12
    assert overfit.remedies[0].change == {"builder": {"dropout": 0.25}}
    slow = next(f for f in d.findings if f.code == "loss-still-falling")
    assert {"builder": {"batch_norm": True}} in [r.change for r in slow.remedies]


@pytest.mark.parametrize("seed", range(5))
def test_case_study_batchnorm_overfits_but_converges_fast(seed: int) -> None:
    h = batchnorm(seed)
    assert h["loss"][4] == pytest.approx(0.339, abs=0.02)
    d = diagnose(h, num_classes=2)
    assert d.label == Label.OVERFITTING, str(d)
    assert not any(f.label == Label.SLOW_CONVERGING for f in d.findings), str(d)
    # Batch norm converges faster: its trailing rate of training-loss decrease, relative to the
    # run's average, is far below the baseline's.
    base = diagnose(baseline(seed), num_classes=2)
    slow = next(f for f in base.findings if f.code == "loss-still-falling")
    assert slow.evidence["rate_ratio"] > 0.25


@pytest.mark.parametrize("seed", range(5))
def test_case_study_dropout_is_not_overfitting(seed: int) -> None:
    d = diagnose(with_dropout(seed), num_classes=2)
    assert d.label != Label.OVERFITTING, str(d)
    assert not any(f.code == "large-gap" for f in d.findings)


# ------------------------------------------------------------------------------------------------
# Specific rules.
# ------------------------------------------------------------------------------------------------


def _steady(n: int, seed: int = 0) -> dict[str, list[float]]:
    """A plain converged run used as a base for targeted edits."""
    rng = np.random.default_rng(seed)
    t = np.arange(1, n + 1, dtype=float)
    tl = (0.2 + 0.5 * np.exp(-t / 3)) * (1 + rng.normal(0, 0.01, n))
    vl = (0.25 + 0.45 * np.exp(-t / 3)) * (1 + rng.normal(0, 0.02, n))
    return {"train_loss": tl.tolist(), "val_loss": vl.tolist()}


def test_large_gap_with_val_still_improving_is_a_warning_not_overfitting() -> None:
    n = 30
    t = np.arange(1, n + 1, dtype=float)
    rng = np.random.default_rng(3)
    h = {
        "train_loss": (0.05 + 0.6 * np.exp(-t / 4) + rng.normal(0, 0.002, n)).tolist(),
        "val_loss": (0.7 - 0.01 * t + rng.normal(0, 0.004, n)).tolist(),  # still improving
        "train_acc": np.clip(0.99 - 0.49 * np.exp(-t / 4), 0, 1).tolist(),
        "val_acc": (0.6 + 0.004 * t + rng.normal(0, 0.003, n)).tolist(),  # still improving
    }
    d = diagnose(h, num_classes=2)
    assert d.label != Label.OVERFITTING, str(d)
    gap = next(f for f in d.findings if f.code == "large-gap")
    assert gap.label is None and gap.severity == Severity.WARNING
    assert gap.evidence["gap"] > GAP_LARGE_ACC and gap.evidence["val_improving"] is True


def test_large_gap_with_val_stalled_is_overfitting() -> None:
    n = 30
    t = np.arange(1, n + 1, dtype=float)
    rng = np.random.default_rng(4)
    h = {
        "train_loss": (0.05 + 0.6 * np.exp(-t / 4) + rng.normal(0, 0.002, n)).tolist(),
        "val_loss": (0.55 + 0.15 * np.exp(-t / 3) + rng.normal(0, 0.01, n)).tolist(),
        "train_acc": np.clip(0.99 - 0.49 * np.exp(-t / 4), 0, 1).tolist(),
        "val_acc": (0.72 - 0.22 * np.exp(-t / 3) + rng.normal(0, 0.01, n)).tolist(),
    }
    d = diagnose(h, num_classes=2)
    assert d.label == Label.OVERFITTING, str(d)
    assert d.findings[0].code == "large-gap-val-stalled"


def test_overfitting_evidence_locates_the_minimum() -> None:
    n = 40
    t = np.arange(1, n + 1, dtype=float)
    rng = np.random.default_rng(0)
    vl = 0.5 + 0.004 * (t - 12) ** 2 / 4 + rng.normal(0, 0.01, n)  # minimum at epoch 12
    tl = 0.02 + 0.7 * np.exp(-t / 6)
    d = diagnose({"train_loss": tl.tolist(), "val_loss": vl.tolist()})
    f = d.findings[0]
    assert (d.label, f.code) == (Label.OVERFITTING, "val-loss-rising")
    assert 10 <= f.evidence["best_epoch"] <= 14
    assert f.evidence["rise_sigmas"] >= 3
    assert f.evidence["epochs_since_best"] == n - f.evidence["best_epoch"]
    assert {"trainer": {"max_epochs": f.evidence["best_epoch"]}} in [r.change for r in f.remedies]


def test_rising_train_loss_is_divergence_not_overfitting() -> None:
    n = 20
    t = np.arange(1, n + 1, dtype=float)
    tl = np.where(t < 8, 0.7 - 0.05 * t, 0.35 + 0.06 * (t - 8))  # falls, then climbs to 1.07
    h = {"train_loss": tl.tolist(), "val_loss": (tl + 0.05).tolist(), "lr": [0.01] * n}
    d = diagnose(h)
    assert d.label == Label.DIVERGING, str(d)
    assert d.findings[0].code == "train-loss-rising"
    assert {"trainer": {"lr": 0.001}} in [r.change for r in d.remedies]


def test_explosion_to_chance_is_divergence() -> None:
    n = 12
    tl = [0.69, 0.6, 0.55, 0.9, 2.0, 5.0, 9.0, 12.0, 14.0, 15.0, 15.5, 16.0]
    acc = [0.55, 0.65, 0.7, 0.6, 0.52, 0.5, 0.49, 0.51, 0.5, 0.5, 0.5, 0.5]
    d = diagnose({"loss": tl, "accuracy": acc}, num_classes=2)
    assert d.label == Label.DIVERGING and d.findings[0].code == "loss-explosion"
    assert d.findings[0].evidence["ratio"] == pytest.approx(16.0 / 0.69, rel=0.05)
    assert len(tl) == n


def test_spike_then_stuck_at_chance_is_divergence() -> None:
    tl = [40.0, 25.0, 0.8, 0.7, 0.694, 0.693, 0.693, 0.692, 0.693, 0.693]
    acc = [0.5, 0.51, 0.49, 0.5, 0.5, 0.51, 0.5, 0.49, 0.5, 0.5]
    for classes in (2, None):  # a 40.0 first loss must not be read as exp(40) classes
        d = diagnose({"loss": tl, "accuracy": acc}, num_classes=classes)
        assert d.label == Label.DIVERGING and d.findings[0].code == "loss-spike"


def test_nan_loss_is_divergence_with_grad_clip_from_grad_norms() -> None:
    h = _steady(10)
    h["train_loss"][6] = float("nan")
    h["grad_norm"] = [2.0, 2.2, 1.8, 2.1, 2.0, 40.0, float("inf"), 2.0, 2.0, 2.0]
    d = diagnose(h)
    assert d.label == Label.DIVERGING
    f = d.findings[0]
    assert f.code == "non-finite-loss" and f.evidence["train_loss_epoch"] == 7
    clip = next(r.change for r in f.remedies if "grad_clip" in r.change.get("trainer", {}))
    assert clip["trainer"]["grad_clip"] == pytest.approx(4.0, rel=0.1)  # twice the median norm


def test_divergence_beats_shortness() -> None:
    d = diagnose({"loss": [0.7, float("inf")]})
    assert d.label == Label.DIVERGING


@pytest.mark.parametrize("n", range(1, MIN_EPOCHS))
def test_too_few_epochs_is_inconclusive_and_says_how_many(n: int) -> None:
    d = diagnose(_steady(n))
    assert d.label == Label.INCONCLUSIVE
    f = d.findings[0]
    assert f.evidence["more_epochs"] == MIN_EPOCHS - n
    assert f"{MIN_EPOCHS - n} more" in f.message


def test_underfitting_without_accuracy_uses_chance_level_loss() -> None:
    rng = np.random.default_rng(0)
    tl = (2.2 + 0.1 * np.exp(-np.arange(30) / 3)) * (1 + rng.normal(0, 0.01, 30))
    d = diagnose({"train_loss": tl.tolist()}, num_classes=10)
    assert d.label == Label.UNDERFITTING and d.findings[0].code == "high-loss"
    changes = [r.change for r in d.findings[0].remedies]
    assert {"builder": {"width": 2.0}} in changes and {"trainer": {"max_epochs": 60}} in changes


def test_majority_class_chance_makes_high_accuracy_underfitting() -> None:
    """90 % accuracy on a 90/10 data set is chance: underfitting, not healthy."""
    rng = np.random.default_rng(1)
    n = 30
    h = {"train_loss": (0.33 + rng.normal(0, 0.003, n)).tolist(),
         "train_acc": (0.9 + rng.normal(0, 0.004, n)).tolist()}
    assert diagnose(h, num_classes=2).label == Label.HEALTHY
    assert diagnose(h, num_classes=2, chance_accuracy=0.9).label == Label.UNDERFITTING


def test_planned_epochs_turns_a_run_in_progress_from_slow_to_healthy() -> None:
    h = _family("slow-converging", 2, 0)
    n = len(h["train_loss"])
    assert diagnose(h).label == Label.SLOW_CONVERGING
    d = diagnose(h, planned_epochs=100 * n)
    assert d.label == Label.HEALTHY and d.findings[0].code == "still-improving"
    assert diagnose(h, planned_epochs=n).label == Label.SLOW_CONVERGING


def test_target_accuracy_far_away_is_slow() -> None:
    n = 30
    rng = np.random.default_rng(2)
    t = np.arange(1, n + 1, dtype=float)
    h = {"train_loss": (0.45 + rng.normal(0, 0.004, n)).tolist(),
         "val_acc": (0.70 + 0.001 * t + rng.normal(0, 0.002, n)).tolist()}
    d = diagnose(h, target_accuracy=0.95)
    far = next(f for f in d.findings if f.code == "target-far")
    assert d.label == Label.SLOW_CONVERGING
    assert far.evidence["epochs_to_target"] == pytest.approx((0.95 - 0.73) / 0.001, rel=0.25)


def test_slow_finding_estimates_more_epochs() -> None:
    h = _family("slow-converging", 10, 1)
    n = len(h["train_loss"])
    f = diagnose(h).findings[0]
    assert f.code == "loss-still-falling"
    assert f.evidence["more_epochs"] >= n // 2  # time constant >= 1.5 n: far from done
    total = f.evidence["suggested_max_epochs"]
    assert total % 5 == 0 and total >= n + f.evidence["more_epochs"]
    assert {"trainer": {"max_epochs": total}} in [r.change for r in f.remedies]


# ------------------------------------------------------------------------------------------------
# Input handling.
# ------------------------------------------------------------------------------------------------


def test_keras_names_percentages_and_history_objects() -> None:
    h = baseline(0)
    pct = {**h, "accuracy": [100 * a for a in h["accuracy"]],
           "val_accuracy": [100 * a for a in h["val_accuracy"]]}
    ref = diagnose(h, num_classes=2)
    d = diagnose(pct, num_classes=2)
    assert d.label == ref.label
    assert d.summary["train_acc_final"] == pytest.approx(ref.summary["train_acc_final"])
    assert any("percentages" in note for note in d.summary["notes"])

    class FakeHistory:  # cnnkit History duck type
        def to_dict(self) -> dict[str, Any]:
            return {"epoch": list(range(1, 26)), "train_loss": h["loss"], "val_loss": h["val_loss"],
                    "train_acc": h["accuracy"], "val_acc": h["val_accuracy"], "lr": [],
                    "step_loss": [0.1] * 77, "best_epoch": 12}

    class FakeKerasHistory:
        history = h

    assert diagnose(FakeHistory(), num_classes=2).to_dict() == ref.to_dict()
    assert diagnose(FakeKerasHistory(), num_classes=2).to_dict() == ref.to_dict()


@pytest.mark.parametrize(("name", "expected"), [
    ("loss", "train_loss"), ("train_loss", "train_loss"), ("val_loss", "val_loss"),
    ("accuracy", "train_acc"), ("acc", "train_acc"), ("val_accuracy", "val_acc"),
    ("valid_acc", "val_acc"), ("train_acc_epoch", "train_acc"), ("val_loss_epoch", "val_loss"),
    ("train_loss_step", "train_loss"), ("trainLoss", "train_loss"), ("val/acc", "val_acc"),
    ("categorical_accuracy", "train_acc"), ("val_sparse_categorical_accuracy", "val_acc"),
    ("lr", "lr"), ("learning_rate", "lr"), ("lr-Adam", "lr"), ("grad_norm", "grad_norm"),
    ("epoch_time", "epoch_time"), ("step_loss", None), ("test_loss", None), ("epoch", None),
    ("val_top5_acc", None), ("f1", None),
])
def test_canonical_names(name: str, expected: str | None) -> None:
    got = canonical_name(name)
    assert (got[0] if got else None) == expected


def test_epoch_level_name_preferred_over_step_level() -> None:
    step, epoch, plain = (canonical_name(n) for n in ("train_loss_step", "train_loss_epoch",
                                                      "train_loss"))
    assert step and epoch and plain and epoch[1] < plain[1] < step[1]


@pytest.mark.parametrize(("history", "match"), [
    ({}, "no loss series"),
    ({"accuracy": [0.5, 0.6]}, "no loss series.*'accuracy'"),
    ({"loss": [1.0, 0.9, 0.8], "val_loss": [1.0, 0.9]}, "unequal lengths"),
    ({"loss": ["a", "b"]}, "numbers"),
    ({"loss": [[1.0, 2.0], [3.0, 4.0]]}, "flat list"),
    ({"loss": 0.5}, "list of per-epoch numbers"),
])
def test_bad_histories_raise_value_error(history: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        diagnose(history)


def test_bad_options_and_types() -> None:
    with pytest.raises(TypeError, match="mapping"):
        diagnose(42)
    with pytest.raises(ValueError, match="num_classes"):
        diagnose(_steady(10), num_classes=1)
    with pytest.raises(ValueError, match="target_accuracy"):
        diagnose(_steady(10), target_accuracy=95)


def test_optional_series_of_wrong_length_are_ignored_with_a_note() -> None:
    h = _steady(10)
    h["lr"] = [1e-3] * 11
    d = diagnose(h)
    assert any("'lr'" in note for note in d.summary["notes"])


# ------------------------------------------------------------------------------------------------
# Report and serialization.
# ------------------------------------------------------------------------------------------------


def test_report_and_to_dict() -> None:
    d = diagnose({**baseline(0), "lr": [1e-4] * 25}, num_classes=2)
    text = str(d)
    assert text.startswith("Diagnosis: OVERFITTING (25 epochs")
    assert "[warning] val-loss-rising" in text and '{"builder": {"dropout": 0.25}}' in text
    assert len(text.splitlines()) < 20  # short
    data = json.loads(json.dumps(d.to_dict(), allow_nan=False))
    assert data["label"] == "overfitting"
    assert data["findings"][0]["remedies"][0] == {
        "text": d.findings[0].remedies[0].text, "change": {"builder": {"dropout": 0.25}}}
    slow = next(f for f in data["findings"] if f["code"] == "loss-still-falling")
    assert {"trainer": {"lr": 0.0003}} in [r["change"] for r in slow["remedies"]]  # 3 x 1e-4


def test_healthy_report_and_remedies_empty() -> None:
    d = diagnose(_steady(20))
    assert d.label == Label.HEALTHY and d.findings == () and d.remedies == []
    assert "No problem found" in str(d)


def test_types_are_plain_values() -> None:
    assert Label.SLOW_CONVERGING == "slow-converging" and str(Label.HEALTHY) == "healthy"
    f = Finding("x", Label.OVERFITTING, Severity.WARNING, "m", {"v": np.float64(1.5)},
                (Remedy("r", {"builder": {"dropout": 0.25}}),))
    assert json.dumps(f.to_dict())
    assert isinstance(Diagnosis(Label.HEALTHY, ()).to_dict()["findings"], list)


# ------------------------------------------------------------------------------------------------
# Robustness: arbitrary float lists never crash.
# ------------------------------------------------------------------------------------------------

_floats = st.floats(allow_nan=True, allow_infinity=True, width=64)
_series = st.lists(_floats, max_size=40)
_keys = st.sampled_from(["train_loss", "val_loss", "train_acc", "val_acc", "loss", "accuracy",
                         "val_accuracy", "lr", "grad_norm", "epoch_time", "other"])


@given(st.dictionaries(_keys, _series, max_size=6),
       st.one_of(st.none(), st.integers(2, 20)), st.one_of(st.none(), st.floats(0.01, 0.99)))
def test_arbitrary_histories_give_diagnosis_or_value_error(
        history: dict[str, list[float]], num_classes: int | None, target: float | None) -> None:
    try:
        d = diagnose(history, num_classes=num_classes, target_accuracy=target)
    except ValueError:
        return
    assert isinstance(d.label, Label)
    json.dumps(d.to_dict(), allow_nan=False)
    assert str(d)


@given(st.integers(1, 60), st.data())
def test_equal_length_finite_histories_always_diagnose(n: int, data: st.DataObject) -> None:
    loss = data.draw(st.lists(st.floats(0, 1e6), min_size=n, max_size=n))
    acc = data.draw(st.lists(st.floats(0, 1), min_size=n, max_size=n))
    val = data.draw(st.lists(st.floats(0, 1e6), min_size=n, max_size=n))
    d = diagnose({"loss": loss, "accuracy": acc, "val_loss": val})
    assert d.label in set(Label)
    assert (d.label == Label.INCONCLUSIVE) == (n < MIN_EPOCHS and d.label != Label.DIVERGING)


# ------------------------------------------------------------------------------------------------
# Statistics (expected values computed by hand).
# ------------------------------------------------------------------------------------------------


def test_theil_sen_ignores_outliers() -> None:
    y = 2.0 + 0.5 * np.arange(20.0)
    y[[3, 11]] = [50.0, -40.0]
    assert theil_sen(y) == pytest.approx(0.5)


def test_mann_kendall_matches_hand_computation() -> None:
    # 1..5: S = 10, Var(S) = 5*4*15/18, z = (10 - 1) / sqrt(Var), one-sided p = 0.5 erfc(z/sqrt2).
    z, p = mann_kendall(np.arange(1.0, 6.0))
    var = 5 * 4 * 15 / 18
    assert z == pytest.approx(9 / math.sqrt(var))
    assert p == pytest.approx(0.01374, abs=5e-5)  # 1 - Phi(2.2045) from a normal table
    z_down, p_down = mann_kendall(np.arange(5.0, 0.0, -1.0))
    assert z_down == pytest.approx(-z) and p_down == pytest.approx(1 - p)


def test_noise_estimate_is_blind_to_trend() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(400.0)
    iid = rng.normal(0, 0.02, 400)
    for trend in (0 * t, 3 - 0.01 * t, 2 * np.exp(-t / 50)):
        assert noise(trend + iid) == pytest.approx(0.02, rel=0.15)


def test_loss_drop_after_a_schedule_step_is_not_slow_convergence() -> None:
    """A step decay of the rate at epoch 31 makes the loss drop and settle again; with the rate
    logged, the segment since the step is judged alone (converged), without it the drop looks
    like a loss still falling."""
    rng = np.random.default_rng(0)
    n = 40
    t = np.arange(1, n + 1, dtype=float)
    step = np.where(t > 30, 1 - np.exp(-(t - 30) / 1.5), 0.0)
    tl = (0.4 + 0.3 * np.exp(-t / 4) - 0.1 * step) * (1 + rng.normal(0, 0.005, n))
    h = {"train_loss": tl.tolist(), "val_loss": (tl + 0.05 + rng.normal(0, 0.005, n)).tolist()}
    assert diagnose(h).label == Label.SLOW_CONVERGING
    lr = np.where(t > 30, 1e-4, 1e-3).tolist()
    assert diagnose({**h, "lr": lr}).label == Label.HEALTHY


def test_wandering_validation_noise_is_rarely_called_overfitting() -> None:
    """Converged runs with autocorrelated validation noise (tests/diagnosis_curves.py): noise
    units understate such noise, so the overfitting rule also demands a falling training loss.
    At least 97 % healthy over 100 draws (measured 99-100 %)."""
    from diagnosis_curves import healthy_wandering

    labels = [diagnose(healthy_wandering(np.random.default_rng([s, c, 99]), c)).label
              for s in range(50) for c in (2, 10)]
    assert labels.count(Label.HEALTHY) >= 97


def test_erratic_loss_without_learning_is_divergence_but_noisy_near_zero_loss_is_not() -> None:
    rng = np.random.default_rng(0)
    n = 30
    erratic = {"loss": (0.7 + np.abs(rng.normal(0, 0.6, n))).tolist(),
               "accuracy": (0.5 + rng.normal(0, 0.03, n)).tolist()}
    d = diagnose(erratic, num_classes=2)
    assert (d.label, d.findings[0].code) == (Label.DIVERGING, "train-loss-erratic")
    # A memorizing run: tiny loss with large relative jitter, accuracy 1.0: it has learnt.
    t = np.arange(1, n + 1, dtype=float)
    tiny = {"loss": (0.7 * np.exp(-t / 2) + np.abs(rng.normal(0, 0.002, n))).tolist(),
            "accuracy": np.minimum(1.0, 0.5 + 0.1 * t).tolist()}
    assert diagnose(tiny, num_classes=2).label != Label.DIVERGING


def test_empty_preferred_name_falls_back_to_a_recorded_alias() -> None:
    h = _steady(12)
    d = diagnose({"train_loss": [], "loss": h["train_loss"], "val_loss_epoch": [],
                  "val_loss": h["val_loss"]})
    assert d.summary["train_loss_final"] == h["train_loss"][-1]
    assert d.summary["val_loss_final"] == h["val_loss"][-1]


@pytest.mark.parametrize("n", [12, 300])
@pytest.mark.parametrize("family", ["healthy", "overfitting", "underfitting", "slow-converging",
                                    "diverging"])
def test_family_accuracy_on_short_and_long_runs(family: str, n: int) -> None:
    """The same families at 12 and 300 epochs: at least 90 % right over 20 draws (measured
    95-100 %; at 12 epochs the trend tests have little power left)."""
    labels = [diagnose(FAMILIES[family](np.random.default_rng([s, c, 7]), c, n),
                       num_classes=c).label for s in range(10) for c in (2, 10)]
    assert labels.count(Label(family)) >= 18
