"""Building blocks: :class:`ConvBlock`, :class:`DenseBlock`, :class:`DropBlock2d` and layer factories.

Every block is a small ``nn.Sequential`` with named children (``conv``, ``bn``, ``act``, ``pool``,
``drop``), so it prints readably, saves with ``state_dict`` and compiles with ``torch.compile``.
Layers are given as strings (``"relu"``, ``"max"``) or as callables that return an ``nn.Module``;
``None`` leaves a layer out. Sizes are computed by arithmetic (:meth:`ConvBlock.output_shape`), never
by a dummy forward pass.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "ACTIVATIONS",
    "DROPOUT_KINDS",
    "ORDERS",
    "POOLS",
    "ConvBlock",
    "DenseBlock",
    "DropBlock2d",
    "get_activation",
    "get_dropout",
    "get_pool",
]

#: A layer given by name or by a zero-argument callable (an ``nn.Module`` class or factory).
LayerSpec = str | Callable[[], nn.Module] | None

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "identity": nn.Identity,
}
POOLS = ("max", "avg")
#: Dropout kinds: ``"element"`` (``nn.Dropout``), ``"channel"`` (``nn.Dropout2d``), ``"block"``
#: (:class:`DropBlock2d`).
DROPOUT_KINDS: tuple[str, ...] = ("element", "channel", "block")
_DROPOUT_ALIASES = {"dropout": "element", "dropout2d": "channel", "dropblock": "block"}
#: Layer orders inside a :class:`ConvBlock` / :class:`DenseBlock`.
ORDERS: tuple[str, ...] = ("conv-bn-act", "conv-act-bn")


def get_activation(activation: LayerSpec) -> nn.Module | None:
    """Return a new activation module from a name or a callable.

    Args:
        activation: one of :data:`ACTIVATIONS` (``"relu"``, ``"leaky_relu"``, ``"elu"``, ``"gelu"``,
            ``"silu"``, ``"tanh"``, ``"sigmoid"``, ``"identity"``; case-insensitive), a zero-argument
            callable returning an ``nn.Module`` (e.g. ``nn.Mish`` or ``lambda: nn.LeakyReLU(0.2)``),
            or ``None`` for no activation.

    Returns:
        A fresh ``nn.Module``, or ``None`` when ``activation`` is ``None`` or ``"identity"``.

    Raises:
        ValueError: an unknown name. TypeError: a callable that does not return an ``nn.Module``.

    Example:
        >>> get_activation("gelu")
        GELU(approximate='none')
    """
    if activation is None:
        return None
    if isinstance(activation, str):
        key = activation.lower().replace("-", "_")
        if key not in ACTIVATIONS:
            raise ValueError(
                f"unknown activation {activation!r}; use one of {sorted(ACTIVATIONS)}, "
                "None, or a callable returning an nn.Module"
            )
        if key == "identity":
            return None
        return ACTIVATIONS[key]()
    return _call_factory(activation, "activation")


def get_pool(pool: LayerSpec, pool_size: int = 2) -> nn.Module | None:
    """Return a pooling layer from ``"max"``, ``"avg"``, a callable, or ``None``.

    Args:
        pool: ``"max"`` (``nn.MaxPool2d``), ``"avg"`` (``nn.AvgPool2d``), a zero-argument callable
            returning an ``nn.Module``, or ``None`` for no pooling.
        pool_size: kernel size and stride of the named pools (positive int).

    Returns:
        A fresh ``nn.Module`` or ``None``.

    Raises:
        ValueError: an unknown name or a non-positive ``pool_size``.
    """
    if pool is None:
        return None
    if isinstance(pool, str):
        key = pool.lower()
        if key not in POOLS:
            raise ValueError(f"unknown pool {pool!r}; use 'max', 'avg', None or a callable")
        _check_positive_int(pool_size, "pool_size")
        return nn.MaxPool2d(pool_size) if key == "max" else nn.AvgPool2d(pool_size)
    return _call_factory(pool, "pool")


def get_dropout(p: float, kind: str = "channel", *, block_size: int = 7) -> nn.Module | None:
    """Return a dropout layer of the given kind, or ``None`` when ``p == 0``.

    Args:
        p: drop probability in ``[0, 1)``.
        kind: ``"element"`` (``nn.Dropout``: independent units), ``"channel"`` (``nn.Dropout2d``:
            whole feature maps, the usual choice after convolutions) or ``"block"``
            (:class:`DropBlock2d`: contiguous square regions). Aliases ``"dropout"``,
            ``"dropout2d"`` and ``"dropblock"`` are accepted.
        block_size: side of the dropped squares for ``kind="block"``.

    Raises:
        ValueError: ``p`` outside ``[0, 1)`` or an unknown ``kind``.
    """
    _check_probability(p, "dropout")
    kind = _canonical_dropout_kind(kind)
    if p == 0:
        return None
    if kind == "element":
        return nn.Dropout(p)
    if kind == "channel":
        return nn.Dropout2d(p)
    return DropBlock2d(p, block_size=block_size)


class DropBlock2d(nn.Module):
    """DropBlock (Ghiasi et al., 2018): drop contiguous ``block_size`` squares of feature maps.

    Plain dropout on convolutional features is weak because neighbouring activations are
    correlated: the network reads a dropped unit off its neighbours. DropBlock removes whole
    squares instead. Each channel of each sample gets its own mask; kept activations are rescaled
    so the batch mean is preserved. Identity in eval mode or when ``p == 0``.

    Block centres are drawn on a grid that extends ``block_size - 1`` beyond the map, so that every
    position is covered by exactly ``block_size**2`` candidate blocks and is dropped with
    probability exactly ``p`` (the paper's ``gamma`` formula is an approximation that ignores block
    overlap and under-drops near the borders); blocks that stick out of the map are clipped.

    Args:
        p: probability that a given activation is dropped, in ``[0, 1)``.
        block_size: side of the dropped squares (positive int); clipped to the map size.

    Input shape:
        ``(N, C, H, W)``.

    Output shape:
        Same as the input.

    Example:
        >>> drop = DropBlock2d(0.1, block_size=5)
        >>> drop(torch.randn(8, 16, 32, 32)).shape
        torch.Size([8, 16, 32, 32])
    """

    def __init__(self, p: float = 0.1, block_size: int = 7) -> None:
        super().__init__()
        _check_probability(p, "p")
        _check_positive_int(block_size, "block_size")
        self.p = float(p)
        self.block_size = int(block_size)

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        if x.dim() != 4:
            raise ValueError(f"DropBlock2d expects (N, C, H, W) input, got shape {tuple(x.shape)}")
        n, c, h, w = x.shape
        bs = min(self.block_size, h, w)
        # Per-centre rate such that 1 - (1 - gamma) ** (bs * bs) == p for every position.
        gamma = 1.0 - (1.0 - self.p) ** (1.0 / (bs * bs))
        centres = torch.rand(n, c, h + bs - 1, w + bs - 1, device=x.device) < gamma
        dropped = F.max_pool2d(centres.to(x.dtype), kernel_size=bs, stride=1)
        keep = 1.0 - dropped
        scale = keep.numel() / keep.sum().clamp_min(1.0)
        return x * keep * scale

    def extra_repr(self) -> str:
        return f"p={self.p}, block_size={self.block_size}"


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
            _check_positive_int(value, name)
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


class DenseBlock(nn.Sequential):
    """Linear -> [BatchNorm1d] -> activation -> [Dropout], the fully connected twin of ConvBlock.

    Args:
        in_features: size of each input sample.
        out_features: size of each output sample.
        bias: linear bias; ``None`` (default) means "only when no batch norm directly follows".
        batch_norm: add ``nn.BatchNorm1d(out_features)``.
        activation: see :func:`get_activation`; ``None`` for none.
        dropout: element-wise drop probability in ``[0, 1)``; 0 adds no layer.
        order: ``"conv-bn-act"`` (default; linear, norm, activation) or ``"conv-act-bn"``.

    Input shape:
        ``(N, in_features)``.

    Output shape:
        ``(N, out_features)``.

    Example:
        >>> DenseBlock(128, 64, dropout=0.5)(torch.randn(4, 128)).shape
        torch.Size([4, 64])
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        bias: bool | None = None,
        batch_norm: bool = False,
        activation: LayerSpec = "relu",
        dropout: float = 0.0,
        order: str = "conv-bn-act",
    ) -> None:
        _check_positive_int(in_features, "in_features")
        _check_positive_int(out_features, "out_features")
        _check_order(order)
        if bias is None:
            bias = not (batch_norm and order == "conv-bn-act")
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        layers["linear"] = nn.Linear(in_features, out_features, bias=bias)
        bn = nn.BatchNorm1d(out_features) if batch_norm else None
        for name, layer in _ordered(order, bn, get_activation(activation)):
            layers[name] = layer
        drop = get_dropout(dropout, "element")
        if drop is not None:
            layers["drop"] = drop
        super().__init__(layers)
        self.in_features = in_features
        self.out_features = out_features
        self.order = order

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 2 or x.shape[1] != self.in_features:
            raise ValueError(
                f"DenseBlock expects input of shape (N, {self.in_features}), got {tuple(x.shape)}; "
                "flatten image features first (e.g. x.flatten(1))"
            )
        for layer in self:
            x = layer(x)
        return x

    def output_shape(self, input_shape: Sequence[int]) -> tuple[int, ...]:
        """Shape produced for ``input_shape`` (``(F,)`` or ``(N, F)``), by arithmetic."""
        shape = tuple(int(s) for s in input_shape)
        if len(shape) not in (1, 2) or shape[-1] != self.in_features:
            raise ValueError(
                f"input_shape must be ({self.in_features},) or (N, {self.in_features}), got {shape}"
            )
        return (*shape[:-1], self.out_features)


