"""The builder's settings: its defaults, the per-block overrides, the heads and the spec version.

These tables are the one definition of what :class:`~cnnkit.builder.ModelBuilder` accepts; the
constructor, :meth:`~cnnkit.builder.ModelBuilder.replace`, :meth:`~cnnkit.builder.ModelBuilder.conv`
and :meth:`~cnnkit.builder.ModelBuilder.dense` check their arguments against them.
"""

from __future__ import annotations

from typing import Any

from cnnkit._validate import check_positive_int

__all__ = [
    "CONV_OVERRIDES",
    "DEFAULTS",
    "DENSE_OVERRIDES",
    "HEADS",
    "REPLACEABLE_SETTINGS",
    "RESIDUAL_OVERRIDES",
    "SPEC_VERSION",
]

SPEC_VERSION = 1
"""Version of the :meth:`ModelBuilder.to_dict` format; :meth:`ModelBuilder.from_dict` reads only
this one."""

HEADS = ("flatten", "avg")
"""Classifier heads: ``"flatten"`` (Flatten -> Linear) or ``"avg"`` (global average pooling,
then Flatten -> Linear)."""

DEFAULTS: dict[str, Any] = {
    "batch_norm": False,  # BatchNorm after every conv / dense layer
    "dropout": 0.0,  # drop probability of every block (0 = no dropout layer)
    "dropout_kind": "channel",  # conv blocks: "channel" (Dropout2d), "element" or "block"
    "block_size": 7,  # DropBlock square size when dropout_kind="block"
    "activation": "relu",  # every block's activation
    "pool": "max",  # pooling after every conv block: "max", "avg" or None
    "pool_size": 2,  # pooling kernel and stride
    "kernel_size": 3,  # conv kernel side
    "order": "conv-bn-act",  # or "conv-act-bn"
    "head": "flatten",  # "flatten" (Flatten -> Linear) or "avg" (global average pooling)
    "width": 1.0,  # multiplier of every conv's out_channels (a capacity knob for remedies)
}
"""Builder-level defaults (the keyword arguments of :class:`ModelBuilder`) and their values when
not given; ``builder.defaults`` holds a builder's own."""

REPLACEABLE_SETTINGS: frozenset[str] = frozenset(DEFAULTS) | {
    "in_channels",
    "num_classes",
    "input_size",
}
"""Every setting :meth:`ModelBuilder.replace` accepts (what a remedy's ``builder`` part may
change): the keys of :data:`DEFAULTS` plus ``in_channels``, ``num_classes`` and ``input_size``."""

CONV_OVERRIDES = frozenset(
    {
        "kernel_size", "stride", "padding", "dilation", "groups", "bias", "batch_norm",
        "activation", "pool", "pool_size", "dropout", "dropout_kind", "block_size", "order",
    }
)  # fmt: skip
"""Keywords :meth:`ModelBuilder.conv` accepts as per-block overrides."""

RESIDUAL_OVERRIDES = frozenset(
    {
        "stride", "kernel_size", "batch_norm", "activation", "dropout", "dropout_kind",
        "block_size", "drop_path", "projection", "zero_init",
    }
)  # fmt: skip
"""Keywords :meth:`ModelBuilder.residual` accepts (see :class:`~cnnkit.layers.ResidualBlock`).
A residual block takes ``activation``, ``dropout``, ``dropout_kind``, ``block_size`` and
``kernel_size`` from the builder's defaults, but has batch norm unless given
``batch_norm=False`` (a residual stack without normalization trains poorly)."""

DENSE_OVERRIDES = frozenset({"bias", "batch_norm", "activation", "dropout", "order"})
"""Keywords :meth:`ModelBuilder.dense` accepts as per-block overrides."""


def _check_num_classes(num_classes: object) -> None:
    """Refuse a ``num_classes`` that cannot make a cross-entropy classifier.

    Raises:
        ValueError: ``num_classes`` is not an int ``>= 2``.
    """
    if isinstance(num_classes, int) and not isinstance(num_classes, bool) and num_classes < 2:
        raise ValueError(
            f"num_classes must be at least 2, got {num_classes}: cnnkit classifiers output one "
            "logit per class for cross-entropy, so a binary task uses num_classes=2"
        )
    check_positive_int(num_classes, "num_classes")
