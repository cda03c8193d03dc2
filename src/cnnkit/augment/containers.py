"""Containers: run transforms in sequence (:class:`Compose`) or one chosen at random per batch
(:class:`RandomChoice`), threading the targets through.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import torch
from torch import Tensor, nn

from cnnkit._validate import is_number

from .base import _BatchTransform
from .checks import _check_generator


def _check_modules(transforms: Iterable[nn.Module], who: str) -> list[nn.Module]:
    items = list(transforms)
    for item in items:
        if not isinstance(item, nn.Module):
            raise TypeError(
                f"{who} takes nn.Module transforms, got {type(item).__name__}; wrap plain "
                "functions in an nn.Module"
            )
    return items


class Compose(_BatchTransform):
    """Apply transforms one after the other; ``Compose(ts)(x, y)`` threads ``y`` through all.

    Args:
        transforms: ``nn.Module`` augmentations, each callable as ``t(x)`` and ``t(x, y)``.

    Shapes:
        Whatever the transforms do; with ``y`` given, returns ``(x, y)``.

    Raises:
        TypeError: an item is not an ``nn.Module``.

    Example:
        >>> from cnnkit.augment import ColorJitter, RandomFlip
        >>> aug = Compose([RandomFlip(p=0.5), ColorJitter(brightness=0.2)])
        >>> aug(torch.rand(2, 3, 8, 8)).shape
        torch.Size([2, 3, 8, 8])
    """

    strength: float | None = None  # set by augment.default(strength); None: not a default()

    def __init__(self, transforms: Iterable[nn.Module]) -> None:
        super().__init__()
        self.transforms = nn.ModuleList(_check_modules(transforms, "Compose"))

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor | tuple[Tensor, Tensor]:
        """Run ``x`` (and ``y``) through every transform in order."""
        for t in self.transforms:
            if y is None:
                x = t(x)
            else:
                x, y = t(x, y)
        return x if y is None else (x, y)

    def __len__(self) -> int:
        return len(self.transforms)


class RandomChoice(_BatchTransform):
    """Apply one transform chosen at random (once per batch) among several.

    Args:
        transforms: ``nn.Module`` augmentations.
        weights: optional relative weights (non-negative, not all zero); uniform by default.
        generator: optional random generator for reproducibility.

    Raises:
        ValueError: empty ``transforms`` or bad ``weights``.
        TypeError: an item is not an ``nn.Module``.

    Example:
        >>> from cnnkit.augment import CutMix, Mixup
        >>> choice = RandomChoice([Mixup(2), CutMix(2)])
        >>> x, y = choice(torch.rand(4, 3, 8, 8), torch.tensor([0, 1, 1, 0]))
        >>> y.shape
        torch.Size([4, 2])
    """

    def __init__(
        self,
        transforms: Iterable[nn.Module],
        weights: Sequence[float] | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        items = _check_modules(transforms, "RandomChoice")
        if not items:
            raise ValueError("RandomChoice needs at least one transform")
        if weights is None:
            weights = [1.0] * len(items)
        if (
            len(weights) != len(items)
            or not all(is_number(w) and math.isfinite(w) and w >= 0 for w in weights)
            or sum(weights) <= 0
        ):
            raise ValueError(
                f"weights must be {len(items)} non-negative numbers, not all zero, got {weights!r}"
            )
        self.transforms = nn.ModuleList(items)
        self.weights = [float(w) for w in weights]
        self.generator = _check_generator(generator)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor | tuple[Tensor, Tensor]:
        """Apply one randomly chosen transform to ``x`` (and ``y``)."""
        g = self.generator
        probs = torch.tensor(self.weights, device=g.device if g is not None else "cpu")
        k = int(torch.multinomial(probs, 1, generator=g))
        t = self.transforms[k]
        return t(x) if y is None else t(x, y)  # type: ignore[no-any-return]

    def extra_repr(self) -> str:
        return f"weights={self.weights}"
