"""ModelBuilder: describe a small CNN in a few fluent calls, build it, save the description.

A builder holds *defaults* (batch norm, dropout, activation, pooling, ...) that apply to every
block, and a list of *layers* (``.conv(...)``, ``.residual(...)`` and ``.dense(...)`` calls) whose keyword overrides
win over the defaults. ``build()`` turns it into a plain :class:`ConvNet` (an ``nn.Sequential``
with ``features`` and ``head``) whose flatten size is computed, never hand-written.
``replace(**defaults)`` returns a modified copy, which is how diagnosis remedies such as
``{"builder": {"dropout": 0.25}}`` are applied.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from cnnkit._validate import check_choice, check_positive_int, is_number, size_pair
from cnnkit.builder.convnet import ConvNet
from cnnkit.builder.settings import (
    CONV_OVERRIDES,
    DEFAULTS,
    DENSE_OVERRIDES,
    HEADS,
    REPLACEABLE_SETTINGS,
    RESIDUAL_OVERRIDES,
    SPEC_VERSION,
    _check_num_classes,
)
from cnnkit.builder.sizing import min_input_side, too_small_message
from cnnkit.builder.summary import builder_repr, summary_table
from cnnkit.layers.conv_block import ConvBlock
from cnnkit.layers.dense_block import DenseBlock
from cnnkit.layers.factories import LayerSpec, _canonical_dropout_kind
from cnnkit.layers.residual_block import ResidualBlock

__all__ = ["ModelBuilder"]


class ModelBuilder:
    """Fluent description of a CNN classifier, with builder-level regularization defaults.

    Args:
        in_channels: image channels (3 for RGB).
        num_classes: number of classes (width of the output logits), at least 2: the model
            outputs one logit per class for cross-entropy, so a binary task uses 2.
        input_size: image side ``S`` or ``(H, W)``; used to compute the flatten size.
        batch_norm: default for every block: batch norm after the conv/linear layer.
        dropout: default drop probability of every block, in ``[0, 1)``.
        dropout_kind: conv blocks' dropout: ``"channel"`` (``Dropout2d``, default), ``"element"``
            or ``"block"`` (DropBlock). Dense blocks always use element-wise dropout.
        block_size: DropBlock square size.
        activation: default activation name or factory (see :func:`cnnkit.layers.get_activation`).
        pool: pooling after every conv block: ``"max"``, ``"avg"``, a factory, or ``None``.
        pool_size: pooling kernel and stride.
        kernel_size: default conv kernel side (odd, for ``"same"`` padding).
        order: ``"conv-bn-act"`` or ``"conv-act-bn"``.
        head: ``"flatten"`` (flatten the last feature map) or ``"avg"`` (global average pooling
            first: far fewer parameters, independent of the input size).
        width: multiplier applied to every conv's ``out_channels`` (rounded, at least 1).

    Raises:
        ValueError: a bad argument (``num_classes < 2``, a non-positive size, an unknown name,
            a dropout outside ``[0, 1)``, ...), checked here rather than at :meth:`build`.
            A wrong-typed ``input_size`` raises :class:`~cnnkit._validate.SizeTypeError`, which
            is both a ``ValueError`` and a ``TypeError``.

    ``conv``, ``residual`` and ``dense`` add a layer and return the builder itself, so calls chain. Use
    :meth:`copy` or :meth:`replace` for a variant that leaves the original untouched.

    Example:
        >>> builder = (ModelBuilder(3, 2, 64, batch_norm=True, dropout=0.2)
        ...            .conv(16).conv(32, dropout=0.3).dense(64))
        >>> model = builder.build()
        >>> model(torch.randn(4, 3, 64, 64)).shape
        torch.Size([4, 2])

        A small ResNet: a stem conv, residual stages (stride 2 halves the map) and an
        average-pooling head:

        >>> resnet = (ModelBuilder(3, 10, 32, head="avg").conv(16, batch_norm=True, pool=None)
        ...           .residual(16).residual(32, stride=2).residual(64, stride=2))
        >>> resnet.build()(torch.randn(2, 3, 32, 32)).shape
        torch.Size([2, 10])
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        input_size: int | Sequence[int],
        *,
        batch_norm: bool = False,
        dropout: float = 0.0,
        dropout_kind: str = "channel",
        block_size: int = 7,
        activation: LayerSpec = "relu",
        pool: LayerSpec = "max",
        pool_size: int = 2,
        kernel_size: int = 3,
        order: str = "conv-bn-act",
        head: str = "flatten",
        width: float = 1.0,
    ) -> None:
        check_positive_int(in_channels, "in_channels")
        _check_num_classes(num_classes)
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.input_size = size_pair(input_size, "input_size")
        check_choice(head, "head", HEADS)
        if not is_number(width) or not math.isfinite(width) or width <= 0:
            raise ValueError(f"width must be a positive finite number, got {width!r}")
        self.defaults: dict[str, Any] = {
            "batch_norm": batch_norm,
            "dropout": dropout,
            "dropout_kind": _canonical_dropout_kind(dropout_kind),
            "block_size": block_size,
            "activation": activation,
            "pool": pool,
            "pool_size": pool_size,
            "kernel_size": kernel_size,
            "order": order,
            "head": head,
            "width": float(width),
        }
        self.layers: list[dict[str, Any]] = []
        # Validate the defaults now (a bad activation name should fail here, not at build()).
        with torch.device("meta"):
            ConvBlock(in_channels, 1, **self._conv_kwargs({}))
            DenseBlock(1, 1, **self._dense_kwargs({}))

    # ------------------------------------------------------------------ fluent API
    def conv(self, out_channels: int, **overrides: Any) -> ModelBuilder:
        """Append a :class:`~cnnkit.layers.ConvBlock` with ``out_channels`` (times ``width``).

        Args:
            out_channels: channels of this block before the ``width`` multiplier.
            **overrides: any :class:`~cnnkit.layers.ConvBlock` keyword (``kernel_size``,
                ``stride``, ``padding``, ``dilation``, ``groups``, ``bias``, ``batch_norm``,
                ``activation``, ``pool``, ``pool_size``, ``dropout``, ``dropout_kind``,
                ``block_size``, ``order``) for this block only.

        Returns:
            The builder itself.

        Raises:
            TypeError: an unknown keyword. ValueError: a bad value (checked immediately).
        """
        return self._add_feature("conv", out_channels, overrides, CONV_OVERRIDES)

    def residual(self, out_channels: int, **overrides: Any) -> ModelBuilder:
        """Append a :class:`~cnnkit.layers.ResidualBlock` with ``out_channels`` (times ``width``).

        A residual block downsamples by its ``stride`` (no pooling layer) and has batch norm
        unless ``batch_norm=False`` is given; it takes ``activation``, ``dropout``,
        ``dropout_kind``, ``block_size`` and ``kernel_size`` from the builder's defaults.
        Residual and conv blocks can be mixed in any order, before the dense blocks.

        Args:
            out_channels: channels of this block before the ``width`` multiplier.
            **overrides: any of :data:`~cnnkit.builder.RESIDUAL_OVERRIDES` (``stride``,
                ``kernel_size``, ``batch_norm``, ``activation``, ``dropout``, ``dropout_kind``,
                ``block_size``, ``drop_path``, ``projection``, ``zero_init``) for this block.

        Returns:
            The builder itself.

        Raises:
            TypeError: an unknown keyword. ValueError: a bad value (checked immediately), or a
                residual block after a dense block.

        Example:
            >>> b = ModelBuilder(3, 2, 64, head="avg").conv(16, pool=None).residual(32, stride=2)
            >>> b.output_shapes()[2]
            ('features.block2', (32, 32, 32))
        """
        return self._add_feature("residual", out_channels, overrides, RESIDUAL_OVERRIDES)

    def _add_feature(
        self, kind: str, out_channels: int, overrides: dict[str, Any], allowed: frozenset[str]
    ) -> ModelBuilder:
        """Check and append a ``conv`` or ``residual`` layer; the body of both methods."""
        if any(layer["type"] == "dense" for layer in self.layers):
            raise ValueError(
                f"{kind}() after dense(): add every conv and residual block before the dense blocks"
            )
        check_positive_int(out_channels, "out_channels")
        self._check_overrides(overrides, allowed, kind)
        layer = {"type": kind, "out_channels": out_channels, **overrides}
        feats = self._feature_layers()
        in_channels = self._channels(feats[-1]["out_channels"]) if feats else self.in_channels
        with torch.device("meta"):  # validates the arguments without allocating memory
            self._feature_block(in_channels, layer)
        self.layers.append(layer)
        return self

    def dense(self, units: int, **overrides: Any) -> ModelBuilder:
        """Append a hidden :class:`~cnnkit.layers.DenseBlock` of ``units`` to the head.

        Args:
            units: output features of the block.
            **overrides: ``bias``, ``batch_norm``, ``activation``, ``dropout`` or ``order`` for
                this block only.

        Returns:
            The builder itself.
        """
        check_positive_int(units, "units")
        self._check_overrides(overrides, DENSE_OVERRIDES, "dense")
        with torch.device("meta"):
            DenseBlock(1, units, **self._dense_kwargs(overrides))
        self.layers.append({"type": "dense", "units": units, **overrides})
        return self

    def copy(self) -> ModelBuilder:
        """Return an independent copy of this builder."""
        return copy.deepcopy(self)

    def replace(self, **changes: Any) -> ModelBuilder:
        """Return a copy with some defaults (or ``in_channels``/``num_classes``/``input_size``) changed.

        Per-layer overrides given to :meth:`conv`/:meth:`dense` keep precedence over the new
        defaults.

        Args:
            **changes: any of :data:`REPLACEABLE_SETTINGS` (the keys of :data:`DEFAULTS` plus
                ``in_channels``, ``num_classes`` and ``input_size``).

        Returns:
            A new builder with the same layers; ``self`` is not modified.

        Raises:
            TypeError: an unknown setting. ValueError: a bad value, as in the constructor.

        Example:
            >>> base = ModelBuilder(3, 2, 224).conv(4).conv(8)
            >>> regularized = base.replace(batch_norm=True, dropout=0.25)
        """
        unknown = set(changes) - REPLACEABLE_SETTINGS
        if unknown:
            raise TypeError(
                f"replace() got unknown settings {sorted(unknown)}; valid ones are "
                f"{sorted(DEFAULTS)} and in_channels, num_classes, input_size"
            )
        args: dict[str, Any] = {
            "in_channels": self.in_channels,
            "num_classes": self.num_classes,
            "input_size": self.input_size,
            **self.defaults,
            **changes,
        }
        new = ModelBuilder(**args)
        for layer in self.layers:
            params = {k: v for k, v in layer.items() if k not in ("type", "out_channels", "units")}
            if layer["type"] == "dense":
                new.dense(layer["units"], **params)
            else:
                new._add_feature(
                    layer["type"], layer["out_channels"], params, _OVERRIDES[layer["type"]]
                )
        return new

    # ------------------------------------------------------------------ building
    def build(self) -> ConvNet:
        """Build the model.

        Returns:
            A freshly initialized :class:`ConvNet` taking ``(N, in_channels, H, W)`` and returning
            ``(N, num_classes)`` logits.

        Raises:
            ValueError: no conv or residual layer was added, or ``input_size`` is too small for
                the pooling and stride stages (the message names the block and the smallest size
                that works).
        """
        if not self._feature_layers():
            raise ValueError(
                "add at least one conv block with .conv(out_channels) (or a residual block with "
                ".residual(out_channels)) before build()"
            )
        shape: tuple[int, ...] = (self.in_channels, *self.input_size)
        features = nn.Sequential()
        for i, layer in enumerate(self._feature_layers(), start=1):
            block = self._feature_block(shape[0], layer)
            out = block.output_shape(shape)
            if min(out[1:]) < 1:
                need = min_input_side(
                    [self._feature_block(1, {**x, "groups": 1}) for x in self._feature_layers()]
                )
                raise ValueError(too_small_message(i, shape, out, self.input_size, need))
            features.add_module(f"block{i}", block)
            shape = out
        head = nn.Sequential()
        if self.defaults["head"] == "avg":
            head.add_module("pool", nn.AdaptiveAvgPool2d(1))
            features_out = shape[0]
        else:
            features_out = shape[0] * shape[1] * shape[2]
        head.add_module("flatten", nn.Flatten())
        for i, layer in enumerate(self._dense_layers(), start=1):
            head.add_module(
                f"dense{i}", DenseBlock(features_out, layer["units"], **self._dense_kwargs(layer))
            )
            features_out = layer["units"]
        head.add_module("classifier", nn.Linear(features_out, self.num_classes))
        try:
            spec: dict[str, Any] | None = self.to_dict()
        except ValueError:  # a callable activation or pool: the model is fine, the spec is not
            spec = None
        return ConvNet(
            features,
            head,
            input_shape=(self.in_channels, *self.input_size),
            num_classes=self.num_classes,
            spec=spec,
        )

    def output_shapes(self) -> list[tuple[str, tuple[int, ...]]]:
        """Per-block output shapes ``(name, (C, H, W) or (F,))`` by arithmetic, input first."""
        rows: list[tuple[str, tuple[int, ...]]] = [("input", (self.in_channels, *self.input_size))]
        model = self._meta_model()
        shape: tuple[int, ...] = rows[0][1]
        for name, block in model.features.named_children():
            assert isinstance(block, (ConvBlock, ResidualBlock))
            shape = block.output_shape(shape)
            rows.append((f"features.{name}", shape))
        for name, module in model.head.named_children():
            if isinstance(module, nn.AdaptiveAvgPool2d):
                shape = (shape[0], 1, 1)
            elif isinstance(module, nn.Flatten):
                shape = (shape[0] * shape[1] * shape[2],)
            elif isinstance(module, (DenseBlock, nn.Linear)):
                shape = (module.out_features,)
            rows.append((f"head.{name}", shape))
        return rows

    def num_parameters(self) -> int:
        """Total number of parameters of the built model (computed without allocating it)."""
        return sum(p.numel() for p in self._meta_model().parameters())

    def summary(self) -> str:
        """A per-layer table (output shape and parameters) with the totals, like Keras prints.

        Returns:
            The table as a string; ``print(builder.summary())`` shows it.
        """
        return summary_table(self._meta_model(), self.output_shapes())

    # ------------------------------------------------------------------ serialization
    def to_dict(self) -> dict[str, Any]:
        """A JSON-serializable description; :meth:`from_dict` rebuilds the same builder.

        Raises:
            ValueError: an activation or pool was given as a callable (only names serialize).
        """
        for where, params in [
            ("defaults", self.defaults),
            *((f"layer {i}", p) for i, p in enumerate(self.layers)),
        ]:
            for key in ("activation", "pool"):
                value = params.get(key)
                if value is not None and not isinstance(value, str):
                    raise ValueError(
                        f"cannot serialize {key}={value!r} in {where}: only names such as 'relu' "
                        "or 'max' (or None) can be saved; pass the layer by name"
                    )
        return {
            "version": SPEC_VERSION,
            "in_channels": self.in_channels,
            "num_classes": self.num_classes,
            "input_size": list(self.input_size),
            "defaults": dict(self.defaults),
            "layers": [dict(layer) for layer in self.layers],
        }

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> ModelBuilder:
        """Rebuild a builder from :meth:`to_dict` output (e.g. loaded from JSON).

        Args:
            spec: a mapping with ``in_channels``, ``num_classes``, ``input_size``, ``layers`` and
                optionally ``version`` and ``defaults``.

        Returns:
            A new builder equal to the one that wrote ``spec``.

        Raises:
            TypeError: ``spec`` is not a mapping.
            ValueError: a missing field, an unknown version or layer type, or a bad value (as
                in the constructor, e.g. ``num_classes < 2``).
        """
        if not isinstance(spec, Mapping):
            raise TypeError(f"from_dict expects a mapping, got {type(spec).__name__}")
        missing = {"in_channels", "num_classes", "input_size", "layers"} - set(spec)
        if missing:
            raise ValueError(f"builder spec is missing {sorted(missing)}; got keys {sorted(spec)}")
        version = spec.get("version", SPEC_VERSION)
        if version != SPEC_VERSION:
            raise ValueError(
                f"unsupported builder spec version {version!r}; this cnnkit reads {SPEC_VERSION}"
            )
        builder = cls(
            spec["in_channels"],
            spec["num_classes"],
            spec["input_size"],
            **dict(spec.get("defaults", {})),
        )
        for i, layer in enumerate(spec["layers"]):
            params = dict(layer)
            kind = params.pop("type", None)
            if kind in _OVERRIDES:
                builder._add_feature(kind, params.pop("out_channels"), params, _OVERRIDES[kind])
            elif kind == "dense":
                builder.dense(params.pop("units"), **params)
            else:
                raise ValueError(
                    f"layer {i} has unknown type {kind!r}; expected 'conv', 'residual' or 'dense'"
                )
        return builder

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ModelBuilder):
            return NotImplemented
        return (
            (self.in_channels, self.num_classes, self.input_size, self.defaults, self.layers)
            == (other.in_channels, other.num_classes, other.input_size, other.defaults, other.layers)
        )  # fmt: skip

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return builder_repr(
            (self.in_channels, self.num_classes, self.input_size), self.defaults, self.layers
        )

    # ------------------------------------------------------------------ internals
    def _conv_layers(self) -> list[dict[str, Any]]:
        return [layer for layer in self.layers if layer["type"] == "conv"]

    def _feature_layers(self) -> list[dict[str, Any]]:
        """The conv and residual layers, in order (they make ``features``)."""
        return [layer for layer in self.layers if layer["type"] in _OVERRIDES]

    def _feature_block(
        self, in_channels: int, layer: Mapping[str, Any]
    ) -> ConvBlock | ResidualBlock:
        """The :class:`ConvBlock` or :class:`ResidualBlock` that ``layer`` describes."""
        out_channels = self._channels(layer["out_channels"])
        if layer["type"] == "residual":
            return ResidualBlock(in_channels, out_channels, **self._residual_kwargs(layer))
        return ConvBlock(in_channels, out_channels, **self._conv_kwargs(layer))

    def _dense_layers(self) -> list[dict[str, Any]]:
        return [layer for layer in self.layers if layer["type"] == "dense"]

    def _channels(self, out_channels: int) -> int:
        width: float = self.defaults["width"]
        return max(1, round(out_channels * width))

    def _conv_kwargs(self, layer: Mapping[str, Any]) -> dict[str, Any]:
        keys = ("kernel_size", "batch_norm", "activation", "pool", "pool_size", "dropout",
                "dropout_kind", "block_size", "order")  # fmt: skip
        kwargs = {k: self.defaults[k] for k in keys}
        kwargs.update({k: v for k, v in layer.items() if k in CONV_OVERRIDES})
        return kwargs

    def _residual_kwargs(self, layer: Mapping[str, Any]) -> dict[str, Any]:
        keys = ("kernel_size", "activation", "dropout", "dropout_kind", "block_size")
        kwargs: dict[str, Any] = {k: self.defaults[k] for k in keys}
        kwargs["batch_norm"] = True
        kwargs.update({k: v for k, v in layer.items() if k in RESIDUAL_OVERRIDES})
        return kwargs

    def _dense_kwargs(self, layer: Mapping[str, Any]) -> dict[str, Any]:
        kwargs = {k: self.defaults[k] for k in ("batch_norm", "activation", "dropout", "order")}
        kwargs.update({k: v for k, v in layer.items() if k in DENSE_OVERRIDES})
        return kwargs

    @staticmethod
    def _check_overrides(overrides: Mapping[str, Any], allowed: frozenset[str], what: str) -> None:
        unknown = set(overrides) - allowed
        if unknown:
            raise TypeError(
                f"{what}() got unknown keyword(s) {sorted(unknown)}; valid: {sorted(allowed)}"
            )

    def _meta_model(self) -> ConvNet:
        with torch.device("meta"):
            return self.build()


#: Feature-layer type -> the keywords it accepts.
_OVERRIDES: dict[str, frozenset[str]] = {"conv": CONV_OVERRIDES, "residual": RESIDUAL_OVERRIDES}
