"""Batched data augmentation for ``(N, C, H, W)`` image tensors.

Every augmentation here is an :class:`torch.nn.Module` that

* draws **independent random parameters for every image** of the batch and applies them with a
  few whole-batch tensor operations (no Python loop over images), on whatever device the batch
  is on;
* accepts float images (any value range) and ``uint8`` images; ``uint8`` in gives ``uint8`` out
  (geometric and colour transforms compute in float32 and round back);
* has a probability ``p`` (each image is transformed with probability ``p``, independently) and
  an optional :class:`torch.Generator` for reproducible runs;
* is callable as ``aug(x) -> x`` and as ``aug(x, y) -> (x, y)``. Image transforms pass ``y``
  through unchanged; :class:`Mixup`, :class:`CutMix` and :class:`MixupOrCutMix` need ``y``
  (class indices ``(N,)`` or soft targets ``(N, num_classes)``) and return soft float targets of
  shape ``(N, num_classes)``, ready for :func:`torch.nn.functional.cross_entropy`.

Argument names follow torchvision (``degrees``, ``translate``, ``scale``, ``shear``,
``brightness``, ``contrast``, ``saturation``, ``size``, ``padding``, ``padding_mode``).

The transforms live in one submodule per concept, all re-exported here: ``base`` (the
``Augmentation`` base class), ``geometric`` (flip, crop), ``affine`` (resized crop, affine),
``photometric`` (colour jitter, erasing), ``mixing`` (Mixup, CutMix), ``containers``
(``Compose``, ``RandomChoice``) and ``presets`` (``default``). Their private helpers live in
``checks`` (argument and input checks), ``sampling`` (seeded draws, the Beta sampler) and
``warp`` (the affine sampling grid).

Example:
    >>> import torch
    >>> from cnnkit.augment import default
    >>> aug = default(strength=1.0, generator=torch.Generator().manual_seed(0))
    >>> x = torch.rand(8, 3, 32, 32)
    >>> aug(x).shape
    torch.Size([8, 3, 32, 32])
"""

from __future__ import annotations

from .affine import RandomAffine, RandomResizedCrop
from .base import Augmentation
from .checks import PairOrNumber as PairOrNumber
from .containers import Compose, RandomChoice
from .geometric import RandomCrop, RandomFlip
from .mixing import CutMix, Mixup, MixupOrCutMix
from .photometric import ColorJitter, RandomErasing
from .presets import default

# In reading order (docs/reference/augment.md renders the classes in this order).
__all__ = [  # noqa: RUF022
    "Augmentation",
    "RandomFlip",
    "RandomCrop",
    "RandomResizedCrop",
    "RandomAffine",
    "ColorJitter",
    "RandomErasing",
    "MixupOrCutMix",
    "Mixup",
    "CutMix",
    "Compose",
    "RandomChoice",
    "default",
]
