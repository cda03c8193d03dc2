"""Layers by name: the name tables and the factories that turn a name or a callable into a module.

A layer is given as a string (``"relu"``, ``"max"``), as a zero-argument callable that returns a
new ``nn.Module`` (``nn.Mish``, ``lambda: nn.LeakyReLU(0.2)``), or as ``None`` to leave it out.
Every call returns a fresh module, so no two blocks share a layer.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from cnnkit._validate import check_choice, check_positive_int, check_probability
from cnnkit.layers.dropblock import DropBlock2d

__all__ = [
    "ACTIVATIONS",
    "DROPOUT_KINDS",
    "ORDERS",
    "POOLS",
    "LayerSpec",
    "get_activation",
    "get_dropout",
    "get_pool",
]

LayerSpec = str | Callable[[], nn.Module] | None
"""A layer given by name, by a zero-argument callable (an ``nn.Module`` class or factory), or
``None`` for no layer."""

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
"""Activation names accepted by :func:`get_activation` and the module class each one makes."""

POOLS = ("max", "avg")
"""Pool names accepted by :func:`get_pool`: ``"max"`` (``nn.MaxPool2d``), ``"avg"``
(``nn.AvgPool2d``)."""

DROPOUT_KINDS: tuple[str, ...] = ("element", "channel", "block")
"""Dropout kinds: ``"element"`` (``nn.Dropout``), ``"channel"`` (``nn.Dropout2d``), ``"block"``
(:class:`DropBlock2d`)."""

_DROPOUT_ALIASES = {"dropout": "element", "dropout2d": "channel", "dropblock": "block"}

ORDERS: tuple[str, ...] = ("conv-bn-act", "conv-act-bn")
"""Layer orders inside a :class:`ConvBlock` / :class:`DenseBlock`."""


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
        check_positive_int(pool_size, "pool_size")
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

    Returns:
        A fresh ``nn.Module``, or ``None`` when ``p == 0``.

    Raises:
        ValueError: ``p`` outside ``[0, 1)`` or an unknown ``kind``.
    """
    rate = check_probability(p, "dropout", allow_one=False)
    kind = _canonical_dropout_kind(kind)
    if rate == 0:
        return None
    if kind == "element":
        return nn.Dropout(rate)
    if kind == "channel":
        return nn.Dropout2d(rate)
    return DropBlock2d(rate, block_size=block_size)


def _canonical_dropout_kind(kind: str) -> str:
    """The :data:`DROPOUT_KINDS` entry for ``kind`` (case-insensitive, aliases resolved)."""
    key = _DROPOUT_ALIASES.get(str(kind).lower(), str(kind).lower())
    if key not in DROPOUT_KINDS:
        raise ValueError(f"unknown dropout_kind {kind!r}; use one of {list(DROPOUT_KINDS)}")
    return key


def _check_order(order: str) -> None:
    """Raise ``ValueError`` unless ``order`` is one of :data:`ORDERS`."""
    check_choice(order, "order", ORDERS)


def _ordered(
    order: str, bn: nn.Module | None, act: nn.Module | None
) -> list[tuple[str, nn.Module]]:
    """``("bn", bn)`` and ``("act", act)`` in the block's ``order``, leaving out ``None``s."""
    pairs = [("bn", bn), ("act", act)] if order == "conv-bn-act" else [("act", act), ("bn", bn)]
    return [(name, layer) for name, layer in pairs if layer is not None]


def _call_factory(factory: object, what: str) -> nn.Module:
    """Call a layer factory and check that it made a new ``nn.Module``."""
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
