"""The default augmentation pipeline, :func:`default`, scaled by one ``strength``."""

from __future__ import annotations

import torch

from cnnkit._validate import check_finite

from .affine import RandomAffine
from .containers import Compose
from .geometric import RandomFlip
from .photometric import ColorJitter, RandomErasing


def default(strength: float = 1.0, *, generator: torch.Generator | None = None) -> Compose:
    """The default cnnkit augmentation pipeline, scaled by ``strength``.

    At ``strength = s`` (``0 <= s <= 3``; ``s = 0`` gives an empty, identity pipeline)::

        RandomFlip("horizontal", p=0.5)
        RandomAffine(degrees=15*s, translate=(0.1*s, 0.1*s), scale=(1 - 0.1*s, 1 + 0.1*s),
                     shear=10*s, padding_mode="reflection", p=0.8)
        ColorJitter(brightness=0.2*s, contrast=0.2*s, saturation=0.2*s, p=0.8)
        RandomErasing(p=min(1, 0.25*s), scale=(0.02, 0.15))

    These are mild, label-preserving settings for natural photos (no vertical flip: vehicles
    are not upside down). Reflection padding avoids black corners that a small model could
    learn from. The pipeline works on float images of any range and on uint8.

    Args:
        strength: magnitude multiplier in ``[0, 3]``.
        generator: optional generator shared by every step (for reproducible runs).

    Returns:
        A :class:`Compose` of the steps above, with ``strength`` as its attribute (what
        ``diagnose()`` and ``improve()`` read to escalate from).

    Raises:
        ValueError: ``strength`` outside ``[0, 3]`` or not a finite number.

    Example:
        >>> aug = default(0.5)
        >>> len(aug), aug.strength
        (4, 0.5)
    """
    s = check_finite(strength, "strength")
    if not 0.0 <= s <= 3.0:
        raise ValueError(f"strength must be in [0, 3], got {strength!r}")
    if s == 0.0:
        pipeline = Compose([])
        pipeline.strength = 0.0
        return pipeline
    pipeline = Compose(
        [
            RandomFlip("horizontal", p=0.5, generator=generator),
            RandomAffine(
                degrees=15.0 * s,
                translate=(0.1 * s, 0.1 * s),
                scale=(1.0 - 0.1 * s, 1.0 + 0.1 * s),
                shear=10.0 * s,
                padding_mode="reflection",
                p=0.8,
                generator=generator,
            ),
            ColorJitter(
                brightness=0.2 * s, contrast=0.2 * s, saturation=0.2 * s, p=0.8, generator=generator
            ),
            RandomErasing(p=min(1.0, 0.25 * s), scale=(0.02, 0.15), generator=generator),
        ]
    )
    pipeline.strength = s
    return pipeline
