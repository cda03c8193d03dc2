"""How a builder prints: the Keras-like per-layer table of
:meth:`ModelBuilder.summary <cnnkit.builder.ModelBuilder.summary>` and the builder's ``repr``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

from cnnkit.builder.settings import DEFAULTS
from cnnkit.layers.conv_block import ConvBlock
from cnnkit.layers.dense_block import DenseBlock
from cnnkit.layers.residual_block import ResidualBlock


def summary_table(model: nn.Module, shapes: Sequence[tuple[str, tuple[int, ...]]]) -> str:
    """Format a per-layer table (type, output shape, parameters) and the parameter totals.

    Args:
        model: the built model (typically on the ``meta`` device: only shapes are read).
        shapes: ``(name, output shape)`` rows as from :meth:`ModelBuilder.output_shapes`, the
            first being ``("input", (C, H, W))``; every other name is a submodule of ``model``.

    Returns:
        The table as lines joined by newlines.
    """
    modules = dict(model.named_modules())
    rows = [("Layer", "Type", "Output shape", "Params")]
    for name, shape in shapes:
        if name == "input":
            rows.append(("input", "-", _fmt_shape(shape), "0"))
            continue
        module = modules[name]
        params = sum(p.numel() for p in module.parameters())
        rows.append((name, _describe(module), _fmt_shape(shape), f"{params:,}"))
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    line = "-" * (sum(widths) + 6)
    out = [line]
    for j, row in enumerate(rows):
        out.append(
            "  ".join(
                c.ljust(w) if i < 3 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if j == 0:
            out.append(line)
    out += [line, f"Total params: {total:,}", f"Trainable params: {trainable:,}",
            f"Non-trainable params: {total - trainable:,}", line]  # fmt: skip
    return "\n".join(out)


def _fmt_shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")"


def _describe(module: nn.Module) -> str:
    """``ConvBlock(3->4: conv-act-pool)``-style description of a block; the class name otherwise."""
    if isinstance(module, ConvBlock):
        parts = ["conv", *(n for n, _ in module.named_children() if n != "conv")]
        return f"ConvBlock({module.in_channels}->{module.out_channels}: {'-'.join(parts)})"
    if isinstance(module, ResidualBlock):
        shortcut = "projection" if module.has_projection else "identity"
        stride = f", stride {module.stride}" if module.stride != 1 else ""
        return f"ResidualBlock({module.in_channels}->{module.out_channels}: {shortcut}{stride})"
    if isinstance(module, DenseBlock):
        parts = ["linear", *(n for n, _ in module.named_children() if n != "linear")]
        return f"DenseBlock({module.in_features}->{module.out_features}: {'-'.join(parts)})"
    return type(module).__name__


def builder_repr(
    args: tuple[int, int, tuple[int, int]],
    defaults: Mapping[str, Any],
    layers: Sequence[Mapping[str, Any]],
) -> str:
    """``ModelBuilder(3, 2, (64, 64), dropout=0.2).conv(16).dense(8)``: the calls that rebuild it.

    Args:
        args: ``(in_channels, num_classes, input_size)``.
        defaults: the builder's defaults (only those that differ from :data:`DEFAULTS` print).
        layers: the builder's layer list.
    """
    changed = {k: v for k, v in defaults.items() if DEFAULTS[k] != v}
    head = ", ".join([", ".join(str(a) for a in args)] + [f"{k}={v!r}" for k, v in changed.items()])
    calls = "".join(
        f".dense({layer['units']}{_kw(layer, 'units')})"
        if layer["type"] == "dense"
        else f".{layer['type']}({layer['out_channels']}{_kw(layer, 'out_channels')})"
        for layer in layers
    )
    return f"ModelBuilder({head}){calls}"


def _kw(layer: Mapping[str, Any], skip: str) -> str:
    return "".join(f", {k}={v!r}" for k, v in layer.items() if k not in ("type", skip))
