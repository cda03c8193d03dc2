"""cnnkit.recipes.recommended: the recipe's rules, its models, and a short run on real photos."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnkit.recipes import MAX_EPOCHS, MIN_EPOCHS, TARGET_STEPS, num_blocks, recommended
from cnnkit.training import Trainer
from cnnkit.training.precision import effective_precision

PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "emergency_vehicles"


@settings(max_examples=40, deadline=None)
@given(
    num_classes=st.integers(2, 50),
    side=st.integers(16, 256),
    num_train=st.integers(1, 100_000),
)
def test_recipe_rules_hold_for_any_data_size(num_classes: int, side: int, num_train: int) -> None:
    builder, trainer = recommended(num_classes, side, num_train)
    # epochs: about TARGET_STEPS optimizer steps, clipped to [MIN_EPOCHS, MAX_EPOCHS]
    steps = math.ceil(num_train / trainer.batch_size)
    assert MIN_EPOCHS <= trainer.max_epochs <= MAX_EPOCHS
    if MIN_EPOCHS < trainer.max_epochs < MAX_EPOCHS:
        assert (trainer.max_epochs - 1) * steps < TARGET_STEPS <= trainer.max_epochs * steps
    assert trainer.batch_size == (64 if num_train >= 1024 else 32)
    # the map after the last block is 2 to 7 pixels: the blocks halve it down to the head
    shapes = [shape for name, shape in builder.output_shapes() if name.startswith("features.")]
    assert 2 <= shapes[-1][1] <= 7 or len(shapes) == 5
    assert builder.defaults["batch_norm"] and builder.defaults["head"] == "avg"
    assert builder.num_classes == num_classes


@settings(max_examples=10, deadline=None)
@given(num_classes=st.integers(2, 10), side=st.sampled_from([16, 32, 40, 64, 96]))
def test_recipe_models_run_forward_and_backward(num_classes: int, side: int) -> None:
    builder, _ = recommended(num_classes, side, 500)
    model = builder.build()
    out = model(torch.randn(2, 3, side, side))
    assert out.shape == (2, num_classes)
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_recipe_shape_by_image_size() -> None:
    assert [num_blocks(s) for s in (16, 32, 64, 96, 128, 224)] == [2, 3, 4, 4, 5, 5]
    builder, trainer = recommended(6, (96, 128), 2000)
    assert [layer["out_channels"] for layer in builder.layers] == [32, 64, 128, 256]
    assert trainer.optimizer == "adamw" and trainer.scheduler == "onecycle"
    assert trainer.label_smoothing == 0.1 and trainer.weight_decay == 0.05
    assert trainer.precision == "auto" and trainer.channels_last and trainer.augment is not None


@pytest.mark.parametrize(
    ("args", "match"),
    [((1, 96, 100), "num_classes"), ((2, 96, 0), "num_train"), ((2, 8, 100), "at least 16x16"),
     ((2, 96, 1.5), "num_train")],
)  # fmt: skip
def test_recipe_rejects_bad_arguments(args: tuple, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        recommended(*args)


def test_auto_precision_follows_the_hardware(monkeypatch: pytest.MonkeyPatch) -> None:
    cpu = torch.device("cpu")
    monkeypatch.setattr("cnnkit.training.precision.has_fast_bf16", lambda device: False)
    assert effective_precision("auto", cpu) == "32"
    monkeypatch.setattr("cnnkit.training.precision.has_fast_bf16", lambda device: True)
    assert effective_precision("auto", cpu) == "bf16-mixed"
    assert effective_precision("32", cpu) == "32"
    # a fit under "auto" runs its forward pass in bfloat16 where bf16 is chosen
    seen: list[torch.dtype] = []
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 2))
    model[1].register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    X, y = torch.rand(8, 3, 2, 2), torch.randint(0, 2, (8,))
    Trainer(max_epochs=1, precision="auto", progress=False, device="cpu").fit(model, (X, y))
    assert seen and seen[-1] == torch.bfloat16  # (the first call is the preflight check)
    monkeypatch.setattr("cnnkit.training.precision.has_fast_bf16", lambda device: False)
    seen.clear()
    Trainer(max_epochs=1, precision="auto", progress=False, device="cpu").fit(model, (X, y))
    assert seen[-1] == torch.float32


def test_recipe_learns_the_real_photos() -> None:
    """A short run of the recipe on the 201 real photos: the loss falls and it beats chance."""
    from cnnkit.data import load_image_csv, train_val_split

    ds = load_image_csv(PHOTOS, size=32)
    (xt, yt), (xv, yv) = train_val_split(ds.images, ds.labels, val_fraction=0.25, seed=0)
    builder, trainer = recommended(len(ds.class_names), 32, len(yt))
    trainer = trainer.replace(max_epochs=12, seed=0, progress=False)
    torch.manual_seed(0)
    model = builder.build()
    history = trainer.fit(model, (xt, yt), (xv, yv))
    assert history.train_loss[-1] < 0.9 * history.train_loss[0]
    majority = max(float((yv == c).float().mean()) for c in range(2))
    assert max(history.val_acc) > majority
