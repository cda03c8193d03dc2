"""Backbones for transfer learning: cnnkit's residual family, torchvision and timm models.

:func:`backbone` builds a classifier by name with a new head, loads a local weights file
(``torch.load(..., weights_only=True)``; the head is replaced when the number of classes
differs) and can freeze the body; :func:`list_backbones` names what is available. The
torchvision and timm adapters import those libraries only when asked for.

One concept a module: ``registry`` (:func:`backbone`, :func:`list_backbones`), ``family``
(cnnkit's own ResNets), ``external`` (torchvision and timm), ``weights`` (reading and matching
a weights file), ``head`` (which layer is the classifier) and ``freezing`` (:func:`freeze`,
:func:`unfreeze`, :func:`param_groups`).

Example:
    >>> from cnnkit import backbone
    >>> model = backbone("cnnkit-resnet8", 2, weights="pretrained.pt", freeze=True)
"""

from __future__ import annotations

from cnnkit.backbones.external import SOURCES
from cnnkit.backbones.family import FAMILY, resnet_builder
from cnnkit.backbones.freezing import freeze, is_frozen_batch_norm, param_groups, unfreeze
from cnnkit.backbones.head import classifier_name, head_name, replace_classifier
from cnnkit.backbones.registry import backbone, list_backbones
from cnnkit.backbones.weights import WEIGHT_KEYS, load_weights, read_state_dict

__all__ = [
    "FAMILY",
    "SOURCES",
    "WEIGHT_KEYS",
    "backbone",
    "classifier_name",
    "freeze",
    "head_name",
    "is_frozen_batch_norm",
    "list_backbones",
    "load_weights",
    "param_groups",
    "read_state_dict",
    "replace_classifier",
    "resnet_builder",
    "unfreeze",
]
