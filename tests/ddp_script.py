"""Run under ``torchrun --nproc_per_node=2`` by tests/test_distributed.py (not a test module)."""

from __future__ import annotations

import atexit
import json
import os
import sys
from pathlib import Path

import torch
from torch.utils.data import TensorDataset

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cnnkit.training import Trainer
from training_helpers import blobs, bn_model, mlp

CONFIG = {"max_epochs": 2, "batch_size": 16, "lr": 0.05, "optimizer": "sgd", "seed": 0}


def data() -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    # 49 = 3 * 16 + 1: the last global batch has a single sample, so rank 1 gets none.
    return blobs(49), blobs(21, seed=1)


def threads_left(path: Path) -> None:
    """Record the threads alive once cnnkit's exit handler has torn the process group down."""
    tasks = Path("/proc/self/task")
    names = [(t / "comm").read_text().strip() for t in tasks.iterdir()] if tasks.is_dir() else None
    path.write_text(json.dumps(names))


def main(out: Path) -> None:
    torch.set_num_threads(1)
    rank = int(os.environ.get("RANK", 0))
    # Registered before fit() registers cnnkit's teardown, so it runs after it (atexit is LIFO).
    atexit.register(threads_left, out / f"threads_rank{rank}.json")
    train, val = data()
    model = mlp()
    hist = Trainer(**CONFIG, progress=True).fit(model, train, val)
    torch.save(model.state_dict(), out / f"mlp_rank{rank}.pt")
    (out / f"mlp_rank{rank}.json").write_text(json.dumps(hist.to_dict()))

    ds_model = mlp()
    ds_hist = Trainer(**CONFIG, progress=False).fit(ds_model, TensorDataset(*train), val)
    (out / f"ds_rank{rank}.json").write_text(json.dumps(ds_hist.to_dict()))

    try:
        Trainer(**CONFIG, progress=False, sync_batchnorm=True).fit(bn_model(), train)
        message = ""
    except ValueError as err:  # torch's SyncBatchNorm works on GPUs only
        message = str(err)
    (out / f"bn_rank{rank}.txt").write_text(message)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
