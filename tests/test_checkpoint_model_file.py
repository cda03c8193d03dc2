"""ModelCheckpoint(save_model=True) writes cnnkit.load_model files beside the training checkpoints."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from cnnkit import ModelBuilder, ModelCheckpoint, Trainer, load_model


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.rand(24, 3, 16, 16, generator=g), torch.randint(0, 2, (24,), generator=g)


def test_best_and_last_model_files_reload_ready(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = ModelBuilder(3, 2, 16, batch_norm=True).conv(4).build()
    ckpt = ModelCheckpoint(tmp_path, save_model=True, classes=["car", "ambulance"])
    train = _data()
    Trainer(max_epochs=3, batch_size=8, progress=False, seed=0, normalize=((0.5,) * 3, (0.25,) * 3),
            callbacks=[ckpt]).fit(model, train, train)  # fmt: skip
    assert {p.name for p in tmp_path.iterdir()} >= {"best.pt", "last.pt", "best_model.pt", "last_model.pt"}
    last = load_model(tmp_path / "last_model.pt")
    assert list(last.metadata.classes) == ["car", "ambulance"]
    assert last.metadata.extra["epoch"] == 3
    model.eval()
    x = torch.rand(5, 3, 16, 16)
    torch.testing.assert_close(last(x), model(x), rtol=0, atol=0)
    best = load_model(tmp_path / "best_model.pt")
    assert 1 <= best.metadata.extra["epoch"] <= 3


def test_default_writes_no_model_files(tmp_path: Path) -> None:
    model = ModelBuilder(3, 2, 16).conv(4).build()
    Trainer(max_epochs=1, batch_size=8, progress=False, callbacks=[ModelCheckpoint(tmp_path)]).fit(
        model, _data()
    )
    assert {p.name for p in tmp_path.iterdir()} == {"best.pt", "last.pt"}


def test_a_model_without_a_spec_is_refused(tmp_path: Path) -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 16 * 16, 2))
    with pytest.raises(TypeError, match="spec"):
        Trainer(max_epochs=1, batch_size=8, progress=False,
                callbacks=[ModelCheckpoint(tmp_path, save_model=True)]).fit(model, _data())  # fmt: skip
