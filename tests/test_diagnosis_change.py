"""Remedies as typed changes: cnnkit.diagnosis.Change, its name tables against the real
ModelBuilder / Trainer / callbacks / augment, 0.1.0 compatibility of Remedy.change, and every
remedy the diagnosis can emit applied to a real builder and trainer."""

from __future__ import annotations

import ast
import copy
import dataclasses
import importlib
import inspect
import json
import math
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import cnnkit.augment
import cnnkit.training.callbacks as callbacks_module
from cnnkit.builder import ModelBuilder
from cnnkit.diagnosis import (
    AUGMENT_SETTINGS,
    BUILDER_SETTINGS,
    CALLBACK_TYPES,
    TRAINER_FIELDS,
    Change,
    Diagnosis,
    Finding,
    Label,
    Remedy,
    Severity,
    check_data,
    diagnose,
)
from cnnkit.diagnosis import remedies as remedies_module
from cnnkit.diagnosis.context import TrainedWith
from cnnkit.study import apply_change, improve
from cnnkit.training import EarlyStopping, Trainer, callback_from_dict
from diagnosis_curves import FAMILIES, HARD_FAMILIES

SRC = Path(__file__).resolve().parents[1] / "src" / "cnnkit"
BASE = ModelBuilder(3, 2, 8).conv(4)


def _trainer() -> Trainer:
    return Trainer(max_epochs=3, lr=3e-3, batch_size=24, progress=False)


# ------------------------------------------------------------------------------------------------
# The torch-free name tables equal the real names.
# ------------------------------------------------------------------------------------------------


def test_builder_settings_are_the_real_ones() -> None:
    params = set(inspect.signature(ModelBuilder).parameters)
    assert set(BUILDER_SETTINGS) == params
    assert set(BUILDER_SETTINGS) == set(BASE.defaults) | {"in_channels", "num_classes", "input_size"}
    for name in BUILDER_SETTINGS:  # replace() accepts every one of them
        value = BASE.defaults.get(name, getattr(BASE, name, None))
        BASE.replace(**{name: value})


def test_trainer_fields_are_the_real_ones() -> None:
    assert set(TRAINER_FIELDS) == {f.name for f in dataclasses.fields(Trainer)}


def test_callback_types_are_the_registry() -> None:
    # the table callback_from_dict reads (in cnnkit.training.callbacks.registry once callbacks
    # became a package)
    registry = getattr(callbacks_module, "_REGISTRY", None)
    if registry is None:
        registry = importlib.import_module("cnnkit.training.callbacks.registry")._REGISTRY
    assert set(CALLBACK_TYPES) == set(registry)
    for name, args in CALLBACK_TYPES.items():
        params = set(inspect.signature(registry[name]).parameters)
        assert set(args) == params, name
    assert isinstance(callback_from_dict({"type": "EarlyStopping"}), EarlyStopping)


def test_augment_settings_are_default_parameters() -> None:
    params = set(inspect.signature(cnnkit.augment.default).parameters) - {"generator"}
    assert set(AUGMENT_SETTINGS) == params


# ------------------------------------------------------------------------------------------------
# Change: validation, mapping behaviour, 0.1.0 compatibility.
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"builder": {"dropuot": 0.25}}, r"unknown ModelBuilder setting 'dropuot'.*did you mean 'dropout'"),
    ({"trainer": {"weight_decya": 1e-4}}, r"unknown Trainer option 'weight_decya'.*'weight_decay'"),
    ({"augment": "defualt"}, r"unknown augmentation 'defualt'.*'default'"),
    ({"augment": {"strenght": 0.5}}, r"unknown cnnkit.augment.default\(\) setting 'strenght'.*'strength'"),
    ({"augment": {"strength": "high"}}, "must be a finite number"),
    ({"callbacks": [{"type": "EarlyStoping"}]}, r"unknown callback type 'EarlyStoping'.*'EarlyStopping'"),
    ({"callbacks": [{"type": "EarlyStopping", "patients": 3}]}, r"unknown EarlyStopping argument 'patients'.*'patience'"),
    ({"callbacks": [{"patience": 3}]}, "has no 'type'"),
])
def test_unknown_names_raise_with_the_valid_names(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match) as info:
        Change(**kwargs)
    if "did you mean" in str(info.value):
        assert "Valid names:" in str(info.value)
    with pytest.raises(ValueError, match=match):  # the 0.1.0 dict form is checked the same way
        Remedy("r", kwargs)


