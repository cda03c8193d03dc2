"""Contract tests for cnnkit.layers: ConvBlock, DenseBlock, DropBlock2d and the factories.

The property-based tests read as the blocks' contract: for every valid configuration, shapes follow
the convolution arithmetic, eval mode is deterministic, and every parameter gets a finite gradient.
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from cnnkit.layers import (
    ConvBlock,
    DenseBlock,
    DropBlock2d,
    get_activation,
    get_dropout,
    get_pool,
)


def conv_out(size: int, k: int, s: int, p: int, d: int) -> int:
    """PyTorch's documented Conv2d output formula (independent of cnnkit's code)."""
    return math.floor((size + 2 * p - d * (k - 1) - 1) / s + 1)


conv_configs = st.fixed_dictionaries(
    {
        "in_channels": st.integers(1, 5),
        "out_channels": st.integers(1, 6),
        "kernel_size": st.sampled_from([1, 3, 5]),
        "stride": st.integers(1, 2),
        "dilation": st.integers(1, 2),
        "batch_norm": st.booleans(),
        "activation": st.sampled_from(["relu", "leaky_relu", "elu", "gelu", "silu", "tanh", None]),
        "pool": st.sampled_from(["max", "avg", None]),
        "pool_size": st.integers(1, 3),
        "dropout": st.sampled_from([0.0, 0.2, 0.5]),
        "dropout_kind": st.sampled_from(["element", "channel", "block"]),
        "order": st.sampled_from(["conv-bn-act", "conv-act-bn"]),
    }
)


@given(cfg=conv_configs, size=st.integers(8, 24), batch=st.integers(2, 4))
def test_conv_block_shape_matches_conv_arithmetic(cfg: dict, size: int, batch: int) -> None:
    block = ConvBlock(**cfg)
    x = torch.randn(batch, cfg["in_channels"], size, size + 1)
    pad = cfg["dilation"] * (cfg["kernel_size"] - 1) // 2
    h = conv_out(size, cfg["kernel_size"], cfg["stride"], pad, cfg["dilation"])
    w = conv_out(size + 1, cfg["kernel_size"], cfg["stride"], pad, cfg["dilation"])
    if cfg["stride"] == 1:  # "same" padding keeps the size at stride 1
        assert (h, w) == (size, size + 1)
    if cfg["pool"] is not None:
        h, w = h // cfg["pool_size"], w // cfg["pool_size"]
    out = block(x)
    assert out.shape == (batch, cfg["out_channels"], h, w)
    assert block.output_shape(x.shape) == tuple(out.shape)
    assert block.output_shape(x.shape[1:]) == tuple(out.shape[1:])


@given(cfg=conv_configs, size=st.integers(8, 16))
def test_conv_block_eval_is_deterministic_and_grads_are_finite(cfg: dict, size: int) -> None:
    torch.manual_seed(0)
    block = ConvBlock(**cfg)
    x = torch.randn(3, cfg["in_channels"], size, size)
    block.train()
    block(x).square().mean().backward()
    for name, p in block.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
    block.eval()
    with torch.no_grad():
        assert torch.equal(block(x), block(x))


@given(cfg=conv_configs)
def test_no_dropout_no_bn_train_equals_eval(cfg: dict) -> None:
    cfg = {**cfg, "dropout": 0.0, "batch_norm": False}
    block = ConvBlock(**cfg)
    x = torch.randn(2, cfg["in_channels"], 12, 12)
    with torch.no_grad():
        assert torch.equal(block.train()(x), block.eval()(x))


def test_default_order_and_layers() -> None:
    block = ConvBlock(3, 8, batch_norm=True, dropout=0.2)
    assert [name for name, _ in block.named_children()] == ["conv", "bn", "act", "pool", "drop"]
    assert isinstance(block.drop, nn.Dropout2d)  # channel-wise is the default after a conv
    swapped = ConvBlock(3, 8, batch_norm=True, order="conv-act-bn")
    assert [name for name, _ in swapped.named_children()] == ["conv", "act", "bn", "pool"]


def test_conv_bias_only_without_a_following_batch_norm() -> None:
    assert ConvBlock(3, 4).conv.bias is not None
    assert ConvBlock(3, 4, batch_norm=True).conv.bias is None
    # conv-act-bn: the norm does not directly follow the conv, so the bias is not redundant
    assert ConvBlock(3, 4, batch_norm=True, order="conv-act-bn").conv.bias is not None
    assert ConvBlock(3, 4, batch_norm=True, bias=True).conv.bias is not None
    assert DenseBlock(3, 4, batch_norm=True).linear.bias is None
    assert DenseBlock(3, 4).linear.bias is not None


def test_padding_same_valid_and_int() -> None:
    x = torch.randn(1, 2, 17, 17)
    assert ConvBlock(2, 2, 5, dilation=3, pool=None)(x).shape[-2:] == (17, 17)
    assert ConvBlock(2, 2, 5, padding="valid", pool=None)(x).shape[-2:] == (13, 13)
    assert ConvBlock(2, 2, 3, padding=0, pool=None)(x).shape[-2:] == (15, 15)
    assert ConvBlock(2, 2, 3, stride=2, pool=None)(x).shape[-2:] == (9, 9)  # ceil(17 / 2)


@pytest.mark.parametrize(
    ("kind", "cls"),
    [("element", nn.Dropout), ("channel", nn.Dropout2d), ("block", DropBlock2d),
     ("dropblock", DropBlock2d), ("Dropout2d", nn.Dropout2d)],
)  # fmt: skip
def test_dropout_kinds(kind: str, cls: type) -> None:
    layer = get_dropout(0.3, kind)
    assert type(layer) is cls
    assert get_dropout(0.0, kind) is None


def test_layer_factories_accept_names_and_callables() -> None:
    assert isinstance(get_activation("ReLU"), nn.ReLU)
    assert isinstance(get_activation(nn.Mish), nn.Mish)
    assert isinstance(get_activation(lambda: nn.LeakyReLU(0.2)), nn.LeakyReLU)
    assert get_activation(None) is None and get_activation("identity") is None
    assert isinstance(get_pool("avg", 3), nn.AvgPool2d)
    block = ConvBlock(3, 4, activation=nn.Hardswish, pool=lambda: nn.MaxPool2d(3))
    assert isinstance(block.act, nn.Hardswish)
    assert block.output_shape((3, 12, 12)) == (4, 4, 4)
    assert block(torch.randn(1, 3, 12, 12)).shape == (1, 4, 4, 4)
    assert block.act is not ConvBlock(3, 4, activation=nn.Hardswish).act  # a fresh layer each


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"activation": "relu6"}, "unknown activation 'relu6'"),
        ({"activation": nn.ReLU()}, "not nn.ReLU()"),
        ({"activation": lambda: 3}, "returned int"),
        ({"pool": "min"}, "unknown pool 'min'"),
        ({"dropout": 1.0}, r"dropout must be a probability in \[0, 1\), got 1.0"),
        ({"dropout": -0.1}, "got -0.1"),
        ({"dropout": 0.1, "dropout_kind": "spatial"}, "unknown dropout_kind 'spatial'"),
        ({"kernel_size": 4}, "odd kernel_size, got 4"),
        ({"padding": "full"}, "padding must be"),
        ({"order": "bn-conv-act"}, "unknown order"),
        ({"stride": 0}, "stride must be a positive int, got 0"),
        ({"pool_size": 0}, "pool_size must be a positive int"),
        ({"groups": 2}, "divisible by groups=2"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs: dict, match: str) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        ConvBlock(3, 4, **kwargs)


def test_bad_inputs_raise_actionable_errors() -> None:
    block = ConvBlock(3, 8)
    with pytest.raises(ValueError, match=r"permute\(0, 3, 1, 2\)"):
        block(torch.randn(2, 32, 32, 3))  # NHWC
    with pytest.raises(ValueError, match=r"expects 3 input channels.*with 1 channels"):
        block(torch.randn(2, 1, 32, 32))
    with pytest.raises(ValueError, match=r"4-D \(N, C, H, W\).*unsqueeze\(0\)"):
        block(torch.randn(3, 32, 32))
    with pytest.raises(ValueError, match=r"\(N, 16\)"):
        DenseBlock(16, 4)(torch.randn(2, 4, 2, 2))
    with pytest.raises(ValueError, match=r"channels"):
        block.output_shape((1, 32, 32))


def test_batch_norm_eval_accepts_batch_of_one() -> None:
    block = ConvBlock(3, 4, batch_norm=True).eval()
    assert block(torch.randn(1, 3, 8, 8)).shape == (1, 4, 4, 4)
    dense = DenseBlock(5, 3, batch_norm=True).eval()
    assert dense(torch.randn(1, 5)).shape == (1, 3)


@given(
    in_f=st.integers(1, 32),
    out_f=st.integers(1, 32),
    bn=st.booleans(),
    drop=st.sampled_from([0.0, 0.5]),
    order=st.sampled_from(["conv-bn-act", "conv-act-bn"]),
)
def test_dense_block_shapes_and_grads(in_f: int, out_f: int, bn: bool, drop: float, order: str) -> None:
    block = DenseBlock(in_f, out_f, batch_norm=bn, dropout=drop, order=order)
    x = torch.randn(4, in_f)
    out = block(x)
    assert out.shape == (4, out_f) and block.output_shape((4, in_f)) == (4, out_f)
    out.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in block.parameters())


# ----------------------------------------------------------------------------- DropBlock


@pytest.mark.parametrize(("p", "block_size", "size"), [(0.1, 3, 16), (0.25, 5, 24), (0.5, 7, 14)])
def test_dropblock_drops_the_requested_fraction(p: float, block_size: int, size: int) -> None:
    torch.manual_seed(1234)
    drop = DropBlock2d(p, block_size).train()
    out = drop(torch.ones(64, 16, size, size))
    n = out.numel()
    fraction = (out == 0).float().mean().item()
    # Blocks make drops correlated; allow a generous tolerance well above sampling noise.
    assert abs(fraction - p) < 0.02 + 3 * math.sqrt(p * (1 - p) * block_size**2 / n), fraction
    kept = out[out != 0]
    assert torch.allclose(out.mean(), torch.tensor(1.0), atol=1e-5)  # rescaled to keep the mean
    assert torch.allclose(kept, kept[0].expand_as(kept))


def test_dropblock_drops_contiguous_squares() -> None:
    torch.manual_seed(0)
    out = DropBlock2d(0.05, 5).train()(torch.ones(1, 1, 64, 64))[0, 0]
    dropped = out == 0
    assert dropped.any()
    # a lone dropped pixel surrounded by kept ones cannot come from 5x5 blocks
    padded = torch.nn.functional.pad(dropped.float()[None, None], (1, 1, 1, 1))
    neighbours = torch.nn.functional.conv2d(padded, torch.ones(1, 1, 3, 3))[0, 0] - 1
    assert (neighbours[dropped] >= 3).all()


def test_dropblock_is_identity_in_eval_and_at_zero() -> None:
    x = torch.randn(2, 3, 10, 10)
    assert torch.equal(DropBlock2d(0.3, 3).eval()(x), x)
    assert torch.equal(DropBlock2d(0.0, 3).train()(x), x)
    with pytest.raises(ValueError, match="block_size must be a positive int"):
        DropBlock2d(0.1, 0)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        DropBlock2d(0.1, 3).train()(torch.randn(3, 10, 10))


def test_dropblock_rate_is_uniform_up_to_the_borders() -> None:
    # Every position, corners included, is dropped with probability p, also when the block is
    # clipped to a map smaller than block_size.
    torch.manual_seed(0)
    p, n = 0.3, 4096
    for block_size, size in [(9, 4), (3, 10)]:
        out = DropBlock2d(p, block_size).train()(torch.ones(n, 1, size, size))
        rate = (out == 0).float().mean(dim=(0, 1))  # per position
        tol = 4 * math.sqrt(p * (1 - p) / n)
        assert (rate - p).abs().max().item() < tol, rate
