"""The README's main job, examples/vehicle_classification.py, in --quick mode on both data sets."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = ["baseline", "+dropout", "+batch norm", "+both", "+both +augment", "recipe"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("vehicle_example", ROOT / "examples" / "vehicle_classification.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_outputs(out: Path, printed: str) -> None:
    for name in VARIANTS:
        assert f"\n{name} " in printed  # a table row per variant
    assert "train acc" in printed and "val acc" in printed and "Remedy loop" in printed
    with open(out / "table.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["name"] for r in rows] == VARIANTS
    for r in rows:
        assert 0.0 <= float(r["train_acc"]) <= 1.0 and 0.0 <= float(r["val_acc"]) <= 1.0
    pngs = sorted(out.glob("curves_*.png"))
    assert len(pngs) == len(VARIANTS) + 1
    for png in pngs:
        assert png.read_bytes()[:8] == PNG_SIGNATURE and png.stat().st_size > 10_000
    history = json.loads((out / "history_baseline_seed0.json").read_text())
    assert len(history["train_loss"]) == 8  # --quick trains 8 epochs
    assert json.loads((out / "diagnoses.json").read_text()).keys() == set(VARIANTS)


@pytest.mark.slow
def test_quick_run_on_builtin_data(tmp_path: Path, capsys) -> None:
    assert load_example().main(["--quick", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "built-in synthetic vehicles" in printed
    check_outputs(tmp_path, printed)


@pytest.mark.slow
def test_quick_run_on_the_real_photos(vehicles_dir: Path, tmp_path: Path, capsys) -> None:
    assert load_example().main(["--quick", "--data", str(vehicles_dir), "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "201 images" in printed and "180 train / 21 validation" in printed
    check_outputs(tmp_path, printed)