def test_wrong_part_types_raise_type_error() -> None:
    with pytest.raises(TypeError, match="mapping of settings"):
        Change(builder=[("dropout", 0.25)])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="list of dicts"):
        Change(callbacks={"type": "EarlyStopping"})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"Change\.augment must be"):
        Change(augment=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="cannot apply change keys"):
        Change.from_mapping({"optimizer": "sgd"})


def test_change_reads_like_the_old_dict() -> None:
    c = Change(builder={"dropout": 0.25}, callbacks=[{"type": "EarlyStopping", "patience": 5}])
    assert c == {"builder": {"dropout": 0.25}, "callbacks": [{"type": "EarlyStopping", "patience": 5}]}
    assert list(c) == ["builder", "callbacks"] and len(c) == 2 and "trainer" not in c
    assert c["builder"] == {"dropout": 0.25} and c.get("trainer", {}) == {}
    c["builder"]["dropout"] = 0.9  # a copy: the change itself is read-only
    assert c.builder["dropout"] == 0.25
    with pytest.raises(TypeError):
        c.builder["dropout"] = 0.5  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.augment = "default"  # type: ignore[misc]
    with pytest.raises(KeyError):
        c["trainer"]
    assert not Change() and Change() == {} and repr(Change()) == "Change()"
    assert repr(c) == ("Change(builder={'dropout': 0.25}, "
                       "callbacks=[{'type': 'EarlyStopping', 'patience': 5}])")
    assert Change.from_mapping(c) is c


def test_changes_copy_and_pickle_like_plain_data() -> None:
    d = diagnose(FAMILIES["overfitting"](np.random.default_rng(0), 2), num_classes=2)
    assert d.remedies and any(r.change for r in d.remedies)
    again = pickle.loads(pickle.dumps(d))
    assert again.to_dict() == d.to_dict() and copy.deepcopy(d).to_dict() == d.to_dict()
    r = Remedy("x", {"augment": {"strength": 0.5}, "callbacks": [{"type": "EarlyStopping"}]})
    assert dataclasses.asdict(r)["change"]["augment"] == {"strength": 0.5}
    with pytest.raises(TypeError, match="read-only"):
        again.remedies[0].change.builder.update(dropout=0.9)  # type: ignore[attr-defined]


def test_remedy_keeps_the_0_1_0_interface() -> None:
    r = Remedy("Add dropout.", {"builder": {"dropout": 0.25}})
    assert isinstance(r.change, Change)
    assert r.change["builder"] == {"dropout": 0.25}
    assert r.change == {"builder": {"dropout": 0.25}}
    assert r.to_dict() == {"text": "Add dropout.", "change": {"builder": {"dropout": 0.25}}}
    assert Remedy("Advice only.").change == {} and not Remedy("Advice only.", {}).change
    cb = Remedy("Stop.", {"callbacks": [{"type": "EarlyStopping", "patience": 5}]})
    assert cb.to_dict()["change"] == {"callbacks": [{"type": "EarlyStopping", "patience": 5}]}
    assert Remedy("x", Change(trainer={"lr": 1e-3})) == Remedy("x", {"trainer": {"lr": 1e-3}})
    assert dataclasses.replace(r, text="y").change == r.change
    # an explicit "augment": None meant "no augmentation" to apply_change in 0.1.0
    assert Remedy("No augmentation.", {"augment": None}).change.augment == "none"


