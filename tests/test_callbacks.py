"""Callbacks: EarlyStopping, ModelCheckpoint, the protocol, and atomic checkpoint writes."""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Any

import pytest
import torch

import cnnkit.training.checkpoint as ckpt_mod
from cnnkit.training import (
    Callback,
    EarlyStopping,
    FitState,
    ModelCheckpoint,
    Trainer,
    callback_from_dict,
    load_checkpoint,
)
from training_helpers import blobs, mlp, weights

T = functools.partial(Trainer, progress=False)


class Snapshots(Callback):
    """Weights after every epoch."""

    def __init__(self) -> None:
        self.per_epoch: list[dict[str, torch.Tensor]] = []

    def on_epoch_end(self, state: FitState) -> None:
        self.per_epoch.append(weights(state.model))


def _overfit_data() -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    x, y = blobs(32)
    return (x, y), (x, 1 - y)  # validation labels flipped: val_loss rises as training improves


def test_early_stopping_stops_after_patience_and_restores_the_best_weights() -> None:
    train, val = _overfit_data()
    snaps = Snapshots()
    stopper = EarlyStopping(patience=2)
    model = mlp()
    h = T(max_epochs=30, batch_size=8, lr=1e-2, seed=0, callbacks=[snaps, stopper]).fit(
        model, train, val
    )
    best = min(range(h.epochs), key=lambda i: h.val_loss[i])
    assert h.epochs == best + 1 + 2  # two epochs in a row without improvement
    assert stopper.best_epoch == best + 1 == h.best_epoch
    assert "early stopping" in (h.stop_reason or "")
    for k, v in weights(model).items():
        assert torch.equal(v, snaps.per_epoch[best][k])


def test_early_stopping_modes_and_monitor_checks() -> None:
    assert EarlyStopping(monitor="val_acc").mode == "max"
    assert EarlyStopping(monitor="train_loss").mode == "min"
    with pytest.raises(ValueError, match="mode"):
        EarlyStopping(mode="up")
    with pytest.raises(ValueError, match="no validation data"):
        T(max_epochs=2, callbacks=[EarlyStopping()]).fit(mlp(), blobs(8))
    with pytest.raises(ValueError, match="monitor"):
        T(max_epochs=2, callbacks=[EarlyStopping(monitor="loss")]).fit(mlp(), blobs(8))
    # Keep training while train accuracy keeps rising (mode max via "acc"); min_delta huge -> stop.
    h = T(
        max_epochs=10,
        batch_size=8,
        callbacks=[EarlyStopping("train_loss", patience=0, min_delta=10.0)],
    ).fit(mlp(), blobs(16))
    assert h.epochs == 2


def test_model_checkpoint_writes_last_and_best_loadable_with_weights_only(tmp_path: Path) -> None:
    train, val = _overfit_data()
    model = mlp()
    h = T(max_epochs=4, batch_size=8, lr=1e-2, callbacks=[ModelCheckpoint(tmp_path)]).fit(
        model, train, val
    )
    last = torch.load(tmp_path / "last.pt", weights_only=True)
    best = load_checkpoint(tmp_path / "best.pt")
    assert last["epoch"] == 4 and best["epoch"] == h.best_epoch
    for k in ("model", "optimizer", "scheduler", "scaler", "rng", "history", "callbacks"):
        assert k in last
    for k, v in weights(model).items():
        assert torch.equal(last["model"][k], v)
    assert last["history"]["val_loss"] == h.val_loss
    fresh = mlp(seed=9)
    load_checkpoint(tmp_path / "best.pt", fresh)
    assert torch.equal(weights(fresh)["0.weight"], best["model"]["0.weight"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pt", "last.pt"]  # no temp files


def test_checkpoint_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "last.pt"
    ckpt_mod.save_checkpoint({"cnnkit_checkpoint": 1, "v": torch.ones(3)}, target)
    real_save = torch.save

    def crash(obj: Any, f: Any) -> None:
        real_save({"partial": torch.zeros(1000)}, f)
        raise OSError("disk full")

    monkeypatch.setattr(ckpt_mod.torch, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        ckpt_mod.save_checkpoint({"cnnkit_checkpoint": 1, "v": torch.zeros(3)}, target)
    assert torch.equal(torch.load(target, weights_only=True)["v"], torch.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_diverged_epoch_does_not_overwrite_last_checkpoint(tmp_path: Path) -> None:
    calls = [0]

    def loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        out = torch.nn.functional.cross_entropy(logits, target)
        calls[0] += int(logits.requires_grad)
        return out * math.nan if calls[0] == 3 else out

    with pytest.warns(RuntimeWarning):
        T(max_epochs=5, batch_size=8, loss=loss, callbacks=[ModelCheckpoint(tmp_path)]).fit(
            mlp(), blobs(16)
        )
    ckpt = load_checkpoint(tmp_path / "last.pt")
    assert ckpt["epoch"] == 1
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values())


def test_duck_typed_callback_and_hook_order() -> None:
    events: list[str] = []

    class Plain:  # no base class: the protocol is duck-typed
        def on_fit_start(self, state: FitState) -> None:
            events.append(f"start{state.epoch}")

        def on_epoch_start(self, state: FitState) -> None:
            events.append(f"es{state.epoch}")

        def on_epoch_end(self, state: FitState) -> None:
            events.append(f"ee{state.epoch}:{len(state.history.train_loss)}")
            if state.epoch == 2:
                state.should_stop = True
                state.stop_reason = "enough"

        def on_fit_end(self, state: FitState) -> None:
            events.append("end")

    h = T(max_epochs=5, batch_size=8, callbacks=[Plain()]).fit(mlp(), blobs(16))
    assert events == ["start0", "es0", "ee1:1", "es1", "ee2:2", "end"]
    assert h.stop_reason == "enough" and h.epochs == 2


def test_callback_from_dict() -> None:
    cb = callback_from_dict({"type": "EarlyStopping", "patience": 7, "restore_best_weights": False})
    assert isinstance(cb, EarlyStopping) and cb.patience == 7 and not cb.restore_best_weights
    with pytest.raises(ValueError, match="unknown callback type"):
        callback_from_dict({"type": "Nope"})


@pytest.mark.parametrize("name", ["model.pt", "best.PTH", "weights.ckpt"])
def test_model_checkpoint_refuses_a_file_name(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match=r"takes a directory, not a file.*ModelCheckpoint\("):
        ModelCheckpoint(tmp_path / "runs" / name)
    assert not (tmp_path / "runs").exists()
    assert ModelCheckpoint(tmp_path / "runs.v2").dirpath == tmp_path / "runs.v2"
