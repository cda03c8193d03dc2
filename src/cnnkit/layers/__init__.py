"""Building blocks: :class:`ConvBlock`, :class:`DenseBlock`, :class:`DropBlock2d` and layer factories.

Every block is a small ``nn.Sequential`` with named children (``conv``, ``bn``, ``act``, ``pool``,
``drop``), so it prints readably, saves with ``state_dict`` and compiles with ``torch.compile``.
Layers are given as strings (``"relu"``, ``"max"``) or as callables that return an ``nn.Module``;
``None`` leaves a layer out. Sizes are computed by arithmetic (:meth:`ConvBlock.output_shape`), never
by a dummy forward pass.

One concept a module: ``factories`` (the name tables and ``get_*``), ``dropblock``
(:class:`DropBlock2d`), ``conv_block`` (:class:`ConvBlock`), ``dense_block`` (:class:`DenseBlock`)
and ``shapes`` (padding and output-size arithmetic, input checks).
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

__all__ = [
    "ACTIVATIONS",
    "DROPOUT_KINDS",
    "ORDERS",
    "POOLS",
    "ConvBlock",
    "DenseBlock",
    "DropBlock2d",
    "LayerSpec",
    "get_activation",
    "get_dropout",
    "get_pool",
]
