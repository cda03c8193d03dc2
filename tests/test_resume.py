"""Resume: a run killed after epoch k and resumed ends bitwise identical to an uninterrupted run."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch

from cnnkit.training import (
    Callback,
    EarlyStopping,
    FitState,
    History,
    ModelCheckpoint,
    Trainer,
    load_checkpoint,
)
from training_helpers import blobs, mlp, weights

TESTS = Path(__file__).resolve().parent
EPOCHS = 4


def _flip(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A random augmentation drawing on the global RNG, so RNG state must survive the resume."""
    mask = torch.rand(x.shape[0]) < 0.5
    return torch.where(mask.view(-1, 1, 1, 1), x.flip(-1), x), y


class Killer(Callback):
    """Ends the process at the start of epoch ``after + 1`` (after the checkpoint of ``after``)."""

    def __init__(self, after: int, how: str) -> None:
        self.after, self.how = after, how

    def on_epoch_start(self, state: FitState) -> None:
        if state.epoch == self.after:
            if self.how == "sigkill":
                os.kill(os.getpid(), signal.SIGKILL)
            raise KeyboardInterrupt


def _setup(
    ckpt_dir: Path, extra: list[Any]
) -> tuple[torch.nn.Module, Trainer, tuple[Any, Any], tuple[Any, Any]]:
    xv, yv = blobs(16, seed=1)
    # Flipped validation labels: the best val_loss comes early, so the final weights are
    # EarlyStopping's restored best weights, which only match if its state was resumed too.
    train, val = blobs(40), (xv, 1 - yv)
    trainer = Trainer(
        max_epochs=EPOCHS,
        batch_size=8,
        lr=3e-3,
        scheduler="onecycle",
        weight_decay=0.01,
        seed=7,
        augment=_flip,
        progress=False,
        callbacks=[*extra, EarlyStopping(patience=50), ModelCheckpoint(ckpt_dir)],
    )
    return mlp(dropout=0.25), trainer, train, val


def child_main(ckpt_dir: str, after: int) -> None:
    """Entry point of the child process that SIGKILLs itself (see the test below)."""
    torch.set_num_threads(1)
    model, trainer, train, val = _setup(Path(ckpt_dir), [Killer(after, "sigkill")])
    trainer.fit(model, train, val)


def _uninterrupted(tmp_path: Path) -> tuple[torch.nn.Module, History]:
    model, trainer, train, val = _setup(tmp_path / "full", [])
    return model, trainer.fit(model, train, val)


def _resume(ckpt_dir: Path) -> tuple[torch.nn.Module, History]:
    model, trainer, train, val = _setup(ckpt_dir, [])
    model = mlp(seed=123, dropout=0.25)  # different initial weights: the checkpoint must win
    return model, trainer.fit(model, train, val, resume_from=ckpt_dir / "last.pt")


def _assert_same(a: tuple[torch.nn.Module, History], b: tuple[torch.nn.Module, History]) -> None:
    wa, wb = weights(a[0]), weights(b[0])
    assert all(torch.equal(wa[k], wb[k]) for k in wa), "weights differ"
    assert a[1].best_epoch is not None and a[1].best_epoch < EPOCHS
    da, db = a[1].to_dict(), b[1].to_dict()
    for key in da:
        if key != "epoch_time":
            assert da[key] == db[key], key


def test_resume_after_an_exception_is_bitwise_identical(tmp_path: Path) -> None:
    full = _uninterrupted(tmp_path)
    model, trainer, train, val = _setup(tmp_path / "cut", [])
    trainer = trainer.replace(callbacks=[Killer(2, "raise"), *trainer.callbacks])
    with pytest.raises(KeyboardInterrupt):
        trainer.fit(model, train, val)
    assert load_checkpoint(tmp_path / "cut" / "last.pt")["epoch"] == 2
    # The killer is gone from the resumed fit: states are matched by class name, not position.
    resumed = _resume(tmp_path / "cut")
    _assert_same(full, resumed)
    last_full = load_checkpoint(tmp_path / "full" / "last.pt")["model"]
    last_resumed = load_checkpoint(tmp_path / "cut" / "last.pt")["model"]
    assert all(torch.equal(last_full[k], last_resumed[k]) for k in last_full)


