"""Contract tests for cnnkit.builder: ModelBuilder, ConvNet, case_study."""

from __future__ import annotations

import inspect
import io
import json

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from cnnkit import ConvBlock, ConvNet, DenseBlock, ModelBuilder, case_study
from cnnkit.builder import DEFAULTS, REPLACEABLE_SETTINGS


def count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_case_study_baseline_has_50586_parameters() -> None:
    model = ModelBuilder(in_channels=3, num_classes=2, input_size=224, batch_norm=False,
                         dropout=0.0).conv(4).conv(8).build()  # fmt: skip
    assert count(model) == 50_586
    # the same network written by hand, as in the case study
    by_hand = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(8 * 56 * 56, 2),
    )  # fmt: skip
    assert count(by_hand) == count(model)
    by_hand.load_state_dict(dict(zip(by_hand.state_dict(), model.state_dict().values(), strict=True)))
    x = torch.randn(2, 3, 224, 224)
    assert torch.allclose(by_hand(x), model(x), atol=1e-6)
    assert count(case_study("baseline").build()) == 50_586


def test_case_study_variants() -> None:
    drop = case_study("dropout").build()
    assert [type(m) for m in drop.modules() if isinstance(m, nn.Dropout)] == [nn.Dropout] * 2
    assert all(m.p == 0.5 for m in drop.modules() if isinstance(m, nn.Dropout))
    bn = case_study("batchnorm").build()
    assert sum(isinstance(m, nn.BatchNorm2d) for m in bn.modules()) == 2
    both = case_study("both").build()
    block = both.features.block1
    assert [n for n, _ in block.named_children()] == ["conv", "bn", "act", "pool", "drop"]
    with pytest.raises(ValueError, match="unknown case-study variant 'bn'"):
        case_study("bn")


def test_model_structure_and_named_parts() -> None:
    model = ModelBuilder(3, 5, 32, batch_norm=True, dropout=0.1).conv(8).conv(16).dense(32).build()
    assert isinstance(model, ConvNet) and isinstance(model, nn.Sequential)
    assert isinstance(model.features.block1, ConvBlock) and isinstance(model.head.dense1, DenseBlock)
    assert model.head.classifier.out_features == 5
    assert model.head.dense1.in_features == 16 * 8 * 8  # computed flatten size
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 5)


def test_avg_head_is_independent_of_input_size() -> None:
    model = ModelBuilder(3, 4, 32, head="avg").conv(8).conv(16).build()
    assert model.head.classifier.in_features == 16
    assert isinstance(model.head.pool, nn.AdaptiveAvgPool2d)


def test_overrides_win_over_defaults_and_replace_keeps_them() -> None:
    b = ModelBuilder(3, 2, 32, dropout=0.2).conv(4).conv(8, dropout=0.0, activation="gelu")
    model = b.build()
    assert isinstance(model.features.block1.drop, nn.Dropout2d)
    assert not hasattr(model.features.block2, "drop")
    assert isinstance(model.features.block2.act, nn.GELU)
    reg = b.replace(batch_norm=True, dropout=0.4, dropout_kind="block")
    assert reg is not b and b.defaults["batch_norm"] is False  # original untouched
    m2 = reg.build()
    assert isinstance(m2.features.block1.bn, nn.BatchNorm2d)
    assert m2.features.block1.drop.p == 0.4
    assert not hasattr(m2.features.block2, "drop")  # the per-layer override still wins


def test_width_multiplier_scales_every_conv() -> None:
    wide = ModelBuilder(3, 2, 32).conv(4).conv(8).replace(width=2.0).build()
    assert [b.out_channels for b in wide.features] == [8, 16]


def test_input_too_small_names_block_and_needed_size() -> None:
    b = ModelBuilder(3, 2, 12).conv(4).conv(8).conv(16).conv(32)
    with pytest.raises(ValueError, match=r"conv block 4 reduces the feature map from 1x1 to 0x0.*at least 16x16"):
        b.build()
    assert b.replace(input_size=16).build()(torch.randn(1, 3, 16, 16)).shape == (1, 2)


