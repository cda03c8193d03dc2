"""Trainer(backbone_lr=...): the body trains at its own rate, the head at lr (fine-tuning)."""

from __future__ import annotations

import pytest
import torch

from cnnkit import ModelBuilder, Trainer, backbone
from cnnkit.training.optim import make_optimizer, param_groups


def _data(n: int = 32, classes: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.rand(n, 3, 16, 16, generator=g), torch.randint(0, classes, (n,), generator=g)


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return ModelBuilder(3, 3, 16, batch_norm=True).conv(4).conv(8).build()


def test_groups_split_body_and_head_and_keep_the_decay_rule() -> None:
    model = _model()
    groups = param_groups(model, 1e-2, backbone_lr=1e-4)
    head = {id(p) for p in model.head.parameters()}
    for g in groups:
        inside = {id(p) in head for p in g["params"]}
        assert len(inside) == 1, "a group mixes body and head parameters"
        assert ("lr" in g) == (not inside.pop()), "only the body groups carry their own lr"
        assert all((p.ndim >= 2) == (g["weight_decay"] > 0) for p in g["params"])
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))
    opt = make_optimizer("adamw", model, 1e-3, 1e-2, backbone_lr=1e-4)
    assert sorted({g["lr"] for g in opt.param_groups}) == [1e-4, 1e-3]


def test_zero_backbone_lr_trains_only_the_head() -> None:
    model = _model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    Trainer(max_epochs=2, batch_size=8, lr=1e-2, optimizer="sgd", backbone_lr=0.0,
            progress=False, seed=0).fit(model, _data())  # fmt: skip
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith("head.") or "running" in k or "num_batches" in k
                           for k in changed)  # fmt: skip
    assert any(k.startswith("head.") for k in changed)
    assert all(torch.equal(before[k], after[k]) for k in before
               if k.startswith("features.") and k.endswith(("weight", "bias")))  # fmt: skip


def test_onecycle_keeps_the_ratio_between_body_and_head() -> None:
    model = backbone("cnnkit-resnet8", 3)
    lrs: list[list[float]] = []

    class Record:
        def on_epoch_end(self, state: object) -> None:
            lrs.append([g["lr"] for g in state.optimizer.param_groups])  # type: ignore[attr-defined]

    Trainer(max_epochs=3, batch_size=8, lr=1e-2, scheduler="onecycle", backbone_lr=1e-3,
            progress=False, seed=0, callbacks=[Record()]).fit(model, _data(16))  # fmt: skip
    assert len(lrs) == 3 and len({round(max(s), 12) for s in lrs}) >= 2  # the schedule moved
    for step in lrs:
        assert max(step) / min(step) == pytest.approx(10.0)


@pytest.mark.parametrize("bad", [-1e-3, float("nan"), "1e-4"])
def test_bad_backbone_lr(bad: object) -> None:
    with pytest.raises(ValueError, match="backbone_lr"):
        Trainer(max_epochs=1, backbone_lr=bad)  # type: ignore[arg-type]