def test_resume_after_a_real_sigkill_is_bitwise_identical(tmp_path: Path) -> None:
    ckpt_dir = tmp_path / "killed"
    code = f"import sys; sys.path.insert(0, {str(TESTS)!r}); import test_resume; test_resume.child_main({str(ckpt_dir)!r}, 3)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert load_checkpoint(ckpt_dir / "last.pt")["epoch"] == 3
    assert not [p for p in ckpt_dir.iterdir() if p.suffix == ".tmp"]
    _assert_same(_uninterrupted(tmp_path), _resume(ckpt_dir))


def test_resume_of_a_finished_or_stopped_run_trains_no_more(tmp_path: Path) -> None:
    x, y = blobs(16)
    stopper = EarlyStopping("train_loss", patience=0, min_delta=100.0)
    trainer = Trainer(
        max_epochs=5, batch_size=8, progress=False, callbacks=[stopper, ModelCheckpoint(tmp_path)]
    )
    model = mlp()
    h = trainer.fit(model, (x, y))
    assert h.epochs == 2  # patience=0: stop at the first epoch that does not improve
    again = mlp(seed=5)
    h2 = trainer.fit(again, (x, y), resume_from=tmp_path / "last.pt")
    assert h2.epochs == 2 and h2.stop_reason == h.stop_reason
    for k, v in weights(model).items():
        assert torch.equal(weights(again)[k], v)


def test_resume_errors(tmp_path: Path) -> None:
    x, y = blobs(16)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        Trainer(max_epochs=1, progress=False).fit(
            mlp(), (x, y), resume_from=tmp_path / "missing.pt"
        )
    torch.save({"w": torch.ones(1)}, tmp_path / "plain.pt")
    with pytest.raises(ValueError, match="not a cnnkit checkpoint"):
        Trainer(max_epochs=1, progress=False).fit(mlp(), (x, y), resume_from=tmp_path / "plain.pt")
    Trainer(max_epochs=1, progress=False, callbacks=[ModelCheckpoint(tmp_path)]).fit(mlp(), (x, y))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stopper = EarlyStopping("train_loss", patience=3)
        Trainer(max_epochs=2, progress=False, callbacks=[stopper]).fit(
            mlp(), (x, y), resume_from=tmp_path / "last.pt"
        )
    assert any("no state for callback EarlyStopping:0" in str(w.message) for w in caught)


# ---------------------------------------------------------------- changed plans on resume
@pytest.mark.parametrize("scheduler", ["cosine", "onecycle"])
def test_resuming_a_schedule_with_another_max_epochs_is_refused_before_training(
    tmp_path: Path, scheduler: str
) -> None:
    x, y = blobs(32)
    t = Trainer(
        max_epochs=2, batch_size=8, scheduler=scheduler, progress=False, seed=0,
        callbacks=[ModelCheckpoint(tmp_path)],
    )
    model = mlp()
    t.fit(model, (x, y))
    before = weights(model)
    with pytest.raises(ValueError, match=r"spans 8 steps.*plans 20 \(max_epochs=5\).*same max_epochs"):
        t.replace(max_epochs=5).fit(model, (x, y), resume_from=tmp_path / "last.pt")
    assert all(torch.equal(before[k], v) for k, v in weights(model).items())  # nothing trained
    # The same plan still resumes (and a finished run trains no further).
    h = t.fit(model, (x, y), resume_from=tmp_path / "last.pt")
    assert h.epochs == 2