# ------------------------------------------------------------------------------------------------
# apply_change and improve() never skip a bad change.
# ------------------------------------------------------------------------------------------------


def test_apply_change_takes_a_change_or_a_mapping_and_raises_on_unknown_names() -> None:
    trainer = _trainer()
    b1, t1 = apply_change(Change(builder={"dropout": 0.25}, trainer={"lr": 1e-4}), BASE, trainer)
    b2, t2 = apply_change({"builder": {"dropout": 0.25}, "trainer": {"lr": 1e-4}}, BASE, trainer)
    assert b1 == b2 and t1.lr == t2.lr == 1e-4
    with pytest.raises(ValueError, match="did you mean 'dropout'"):
        apply_change({"builder": {"dropuot": 0.25}}, BASE, trainer)
    with pytest.raises(ValueError, match="did you mean 'max_epochs'"):
        apply_change({"trainer": {"max_epoch": 5}}, BASE, trainer)
    _, t3 = apply_change({"augment": "default"}, BASE, trainer)
    _, t4 = apply_change({"augment": None}, BASE, t3)
    assert callable(t3.augment) and t4.augment is None


def test_improve_does_not_swallow_a_change_that_cannot_be_applied(monkeypatch) -> None:
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 2, (48,), generator=g)
    X = torch.randn(48, 3, 8, 8, generator=g)
    bad = Remedy("Drop everything.", {"builder": {"dropout": 1.5}})  # a valid name, a bad value

    def fake(history: Any, num_classes: int | None = None, **options: Any) -> Diagnosis:
        finding = Finding("scripted", Label.OVERFITTING, Severity.WARNING, "scripted", {}, (bad,))
        return Diagnosis(Label.OVERFITTING, (finding,), {})

    monkeypatch.setattr("cnnkit.study.remedy_loop.diagnose", fake)
    with pytest.raises(ValueError, match="dropout"):
        improve(BASE, (X[:36], y[:36]), (X[36:], y[36:]), trainer=_trainer().replace(max_epochs=1),
                rounds=1)


# ------------------------------------------------------------------------------------------------
# Every remedy the diagnosis can emit applies to a real ModelBuilder and Trainer.
# ------------------------------------------------------------------------------------------------

#: Arguments driving each remedy function of cnnkit.diagnosis.remedies through its branches.
_HAS_SOME = TrainedWith(batch_norm=False, dropout=0.25, augment=True, augment_strength=1.0,
                        mixup=False, weight_decay=1e-4, scheduler=False, width=1.5,
                        restores_best=False)
_HAS_ALL = TrainedWith(batch_norm=True, dropout=0.5, augment=True, augment_strength=3.0,
                       mixup=True, weight_decay=5e-3, scheduler=True, width=2.0,
                       restores_best=True)
_HAS_NONE = TrainedWith(batch_norm=False, dropout=0.0, augment=False, mixup=False,
                        weight_decay=0.0, scheduler=False, width=1.0, restores_best=False)
DRIVERS: dict[str, list[tuple[Any, ...]]] = {
    "overfit_remedies": [(None, 10), (4, 10), (10, 10), (3, 20, _HAS_SOME), (12, 20, _HAS_ALL),
                         (12, 20, _HAS_NONE)],
    "gap_remedies": [(), (_HAS_SOME,), (_HAS_ALL,)],
    "slow_remedies": [(None, 40), (1e-3, 40), (3e-7, 5), (1e-3, 40, _HAS_NONE),
                      (1e-3, 40, _HAS_ALL)],
    "underfit_remedies": [(20, None), (20, 1e-3), (20, 1e-3, _HAS_SOME), (20, None, _HAS_NONE)],
    "diverge_remedies": [(None, 1.0), (0.01, 4.0), (5.0, 1e-3), (0.01, 4.0, _HAS_ALL)],
    "short_run_remedies": [()],
    "borderline_remedies": [(None,), (40,), (40, _HAS_ALL)],
    "schedule_remedies": [(12,)],
    "lr_high_remedies": [(None, 1.0), (0.3, 4.0)],
    "setup_remedies": [()],
    "leakage_remedies": [()],
}


