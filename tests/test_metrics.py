"""Metrics beyond accuracy, Trainer(metrics=...), class weights: tested on real photos."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnkit.history import History
from cnnkit.training import EarlyStopping, ModelCheckpoint, Trainer
from cnnkit.training.metrics import (
    ConfusionCounter,
    EpochMetrics,
    balanced_class_weight,
    classification_report,
)

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
INTEL = DATA / "intel_scenes"
VEHICLES_CSV = DATA / "vehicles_full" / "train.csv"


@pytest.fixture(scope="module")
def scenes() -> tuple[torch.Tensor, torch.Tensor]:
    """12 real photos of each of the 6 Intel scene classes, at 16x16 (uint8 NCHW, labels).

    Decoded with Pillow directly, so this file tests the metrics, not the loaders.
    """
    import numpy as np
    from PIL import Image

    images, labels = [], []
    for k, cls in enumerate(sorted(p.name for p in INTEL.iterdir() if p.is_dir())):
        for f in sorted((INTEL / cls).iterdir())[:12]:
            with Image.open(f) as im:
                images.append(np.asarray(im.convert("RGB").resize((16, 16))))
            labels.append(k)
    x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()
    return x, torch.tensor(labels)


def _model(classes: int = 6) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2),
                         nn.Flatten(), nn.Linear(16, classes))  # fmt: skip


class CountingAccuracy:
    """A torchmetrics-shaped object: update per batch, compute at the end, reset per epoch."""

    def __init__(self) -> None:
        self.resets = 0
        self.reset()

    def reset(self) -> None:
        self.resets += 1
        self.hits, self.seen = 0, 0

    def update(self, logits: torch.Tensor, target: torch.Tensor) -> None:
        self.hits += int((logits.argmax(1) == target).sum())
        self.seen += len(target)

    def compute(self) -> torch.Tensor:
        return torch.tensor(self.hits / self.seen)


def _macro_f1(logits: torch.Tensor, target: torch.Tensor) -> float:
    rep = classification_report(_confusion(logits, target, logits.shape[1]))
    return float(rep["macro_f1"])


def _confusion(logits: torch.Tensor, target: torch.Tensor, c: int) -> torch.Tensor:
    cm = torch.zeros(c, c, dtype=torch.int64)
    for t, p in zip(target.tolist(), logits.argmax(1).tolist(), strict=True):
        cm[t, p] += 1
    return cm


# ---------------------------------------------------------------------- report and counts
def test_classification_report_matches_hand_computed_values() -> None:
    cm = torch.tensor([[5, 1, 0], [2, 3, 0], [0, 0, 0]])  # class 2: never seen nor predicted
    rep = classification_report(cm)
    pc = rep["per_class"]
    assert pc["precision"] == pytest.approx([5 / 7, 3 / 4, 0.0])
    assert pc["recall"] == pytest.approx([5 / 6, 3 / 5, 0.0])
    f1 = [2 * p * r / (p + r) for p, r in zip(pc["precision"][:2], pc["recall"][:2], strict=True)]
    assert pc["f1"] == pytest.approx([*f1, 0.0])
    assert pc["support"] == [6, 5, 0]
    assert rep["macro_f1"] == pytest.approx(sum(f1) / 2)  # over the classes that occur
    assert rep["balanced_accuracy"] == pytest.approx((5 / 6 + 3 / 5) / 2)


def test_confusion_counter_is_exact_and_counts_top_k() -> None:
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(500, 8, generator=gen)
    target = torch.randint(0, 8, (500,), generator=gen)
    counter = ConfusionCounter(8, torch.device("cpu"), topk=5)
    for i in range(0, 500, 64):
        counter(logits[i : i + 64], target[i : i + 64])
    from cnnkit.training.distributed import DistInfo

    cm, hits = counter.totals(DistInfo())
    assert torch.equal(cm, _confusion(logits, target, 8))
    top5 = (logits.topk(5, 1).indices == target[:, None]).any(1).sum()
    assert hits == int(top5)


def test_evaluate_keeps_loss_and_accuracy_and_adds_per_class_metrics(
    scenes: tuple[torch.Tensor, torch.Tensor],
) -> None:
    x, y = scenes
    model = _model()
    trainer = Trainer(max_epochs=2, batch_size=16, progress=False, seed=0, eval_batch_size=10)
    trainer.fit(model, (x, y))
    res = trainer.evaluate(model, (x, y))
    model.eval()
    with torch.no_grad():
        logits = model(x.float() / 255)
    assert res["loss"] == pytest.approx(F.cross_entropy(logits, y).item(), rel=1e-5)
    assert res["accuracy"] == pytest.approx((logits.argmax(1) == y).float().mean().item())
    cm = res["confusion_matrix"]
    assert cm.dtype == torch.int64 and torch.equal(cm, _confusion(logits, y, 6))
    assert res["per_class"]["support"] == [12] * 6
    assert res["per_class"]["recall"] == pytest.approx((cm.diagonal() / 12).tolist())
    # 6 classes > 5: top-5 accuracy is reported
    hits = (logits.topk(5, 1).indices == y[:, None]).any(1).float().mean().item()
    assert res["top5_accuracy"] == pytest.approx(hits)


def test_evaluate_has_no_top5_with_five_classes_or_fewer() -> None:
    x, y = torch.rand(20, 3, 4, 4), torch.arange(20) % 2
    res = Trainer(max_epochs=1, progress=False).evaluate(_model(2), (x, y))
    assert "top5_accuracy" not in res and res["confusion_matrix"].shape == (2, 2)
    assert int(res["confusion_matrix"].sum()) == 20


# ---------------------------------------------------------------------- per-epoch metrics
def test_callable_and_stateful_metrics_are_recorded_saved_and_reloaded(
    scenes: tuple[torch.Tensor, torch.Tensor], tmp_path: Path
) -> None:
    x, y = scenes
    obj = CountingAccuracy()
    trainer = Trainer(max_epochs=3, batch_size=16, progress=False, seed=0,
                      metrics={"f1": _macro_f1, "acc_again": obj})  # fmt: skip
    hist = trainer.fit(_model(), (x, y), val=(x[::2], y[::2]))
    assert sorted(hist.metrics) == ["train_acc_again", "train_f1", "val_acc_again", "val_f1"]
    # the object's per-epoch value is the trainer's own accuracy (same batches, same logits)
    assert hist.metrics["train_acc_again"] == pytest.approx(hist.train_acc)
    assert hist.metrics["val_acc_again"] == pytest.approx(hist.val_acc)
    assert obj.resets == 1  # the user's object is copied per phase, never mutated
    assert all(0 <= v <= 1 for v in hist.metrics["val_f1"])
    for path, read in ((tmp_path / "h.json", History.from_json),
                       (tmp_path / "h.csv", History.from_csv)):  # fmt: skip
        (hist.to_json if path.suffix == ".json" else hist.to_csv)(path)
        back = read(path)
        assert back.metrics == pytest.approx(hist.metrics), path.suffix
        assert back.train_loss == pytest.approx(hist.train_loss)
    header = (tmp_path / "h.csv").read_text().splitlines()[0]
    assert header.endswith("grad_norm,train_f1,train_acc_again,val_f1,val_acc_again")


def test_val_f1_is_computed_on_the_whole_epoch_not_averaged_over_batches(
    scenes: tuple[torch.Tensor, torch.Tensor],
) -> None:
    x, y = scenes
    model = _model()
    trainer = Trainer(max_epochs=1, batch_size=16, eval_batch_size=7, progress=False, seed=0,
                      metrics={"f1": _macro_f1})  # fmt: skip
    hist = trainer.fit(model, (x, y), val=(x, y))
    assert hist.metrics["val_f1"][0] == pytest.approx(trainer.evaluate(model, (x, y))["macro_f1"])


def test_early_stopping_and_checkpoint_monitor_a_metric(
    scenes: tuple[torch.Tensor, torch.Tensor], tmp_path: Path
) -> None:
    x, y = scenes
    val_scores = iter([0.7, 0.6, 0.65, 0.9])  # maximized under mode="auto"

    def score(logits: torch.Tensor, target: torch.Tensor) -> float:
        return next(val_scores) if len(target) == 36 else 0.0  # val has 36 samples

    stop = EarlyStopping(monitor="val_score", patience=2, restore_best_weights=False)
    ckpt = ModelCheckpoint(tmp_path, monitor="val_score")
    trainer = Trainer(max_epochs=6, batch_size=32, progress=False, seed=0,
                      metrics={"score": score}, callbacks=[stop, ckpt])  # fmt: skip
    hist = trainer.fit(_model(), (x, y), val=(x[::2], y[::2]))
    assert stop.mode == "max"
    assert hist.metrics["val_score"] == [0.7, 0.6, 0.65]
    assert stop.best_epoch == 1 and hist.epochs == 3 and "val_score" in str(hist.stop_reason)
    saved = torch.load(ckpt.best_path, weights_only=True)
    assert saved["epoch"] == 1


def test_resume_keeps_the_metrics_and_continues_them_exactly(
    scenes: tuple[torch.Tensor, torch.Tensor], tmp_path: Path
) -> None:
    x, y = scenes
    metrics = {"f1": _macro_f1, "acc_again": CountingAccuracy()}

    def trainer(epochs: int) -> Trainer:
        return Trainer(max_epochs=epochs, batch_size=16, progress=False, seed=0, metrics=metrics,
                       callbacks=[ModelCheckpoint(tmp_path / str(epochs), monitor="val_f1")])

    full = trainer(3).fit(_model(), (x, y), val=(x[::3], y[::3]))
    trainer(2).fit(_model(), (x, y), val=(x[::3], y[::3]))
    resumed = trainer(3).fit(_model(), (x, y), val=(x[::3], y[::3]),
                             resume_from=tmp_path / "2" / "last.pt")  # fmt: skip
    assert resumed.metrics == full.metrics and len(full.metrics["val_f1"]) == 3


def test_unknown_monitor_lists_the_names_that_exist(
    scenes: tuple[torch.Tensor, torch.Tensor],
) -> None:
    x, y = scenes
    trainer = Trainer(max_epochs=1, progress=False, metrics={"f1": _macro_f1},
                      callbacks=[EarlyStopping(monitor="val_f2")])  # fmt: skip
    with pytest.raises(ValueError, match=r"'val_f2' is not recorded.*val_acc, train_f1, val_f1"):
        trainer.fit(_model(), (x, y), val=(x, y))


def test_bad_metrics_get_clear_errors() -> None:
    with pytest.raises(ValueError, match="recorded already"):
        Trainer(max_epochs=1, metrics={"loss": _macro_f1})
    with pytest.raises(ValueError, match="identifier"):
        Trainer(max_epochs=1, metrics={"val f1": _macro_f1})
    with pytest.raises(TypeError, match="update"):
        Trainer(max_epochs=1, metrics={"f1": 3})
    with pytest.raises(TypeError, match="dict"):
        Trainer(max_epochs=1, metrics=[_macro_f1])
    m = EpochMetrics({"v": lambda logits, t: logits[:, 0]})
    m.update("val", torch.zeros(3, 2), torch.zeros(3, dtype=torch.long))
    from cnnkit.training.distributed import DistInfo

    with pytest.raises(ValueError, match="one number"):
        m.compute("val", DistInfo())


# ---------------------------------------------------------------------- class weights
def _vehicle_labels() -> torch.Tensor:
    with open(VEHICLES_CSV, newline="") as fh:
        return torch.tensor([int(r["emergency_or_not"]) for r in csv.DictReader(fh)])


def test_balanced_weights_follow_scikit_learn_on_the_real_labels() -> None:
    y = _vehicle_labels()
    counts = torch.bincount(y).double()
    expected = (len(y) / (2 * counts)).tolist()  # sklearn's compute_class_weight("balanced")
    assert balanced_class_weight(y, 2) == pytest.approx(expected)
    w = balanced_class_weight(y, 2)
    assert w[0] * counts[0] == pytest.approx(w[1] * counts[1])  # weighted counts are equal
    with pytest.raises(ValueError, match=r"class\(es\) \[2\] have no training sample"):
        balanced_class_weight(y, 3)


def test_class_weight_and_label_smoothing_combine_in_the_loss() -> None:
    y = _vehicle_labels()[:96]
    x = torch.rand(96, 3, 4, 4)
    w = torch.tensor(balanced_class_weight(y, 2), dtype=torch.float32)
    model = _model(2)
    trainer = Trainer(max_epochs=1, batch_size=32, progress=False, seed=0,
                      class_weight="balanced", label_smoothing=0.1)  # fmt: skip
    trainer.fit(model, (x, y))
    model.eval()
    with torch.no_grad():
        logits = model(x)
    # Keras' class_weight: each sample's loss times its weight, averaged over the samples
    per = F.cross_entropy(logits, y, weight=w, label_smoothing=0.1, reduction="none")
    expected = per.mean().item()
    assert trainer.evaluate(model, (x, y))["loss"] == pytest.approx(expected, rel=1e-5)
    listed = trainer.replace(class_weight=[1.0, 4.0]).evaluate(model, (x, y))["loss"]
    ref = F.cross_entropy(logits, y, weight=torch.tensor([1.0, 4.0]), label_smoothing=0.1,
                          reduction="none").mean()  # fmt: skip
    assert listed == pytest.approx(ref.item(), rel=1e-5)
    full = _vehicle_labels()
    w_full = balanced_class_weight(full, 2)
    assert sum(w_full[int(c)] for c in full) == pytest.approx(len(full))  # mean weight 1


def test_class_weight_errors_say_what_to_do() -> None:
    x, y = torch.rand(8, 3, 4, 4), torch.arange(8) % 2
    with pytest.raises(ValueError, match="3 weights but the model has 2 outputs"):
        Trainer(max_epochs=1, progress=False, class_weight=[1, 2, 3]).fit(_model(2), (x, y))
    with pytest.raises(ValueError, match="'balanced'"):
        Trainer(max_epochs=1, class_weight="balance")
    with pytest.raises(ValueError, match=">= 0"):
        Trainer(max_epochs=1, class_weight=[1.0, -1.0])
    with pytest.raises(ValueError, match="label_smoothing applies to the default"):
        Trainer(max_epochs=1, loss=nn.CrossEntropyLoss(), label_smoothing=0.1)
    with pytest.raises(ValueError, match="class_weight applies to the default"):
        Trainer(max_epochs=1, loss=nn.CrossEntropyLoss(), class_weight="balanced")


def test_a_custom_loss_module_is_moved_to_the_device() -> None:
    moved: list[Any] = []

    class Recording(nn.CrossEntropyLoss):
        def _apply(self, fn: Any, recurse: bool = True) -> Any:
            moved.append(fn)
            return super()._apply(fn, recurse)

    x, y = torch.rand(8, 3, 4, 4), torch.arange(8) % 2
    loss = Recording(weight=torch.tensor([1.0, 2.0]))
    Trainer(max_epochs=1, progress=False, loss=loss).fit(_model(2), (x, y))
    assert moved, "the loss module (and its weight buffer) was not moved to the device"
    assert not math.isnan(float(loss.weight.sum()))


# ---------------------------------------------------------------------- DDP
@pytest.mark.slow
def test_metrics_under_ddp_see_every_rank_even_an_empty_shard(tmp_path: Path) -> None:
    import json
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["OMP_NUM_THREADS"] = "1"
    script = Path(__file__).resolve().parent / "ddp_metrics_script.py"
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         str(script), str(tmp_path)],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for rank in (0, 1):
        m = json.loads((tmp_path / f"metrics_rank{rank}.json").read_text())
        assert m["train_count"] == [30.0, 30.0]  # both ranks' 15 rows, every epoch
        assert m["train_label_sum"] == [30.0, 30.0]  # 10 samples each of labels 0, 1, 2
        assert m["val_count"] == [1.0, 1.0] and m["val_label_sum"] == [2.0, 2.0]
