"""Contract tests of ResidualBlock, drop_path/DropPath and ModelBuilder.residual()."""

from __future__ import annotations

import json

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from cnnkit import ModelBuilder
from cnnkit.layers import DropPath, ResidualBlock, drop_path


def _out_side(side: int, stride: int) -> int:
    return (side - 1) // stride + 1


@settings(max_examples=25)
@given(
    c_in=st.integers(1, 6),
    c_out=st.integers(1, 6),
    stride=st.integers(1, 3),
    h=st.integers(1, 11),
    w=st.integers(1, 11),
    batch_norm=st.booleans(),
)
def test_output_shape_arithmetic(
    c_in: int, c_out: int, stride: int, h: int, w: int, batch_norm: bool
) -> None:
    block = ResidualBlock(c_in, c_out, stride=stride, batch_norm=batch_norm).eval()
    expected = (2, c_out, _out_side(h, stride), _out_side(w, stride))
    assert block.output_shape((2, c_in, h, w)) == expected
    assert block.output_shape((c_in, h, w)) == expected[1:]
    assert tuple(block(torch.randn(2, c_in, h, w)).shape) == expected
    assert block.has_projection == (stride != 1 or c_in != c_out)


@settings(max_examples=10)
@given(channels=st.integers(1, 6), side=st.integers(1, 9), p=st.floats(0.0, 0.9))
def test_eval_is_deterministic_and_drop_path_is_off(channels: int, side: int, p: float) -> None:
    block = ResidualBlock(channels, channels, dropout=0.5, drop_path=p).eval()
    x = torch.randn(3, channels, side, side)
    torch.testing.assert_close(block(x), block(x), rtol=0, atol=0)


def test_identity_shortcut_when_shapes_match() -> None:
    block = ResidualBlock(4, 4, zero_init=True).eval()  # branch starts at exactly 0
    assert isinstance(block.shortcut, nn.Identity)
    x = torch.randn(2, 4, 6, 6)
    torch.testing.assert_close(block(x), torch.relu(x))


def test_projection_shortcut_is_conv_and_batch_norm() -> None:
    block = ResidualBlock(4, 8, stride=2)
    assert isinstance(block.shortcut.conv, nn.Conv2d)
    assert block.shortcut.conv.kernel_size == (1, 1) and block.shortcut.conv.stride == (2, 2)
    assert isinstance(block.shortcut.bn, nn.BatchNorm2d)
    assert block.branch.conv1.bias is None  # batch norm follows every conv
    no_bn = ResidualBlock(4, 8, batch_norm=False)
    assert no_bn.branch.conv1.bias is not None and not hasattr(no_bn.shortcut, "bn")
    forced = ResidualBlock(4, 4, projection=True)
    assert forced.has_projection


def test_fuse_batchnorm_folds_every_batch_norm_of_the_block() -> None:
    from cnnkit import fuse_batchnorm

    model = ModelBuilder(3, 2, 16, head="avg").conv(4, batch_norm=True, pool=None)
    model = model.residual(8, stride=2).build().eval()
    for bn in (m for m in model.modules() if isinstance(m, nn.BatchNorm2d)):
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2.0)
    fused = fuse_batchnorm(model)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fused.modules())
    x = torch.randn(2, 3, 16, 16)
    torch.testing.assert_close(fused(x), model(x), atol=1e-5, rtol=1e-5)


def test_bad_arguments_say_what_to_do() -> None:
    with pytest.raises(ValueError, match="projection=False needs the shape kept"):
        ResidualBlock(4, 8, projection=False)
    with pytest.raises(ValueError, match="drop_path must be a probability in"):
        ResidualBlock(4, 4, drop_path=1.0)
    with pytest.raises(ValueError, match="odd kernel_size"):
        ResidualBlock(4, 4, kernel_size=2)
    with pytest.raises(ValueError, match="looks channels-last"):
        ResidualBlock(3, 4)(torch.randn(1, 8, 8, 3))