# ----------------------------------------------------------------------------- helpers


def _ordered(
    order: str, bn: nn.Module | None, act: nn.Module | None
) -> list[tuple[str, nn.Module]]:
    pairs = [("bn", bn), ("act", act)] if order == "conv-bn-act" else [("act", act), ("bn", bn)]
    return [(name, layer) for name, layer in pairs if layer is not None]


def _call_factory(factory: object, what: str) -> nn.Module:
    if isinstance(factory, nn.Module):
        raise TypeError(
            f"{what} must be a name or a callable that returns a new nn.Module (e.g. nn.ReLU, "
            f"not nn.ReLU()), so that every block gets its own layer; got the instance {factory!r}"
        )
    if not callable(factory):
        raise TypeError(f"{what} must be a string, a callable or None, got {factory!r}")
    layer = factory()
    if not isinstance(layer, nn.Module):
        raise TypeError(
            f"the {what} factory {factory!r} returned {type(layer).__name__}, expected an nn.Module"
        )
    return layer


def _canonical_dropout_kind(kind: str) -> str:
    key = _DROPOUT_ALIASES.get(str(kind).lower(), str(kind).lower())
    if key not in DROPOUT_KINDS:
        raise ValueError(f"unknown dropout_kind {kind!r}; use one of {list(DROPOUT_KINDS)}")
    return key


