"""cnnkit.study: compare() tables and the improve() remedy loop, on a tiny problem."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

from cnnkit.builder import ModelBuilder
from cnnkit.diagnosis import Diagnosis, Finding, Label, Remedy, Severity
from cnnkit.study import Variant, apply_change, compare, improve, resolve_augment
from cnnkit.training import EarlyStopping, Trainer


@pytest.fixture(scope="module")
def data() -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 2, (96,), generator=g)
    X = torch.randn(96, 3, 8, 8, generator=g) + y[:, None, None, None] * 0.8
    return (X[:72], y[:72]), (X[72:], y[72:])


@pytest.fixture()
def trainer() -> Trainer:
    return Trainer(max_epochs=3, lr=3e-3, batch_size=24, progress=False)


BASE = ModelBuilder(3, 2, 8).conv(4)


def test_compare_tabulates_every_variant_and_seed(data, trainer: Trainer, tmp_path: Path) -> None:
    train, val = data
    variants = {
        "base": BASE,
        "bn": BASE.replace(batch_norm=True),
        "short": Variant(BASE, trainer={"max_epochs": 2}),
    }
    result = compare(variants, train, val, trainer=trainer, seeds=(0, 1))
    assert [r.name for r in result.rows] == ["base", "bn", "short"]
    assert result["bn"].params == sum(p.numel() for p in BASE.replace(batch_norm=True).build().parameters())
    assert [len(h.train_loss) for h in result.histories["short"]] == [2, 2]
    assert len(result.histories["base"]) == 2 and len(result.diagnoses["base"]) == 2
    for row in result.rows:
        assert 0.0 <= row.train_acc <= 1.0 and 0.0 <= row.val_acc <= 1.0
        assert row.gap == pytest.approx(row.train_acc - row.val_acc)
        assert row.label in {label.value for label in Label}
        # the default threshold is a loss level every run reached
        assert row.epochs_to_loss is not None
    finals = [h.train_acc[-1] for h in result.histories["base"]]
    assert result["base"].train_acc == pytest.approx(sum(finals) / 2)
    text = str(result)
    assert "variant" in text and "val acc" in text and "±" in text and "short" in text
    assert result.to_markdown().count("\n") == 4  # header, rule, 3 rows
    result.to_csv(tmp_path / "table.csv")
    with open(tmp_path / "table.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["name"] for r in rows] == ["base", "bn", "short"]
    with pytest.raises(KeyError, match="no variant 'x'"):
        result["x"]


def test_compare_seeds_are_reproducible_and_threshold_can_be_unreached(data, trainer) -> None:
    train, val = data
    a = compare({"base": BASE}, train, val, trainer=trainer, seeds=(3,), loss_threshold=0.0)
    b = compare({"base": BASE}, train, val, trainer=trainer, seeds=(3,), loss_threshold=0.0)
    assert a.histories["base"][0].train_loss == b.histories["base"][0].train_loss
    assert a["base"].epochs_to_loss is None and "  -  " in a.to_text()


def test_compare_rejects_bad_calls(data, trainer) -> None:
    train, val = data
    with pytest.raises(ValueError, match="validation data"):
        compare({"base": BASE}, train, None, trainer=trainer)
    with pytest.raises(ValueError, match="at least one variant"):
        compare({}, train, val, trainer=trainer)
    with pytest.raises(TypeError, match="ModelBuilder or a Variant, got str"):
        compare({"x": "conv"}, train, val, trainer=trainer)  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="not the built model"):
        compare({"x": BASE.build()}, train, val, trainer=trainer)  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="takes a dict of variants"):
        compare([BASE], train, val, trainer=trainer)  # type: ignore[arg-type]


def test_apply_change_returns_modified_copies(trainer: Trainer) -> None:
    b, t = apply_change(
        {
            "builder": {"dropout": 0.25},
            "trainer": {"lr": 3e-4},
            "augment": "default",
            "callbacks": [{"type": "EarlyStopping", "patience": 4}],
        },
        BASE,
        trainer,
    )
    assert b.defaults["dropout"] == 0.25 and BASE.defaults["dropout"] == 0.0
    assert t.lr == 3e-4 and trainer.lr == 3e-3
    assert callable(t.augment) and trainer.augment is None
    (cb,) = t.callbacks
    assert isinstance(cb, EarlyStopping) and cb.patience == 4
    # a second EarlyStopping replaces the first
    _, t2 = apply_change({"callbacks": [{"type": "EarlyStopping", "patience": 9}]}, b, t)
    assert [c.patience for c in t2.callbacks] == [9]
    with pytest.raises(ValueError, match="cannot apply change keys"):
        apply_change({"optimizer": "sgd"}, BASE, trainer)
    with pytest.raises(ValueError, match="augment must be"):
        resolve_augment("strong")


def scripted(*steps: tuple[Label, list[Remedy]]):
    """A stand-in for diagnose() that returns the given verdicts in order."""
    it = iter(steps)

    def fake(history, num_classes=None, **options):
        label, remedies = next(it)
        finding = Finding("scripted", label, Severity.WARNING, "scripted", {}, tuple(remedies))
        return Diagnosis(label, (finding,), {"epochs": len(history.train_loss)})

    return fake


def scores(*values: float):
    """A stand-in for the round score (mean final validation accuracy), in order."""
    it = iter(values)
    return lambda history: next(it)


def test_improve_escalates_and_accumulates_what_helps(data, trainer, monkeypatch) -> None:
    train, val = data
    monkeypatch.setattr(
        "cnnkit.study.remedy_loop.diagnose",
        scripted((Label.OVERFITTING, []), (Label.OVERFITTING, []), (Label.HEALTHY, [])),
    )
    monkeypatch.setattr("cnnkit.study.remedy_loop._score", scores(0.6, 0.7, 0.8))
    result = improve(BASE, train, val, trainer=trainer, rounds=5)
    assert [r.round for r in result.rounds] == [0, 1, 2]
    assert result.rounds[0].applied is None
    # round 1: the overfitting ladder's first step, batch norm and augmentation together
    r1 = result.rounds[1]
    assert r1.builder.defaults["batch_norm"] is True and r1.trainer.augment is not None
    assert r1.trainer.augment.strength == 1.0 and r1.kept
    # round 2 builds on round 1 (changes accumulate): the recipe's optimizer bundle
    r2 = result.rounds[2]
    assert r2.builder.defaults["batch_norm"] is True and r2.trainer.augment is not None
    assert (r2.trainer.optimizer, r2.trainer.scheduler, r2.trainer.label_smoothing) == ("adamw", "onecycle", 0.1)
    assert result.stopped == "healthy" and result.best is r2
    assert all(isinstance(r.model, torch.nn.Module) for r in result.rounds)
    assert "round 1: overfitting" in str(result) and "Regularize" in str(result)


def test_improve_drops_a_step_that_made_things_worse(data, trainer, monkeypatch) -> None:
    train, val = data
    monkeypatch.setattr(
        "cnnkit.study.remedy_loop.diagnose",
        scripted((Label.OVERFITTING, []), (Label.UNDERFITTING, []), (Label.OVERFITTING, [])),
    )
    monkeypatch.setattr("cnnkit.study.remedy_loop._score", scores(0.7, 0.6, 0.75))
    result = improve(BASE, train, val, trainer=trainer, rounds=2)
    r1, r2 = result.rounds[1], result.rounds[2]
    assert not r1.kept and r2.kept and result.best is r2
    # round 2 starts again from round 0 (the best), with the ladder's next step for *its* label:
    # the optimizer bundle without round 1's batch norm and augmentation
    assert r2.builder.defaults["batch_norm"] is False and r2.trainer.augment is None
    assert r2.trainer.optimizer == "adamw"
    assert "dropped (no better)" in str(result)


def test_improve_adds_capacity_when_underfitting(trainer, monkeypatch) -> None:
    monkeypatch.setattr("cnnkit.study.remedy_loop.diagnose", scripted((Label.UNDERFITTING, []), (Label.HEALTHY, [])))
    base = ModelBuilder(3, 2, 32).conv(4).conv(8)
    result = improve(base, (torch.randn(40, 3, 32, 32), torch.randint(0, 2, (40,))),
                     (torch.randn(16, 3, 32, 32), torch.randint(0, 2, (16,))), trainer=trainer, rounds=1)
    assert [layer["out_channels"] for layer in result.rounds[1].builder.layers] == [4, 8, 16]


def test_improve_falls_back_to_the_diagnosis_remedies(data, trainer, monkeypatch) -> None:
    train, val = data
    clip = Remedy("Clip the gradient norm.", {"trainer": {"grad_clip": 1.0}})
    advice = Remedy("Collect more data.", {})
    monkeypatch.setattr("cnnkit.study.remedy_loop.diagnose",
                        scripted((Label.DIVERGING, [advice, clip]), (Label.HEALTHY, [])))
    result = improve(BASE, train, val, trainer=trainer, rounds=3)
    assert result.rounds[1].applied is clip and result.rounds[1].trainer.grad_clip == 1.0


def test_improve_never_repeats_a_configuration(data, trainer, monkeypatch) -> None:
    train, val = data
    clip = Remedy("Clip.", {"trainer": {"grad_clip": 1.0}})
    monkeypatch.setattr(
        "cnnkit.study.remedy_loop.diagnose",
        scripted((Label.DIVERGING, [clip]), (Label.DIVERGING, [clip]), (Label.DIVERGING, [clip])),
    )
    result = improve(BASE, train, val, trainer=trainer, rounds=3)
    assert len(result.rounds) == 2  # the same change again would retrain the same model: stop
    assert result.stopped == "nothing left to try"


def test_improve_stops_at_its_budget_and_target(data, trainer, monkeypatch) -> None:
    train, val = data
    monkeypatch.setattr("cnnkit.study.remedy_loop.diagnose",
                        scripted(*[(Label.OVERFITTING, [])] * 4))
    result = improve(BASE, train, val, trainer=trainer, rounds=3, max_minutes=1e-9)
    assert len(result.rounds) == 1 and result.stopped == "budget"
    monkeypatch.setattr("cnnkit.study.remedy_loop.diagnose",
                        scripted(*[(Label.OVERFITTING, [])] * 4))
    monkeypatch.setattr("cnnkit.study.remedy_loop._score", scores(0.5, 0.9, 0.95))
    result = improve(BASE, train, val, trainer=trainer, rounds=3, target=0.85)
    assert len(result.rounds) == 2 and result.stopped == "target"
    with pytest.raises(ValueError, match="max_minutes"):
        improve(BASE, train, val, trainer=trainer, max_minutes=0)


def test_improve_real_run_records_every_round(data, trainer) -> None:
    train, val = data
    result = improve(BASE, train, val, trainer=trainer, rounds=1)
    assert 1 <= len(result.rounds) <= 2
    assert all(len(r.history.train_loss) >= 1 for r in result.rounds)
    assert result.best in result.rounds