def _histories() -> list[tuple[dict[str, list[float]], dict[str, Any]]]:
    """Synthetic runs of every label plus the inputs of the rarer findings."""
    out: list[tuple[dict[str, list[float]], dict[str, Any]]] = []
    for i, family in enumerate(FAMILIES):
        for classes in (2, 10):
            for seed in range(6):
                h = FAMILIES[family](np.random.default_rng([seed, classes, i]), classes)
                out.append((h, {"num_classes": classes}))
                out.append(({**h, "lr": [1e-3] * len(h["train_loss"])}, {}))
    t = np.arange(1, 31, dtype=float)
    rng = np.random.default_rng(2)
    out.append(({"train_loss": (0.45 + rng.normal(0, 0.004, 30)).tolist(),
                 "val_acc": (0.70 + 0.001 * t + rng.normal(0, 0.002, 30)).tolist()},
                {"target_accuracy": 0.95}))  # target-far
    steady = (0.2 + 0.5 * np.exp(-t / 3)).tolist()
    grads = [2.0] * 30
    grads[10] = 500.0
    out.append(({"train_loss": steady, "val_loss": steady, "grad_norm": grads}, {}))  # gradient spike
    out.append(({"train_loss": (2.2 + 0.1 * np.exp(-t / 3)).tolist()}, {"num_classes": 10}))  # high-loss
    # the advisory signals of issue 13 (item 4) and a schedule still warming up
    osc = rng.normal(1.0, 0.7, 30 * 30).clip(0.05) * np.repeat(steady, 30)
    out.append(({"train_loss": steady, "val_loss": steady, "step_loss": osc.tolist(),
                 "grad_norm": np.linspace(1.0, 5.0, 30).tolist(), "lr": [0.3] * 30}, {}))
    out.append(({"train_loss": [8.0, *steady[1:]], "val_loss": steady}, {"num_classes": 10}))
    out.append(({"train_loss": steady, "val_loss": steady, "train_acc": [0.7] * 30,
                 "val_acc": [0.95] * 30}, {}))
    out.append(({"train_loss": steady, "val_loss": steady,
                 "lr": np.linspace(1e-4, 1e-3, 30).tolist()}, {}))
    # the hard families, diagnosed with and without what was trained
    trained = {"builder": BASE.replace(dropout=0.25), "trainer": _trainer().replace(
        augment=cnnkit.augment.default(), weight_decay=1e-4)}
    for i, (fn, _, options) in enumerate(HARD_FAMILIES.values()):
        for seed in range(4):
            h = fn(np.random.default_rng([seed, 2, 100 + i]), 2)
            out.append((h, dict(options)))
            out.append((h, {**options, **trained}))
    return out


def _emitted_remedies() -> list[Remedy]:
    remedies: list[Remedy] = []
    for name, calls in DRIVERS.items():
        for args in calls:
            remedies += getattr(remedies_module, name)(*args)
    codes: set[str] = set()
    for history, options in _histories():
        for f in diagnose(history, **options).findings:
            remedies += f.remedies
            codes.add(f.code)
    # the rule families all showed up, so their remedies were collected from real diagnoses too
    assert {"val-loss-rising", "loss-still-falling", "low-train-accuracy", "non-finite-loss",
            "too-few-epochs", "target-far", "gradient-spike", "high-loss",
            "val-loss-held-up", "lr-too-high", "first-loss-high", "val-above-train",
            "schedule-in-progress"} <= codes, codes
    gen = np.random.default_rng(0)
    small = gen.random((8, 3, 16, 16)).astype(np.float32)
    data_cases = [
        (np.zeros((4, 16, 16, 3), np.uint8), np.array([0, 1, 0, 1]), {}),
        (small * 255, np.arange(8) % 2, {}),
        (np.full((4, 3, 8, 8), np.nan, np.float32), np.array([0, 1, 0, 1]), {}),
        (small, np.array([0, 0, 0, 0, 0, 0, 0, 1]), {}),
        (small, np.arange(8) - 1, {"num_classes": 2}),
        (small, np.arange(8) % 2, {"val": (small[:2], np.array([0, 1]))}),
    ]
    for X, y, kw in data_cases:
        for f in check_data(X, y, **kw):
            remedies += f.remedies
    return remedies


