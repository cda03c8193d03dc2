"""Issue 13: the runs that defeat end-point rules (tests/diagnosis_curves.py HARD_FAMILIES), the
pooled ``val-loss-held-up`` rule, abstaining on borderline evidence, the confidence, and advice
that knows what was trained."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

import cnnkit.augment
from cnnkit.builder import ModelBuilder
from cnnkit.diagnosis import (
    MAX_DROPOUT,
    POOL_BORDERLINE,
    POOL_Z,
    RETRAIN_MIN_EPOCH,
    Label,
    diagnose,
)
from cnnkit.diagnosis.context import TrainedWith, trained_with
from cnnkit.diagnosis.convergence import validation_improves
from cnnkit.diagnosis.pooled import held_rise, normal_cdf
from cnnkit.diagnosis.series import extract, prepare
from cnnkit.training import EarlyStopping, Trainer
from diagnosis_curves import FAMILIES, HARD_FAMILIES, issue_example, noisy_val_overfitting

#: Families that reach 95 % (see docs/diagnosis.md for the measured numbers).
RELIABLE = ["loss-only-overfitting", "target-underfitting", "healthy-moderate-gap",
            "hidden-divergence", "annealed-healthy", "tiny-model-underfit"]


def _hard(name: str, classes: int, seed: int, tag: int = 100, **kw: Any) -> tuple[dict, str, dict]:
    fn, label, options = HARD_FAMILIES[name]
    i = list(HARD_FAMILIES).index(name)
    return fn(np.random.default_rng([seed, classes, tag + i]), classes, **kw), label, options


# ------------------------------------------------------------------------------------------------
# The hard families: binary and 10-class, short and long, three noise levels.
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize("noise", [0, 1, 2])
@pytest.mark.parametrize("length", ["short", "long"])
@pytest.mark.parametrize("classes", [2, 10])
@pytest.mark.parametrize("family", RELIABLE)
def test_hard_family_first_seeds(family: str, classes: int, length: str, noise: int,
                                 seed: int) -> None:
    h, label, options = _hard(family, classes, seed, 200, length=length, noise=noise)
    d = diagnose(h, num_classes=classes if seed % 2 else None, **options)
    assert d.label == Label(label), str(d)


@pytest.mark.parametrize("family", RELIABLE)
def test_hard_family_accuracy_over_fresh_seeds(family: str) -> None:
    """At least 95 % right over 50 further seeds per class count, lengths and noise drawn."""
    right = 0
    for classes in (2, 10):
        for seed in range(8, 58):
            h, label, options = _hard(family, classes, seed)
            right += diagnose(h, **options).label == Label(label)
    assert right / 100 >= 0.95


def test_loss_only_overfitting_holds_on_fresh_seeds() -> None:
    """Issue 13's bar on seeds the rules were not developed on: at least 95 % right over seeds
    1000-1099 per class count (measured: 97.5 %)."""
    labels = [diagnose(_hard("loss-only-overfitting", c, s)[0]).label
              for c in (2, 10) for s in range(1000, 1100)]
    assert labels.count(Label.OVERFITTING) / len(labels) >= 0.95


def _noisy_labels(seeds: range) -> list[Label]:
    return [diagnose(_hard("noisy-val-overfitting", c, s)[0]).label for c in (2, 10) for s in seeds]


def test_noisy_validation_overfitting_is_mostly_caught_and_rarely_invented() -> None:
    """A rise of 2-4 noise units on 150-250 validation images: the measured floors (80 % caught
    over seeds 8-57, 78.5 % over seeds 1000-1099; most misses abstain as inconclusive) while the
    same runs without the rise are called overfitting on 2 of 200 draws. Below issue 13's 95 %
    (``test_noisy_validation_overfitting_reaches_the_issue_bar``): see docs/diagnosis.md."""
    labels = _noisy_labels(range(8, 58))
    assert labels.count(Label.OVERFITTING) >= 80
    assert labels.count(Label.HEALTHY) <= 8
    assert _noisy_labels(range(1000, 1100)).count(Label.OVERFITTING) >= 157
    null = [diagnose(noisy_val_overfitting(np.random.default_rng([s, c, 555]), c,
                                           rise_units=(0.0, 0.0))).label
            for c in (2, 10) for s in range(100)]
    assert null.count(Label.OVERFITTING) <= 2


@pytest.mark.xfail(strict=True, reason="issue 13's bar (95 %) is not reached on the noisy-"
                   "validation family: 80 % / 78.5 %; an oracle that knows where the rise starts "
                   "and the true noise gets about 94 % at a 5 % false-alarm rate (docs/diagnosis.md)")
def test_noisy_validation_overfitting_reaches_the_issue_bar() -> None:
    for seeds in (range(8, 58), range(1000, 1100)):
        labels = _noisy_labels(seeds)
        assert labels.count(Label.OVERFITTING) / len(labels) >= 0.95


def test_the_old_families_are_untouched_by_the_new_rules() -> None:
    for i, (family, fn) in enumerate(FAMILIES.items()):
        labels = [diagnose(fn(np.random.default_rng([s, c, i]), c)).label
                  for c in (2, 10) for s in range(8, 30)]
        assert labels.count(Label(family)) >= 43, family


def test_the_issue_example_is_overfitting_with_its_evidence() -> None:
    d = diagnose(issue_example())
    assert d.label == Label.OVERFITTING, str(d)
    f = d.findings[0]
    assert f.code == "val-loss-held-up"
    assert f.evidence["pooled_z"] >= POOL_Z and 4 <= f.evidence["best_epoch"] <= 6
    assert f.evidence["rise_fraction"] > 0.15
    assert d.confidence > 0.9
    assert "pooled" in str(d) and "confidence" in str(d)


# ------------------------------------------------------------------------------------------------
# The pooled statistic and abstaining.
# ------------------------------------------------------------------------------------------------


def test_held_rise_pools_a_step_and_ignores_a_flat_curve() -> None:
    rng = np.random.default_rng(0)
    flat = 0.3 + rng.normal(0, 0.01, 40)
    step = flat + np.where(np.arange(40) >= 15, 0.03, 0.0)  # +3 noise units from epoch 16 on
    assert held_rise(flat).z < POOL_Z <= held_rise(step).z
    assert held_rise(step).phi < 0.5 and held_rise(np.ones(5)) is None
    assert held_rise(np.r_[flat[:20], np.nan, flat[21:]]) is None
    assert normal_cdf(0.0) == pytest.approx(0.5) and normal_cdf(1.96) == pytest.approx(0.975, abs=1e-3)


def _borderline() -> dict[str, list[float]]:
    """A validation loss that steps up by about two noise units after epoch 8 of 20, while the
    training loss keeps falling: the first draw whose pooled z falls in the borderline band."""
    n = 20
    t = np.arange(1, n + 1, dtype=float)
    for seed in range(200):
        rng = np.random.default_rng(seed)
        vl = 0.3 + 0.4 * np.exp(-t / 1.5) + np.where(t > 8, 0.025, 0) + rng.normal(0, 0.012, n)
        h = {"train_loss": (0.2 + 0.5 * np.exp(-t / 6)).tolist(), "val_loss": vl.tolist()}
        if any(f.code == "val-loss-borderline" for f in diagnose(h).findings):
            return h
    raise AssertionError("no borderline draw")


def test_borderline_evidence_abstains_with_the_epochs_needed() -> None:
    d = diagnose(_borderline())
    assert d.label == Label.INCONCLUSIVE, str(d)
    f = d.findings[0]
    assert f.code == "val-loss-borderline" and f.severity.value == "warning"
    assert POOL_Z - POOL_BORDERLINE <= f.evidence["pooled_z"] < POOL_Z
    assert "cannot tell overfitting from noise" in f.message
    need = f.evidence["epochs_needed"]
    assert need is None or need > 20
    assert any(r.change.callbacks for r in f.remedies)  # keeping the best weights is right anyway
    assert 0.0 <= d.confidence <= 1.0


def test_borderline_never_overrides_another_verdict() -> None:
    h = _borderline()
    h["train_loss"] = (np.array(h["train_loss"]) * 0 + 0.7).tolist()  # flat at chance: no guard
    assert diagnose(h).label != Label.INCONCLUSIVE or not any(
        f.code == "val-loss-borderline" for f in diagnose(h).findings)


# ------------------------------------------------------------------------------------------------
# Confidence.
# ------------------------------------------------------------------------------------------------


def test_confidence_is_a_fraction_everywhere_and_serialized() -> None:
    for i, fn in enumerate(FAMILIES.values()):
        for seed in range(3):
            d = diagnose(fn(np.random.default_rng([seed, 2, i]), 2))
            assert 0.0 <= d.confidence <= 1.0
            data = json.loads(json.dumps(d.to_dict(), allow_nan=False))
            assert data["confidence"] == d.confidence
            assert f"confidence {d.confidence:.2f}" in str(d).splitlines()[0]
    assert diagnose({"loss": [0.7, float("nan")] * 5}).confidence == 1.0  # categorical


def test_clear_evidence_is_more_confident_than_borderline() -> None:
    clear = diagnose(FAMILIES["overfitting"](np.random.default_rng(0), 2))
    assert clear.label == Label.OVERFITTING and clear.confidence > 0.95
    assert diagnose(_borderline()).confidence < clear.confidence


# ------------------------------------------------------------------------------------------------
# Advice that knows what was trained.
# ------------------------------------------------------------------------------------------------


def _changes(d: Any) -> list[dict[str, Any]]:
    return [r.change.to_dict() for r in d.remedies]


def test_overfitting_advice_escalates_what_the_run_already_has() -> None:
    h = FAMILIES["overfitting"](np.random.default_rng(1), 2)
    builder = ModelBuilder(3, 2, 16, dropout=0.25, batch_norm=True).conv(4)
    trainer = Trainer(max_epochs=5, augment=cnnkit.augment.default(), weight_decay=1e-4,
                      progress=False)
    d = diagnose(h, builder=builder, trainer=trainer, model=builder.build())
    changes = _changes(d)
    dropout = [c["builder"]["dropout"] for c in changes if "dropout" in c.get("builder", {})]
    assert dropout and all(r > 0.25 for r in dropout)  # up, never at or below the current rate
    assert {"augment": "default"} not in changes  # already on: stronger, and mixing
    assert {"augment": {"strength": 2.0}} in changes
    assert any("Mixup" in r.text for r in d.remedies)
    decay = [c["trainer"]["weight_decay"] for c in changes if "weight_decay" in c.get("trainer", {})]
    assert decay and all(w > 1e-4 for w in decay)
    plain = _changes(diagnose(h))
    assert {"builder": {"dropout": 0.25}} in plain and {"augment": "default"} in plain


def test_nothing_is_suggested_that_is_already_there() -> None:
    """Every remedy of every family, diagnosed with a run that has everything."""
    builder = ModelBuilder(3, 2, 16, dropout=MAX_DROPOUT, batch_norm=True, width=2.0).conv(4)
    trainer = Trainer(max_epochs=5, augment=cnnkit.augment.Mixup(2), weight_decay=5e-3, scheduler="cosine",
                      callbacks=[EarlyStopping(restore_best_weights=True)], progress=False)
    seen = 0
    for i, fn in enumerate([*FAMILIES.values(), *(f for f, _, _ in HARD_FAMILIES.values())]):
        for seed in range(4):
            h = fn(np.random.default_rng([seed, 2, i]), 2)
            d = diagnose(h, builder=builder, trainer=trainer, model=builder.build())
            for f in d.findings:
                for r in f.remedies:
                    seen += 1
                    c = r.change
                    assert c.builder.get("batch_norm") is not True, r
                    assert "dropout" not in c.builder or c.builder["dropout"] < MAX_DROPOUT, r
                    assert c.augment != "default" and "Mixup" not in r.text, r
                    assert "scheduler" not in c.trainer, r
                    assert "weight_decay" not in c.trainer or c.trainer["weight_decay"] == 0.0, r
                    assert not c.callbacks, r  # EarlyStopping(restore_best_weights) is set
                    if "width" in c.builder:
                        assert c.builder["width"] == 4.0, r  # twice the current width
    assert seen > 20


def test_an_early_minimum_restores_the_best_weights_instead_of_retraining() -> None:
    n = 20
    t = np.arange(1, n + 1, dtype=float)
    h = {"train_loss": (0.7 * np.exp(-t / 4) + 0.02).tolist(),
         "val_loss": (0.5 + 0.01 * (t - 2) ** 2).tolist()}  # best at epoch 2
    d = diagnose(h)
    assert d.label == Label.OVERFITTING
    first = d.findings[0].remedies[0]
    assert first.change.callbacks[0]["restore_best_weights"] is True
    assert "restore_best_weights=True" in first.text
    for r in d.remedies:
        assert r.change.trainer.get("max_epochs", RETRAIN_MIN_EPOCH) >= RETRAIN_MIN_EPOCH, r
        assert "about 1 epoch" not in r.text and "about 2 epochs" not in r.text


def test_underfitting_and_slow_advice_know_the_model() -> None:
    h = FAMILIES["underfitting"](np.random.default_rng(0), 2)
    builder = ModelBuilder(3, 2, 16, width=0.5).conv(4)  # no dropout
    d = diagnose(h, builder=builder, num_classes=2)
    assert d.label == Label.UNDERFITTING
    changes = _changes(d)
    assert {"builder": {"width": 1.0}} in changes
    assert not any("dropout" in c.get("builder", {}) for c in changes)
    s = diagnose(FAMILIES["slow-converging"](np.random.default_rng(0), 2),
                 builder=builder.replace(batch_norm=True), trainer=Trainer(max_epochs=5, progress=False))
    assert s.label == Label.SLOW_CONVERGING
    sc = _changes(s)
    assert {"builder": {"batch_norm": True}} not in sc
    assert {"trainer": {"scheduler": "onecycle"}} in sc


def test_trained_with_reads_duck_typed_objects_without_torch() -> None:
    class Dropout2d:
        p = 0.3

    class BatchNorm2d:
        pass

    class Net:
        def modules(self) -> list[object]:
            return [self, BatchNorm2d(), Dropout2d()]

    class Mixup:
        pass

    class Run:
        augment = Mixup()
        weight_decay = 1e-4
        scheduler = None
        callbacks = ()

    ctx = trained_with(model=Net(), trainer=Run())
    assert ctx == TrainedWith(batch_norm=True, dropout=0.3, augment=True, mixup=True,
                              weight_decay=1e-4, scheduler=False, restores_best=False)
    assert trained_with() == TrainedWith()
    assert trained_with(builder=object(), model=object(), trainer=object()) == TrainedWith()


def test_study_passes_model_builder_and_trainer(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from cnnkit.study import compare, improve

    seen: list[dict[str, Any]] = []
    real = diagnose

    def spy(history: Any, **kwargs: Any) -> Any:
        seen.append(kwargs)
        return real(history, **kwargs)

    monkeypatch.setattr("cnnkit.study.remedy_loop.diagnose", spy)
    monkeypatch.setattr("cnnkit.study.comparison.diagnose", spy)
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 2, (32,), generator=g)
    X = torch.randn(32, 3, 8, 8, generator=g)
    base = ModelBuilder(3, 2, 8).conv(2)
    trainer = Trainer(max_epochs=1, batch_size=16, progress=False)
    compare({"b": base}, (X[:24], y[:24]), (X[24:], y[24:]), trainer=trainer, seeds=(0,))
    improve(base, (X[:24], y[:24]), (X[24:], y[24:]), trainer=trainer, rounds=0)
    assert len(seen) == 2
    for kw in seen:
        assert kw["builder"] == base and isinstance(kw["trainer"], Trainer)
        assert isinstance(kw["model"], torch.nn.Module)


def test_an_absurd_first_loss_does_not_set_the_chance_level() -> None:
    h = {"loss": [3e6, 900.0, 1200.0, 800.0, 1100.0, 950.0, 1000.0, 1050.0],
         "accuracy": [0.5, 0.52, 0.49, 0.5, 0.51, 0.5, 0.48, 0.5]}
    d = diagnose(h)
    assert d.summary["chance"] == 0.5  # not 1/1000 from the exploded losses
    assert (d.label, d.findings[0].code) == (Label.DIVERGING, "loss-far-above-chance")
    low = {"loss": [5e4, 0.70, 0.69, 0.7, 0.69, 0.7, 0.69, 0.7],
           "val_loss": [1e4, 900.0, 1100.0, 950.0, 1000.0, 1020.0, 980.0, 990.0],
           "accuracy": [0.5] * 8}
    assert diagnose(low).findings[0].code == "loss-far-above-chance"


def test_an_annealed_schedule_is_not_slow_when_lr_is_logged() -> None:
    h, _, _ = _hard("annealed-healthy", 2, 0, length="long", noise=0)
    assert diagnose(h).label == Label.HEALTHY
    assert any(f.code == "schedule-annealed" for f in diagnose(h).findings)


# ------------------------------------------------------------------------------------------------
# A tiny model that stopped short: underfitting, not slow convergence.
# ------------------------------------------------------------------------------------------------


def test_a_tiny_model_creeping_is_underfitting_not_slow() -> None:
    """Training loss and accuracy still creep while validation is flat or rising: convergence is
    judged on validation, and the creep buys nothing."""
    for seed in range(6):
        h, _, _ = _hard("tiny-model-underfit", 2, seed, 300, length="long", noise=0)
        d = diagnose(h, num_classes=2)
        assert d.label == Label.UNDERFITTING, str(d)
        assert d.findings[0].code == "low-train-accuracy"
        assert not any(f.code == "loss-still-falling" for f in d.findings)
        s, notes = extract(h)
        assert validation_improves(prepare(s, notes, num_classes=2)) is False


def test_validation_still_improving_keeps_a_creeping_run_slow() -> None:
    """The same training curves with a validation loss that falls with them: slow, not
    underfitting (the validation series is the evidence either way)."""
    n = 40
    t = np.arange(1, n + 1, dtype=float)
    rng = np.random.default_rng(0)
    tl = 0.69 - 0.2 * t / n + rng.normal(0, 0.002, n)
    h = {"train_loss": tl.tolist(), "val_loss": (tl + 0.02 + rng.normal(0, 0.003, n)).tolist(),
         "train_acc": (0.55 + 0.15 * t / n + rng.normal(0, 0.005, n)).tolist(),
         "val_acc": (0.54 + 0.15 * t / n + rng.normal(0, 0.008, n)).tolist()}
    d = diagnose(h, num_classes=2)
    assert d.label == Label.SLOW_CONVERGING, str(d)
    s, notes = extract(h)
    assert validation_improves(prepare(s, notes, num_classes=2)) is True
    assert validation_improves(prepare(extract({"loss": tl.tolist()})[0], [])) is None
