"""fuse_batchnorm: folded models match the unfused ones; unfusable norms are kept and named."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from cnnkit import ModelBuilder, case_study, fuse_batchnorm


def trained_stats(model: nn.Module, shape: tuple[int, ...]) -> nn.Module:
    """Give the batch norms non-trivial running statistics and affine parameters."""
    model.train()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 2.0)
                m.bias.uniform_(-1.0, 1.0)
        for _ in range(3):
            model(torch.randn(8, *shape) * 3 + 1)
    return model.eval()


@given(
    bias=st.sampled_from([None, True]),
    channels=st.lists(st.integers(1, 6), min_size=1, max_size=3),
    dropout=st.sampled_from([0.0, 0.3]),
)
def test_fused_matches_unfused(bias: bool | None, channels: list[int], dropout: float) -> None:
    torch.manual_seed(0)
    b = ModelBuilder(3, 4, 16, batch_norm=True, dropout=dropout)
    for c in channels:
        b.conv(c, bias=bias)
    model = trained_stats(b.build(), (3, 16, 16))
    fused = fuse_batchnorm(model)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fused.modules())
    assert model.training is False and fused.training is False
    x = torch.randn(5, 3, 16, 16)
    with torch.no_grad():
        assert torch.allclose(fused(x), model(x), atol=1e-5, rtol=1e-5)


def test_original_is_untouched_and_case_study_model_fuses() -> None:
    model = trained_stats(case_study("both", input_size=64).build(), (3, 64, 64))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fused = fuse_batchnorm(model)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert isinstance(model.features.block1.bn, nn.BatchNorm2d)
    assert isinstance(fused.features.block1.bn, nn.Identity)
    assert fused.features.block1.conv.bias is not None
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(fused(x), model(x), atol=1e-5)


def test_conv_act_bn_is_left_unfused_with_a_warning() -> None:
    model = trained_stats(
        ModelBuilder(3, 2, 16, batch_norm=True, order="conv-act-bn").conv(4).build(), (3, 16, 16)
    )
    with pytest.warns(UserWarning, match=r"left 1 batch norm.*features\.block1\.bn"):
        fused = fuse_batchnorm(model)
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        assert torch.allclose(fused(x), model(x))


def test_plain_sequential_is_fused_too() -> None:
    model = trained_stats(nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU()), (3, 8, 8))
    fused = fuse_batchnorm(model)
    assert isinstance(fused[1], nn.Identity)
    with pytest.raises(TypeError, match=r"nn\.Module"):
        fuse_batchnorm("model")  # type: ignore[arg-type]
