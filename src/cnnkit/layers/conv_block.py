"""ConvBlock: conv -> [batch norm] -> activation -> [pool] -> [dropout] as one module."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from torch import Tensor, nn

from cnnkit._validate import check_positive_int
from cnnkit.layers.factories import (
    LayerSpec,
    _check_order,
    _ordered,
    get_activation,
    get_dropout,
    get_pool,
)
from cnnkit.layers.shapes import _check_image_input, _conv_padding, _spatial_out

__all__ = ["ConvBlock"]


class ConvBlock(nn.Sequential):
    """Conv2d -> [BatchNorm2d] -> activation -> [pool] -> [dropout], as one module.

    With ``order="conv-act-bn"`` the batch norm comes after the activation instead (both orders are
    common in practice). The convolution has no bias when batch norm directly follows it (the norm's
    shift makes it redundant); pass ``bias=True`` to force one.

    Args:
        in_channels: channels of the input (``C_in``).
        out_channels: channels produced by the convolution (``C_out``).
        kernel_size: side of the square convolution kernel.
        stride: convolution stride.
        padding: ``"same"`` (default: ``dilation * (kernel_size - 1) // 2`` on each side, so the map
            keeps its size at stride 1; needs an odd ``kernel_size``), ``"valid"`` (no padding), or
            an int.
        dilation: convolution dilation.
        groups: convolution groups (``in_channels`` and ``out_channels`` must be divisible by it).
        bias: conv bias; ``None`` (default) means "only when no batch norm directly follows".
        batch_norm: add ``nn.BatchNorm2d(out_channels)``.
        activation: see :func:`get_activation`; ``None`` for none.
        pool: ``"max"``, ``"avg"``, a callable or ``None``; see :func:`get_pool`.
        pool_size: kernel and stride of the named pools.
        dropout: drop probability in ``[0, 1)``; 0 adds no layer.
        dropout_kind: ``"channel"`` (default), ``"element"`` or ``"block"``; see :func:`get_dropout`.
        block_size: square size for ``dropout_kind="block"``.
        order: ``"conv-bn-act"`` (default) or ``"conv-act-bn"``.

    Raises:
        ValueError: a non-positive size, channels not divisible by ``groups``, an unknown name,
            a dropout outside ``[0, 1)``, or ``padding="same"`` with an even kernel.
        TypeError: a layer factory that is not a callable returning a new ``nn.Module``.

    Input shape:
        ``(N, in_channels, H, W)``. A channels-last tensor ``(N, H, W, in_channels)`` is rejected
        with a hint to ``permute`` it.

    Output shape:
        ``(N, out_channels, H', W')`` with ``H', W'`` given by :meth:`output_shape`.

    Example:
        >>> block = ConvBlock(3, 16, batch_norm=True, dropout=0.1)
        >>> block(torch.randn(2, 3, 32, 32)).shape
        torch.Size([2, 16, 16, 16])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        *,
        stride: int = 1,
        padding: int | str = "same",
        dilation: int = 1,
        groups: int = 1,
        bias: bool | None = None,
        batch_norm: bool = False,
        activation: LayerSpec = "relu",
        pool: LayerSpec = "max",
        pool_size: int = 2,
        dropout: float = 0.0,
        dropout_kind: str = "channel",
        block_size: int = 7,
        order: str = "conv-bn-act",
    ) -> None:
        for value, name in (
            (in_channels, "in_channels"),
            (out_channels, "out_channels"),
            (kernel_size, "kernel_size"),
            (stride, "stride"),
            (dilation, "dilation"),
            (groups, "groups"),
        ):
            check_positive_int(value, name)
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"in_channels={in_channels} and out_channels={out_channels} must both be "
                f"divisible by groups={groups}"
            )
        _check_order(order)
        pad = _conv_padding(padding, kernel_size, dilation)
        if bias is None:
            bias = not (batch_norm and order == "conv-bn-act")
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        layers["conv"] = nn.Conv2d(
            in_channels, out_channels, kernel_size, stride, pad, dilation, groups, bias=bias
        )
        act = get_activation(activation)
        bn = nn.BatchNorm2d(out_channels) if batch_norm else None
        for name, layer in _ordered(order, bn, act):
            layers[name] = layer
        pool_layer = get_pool(pool, pool_size)
        if pool_layer is not None:
            layers["pool"] = pool_layer
        drop = get_dropout(dropout, dropout_kind, block_size=block_size)
        if drop is not None:
            layers["drop"] = drop
        super().__init__(layers)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.order = order

    def forward(self, x: Tensor) -> Tensor:
        _check_image_input(x, self.in_channels, type(self).__name__)
        for layer in self:
            x = layer(x)
        return x

    def output_shape(self, input_shape: Sequence[int]) -> tuple[int, ...]:
        """Shape this block produces for ``input_shape``, by arithmetic (no forward pass).

        Args:
            input_shape: ``(C, H, W)`` or ``(N, C, H, W)``.

        Returns:
            The output shape with the same rank as ``input_shape``; a spatial size can be 0 or
            negative when the input is too small (callers such as the builder check that).

        Raises:
            ValueError: a rank other than 3 or 4, or a channel count other than ``in_channels``.
        """
        shape = tuple(int(s) for s in input_shape)
        if len(shape) not in (3, 4):
            raise ValueError(f"input_shape must be (C, H, W) or (N, C, H, W), got {shape}")
        c, h, w = shape[-3:]
        if c != self.in_channels:
            raise ValueError(f"input_shape has {c} channels, this block expects {self.in_channels}")
        for module in self:
            h, w = _spatial_out(module, h, w)
        return (*shape[:-3], self.out_channels, h, w)
