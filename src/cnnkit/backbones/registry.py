"""``backbone(name, num_classes)`` and ``list_backbones()``: one entry point for every family."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping, Sequence

from torch import Tensor, nn

from cnnkit.backbones.external import SOURCES, external_backbone, external_names
from cnnkit.backbones.family import FAMILY, resnet_builder
from cnnkit.backbones.freezing import freeze as freeze_body
from cnnkit.backbones.weights import load_weights
from cnnkit.builder.settings import _check_num_classes

__all__ = ["backbone", "list_backbones"]


def list_backbones(source: str | None = None) -> list[str]:
    """Names :func:`backbone` accepts.

    Args:
        source: ``"cnnkit"`` (cnnkit's own residual family, always available), ``"torchvision"``
            or ``"timm"`` (every classification model of that library, when it imports), or
            ``None``: cnnkit's family plus the libraries that import here.

    Returns:
        Sorted names such as ``"cnnkit-resnet8"`` and ``"torchvision/resnet18"``.

    Raises:
        ValueError: an unknown ``source``. ImportError: ``source`` names a library that does not
            import (the message says what to install).

    Example:
        >>> list_backbones("cnnkit")
        ['cnnkit-resnet14', 'cnnkit-resnet20', 'cnnkit-resnet8']
    """
    if source is not None and source != "cnnkit" and source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; use one of {['cnnkit', *SOURCES]} or None")
    names = sorted(FAMILY) if source in (None, "cnnkit") else []
    for lib in SOURCES:
        if source == lib:
            names += external_names(lib)
        elif source is None:
            with contextlib.suppress(ImportError):  # not installed: cnnkit's family still lists
                names += external_names(lib)
    return names


def backbone(
    name: str,
    num_classes: int,
    *,
    weights: str | os.PathLike[str] | Mapping[str, Tensor] | None = None,
    freeze: bool = False,
    in_channels: int = 3,
    input_size: int | Sequence[int] = 64,
    width: float = 1.0,
    drop_path: float = 0.0,
) -> nn.Module:
    """A classifier with a ``num_classes`` head, optionally with saved weights and a frozen body.

    Args:
        name: one of :func:`list_backbones`: ``"cnnkit-resnet8"``, ``"cnnkit-resnet14"``,
            ``"cnnkit-resnet20"`` (cnnkit's own, built by
            :func:`~cnnkit.backbones.resnet_builder`), or ``"torchvision/<model>"`` /
            ``"timm/<model>"`` when that library imports.
        num_classes: outputs of the head (at least 2).
        weights: ``None`` (random initialization), a local file (a ``model.state_dict()``, a
            cnnkit saved model or checkpoint; read with ``torch.load(..., weights_only=True)``)
            or a state dict. The body must match ``name``; the head is replaced when the file's
            number of classes differs from ``num_classes``.
        freeze: freeze everything but the head (see :func:`~cnnkit.backbones.freeze`).
        in_channels: image channels.
        input_size: cnnkit family only: the image size its summary and shape checks use (any
            size runs through the average-pooling head).
        width: cnnkit family only: channel multiplier.
        drop_path: cnnkit family only: stochastic depth of the deepest block.

    Returns:
        The model (``(N, in_channels, H, W)`` images -> ``(N, num_classes)`` logits); a
        :class:`~cnnkit.builder.ConvNet` with its builder ``spec`` for the cnnkit family.

    Raises:
        ValueError: an unknown name, a bad argument, or weights of another architecture (the
            message lists the mismatched and missing keys).
        ImportError: a torchvision or timm name when that library does not import (the message
            says what to install).
        FileNotFoundError: ``weights`` names no file.

    Example:
        >>> model = backbone("cnnkit-resnet8", 6, freeze=False)
        >>> model(torch.randn(2, 3, 64, 64)).shape
        torch.Size([2, 6])
    """
    _check_num_classes(num_classes)
    source, _, model_name = name.partition("/")
    model: nn.Module
    if name in FAMILY:
        model = resnet_builder(name, num_classes, in_channels=in_channels, input_size=input_size,
                               width=width, drop_path=drop_path).build()  # fmt: skip
    elif source in SOURCES and model_name:
        model = external_backbone(source, model_name, num_classes, in_channels)
    else:
        raise ValueError(
            f"unknown backbone {name!r}; use one of {sorted(FAMILY)} or 'torchvision/<model>' / "
            "'timm/<model>' (see cnnkit.list_backbones())"
        )
    if weights is not None:
        load_weights(model, weights, name=name)
    if freeze:
        freeze_body(model)
    return model