def test_checkpoints_without_the_planned_length_are_checked_from_the_scheduler_state(
    tmp_path: Path,
) -> None:
    x, y = blobs(32)
    t = Trainer(
        max_epochs=2, batch_size=8, scheduler="cosine", progress=False,
        callbacks=[ModelCheckpoint(tmp_path)],
    )
    t.fit(mlp(), (x, y))
    ckpt = load_checkpoint(tmp_path / "last.pt")
    assert ckpt["schedule_steps"] == 8 and ckpt["max_epochs"] == 2
    del ckpt["schedule_steps"], ckpt["max_epochs"]  # as written before these keys existed
    torch.save(ckpt, tmp_path / "old.pt")
    with pytest.raises(ValueError, match="spans 8 steps"):
        t.replace(max_epochs=3).fit(mlp(), (x, y), resume_from=tmp_path / "old.pt")


def test_resuming_without_a_scheduler_may_extend_max_epochs(tmp_path: Path) -> None:
    x, y = blobs(32)
    t = Trainer(max_epochs=2, batch_size=8, progress=False, callbacks=[ModelCheckpoint(tmp_path)])
    model = mlp()
    t.fit(model, (x, y))
    h = t.replace(max_epochs=4).fit(model, (x, y), resume_from=tmp_path / "last.pt")
    assert h.epochs == 4 and load_checkpoint(tmp_path / "last.pt")["epoch"] == 4


def test_resuming_into_another_architecture_names_the_checkpoint(tmp_path: Path) -> None:
    x, y = blobs(32)
    t = Trainer(max_epochs=1, batch_size=8, progress=False, callbacks=[ModelCheckpoint(tmp_path)])
    t.fit(mlp(), (x, y))
    with pytest.raises(ValueError, match=r"last\.pt do not fit this model.*size mismatch.*built exactly"):
        t.replace(max_epochs=2).fit(mlp(classes=3), (x, y), resume_from=tmp_path / "last.pt")


class _NotAWeight:
    """A class a checkpoint must never unpickle."""


def _write_bad_files(folder: Path, good: Path) -> dict[str, tuple[Path, str]]:
    """Files that are not cnnkit checkpoints, each with the reason the error must give."""
    import pickle

    data = good.read_bytes()
    files = {
        "text": (b"epoch,train_loss\n1,0.69\n", "not a file written by torch.save"),
        "random bytes": (bytes(range(256)) * 16, "not a file written by torch.save"),
        "plain pickle": (pickle.dumps({"model": _NotAWeight()}), "not a file written by torch.save"),
        "empty": (b"", "is empty"),
        "truncated": (data[: len(data) // 2], "truncated or corrupted"),
        "truncated end": (data[:-200], "truncated or corrupted"),
    }
    out = {}
    for name, (content, reason) in files.items():
        path = folder / f"{name.replace(' ', '_')}.pt"
        path.write_bytes(content)
        out[name] = (path, reason)
    pickled = folder / "pickled_object.pt"
    torch.save({"cnnkit_checkpoint": 1, "model": _NotAWeight()}, pickled)
    out["pickled object"] = (pickled, r"pickled Python object \(test_resume\._NotAWeight\)")
    return out


def test_a_file_that_is_not_a_checkpoint_is_named_and_never_loaded_unsafely(
    tmp_path: Path,
) -> None:
    x, y = blobs(16)
    t = Trainer(max_epochs=1, batch_size=8, progress=False, callbacks=[ModelCheckpoint(tmp_path)])
    t.fit(mlp(), (x, y))
    for name, (path, reason) in _write_bad_files(tmp_path, tmp_path / "last.pt").items():
        for load in (
            lambda p: load_checkpoint(p),
            lambda p: t.replace(max_epochs=2).fit(mlp(), (x, y), resume_from=p),
        ):
            with pytest.raises(ValueError) as info:
                load(path)
            message = str(info.value)
            assert str(path) in message and "not a cnnkit checkpoint or is damaged" in message, name
            assert re.search(reason, message), (name, message)
            assert "weights_only=False" not in message and "weights_only" not in message, name
            # torch's own error (which advises weights_only=False) is neither chained nor shown.
            assert info.value.__cause__ is None and info.value.__suppress_context__, name
