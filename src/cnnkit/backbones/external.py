"""torchvision and timm models as backbones, imported only when asked for."""

from __future__ import annotations

import importlib
from types import ModuleType

import torch
from torch import nn

from cnnkit.backbones.head import replace_classifier

__all__ = ["SOURCES", "external_backbone", "external_names"]

SOURCES: dict[str, str] = {
    "torchvision": "pip install torchvision (the build that matches your torch "
    "{torch}; for a CPU-only torch: pip install torchvision "
    "--index-url https://download.pytorch.org/whl/cpu)",
    "timm": "pip install timm (it needs a torchvision that imports with your torch {torch})",
}
"""Third-party model libraries a backbone name can start with (``"torchvision/resnet18"``,
``"timm/resnet18"``) and how to install each one."""


def _import(source: str) -> ModuleType:
    """Import ``source``, or raise an ``ImportError`` that says what to install."""
    try:
        return importlib.import_module(source)
    except Exception as exc:  # a broken wheel raises RuntimeError/OSError, not only ImportError
        hint = SOURCES[source].format(torch=torch.__version__)
        raise ImportError(
            f"{source} backbones need the {source} package, which did not import "
            f"({type(exc).__name__}: {exc}). Install it with: {hint}. cnnkit's own backbones "
            "(cnnkit.list_backbones()) need nothing else"
        ) from exc


def external_names(source: str) -> list[str]:
    """``"source/model"`` names of every classification model ``source`` offers.

    Raises:
        ImportError: ``source`` does not import (the message says what to install).
    """
    module = _import(source)
    if source == "torchvision":
        models = importlib.import_module("torchvision.models")
        names = list(models.list_models(module=models))
    else:
        names = list(module.list_models())
    return [f"{source}/{n}" for n in sorted(names)]


def external_backbone(
    source: str, model_name: str, num_classes: int, in_channels: int
) -> nn.Module:
    """A randomly initialized ``source`` model with a new ``num_classes`` classifier.

    Args:
        source: ``"torchvision"`` or ``"timm"``.
        model_name: the library's own name (``"resnet18"``, ``"efficientnet_b0"``).
        num_classes: classifier outputs.
        in_channels: image channels (torchvision models take 3 only).

    Returns:
        The model; load published weights with ``weights=path`` (see the transfer guide).

    Raises:
        ImportError: ``source`` does not import. ValueError: an unknown model name, or
            ``in_channels != 3`` for torchvision.
    """
    module = _import(source)
    if source == "timm":
        if model_name not in module.list_models():
            raise ValueError(
                f"timm has no model {model_name!r}; see timm.list_models() or "
                "cnnkit.list_backbones('timm')"
            )
        model: nn.Module = module.create_model(
            model_name, pretrained=False, num_classes=num_classes, in_chans=in_channels
        )
        return model
    if in_channels != 3:
        raise ValueError(
            f"torchvision backbones take 3-channel images, got in_channels={in_channels}; "
            "convert the images to RGB or use a cnnkit or timm backbone"
        )
    models = importlib.import_module("torchvision.models")
    if model_name not in models.list_models(module=models):
        raise ValueError(
            f"torchvision has no classification model {model_name!r}; see "
            "cnnkit.list_backbones('torchvision')"
        )
    model = models.get_model(model_name, weights=None)
    replace_classifier(model, num_classes)
    return model
