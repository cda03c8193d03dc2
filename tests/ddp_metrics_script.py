"""Run by tests/test_metrics.py under torchrun (2 CPU ranks): metrics see every rank's rows.

Writes ``metrics_rank<r>.json`` (the history's extra metrics) into the folder given as argv[1].
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from torch import nn

from cnnkit.training import Trainer


def count(logits: torch.Tensor, target: torch.Tensor) -> float:
    """Rows the metric saw, and a check that they arrive in one piece."""
    assert logits.shape[0] == target.shape[0]
    return float(logits.shape[0])


def label_sum(logits: torch.Tensor, target: torch.Tensor) -> float:
    return float(target.sum())


def main() -> None:
    out = Path(sys.argv[1])
    torch.manual_seed(0)
    x = torch.rand(30, 3, 4, 4)
    y = torch.arange(30) % 3
    model = nn.Sequential(nn.Flatten(), nn.Linear(48, 3))
    trainer = Trainer(max_epochs=2, batch_size=8, progress=False, seed=0, class_weight="balanced",
                      metrics={"count": count, "label_sum": label_sum})  # fmt: skip
    # val has 1 sample: rank 1's shard is empty and must still join the collectives
    hist = trainer.fit(model, (x, y), val=(x[5:6], y[5:6]))
    rank = torch.distributed.get_rank()
    (out / f"metrics_rank{rank}.json").write_text(json.dumps(hist.metrics))


if __name__ == "__main__":
    main()