def test_drop_path_keeps_each_sample_with_probability_one_minus_p() -> None:
    p, n = 0.3, 20_000
    gen = torch.Generator().manual_seed(1234)
    out = drop_path(torch.ones(n, 2, 2, 2), p, training=True, generator=gen)
    per_sample = out.flatten(1)
    # a sample is either dropped whole or kept whole and rescaled by 1 / (1 - p)
    assert torch.all(per_sample == per_sample[:, :1])
    first = per_sample[:, 0]
    assert torch.all((first == 0) | torch.isclose(first, torch.tensor(1 / (1 - p))))
    kept = (per_sample[:, 0] > 0).float().mean().item()
    sigma = (p * (1 - p) / n) ** 0.5
    assert abs(kept - (1 - p)) < 4 * sigma
    again = drop_path(torch.ones(n, 2, 2, 2), p, training=True,
                      generator=torch.Generator().manual_seed(1234))  # fmt: skip
    torch.testing.assert_close(out, again, rtol=0, atol=0)  # seeded: reproducible


@given(p=st.floats(0.0, 0.99))
def test_drop_path_is_identity_in_eval(p: float) -> None:
    x = torch.randn(4, 3, 2, 2)
    assert drop_path(x, p, training=False) is x
    layer = DropPath(p).eval()
    assert layer(x) is x
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        drop_path(x, 1.0, training=True)


def test_drop_path_preserves_the_mean() -> None:
    x = torch.ones(50_000, 1)
    out = DropPath(0.5).train()(x)
    assert abs(out.mean().item() - 1.0) < 0.03


def test_builder_residual_makes_a_small_resnet() -> None:
    builder = (
        ModelBuilder(3, 5, 32, head="avg", dropout=0.1)
        .conv(8, batch_norm=True, pool=None)
        .residual(8)
        .residual(16, stride=2, drop_path=0.1)
        .dense(12)
    )
    model = builder.build()
    blocks = list(model.features.children())
    assert isinstance(blocks[1], ResidualBlock) and not blocks[1].has_projection
    assert isinstance(blocks[2], ResidualBlock) and blocks[2].has_projection
    assert isinstance(blocks[2].drop_path, DropPath) and blocks[2].drop_path.p == 0.1
    assert isinstance(blocks[1].branch.drop, nn.Dropout2d)  # the builder's dropout default
    assert isinstance(blocks[1].branch.bn1, nn.BatchNorm2d)  # residual blocks have batch norm
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 5)
    shapes = dict(builder.output_shapes())
    assert shapes["features.block3"] == (16, 16, 16)
    assert builder.num_parameters() == sum(p.numel() for p in model.parameters())
    assert "ResidualBlock(8->16: projection, stride 2)" in builder.summary()


def test_builder_residual_round_trips_and_replaces() -> None:
    builder = ModelBuilder(3, 2, 48).conv(8).residual(16, stride=2, zero_init=True).dense(4)
    spec = json.loads(json.dumps(builder.to_dict()))
    again = ModelBuilder.from_dict(spec)
    assert again == builder
    assert repr(again) == repr(builder)
    assert "residual(16, stride=2, zero_init=True)" in repr(builder)
    torch.manual_seed(0)
    a = builder.build()
    torch.manual_seed(0)
    b = again.build()
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert ka == kb and torch.equal(va, vb)
    wide = builder.replace(width=2.0, activation="gelu")
    block = wide.build().features.block2
    assert isinstance(block, ResidualBlock) and block.out_channels == 32
    assert isinstance(block.act, nn.GELU)
    assert builder.build().features.block2.out_channels == 16  # the original is untouched


def test_builder_residual_checks_its_arguments() -> None:
    builder = ModelBuilder(3, 2, 32).conv(8)
    with pytest.raises(TypeError, match=r"residual\(\) got unknown keyword"):
        builder.residual(8, pool="max")
    with pytest.raises(ValueError, match="drop_path must be a probability"):
        builder.residual(8, drop_path=1.5)
    builder.dense(4)
    with pytest.raises(ValueError, match=r"residual\(\) after dense\(\)"):
        builder.residual(8)
    with pytest.raises(ValueError, match="unknown type 'bottleneck'"):
        ModelBuilder.from_dict({**builder.to_dict(), "layers": [{"type": "bottleneck"}]})


def test_builder_of_residual_blocks_alone() -> None:
    model = ModelBuilder(1, 3, 16, head="avg").residual(4, stride=2).build()
    assert model(torch.randn(2, 1, 16, 16)).shape == (2, 3)
    assert model.spec is not None and model.spec["layers"][0]["type"] == "residual"
