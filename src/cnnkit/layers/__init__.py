"""Building blocks: :class:`ConvBlock`, :class:`DenseBlock`, :class:`ResidualBlock`, regularizers.

Every block is a small module with named children (``conv``, ``bn``, ``act``, ``pool``, ``drop``;
``conv1`` ... ``shortcut`` in a :class:`ResidualBlock`), so it prints readably, saves with ``state_dict`` and compiles with ``torch.compile``.
Layers are given as strings (``"relu"``, ``"max"``) or as callables that return an ``nn.Module``;
``None`` leaves a layer out. Sizes are computed by arithmetic (:meth:`ConvBlock.output_shape`), never
by a dummy forward pass.

One concept a module: ``factories`` (the name tables and ``get_*``), ``dropblock``
(:class:`DropBlock2d`), ``stochastic_depth`` (:func:`drop_path`, :class:`DropPath`),
``conv_block`` (:class:`ConvBlock`), ``dense_block`` (:class:`DenseBlock`), ``residual_block``
(:class:`ResidualBlock`) and ``shapes`` (padding and output-size arithmetic, input checks).
"""

from __future__ import annotations

from cnnkit.layers.conv_block import ConvBlock
from cnnkit.layers.dense_block import DenseBlock
from cnnkit.layers.dropblock import DropBlock2d
from cnnkit.layers.factories import (
    ACTIVATIONS,
    DROPOUT_KINDS,
    ORDERS,
    POOLS,
    LayerSpec,
    get_activation,
    get_dropout,
    get_pool,
)
from cnnkit.layers.residual_block import ResidualBlock
from cnnkit.layers.stochastic_depth import DropPath, drop_path

__all__ = [
    "ACTIVATIONS",
    "DROPOUT_KINDS",
    "ORDERS",
    "POOLS",
    "ConvBlock",
    "DenseBlock",
    "DropBlock2d",
    "DropPath",
    "LayerSpec",
    "ResidualBlock",
    "drop_path",
    "get_activation",
    "get_dropout",
    "get_pool",
]