def test_builder_errors() -> None:
    with pytest.raises(ValueError, match="at least one conv"):
        ModelBuilder(3, 2, 32).build()
    with pytest.raises(TypeError, match=r"unknown keyword\(s\) \['dropuot'\]"):
        ModelBuilder(3, 2, 32).conv(4, dropuot=0.5)
    with pytest.raises(ValueError, match="unknown activation 'rleu'"):
        ModelBuilder(3, 2, 32, activation="rleu")
    with pytest.raises(ValueError, match="dropout must be a probability"):
        ModelBuilder(3, 2, 32).conv(4, dropout=2)
    with pytest.raises(ValueError, match="unknown head"):
        ModelBuilder(3, 2, 32, head="gap")
    with pytest.raises(ValueError, match="input_size must be"):
        ModelBuilder(3, 2, (32, 32, 3))
    with pytest.raises(ValueError, match="conv\\(\\) after dense"):
        ModelBuilder(3, 2, 32).conv(4).dense(8).conv(4)
    with pytest.raises(TypeError, match="unknown settings"):
        ModelBuilder(3, 2, 32).replace(lr=0.1)
    with pytest.raises(ValueError, match="permute"):
        ModelBuilder(3, 2, 32).conv(4).build()(torch.randn(2, 32, 32, 3))


builder_configs = st.fixed_dictionaries(
    {
        "batch_norm": st.booleans(),
        "dropout": st.sampled_from([0.0, 0.25]),
        "dropout_kind": st.sampled_from(["element", "channel", "block"]),
        "activation": st.sampled_from(["relu", "gelu", "tanh"]),
        "pool": st.sampled_from(["max", "avg"]),
        "order": st.sampled_from(["conv-bn-act", "conv-act-bn"]),
        "head": st.sampled_from(["flatten", "avg"]),
    }
)


@given(
    cfg=builder_configs,
    convs=st.lists(st.integers(1, 8), min_size=1, max_size=3),
    dense=st.lists(st.integers(1, 8), max_size=2),
    classes=st.integers(2, 6),
)
def test_dict_round_trip_gives_same_architecture(
    cfg: dict, convs: list[int], dense: list[int], classes: int
) -> None:
    b = ModelBuilder(3, classes, 16, **cfg)
    for c in convs:
        b.conv(c)
    for u in dense:
        b.dense(u)
    spec = json.loads(json.dumps(b.to_dict()))  # JSON-serializable
    again = ModelBuilder.from_dict(spec)
    assert again == b
    m1, m2 = b.build(), again.build()
    assert str(m1) == str(m2)
    assert list(m1.state_dict()) == list(m2.state_dict())
    assert [t.shape for t in m1.state_dict().values()] == [t.shape for t in m2.state_dict().values()]
    assert count(m1) == b.num_parameters()
    out = m1.eval()(torch.randn(2, 3, 16, 16))
    assert out.shape == (2, classes)
    assert b.output_shapes()[-1][1] == (classes,)


def test_state_dict_save_load_round_trip() -> None:
    b = ModelBuilder(3, 2, 32, batch_norm=True).conv(4).conv(8).dense(16)
    m1 = b.build().eval()
    buf = io.BytesIO()
    torch.save(m1.state_dict(), buf)
    buf.seek(0)
    m2 = ModelBuilder.from_dict(m1.spec).build().eval()
    m2.load_state_dict(torch.load(buf, weights_only=True))
    x = torch.randn(3, 3, 32, 32)
    assert torch.equal(m1(x), m2(x))


def test_callable_layers_build_but_do_not_serialize() -> None:
    b = ModelBuilder(3, 2, 16, activation=nn.Mish).conv(4)
    model = b.build()
    assert isinstance(model.features.block1.act, nn.Mish) and model.spec is None
    with pytest.raises(ValueError, match="only names such as 'relu'"):
        b.to_dict()


def test_from_dict_rejects_bad_specs() -> None:
    with pytest.raises(ValueError, match="missing"):
        ModelBuilder.from_dict({"in_channels": 3})
    good = ModelBuilder(3, 2, 16).conv(4).to_dict()
    with pytest.raises(ValueError, match="version"):
        ModelBuilder.from_dict({**good, "version": 99})
    with pytest.raises(ValueError, match="unknown type 'pool'"):
        ModelBuilder.from_dict({**good, "layers": [{"type": "pool"}]})


