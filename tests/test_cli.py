"""The ``cnnkit`` command line on real-format history files."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from cnnkit import __version__, case_study
from cnnkit.cli import main
from cnnkit.training import History

# An overfitting run: training loss keeps falling, validation loss bottoms out at epoch 6 and rises.
EPOCHS = 20
TRAIN_LOSS = [0.69 * math.exp(-0.15 * e) + 0.02 for e in range(EPOCHS)]
VAL_LOSS = [0.55 + 0.004 * (e - 6) ** 2 + 0.004 * (-1) ** e for e in range(EPOCHS)]
TRAIN_ACC = [min(0.99, 0.55 + 0.025 * e) for e in range(EPOCHS)]
VAL_ACC = [0.6 + 0.01 * min(e, 6) - 0.004 * max(0, e - 6) for e in range(EPOCHS)]


def write_keras_csv(path: Path) -> Path:
    # Keras' CSVLogger: 0-based epoch, then the logs' keys in sorted order.
    lines = ["epoch,accuracy,loss,val_accuracy,val_loss"]
    lines += [f"{e},{TRAIN_ACC[e]},{TRAIN_LOSS[e]},{VAL_ACC[e]},{VAL_LOSS[e]}" for e in range(EPOCHS)]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_lightning_csv(path: Path) -> Path:
    # Lightning's CSVLogger: step rows (train_loss_step) and epoch rows (val_*, train_*_epoch)
    # interleaved, with empty cells for what a row does not log.
    lines = ["epoch,step,train_acc_epoch,train_loss_epoch,train_loss_step,val_acc,val_loss"]
    step = 0
    for e in range(EPOCHS):
        for _ in range(3):
            lines.append(f"{e},{step},,,{TRAIN_LOSS[e] * 1.05},,")
            step += 1
        lines.append(f"{e},{step - 1},,,,{VAL_ACC[e]},{VAL_LOSS[e]}")
        lines.append(f"{e},{step - 1},{TRAIN_ACC[e]},{TRAIN_LOSS[e]},,,")
    path.write_text("\n".join(lines) + "\n")
    return path


def write_cnnkit(path: Path) -> Path:
    history = History.from_dict(
        {"train_loss": TRAIN_LOSS, "val_loss": VAL_LOSS, "train_acc": TRAIN_ACC, "val_acc": VAL_ACC}
    )
    if path.suffix == ".json":
        history.to_json(path)
    else:
        history.to_csv(path)
    return path


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (write_keras_csv, "training.log"),  # Keras' CSVLogger default file name
        (write_lightning_csv, "metrics.csv"),
        (write_cnnkit, "history.csv"),
        (write_cnnkit, "history.json"),
    ],
    ids=["keras", "lightning", "cnnkit-csv", "cnnkit-json"],
)
def test_diagnose_reads_every_format(make, name: str, tmp_path: Path, capsys) -> None:
    path = make(tmp_path / name)
    assert main(["diagnose", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Diagnosis: OVERFITTING (20 epochs")
    assert main(["diagnose", str(path), "--json", "--num-classes", "2"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["label"] == "overfitting"
    assert any(f["label"] == "overfitting" and f["remedies"] for f in data["findings"])


def test_bad_files_exit_2_with_a_message(tmp_path: Path, capsys) -> None:
    assert main(["diagnose", str(tmp_path / "missing.csv")]) == 2
    assert "no history file" in capsys.readouterr().err
    bad = tmp_path / "notes.csv"
    bad.write_text("when,what\nmonday,nothing\n")
    assert main(["diagnose", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cnnkit: error: cannot diagnose") and "'when', 'what'" in err
    broken = tmp_path / "spec.json"
    broken.write_text("{not json")
    assert main(["summary", str(broken)]) == 2
    assert "not valid JSON" in capsys.readouterr().err
    broken.write_text(json.dumps({"in_channels": 3}))
    assert main(["summary", str(broken)]) == 2
    assert "not a valid ModelBuilder spec" in capsys.readouterr().err


def test_summary_prints_the_table(tmp_path: Path, capsys) -> None:
    spec = tmp_path / "baseline.json"
    spec.write_text(json.dumps(case_study("baseline").to_dict()))
    assert main(["summary", str(spec)]) == 0
    out = capsys.readouterr().out
    assert "Total params: 50,586" in out and "features.block2" in out


def test_module_entry_point_and_version(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "cnnkit", "--version"], capture_output=True, text=True)
    assert run.returncode == 0 and run.stdout.strip() == f"cnnkit {__version__}"
    path = write_keras_csv(tmp_path / "training.log")
    run = subprocess.run([sys.executable, "-m", "cnnkit", "diagnose", str(path)], capture_output=True, text=True)
    assert run.returncode == 0 and "OVERFITTING" in run.stdout
    run = subprocess.run([sys.executable, "-m", "cnnkit", "frobnicate"], capture_output=True, text=True)
    assert run.returncode == 2 and "invalid choice" in run.stderr
