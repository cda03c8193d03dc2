"""DDP under torchrun (gloo, CPU): same trajectory as one process with the same global batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch.utils.data import TensorDataset

from cnnkit.training import History, Trainer
from cnnkit.training import distributed as dist_util
from ddp_script import CONFIG, data
from training_helpers import mlp

SCRIPT = Path(__file__).resolve().parent / "ddp_script.py"


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("ddp")
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["OMP_NUM_THREADS"] = "1"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            str(SCRIPT),
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out, proc.stdout


def _close(a: list[float], b: list[float], tol: float = 1e-5) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=False):
        assert x == pytest.approx(y, rel=tol, abs=tol)


def test_two_ranks_match_one_process_with_the_same_global_batch(ddp_run: tuple[Path, str]) -> None:
    out, _ = ddp_run
    train, val = data()
    single = mlp()
    ref = Trainer(**CONFIG, progress=False).fit(single, train, val)  # type: ignore[arg-type]
    for rank in (0, 1):
        h = History.from_json(out / f"mlp_rank{rank}.json")
        for key in (
            "step_loss",
            "train_loss",
            "train_acc",
            "val_loss",
            "val_acc",
            "grad_norm",
            "lr",
        ):
            _close(getattr(h, key), getattr(ref, key))
        weights = torch.load(out / f"mlp_rank{rank}.pt", weights_only=True)
        for k, v in single.state_dict().items():
            torch.testing.assert_close(weights[k], v, rtol=1e-5, atol=1e-5)
    assert len(ref.step_loss) == 2 * 4  # includes the 1-sample last batch (rank 1 empty)


def test_every_rank_gets_the_global_history_for_dataset_inputs(ddp_run: tuple[Path, str]) -> None:
    out, _ = ddp_run
    h0 = json.loads((out / "ds_rank0.json").read_text())
    h1 = json.loads((out / "ds_rank1.json").read_text())
    for key in h0:
        if key != "epoch_time":
            assert h0[key] == h1[key], key
    # Same global metric semantics as one process on the same data (order differs by sampler).
    train, val = data()
    ref = Trainer(**CONFIG, progress=False).fit(mlp(), TensorDataset(*train), val)  # type: ignore[arg-type]
    assert len(h0["train_loss"]) == 2 and h0["val_acc"][0] * 21 == pytest.approx(
        round(h0["val_acc"][0] * 21)
    )
    assert abs(h0["train_loss"][0] - ref.train_loss[0]) < 0.1


def test_only_rank_zero_prints_and_sync_batchnorm_on_cpu_is_refused(
    ddp_run: tuple[Path, str],
) -> None:
    out, stdout = ddp_run
    lines = [ln for ln in stdout.splitlines() if ln.startswith("epoch ")]
    assert [ln.split()[1] for ln in lines] == ["1/2", "2/2"]
    for rank in (0, 1):
        assert "SyncBatchNorm only works" in (out / f"bn_rank{rank}.txt").read_text()


def test_the_exit_handler_joins_the_backend_threads(ddp_run: tuple[Path, str]) -> None:
    """At exit, no gloo thread may outlive cnnkit's teardown into interpreter finalization.

    A gloo worker still alive then can drop the last reference to a Python tensor, which needs
    the GIL; Python ends such a thread with pthread_exit, and its unwinding through a noexcept
    destructor aborts the rank ("terminate called without an active exception"). That happened
    in about 1 run in 6 on a loaded machine while torch.distributed.nn.functional, imported
    after the group was created, kept the group alive past destroy_process_group.
    """
    out, _ = ddp_run
    for rank in (0, 1):
        names = json.loads((out / f"threads_rank{rank}.json").read_text())
        if names is None:
            pytest.skip("no /proc/self/task on this platform")
        assert not [n for n in names if "gloo" in n], names


def test_detect_reads_torchrun_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(k, raising=False)
    info = dist_util.detect()
    assert (info.rank, info.world_size, info.enabled, info.is_main) == (0, 1, False, True)
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_RANK", "1")
    info = dist_util.detect()
    assert (info.rank, info.local_rank, info.world_size, info.enabled, info.is_main) == (
        3,
        1,
        4,
        True,
        False,
    )
    monkeypatch.setenv("RANK", "x")
    with pytest.raises(ValueError, match="integers"):
        dist_util.detect()
    t = torch.ones(2)
    assert dist_util.all_reduce_sum(t, dist_util.DistInfo()) is t and t.tolist() == [1.0, 1.0]
