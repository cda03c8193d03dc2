"""Tests of cnnkit.diagnosis.diagnose_file on cnnkit, Keras CSVLogger and Lightning CSVLogger files.

The files are written here in each tool's documented layout (Keras: ``epoch`` 0-based then the
metric keys in sorted order; Lightning: one header of every key, step rows with ``*_step`` values,
a validation row and an epoch row per epoch, empty cells elsewhere)."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

from cnnkit.diagnosis import Label, diagnose, diagnose_file


def _overfit_run(n: int = 30, seed: int = 0) -> dict[str, list[float]]:
    rng = np.random.default_rng(seed)
    t = np.arange(1, n + 1, dtype=float)
    tl = 0.05 + 0.64 * np.exp(-t / 6) + rng.normal(0, 0.003, n)
    vl = 0.5 + 0.2 * np.exp(-t / 2) + 0.01 * np.clip(t - 8, 0, None) + rng.normal(0, 0.008, n)
    ta = np.clip(0.99 - 0.49 * np.exp(-t / 6) + rng.normal(0, 0.004, n), 0, 1)
    va = 0.72 - 0.22 * np.exp(-t / 2) - 0.002 * np.clip(t - 8, 0, None) + rng.normal(0, 0.006, n)
    return {"train_loss": tl.tolist(), "val_loss": vl.tolist(), "train_acc": ta.tolist(),
            "val_acc": va.tolist(), "lr": [1e-3] * n}


def _write(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def _cnnkit_csv(path: Path, h: dict[str, list[float]]) -> Path:
    keys = ["train_loss", "val_loss", "train_acc", "val_acc", "lr", "epoch_time", "grad_norm"]
    n = len(h["train_loss"])
    return _write(path, ["epoch", *keys],
                  [[i + 1, *(h[k][i] if k in h else "" for k in keys)] for i in range(n)])


def _keras_csv(path: Path, h: dict[str, list[float]]) -> Path:
    names = {"accuracy": "train_acc", "loss": "train_loss", "lr": "lr",
             "val_accuracy": "val_acc", "val_loss": "val_loss"}
    n = len(h["train_loss"])
    return _write(path, ["epoch", *names],
                  [[i, *(h[v][i] for v in names.values())] for i in range(n)])


def _lightning_csv(path: Path, h: dict[str, list[float]], *, steps_per_epoch: int = 4,
                   epoch_rows: bool = True, val_every: int = 1, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    header = ["epoch", "step", "train_acc_epoch", "train_acc_step", "train_loss_epoch",
              "train_loss_step", "val_acc", "val_loss"]
    rows: list[list[object]] = []
    step = 0
    for e in range(len(h["train_loss"])):
        for _ in range(steps_per_epoch):
            step += 1
            rows.append([e, step, "", h["train_acc"][e] + rng.normal(0, 0.02), "",
                         h["train_loss"][e] * (1 + rng.normal(0, 0.05)), "", ""])
        if (e + 1) % val_every == 0:
            rows.append([e, step, "", "", "", "", h["val_acc"][e], h["val_loss"][e]])
        if epoch_rows:
            rows.append([e, step, h["train_acc"][e], "", h["train_loss"][e], "", "", ""])
    return _write(path, header, rows)


def test_cnnkit_keras_lightning_and_json_agree(tmp_path: Path) -> None:
    h = _overfit_run()
    ref = diagnose(h, num_classes=2)
    assert ref.label == Label.OVERFITTING
    json_path = tmp_path / "history.json"
    json_path.write_text(json.dumps({"epoch": list(range(1, 31)), **h, "epoch_time": [],
                                     "grad_norm": [], "step_loss": [0.5] * 90, "best_epoch": 9,
                                     "meta": {"model": "x"}}))
    paths = [_cnnkit_csv(tmp_path / "history.csv", h), _keras_csv(tmp_path / "keras.log", h),
             _lightning_csv(tmp_path / "metrics.csv", h), json_path]
    for path in paths:
        d = diagnose_file(path, num_classes=2)
        assert d.label == ref.label, (path.name, str(d))
        assert d.summary["epochs"] == 30
        for key in ("train_loss_final", "val_loss_final", "train_acc_final", "val_acc_final"):
            assert d.summary[key] == pytest.approx(ref.summary[key], rel=1e-6), (path.name, key)
        assert d.summary["best_val_epoch"] == ref.summary["best_val_epoch"]


def test_lightning_step_only_metrics_are_averaged_per_epoch(tmp_path: Path) -> None:
    h = _overfit_run()
    path = _lightning_csv(tmp_path / "metrics.csv", h, epoch_rows=False, steps_per_epoch=6)
    d = diagnose_file(path)
    assert d.label == Label.OVERFITTING
    with path.open() as f:
        rows = [r for r in csv.DictReader(f) if r["epoch"] == "3" and r["train_loss_step"]]
    mean = sum(float(r["train_loss_step"]) for r in rows) / len(rows)
    assert len(rows) == 6
    # The summary's final value is the last epoch's mean of its step values.
    with path.open() as f:
        last = [float(r["train_loss_step"]) for r in csv.DictReader(f)
                if r["epoch"] == "29" and r["train_loss_step"]]
    assert d.summary["train_loss_final"] == pytest.approx(sum(last) / len(last))
    assert mean == pytest.approx(h["train_loss"][3], rel=0.1)


def test_lightning_validation_every_other_epoch_keeps_those_epochs(tmp_path: Path) -> None:
    h = _overfit_run(n=40)
    d = diagnose_file(_lightning_csv(tmp_path / "metrics.csv", h, val_every=2))
    assert d.summary["epochs"] == 20
    assert d.label == Label.OVERFITTING


def test_missing_loss_column_names_file_and_columns(tmp_path: Path) -> None:
    path = _write(tmp_path / "log.csv", ["epoch", "f1", "val_precision"], [[0, 0.5, 0.4]])
    with pytest.raises(ValueError, match=r"log\.csv.*'epoch', 'f1', 'val_precision'"):
        diagnose_file(path)
    jpath = tmp_path / "h.json"
    jpath.write_text(json.dumps({"f1": [0.1, 0.2]}))
    with pytest.raises(ValueError, match=r"h\.json.*'f1'"):
        diagnose_file(jpath)


def test_nan_cell_means_divergence_and_empty_cell_means_missing(tmp_path: Path) -> None:
    h = _overfit_run(n=12)
    rows = [[i, h["train_acc"][i], h["train_loss"][i], "", h["val_acc"][i], h["val_loss"][i]]
            for i in range(12)]
    rows[8][2] = "nan"
    rows[9][2] = "nan"
    path = _write(tmp_path / "keras.csv", ["epoch", "accuracy", "loss", "lr", "val_accuracy",
                                            "val_loss"], rows)
    d = diagnose_file(path)
    assert d.label == Label.DIVERGING
    assert d.findings[0].evidence["train_loss_epoch"] == 9
    assert "lr" not in d.summary  # the all-empty lr column is no series


def test_bad_cells_and_files(tmp_path: Path) -> None:
    path = _write(tmp_path / "bad.csv", ["epoch", "loss"], [[0, 0.7], [1, "oops"]])
    with pytest.raises(ValueError, match=r"bad\.csv.*'loss'.*'oops'"):
        diagnose_file(path)
    with pytest.raises(FileNotFoundError):
        diagnose_file(tmp_path / "nope.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ValueError, match="empty"):
        diagnose_file(empty)
    broken = tmp_path / "broken.json"
    broken.write_text('{"loss": [1, 2')
    with pytest.raises(ValueError, match="not valid JSON"):
        diagnose_file(broken)


def test_json_records_and_nested_history(tmp_path: Path) -> None:
    h = _overfit_run()
    records = [{"epoch": i, "loss": h["train_loss"][i], "val_loss": h["val_loss"][i],
                "accuracy": h["train_acc"][i], "val_accuracy": h["val_acc"][i]}
               for i in range(30)]
    p1 = tmp_path / "records.json"
    p1.write_text(json.dumps(records))
    p2 = tmp_path / "nested.json"
    p2.write_text(json.dumps({"history": {"loss": h["train_loss"], "val_loss": h["val_loss"]},
                              "params": {"epochs": 30}}))
    assert diagnose_file(p1).label == Label.OVERFITTING
    d2 = diagnose_file(p2)
    assert d2.label == Label.OVERFITTING
    assert math.isclose(d2.summary["val_loss_final"], h["val_loss"][-1])


def test_cnnkit_history_object_and_its_files(tmp_path: Path) -> None:
    """The trainer's History (contract: from_dict/to_dict/to_csv/to_json) is read as-is."""
    from cnnkit.training.history import History

    h = _overfit_run()
    h["val_loss"][-1] = float("inf")  # a non-finite loss is stored as it was
    hist = History.from_dict({**h, "epoch_time": [0.1] * 30, "grad_norm": [1.0] * 30})
    hist.to_csv(tmp_path / "h.csv")
    hist.to_json(tmp_path / "h.json")
    for d in (diagnose(hist), diagnose_file(tmp_path / "h.csv"), diagnose_file(tmp_path / "h.json")):
        assert d.label == Label.DIVERGING
        assert d.findings[0].evidence["val_loss_epoch"] == 30
    h["val_loss"][-1] = h["val_loss"][-2]
    hist = History.from_dict(h)
    hist.to_json(tmp_path / "ok.json")
    assert diagnose(hist).label == diagnose_file(tmp_path / "ok.json").label == Label.OVERFITTING