def _check_probability(p: float, name: str) -> None:
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1), got {p!r}")


def _check_positive_int(value: int, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


def _check_order(order: str) -> None:
    if order not in ORDERS:
        raise ValueError(f"unknown order {order!r}; use one of {list(ORDERS)}")


def _conv_padding(padding: int | str, kernel_size: int, dilation: int) -> int:
    if isinstance(padding, str):
        if padding == "valid":
            return 0
        if padding != "same":
            raise ValueError(f"padding must be 'same', 'valid' or an int >= 0, got {padding!r}")
        if kernel_size % 2 == 0:
            raise ValueError(
                f"padding='same' needs an odd kernel_size, got {kernel_size}; use an odd kernel "
                "or an explicit int padding"
            )
        return dilation * (kernel_size - 1) // 2
    if isinstance(padding, bool) or not isinstance(padding, int) or padding < 0:
        raise ValueError(f"padding must be 'same', 'valid' or an int >= 0, got {padding!r}")
    return padding


def _pair(v: int | tuple[int, ...]) -> tuple[int, int]:
    if isinstance(v, int):
        return v, v
    return int(v[0]), int(v[-1])


def _spatial_out(module: nn.Module, h: int, w: int) -> tuple[int, int]:
    """Spatial size after ``module`` (the PyTorch formulas, floor mode)."""
    if isinstance(module, nn.Conv2d):
        (kh, kw), (sh, sw) = _pair(module.kernel_size), _pair(module.stride)
        (dh, dw) = _pair(module.dilation)
        ph, pw = _pair(module.padding)  # type: ignore[arg-type]
        return (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1, (
            w + 2 * pw - dw * (kw - 1) - 1
        ) // sw + 1
    if isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
        (kh, kw) = _pair(module.kernel_size)
        (sh, sw) = _pair(module.stride or module.kernel_size)
        ph, pw = _pair(module.padding)
        dil = _pair(module.dilation) if isinstance(module, nn.MaxPool2d) else (1, 1)
        if module.ceil_mode:
            raise ValueError("output_shape does not support ceil_mode pooling")
        return (
            (h + 2 * ph - dil[0] * (kh - 1) - 1) // sh + 1,
            (w + 2 * pw - dil[1] * (kw - 1) - 1) // sw + 1,
        )
    if isinstance(module, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        oh, ow = _pair(module.output_size)  # type: ignore[arg-type]
        return (h if oh is None else oh), (w if ow is None else ow)
    if isinstance(module, _SHAPE_PRESERVING):
        return h, w
    # A user-supplied pool or activation: run a copy on the meta device (no memory, no compute).
    out = copy.deepcopy(module).to("meta")(torch.empty(1, 1, h, w, device="meta"))
    return int(out.shape[-2]), int(out.shape[-1])


_SHAPE_PRESERVING = (
    nn.BatchNorm2d,
    nn.Dropout,
    nn.Dropout2d,
    DropBlock2d,
    nn.Identity,
    nn.ReLU,
    nn.LeakyReLU,
    nn.ELU,
    nn.GELU,
    nn.SiLU,
    nn.Tanh,
    nn.Sigmoid,
)


def _check_image_input(x: Tensor, in_channels: int, who: str) -> None:
    """Raise a ValueError with a fix when ``x`` is not an ``(N, in_channels, H, W)`` batch."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{who} expects a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 4:
        hint = " (add a batch dimension with x.unsqueeze(0))" if x.dim() == 3 else ""
        raise ValueError(
            f"{who} expects a 4-D (N, C, H, W) tensor, got {x.dim()}-D shape {tuple(x.shape)}{hint}"
        )
    if not x.is_floating_point():
        raise ValueError(
            f"{who} expects floating-point images, got dtype {x.dtype}; convert uint8 images "
            "with x.float() / 255 (cnnkit.data.to_float), or let cnnkit.Trainer do it per batch"
        )
    if x.shape[1] != in_channels:
        if x.shape[-1] == in_channels:
            raise ValueError(
                f"{who} got shape {tuple(x.shape)}, which looks channels-last (N, H, W, C); "
                f"expected (N, {in_channels}, H, W). Convert with x.permute(0, 3, 1, 2) "
                "(never reshape, which scrambles the pixels)"
            )
        raise ValueError(
            f"{who} expects {in_channels} input channels, got shape {tuple(x.shape)} with "
            f"{x.shape[1]} channels"
        )