def test_every_remedy_function_is_driven() -> None:
    functions = {n for n in remedies_module.__all__ if n.endswith("_remedies")}
    assert functions == set(DRIVERS), "add the new remedy function to DRIVERS"


def test_every_emitted_remedy_applies_to_a_real_builder_and_trainer() -> None:
    trainer = _trainer()
    seen: set[str] = set()
    applied = 0
    for remedy in _emitted_remedies():
        key = json.dumps(remedy.to_dict(), sort_keys=True)
        if key in seen:
            continue
        seen.add(key)
        change = remedy.change
        b, t = apply_change(change, BASE, trainer)
        if not change:
            assert (b, t.lr) == (BASE, trainer.lr)  # advice only: nothing to change
            continue
        applied += 1
        for name, value in change.builder.items():
            assert b.defaults[name] == value, remedy
        for name, value in change.trainer.items():
            assert getattr(t, name) == value, remedy
        if change.augment is not None:
            assert callable(t.augment) == (change.augment != "none"), remedy
        for spec in change.callbacks:
            cb = next(c for c in t.callbacks if type(c).__name__ == spec["type"])
            for name, value in spec.items():
                if name != "type":
                    assert getattr(cb, name) == value, remedy
        assert math.isfinite(t.lr) and t.max_epochs >= 1
    assert applied >= 15, applied  # many distinct changes, not a vacuous loop


# ------------------------------------------------------------------------------------------------
# The diagnosis package is torch-free.
# ------------------------------------------------------------------------------------------------


def test_diagnosis_package_never_imports_torch() -> None:
    files = [*(SRC / "diagnosis").glob("*.py"), SRC / "checks.py"]
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not any(n == "torch" or n.startswith("torch.") for n in names), (path, names)


def test_diagnosis_package_runs_with_torch_unimportable(tmp_path: Path) -> None:
    """Imports cnnkit.diagnosis and cnnkit.checks with torch blocked, bypassing the top-level
    package (whose laziness the lead's tests cover), and runs all three entry points."""
    history = tmp_path / "h.csv"
    history.write_text("epoch,loss,val_loss\n" + "".join(
        f"{e},{1 / (e + 1):.4f},{1.1 / (e + 1):.4f}\n" for e in range(8)))
    code = f"""
import sys, types
sys.modules["torch"] = None
pkg = types.ModuleType("cnnkit"); pkg.__path__ = [{str(SRC)!r}]; sys.modules["cnnkit"] = pkg
import numpy as np
from cnnkit.diagnosis import diagnose, diagnose_file, check_data, Change
from cnnkit.checks import check_data as legacy
assert legacy is check_data
print(diagnose({{"loss": [1.0, 0.6, 0.45, 0.4, 0.38, 0.375, 0.372, 0.371]}}).label.value)
print(diagnose_file({str(history)!r}).label.value)
print([f.code for f in check_data(np.zeros((2, 3, 8, 8)), np.array([0, 1]))])
print(sorted(m for m, mod in sys.modules.items() if m.split(".")[0] == "torch" and mod))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    lines = out.stdout.splitlines()
    assert lines[0] == "healthy" and lines[-1] == "[]", out.stdout
