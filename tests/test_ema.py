"""Trainer(ema=...): an AveragedModel of the weights, validated on, checkpointed, resumed exactly."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from cnnkit.training import (
    Callback,
    EarlyStopping,
    FitState,
    ModelCheckpoint,
    Trainer,
    load_checkpoint,
    save_checkpoint,
)
from training_helpers import blobs, bn_model, mlp, weights


class _Raw(Callback):
    """Record the trained (not averaged) weights after every epoch."""

    def __init__(self) -> None:
        self.seen: list[dict[str, torch.Tensor]] = []

    def on_epoch_end(self, state: FitState) -> None:
        self.seen.append(weights(state.model))


def test_the_average_follows_the_ema_formula_and_the_model_ends_with_it() -> None:
    x, y = blobs(16)
    raw = _Raw()
    model = mlp()
    # One optimizer step an epoch: the average is w1, then d * w1 + (1 - d) * w2.
    Trainer(max_epochs=2, batch_size=16, ema=0.75, progress=False, callbacks=[raw]).fit(
        model, (x, y)
    )
    w1, w2 = raw.seen
    final = weights(model)
    for k in final:
        torch.testing.assert_close(final[k], 0.75 * w1[k] + 0.25 * w2[k])


def test_validation_runs_on_the_averaged_weights_and_checkpoints_hold_both(
    tmp_path: Path,
) -> None:
    x, y = blobs(48)
    model = bn_model()
    trainer = Trainer(
        max_epochs=3, batch_size=16, ema=0.9, seed=0, progress=False,
        callbacks=[ModelCheckpoint(tmp_path)],
    )  # fmt: skip
    h = trainer.fit(model, (x, y), val=(x, y))
    # The model now holds the averaged weights: evaluating it gives the last val_loss.
    assert trainer.evaluate(model, (x, y))["loss"] == pytest.approx(h.val_loss[-1], abs=1e-6)
    ckpt = load_checkpoint(tmp_path / "last.pt")
    assert ckpt["ema"]["decay"] == 0.9 and ckpt["ema"]["n_averaged"] == 9
    assert all(torch.equal(ckpt["ema"]["weights"][k], v) for k, v in weights(model).items())
    assert not all(torch.equal(ckpt["model"][k], v) for k, v in weights(model).items())
    loaded = bn_model(seed=5)
    load_checkpoint(tmp_path / "last.pt", loaded, ema=True)
    assert all(torch.equal(weights(loaded)[k], v) for k, v in weights(model).items())


def test_resume_with_ema_is_bitwise_identical(tmp_path: Path) -> None:
    x, y = blobs(48)

    def trainer(epochs: int, folder: str) -> Trainer:
        return Trainer(
            max_epochs=epochs, batch_size=16, ema=0.8, seed=1, progress=False,
            callbacks=[EarlyStopping(patience=9), ModelCheckpoint(tmp_path / folder)],
        )  # fmt: skip

    full_model = bn_model()
    full = trainer(4, "full").fit(full_model, (x, y), val=(x, y))
    trainer(2, "cut").fit(bn_model(), (x, y), val=(x, y))
    model = bn_model(seed=7)
    resumed = trainer(4, "cut").fit(model, (x, y), val=(x, y), resume_from=tmp_path / "cut/last.pt")
    assert resumed.val_loss == full.val_loss and resumed.train_loss == full.train_loss
    wa, wb = weights(full_model), weights(model)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_old_checkpoints_without_an_average_still_load(tmp_path: Path) -> None:
    x, y = blobs(32)
    Trainer(max_epochs=1, batch_size=16, progress=False, callbacks=[ModelCheckpoint(tmp_path)]).fit(
        mlp(), (x, y)
    )
    ckpt = load_checkpoint(tmp_path / "last.pt")
    del ckpt["ema"]  # what cnnkit wrote before Trainer(ema=...)
    save_checkpoint(ckpt, tmp_path / "old.pt")
    model = mlp(seed=2)
    load_checkpoint(tmp_path / "old.pt", model)
    with pytest.raises(ValueError, match=r"no moving average.*ema=False"):
        load_checkpoint(tmp_path / "old.pt", model, ema=True)
    with pytest.warns(RuntimeWarning, match="average starts from its weights"):
        h = Trainer(max_epochs=2, batch_size=16, ema=0.9, progress=False).fit(
            model, (x, y), resume_from=tmp_path / "old.pt"
        )
    assert len(h.train_loss) == 2


@pytest.mark.parametrize("bad", [0, 1, 1.5, -0.1, True, "0.99", float("nan")])
def test_ema_outside_zero_one_is_refused(bad: object) -> None:
    with pytest.raises(ValueError, match=r"ema=.*in \(0, 1\), e.g. ema=0.999"):
        Trainer(max_epochs=1, ema=bad)  # type: ignore[arg-type]
