"""cnnkit.study.escalation: improve()'s steps escalate from what a run has, never repeat it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnkit import augment
from cnnkit.builder import ModelBuilder
from cnnkit.diagnosis import Label
from cnnkit.study import add_blocks, apply_change, escalation_steps
from cnnkit.study.remedy_loop import _config_key
from cnnkit.training import Trainer

LABELS = [Label.OVERFITTING, Label.UNDERFITTING, Label.SLOW_CONVERGING, Label.HEALTHY]


@st.composite
def configs(draw: st.DrawFn) -> tuple[ModelBuilder, Trainer]:
    builder = ModelBuilder(
        3, 2, draw(st.sampled_from([16, 32, 64])),
        batch_norm=draw(st.booleans()),
        dropout=draw(st.sampled_from([0.0, 0.1, 0.25, 0.5])),
        head=draw(st.sampled_from(["flatten", "avg"])),
        width=draw(st.sampled_from([0.5, 1.0, 4.0])),
    ).conv(4).conv(8)  # fmt: skip
    strength = draw(st.sampled_from([None, 0.5, 1.0, 3.0]))
    trainer = Trainer(
        max_epochs=draw(st.integers(1, 40)),
        optimizer=draw(st.sampled_from(["adam", "adamw", "sgd"])),
        weight_decay=draw(st.sampled_from([0.0, 0.05, 0.2])),
        scheduler=draw(st.sampled_from([None, "onecycle", "cosine"])),
        label_smoothing=draw(st.sampled_from([0.0, 0.1])),
        augment=None if strength is None else augment.default(strength),
    )
    return builder, trainer


@settings(max_examples=60, deadline=None)
@given(config=configs(), label=st.sampled_from(LABELS))
def test_every_step_applies_and_changes_something(config: tuple[ModelBuilder, Trainer], label: Label) -> None:
    builder, trainer = config
    before = _config_key(builder, trainer)
    for step in escalation_steps(label, builder, trainer):
        b = add_blocks(builder, step.add_blocks) if step.add_blocks else builder
        new_builder, new_trainer = apply_change(step.change, b, trainer)
        assert _config_key(new_builder, new_trainer) != before, step.text
        # never what the run already has
        if builder.defaults["batch_norm"]:
            assert "batch_norm" not in step.change.builder, step.text
        if trainer.augment is not None:
            assert step.change.augment != "default", step.text
        if builder.defaults["dropout"] > 0:
            assert step.change.builder.get("dropout", 1.0) > builder.defaults["dropout"], step.text
        if trainer.scheduler is not None:
            assert "scheduler" not in step.change.trainer, step.text


def test_overfitting_ladder_from_the_case_study_baseline() -> None:
    base = ModelBuilder(3, 2, 64).conv(4).conv(8)
    texts = [s.text for s in escalation_steps("overfitting", base, Trainer(max_epochs=25, lr=1e-4))]
    assert texts[0] == "Regularize: batch norm after every conv and augment.default()."
    assert texts[1].startswith("Optimize like the recipe") and "onecycle" in texts[1]
    assert texts[-1].startswith("Use a global-average-pooling head")


def test_underfitting_adds_depth_then_width() -> None:
    base = ModelBuilder(3, 2, 64, batch_norm=True).conv(4).conv(8)
    steps = escalation_steps("underfitting", base, Trainer(max_epochs=10))
    assert steps[0].add_blocks == 1 and steps[1].change.builder == {"width": 2.0}
    assert steps[2].change.trainer == {"max_epochs": 20, "scheduler": "onecycle"}
    # no depth step once another pooling would leave a map under 4 pixels
    deep = ModelBuilder(3, 2, 16).conv(4).conv(8)
    assert all(s.add_blocks == 0 for s in escalation_steps("underfitting", deep, Trainer(max_epochs=10)))


def test_add_blocks_doubles_the_last_width_up_to_the_cap() -> None:
    b = add_blocks(ModelBuilder(3, 2, 256).conv(64).conv(128), 3)
    assert [layer["out_channels"] for layer in b.layers] == [64, 128, 256, 256, 256]
    with pytest.raises(ValueError, match="at least one conv block"):
        add_blocks(ModelBuilder(3, 2, 32), 1)
    # divergence and inconclusive runs get the diagnosis' own remedies, not a ladder
    assert escalation_steps("diverging", b, Trainer(max_epochs=1)) == []
    assert escalation_steps("inconclusive", b, Trainer(max_epochs=1)) == []