def test_summary_lists_shapes_and_totals() -> None:
    text = case_study("baseline").summary()
    assert "Total params: 50,586" in text
    assert "(8, 56, 56)" in text and "(25088)" in text and "50,178" in text
    both = case_study("both").summary()
    assert "conv-bn-act-pool-drop" in both and "Total params: 50,598" in both


def test_repr_is_readable() -> None:
    b = ModelBuilder(3, 2, 32, dropout=0.5).conv(4).conv(8, pool=None)
    assert repr(b) == "ModelBuilder(3, 2, (32, 32), dropout=0.5).conv(4).conv(8, pool=None)"


def test_built_model_traces_with_torch_compile_without_graph_breaks() -> None:
    model = ModelBuilder(3, 2, 16, batch_norm=True, dropout=0.1).conv(4).dense(8).build().eval()
    # fullgraph=True fails on any graph break (e.g. from the input checks); the eager backend
    # checks the capture without spending time on code generation.
    compiled = torch.compile(model, backend="eager", fullgraph=True)
    x = torch.randn(4, 3, 16, 16)
    assert torch.allclose(compiled(x), model(x))


def test_built_model_trains_a_step() -> None:
    model = ModelBuilder(3, 2, 16, batch_norm=True, dropout=0.1).conv(4).build()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(8, 3, 16, 16), torch.randint(0, 2, (8,))
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_model_rejects_wrong_image_size_and_integer_images() -> None:
    model = ModelBuilder(3, 2, 32).conv(4).build()
    with pytest.raises(ValueError, match=r"built for 32x32 images.*got 64x64.*head='avg'"):
        model(torch.randn(1, 3, 64, 64))
    with pytest.raises(ValueError, match=r"floating-point images, got dtype torch.uint8.*/ 255"):
        model(torch.zeros(1, 3, 32, 32, dtype=torch.uint8))
    any_size = ModelBuilder(3, 2, 32, head="avg").conv(4).build()
    assert any_size(torch.randn(1, 3, 64, 48)).shape == (1, 2)


@pytest.mark.parametrize("num_classes", [1, 0, -3])
def test_fewer_than_two_classes_is_refused_with_the_reason(num_classes: int) -> None:
    # One output logit cannot be trained with cross-entropy: refuse it where it is given, not
    # later in the trainer.
    match = rf"num_classes must be at least 2, got {num_classes}: .*one logit per class.*=2"
    with pytest.raises(ValueError, match=match):
        ModelBuilder(3, num_classes, 16)
    with pytest.raises(ValueError, match=match):
        ModelBuilder(3, 2, 16).conv(4).replace(num_classes=num_classes)
    spec = ModelBuilder(3, 2, 16).conv(4).to_dict()
    with pytest.raises(ValueError, match=match):
        ModelBuilder.from_dict({**spec, "num_classes": num_classes})
    with pytest.raises(ValueError, match=match):
        case_study(num_classes=num_classes)
    with pytest.raises(ValueError, match="num_classes must be a positive int"):
        ModelBuilder(3, 2.0, 16)  # type: ignore[arg-type]
    assert ModelBuilder(3, 2, 16).conv(4).build()(torch.randn(1, 3, 16, 16)).shape == (1, 2)


def test_replaceable_settings_are_exactly_what_replace_accepts() -> None:
    assert set(DEFAULTS) | {"in_channels", "num_classes", "input_size"} == REPLACEABLE_SETTINGS
    # ... which are the constructor's arguments, so a new builder argument cannot be forgotten
    assert set(inspect.signature(ModelBuilder).parameters) == REPLACEABLE_SETTINGS
    base = ModelBuilder(3, 2, 16).conv(4)
    values = {**DEFAULTS, "in_channels": 1, "num_classes": 3, "input_size": 32}
    for name in REPLACEABLE_SETTINGS:
        base.replace(**{name: values[name]})  # every advertised setting is accepted
    with pytest.raises(TypeError, match="unknown settings"):
        base.replace(lr=0.1)


@pytest.mark.parametrize("width", [float("nan"), float("inf"), 0, -1.0])
def test_width_must_be_positive_and_finite(width: float) -> None:
    with pytest.raises(ValueError, match="width must be a positive finite number"):
        ModelBuilder(3, 2, 32, width=width)
