"""What a study varies: :class:`Variant` (a model description with its trainer settings and
augmentation) and :func:`resolve_augment` (an augmentation spec to a callable)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import cnnkit.augment as augment_lib
from cnnkit.builder import ModelBuilder
from cnnkit.training import Trainer

__all__ = ["AugmentSpec", "Variant", "resolve_augment"]

#: An augmentation as a study or a remedy names it (see :class:`Variant`).
AugmentSpec = Callable[..., Any] | str | Mapping[str, Any] | None


@dataclass
class Variant:
    """One model configuration of a study.

    Args:
        builder: the model to build (a fresh model is built for every seed).
        trainer: settings that override the study's trainer for this variant, as
            :meth:`Trainer.replace` keywords (e.g. ``{"lr": 3e-4}``).
        augment: a per-batch augmentation ``(x, y) -> (x, y)``, ``"default"`` for
            :func:`cnnkit.augment.default`, ``{"strength": s}`` for ``default(strength=s)``, or
            ``None`` (or ``"none"``) for no augmentation.
    """

    builder: ModelBuilder
    trainer: Mapping[str, Any] = field(default_factory=dict)
    augment: AugmentSpec = None

    def make_trainer(self, base: Trainer) -> Trainer:
        """The study's trainer with this variant's settings and augmentation applied."""
        changes = dict(self.trainer)
        if self.augment is not None:
            changes["augment"] = resolve_augment(self.augment)
        return base.replace(**changes) if changes else base


def resolve_augment(spec: AugmentSpec) -> Callable[..., Any] | None:
    """Turn an augmentation spec into a callable (see :class:`Variant`).

    Args:
        spec: a callable ``(x, y) -> (x, y)``, ``"default"``, ``{"strength": s}`` (settings of
            :func:`cnnkit.augment.default`), ``"none"`` or ``None``.

    Returns:
        The augmentation callable, or ``None`` for no augmentation.

    Raises:
        ValueError: any other value.
    """
    if spec is None or callable(spec):
        return spec
    if spec == "none":
        return None
    if spec == "default":
        return augment_lib.default()
    if isinstance(spec, Mapping):
        return augment_lib.default(**spec)
    raise ValueError(
        f"augment must be a callable, 'default', 'none', a dict of default() settings or None; got {spec!r}"
    )
