"""scheduler="plateau" with scheduler_options (Keras' ReduceLROnPlateau), beside onecycle/cosine."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from cnnkit.training import ModelCheckpoint, Trainer
from cnnkit.training.optim import make_scheduler
from training_helpers import blobs, mlp, weights


def _opt() -> torch.optim.Optimizer:
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)


def test_plateau_halves_the_lr_after_patience_epochs_without_improvement() -> None:
    x, y = blobs(32)
    # lr so small the loss cannot improve by the relative threshold (1e-4; torch ignores lr changes below 1e-8): every epoch
    # after the first is a miss.
    trainer = Trainer(
        max_epochs=5,
        batch_size=16,
        lr=1e-7,
        seed=0,
        progress=False,
        scheduler="plateau",
        scheduler_options={"factor": 0.5, "patience": 1, "monitor": "val_loss"},
    )
    h = trainer.fit(mlp(), (x, y), val=(x, y))
    assert h.lr == pytest.approx([1e-7, 1e-7, 1e-7, 5e-8, 5e-8])
    assert h.to_dict()["epoch"] == [1, 2, 3, 4, 5]


def test_plateau_defaults_and_modes() -> None:
    sched = make_scheduler("plateau", _opt(), 1.0, 3, None, {"monitor": "val_acc"})
    assert isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau)
    assert (sched.mode, sched.factor, sched.patience) == ("max", 0.1, 10)  # Keras' defaults
    sched = make_scheduler("plateau", _opt(), 1.0, 3, None, {"min_lr": 0.01, "mode": "min"})
    assert sched.mode == "min" and sched.min_lrs == [0.01]
    cyc = make_scheduler("onecycle", _opt(), 1.0, 2, 5, {"pct_start": 0.5})
    assert isinstance(cyc, torch.optim.lr_scheduler.OneCycleLR)
    cos = make_scheduler("cosine", _opt(), 1.0, 2, 5, {"eta_min": 0.1})
    assert cos.eta_min == 0.1


def test_plateau_on_train_loss_without_validation_data() -> None:
    x, y = blobs(32)
    h = Trainer(
        max_epochs=3, batch_size=16, lr=1e-7, progress=False, scheduler="plateau",
        scheduler_options={"patience": 0, "factor": 0.5},
    ).fit(mlp(), (x, y))  # fmt: skip
    assert h.lr == pytest.approx([1e-7, 1e-7, 5e-8])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"scheduler": "plateau", "scheduler_options": {"monitor": "val_los"}}, "cannot monitor"),
        ({"scheduler": "plateau", "scheduler_options": {"factor": 1.5}}, r"factor=1.5 .*\(0, 1\)"),
        ({"scheduler": "plateau", "scheduler_options": {"patience": -1}}, "patience=-1"),
        ({"scheduler": "plateau", "scheduler_options": {"mode": "up"}}, "mode='up'"),
        ({"scheduler": "plateau", "scheduler_options": {"patiense": 2}}, "did you mean 'patience'"),
        ({"scheduler": "cosine", "scheduler_options": {"factor": 0.5}}, "has no option 'factor'"),
        ({"scheduler_options": {"factor": 0.5}}, "configures a named schedule"),
        ({"scheduler": "reduce"}, "plateau"),
    ],
)
def test_bad_schedules_say_what_to_do(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Trainer(max_epochs=1, **kwargs)  # type: ignore[arg-type]


def test_a_val_monitor_without_validation_data_fails_before_training() -> None:
    x, y = blobs(16)
    trainer = Trainer(
        max_epochs=1, progress=False, scheduler="plateau", scheduler_options={"monitor": "val_acc"}
    )
    with pytest.raises(ValueError, match="'monitor': 'train_acc'"):
        trainer.fit(mlp(), (x, y))
    with pytest.raises(TypeError, match="pass a dict"):
        Trainer(max_epochs=1, scheduler="plateau", scheduler_options=[("factor", 0.5)])  # type: ignore[arg-type]


def test_plateau_resume_is_exact(tmp_path: Path) -> None:
    x, y = blobs(32)

    def trainer(epochs: int, folder: str) -> Trainer:
        return Trainer(
            max_epochs=epochs, batch_size=16, lr=1e-2, seed=3, progress=False,
            scheduler="plateau", scheduler_options={"patience": 0, "factor": 0.5},
            callbacks=[ModelCheckpoint(tmp_path / folder)],
        )  # fmt: skip

    full_model = mlp()
    full = trainer(4, "full").fit(full_model, (x, y), val=(x, y))
    trainer(2, "cut").fit(mlp(), (x, y), val=(x, y))
    model = mlp(seed=9)
    resumed = trainer(4, "cut").fit(model, (x, y), val=(x, y), resume_from=tmp_path / "cut/last.pt")
    assert resumed.lr == full.lr and resumed.val_loss == full.val_loss
    wa, wb = weights(full_model), weights(model)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_plateau_can_monitor_an_extra_metric() -> None:
    x, y = blobs(32)

    def acc(logits: torch.Tensor, targets: torch.Tensor) -> float:
        return float((logits.argmax(1) == targets).float().mean())

    trainer = Trainer(
        max_epochs=2, batch_size=16, progress=False, metrics={"hit": acc}, scheduler="plateau",
        scheduler_options={"monitor": "val_hit"},
    )  # fmt: skip
    h = trainer.fit(mlp(), (x, y), val=(x, y))
    assert len(h.metrics["val_hit"]) == 2
    with pytest.raises(ValueError, match="cannot monitor 'val_f1'"):
        Trainer(max_epochs=1, scheduler="plateau", scheduler_options={"monitor": "val_f1"})
