"""What was trained: the regularizers and settings a run already had, read by duck typing.

``diagnose(history, model=..., builder=..., trainer=...)`` passes them to :func:`trained_with`,
and the remedies read the resulting :class:`TrainedWith` so that they never suggest what is
already there (batch norm to a model that has it, dropout at or below its current rate,
augmentation that is on) and escalate instead. Nothing here imports torch or cnnkit's training
and builder modules: a model is anything with ``modules()`` (class names such as ``BatchNorm2d``
and ``Dropout2d``, a dropout rate in ``p``), a builder anything with ``defaults`` or
``to_dict()`` (cnnkit's ``ModelBuilder``), a trainer anything with ``augment``,
``weight_decay``, ``scheduler`` and ``callbacks`` attributes (cnnkit's ``Trainer``). A field that
cannot be read stays ``None`` ("unknown"), and the remedies then behave as without context.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["TrainedWith", "trained_with"]


@dataclass(frozen=True)
class TrainedWith:
    """The settings of the run that the remedies take into account (``None`` = unknown).

    Attributes:
        batch_norm: The model has batch norm.
        dropout: The highest dropout rate in the model (0.0 when it has none).
        augment: Training batches are augmented.
        augment_strength: ``strength`` of a ``cnnkit.augment.default`` pipeline, when known.
        mixup: The augmentation mixes images (``Mixup``, ``CutMix``, ``MixupOrCutMix``).
        weight_decay: The trainer's weight decay.
        scheduler: The trainer has a learning-rate schedule.
        width: The builder's width multiplier.
        restores_best: An ``EarlyStopping(restore_best_weights=True)`` callback is set.
    """

    batch_norm: bool | None = None
    dropout: float | None = None
    augment: bool | None = None
    augment_strength: float | None = None
    mixup: bool | None = None
    weight_decay: float | None = None
    scheduler: bool | None = None
    width: float | None = None
    restores_best: bool | None = None


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        return None
    return float(v)


def _from_model(model: Any) -> dict[str, Any]:
    modules = getattr(model, "modules", None)
    if not callable(modules):
        return {}
    names, rates = [], []
    for m in modules():
        name = type(m).__name__
        names.append(name)
        if name.startswith("Dropout") or name.startswith("DropBlock") or name == "AlphaDropout":
            rate = _number(getattr(m, "p", None))
            if rate is not None:
                rates.append(rate)
    return {"batch_norm": any("BatchNorm" in n for n in names),
            "dropout": max(rates, default=0.0)}


def _from_builder(builder: Any) -> dict[str, Any]:
    spec: Mapping[str, Any] = {}
    to_dict = getattr(builder, "to_dict", None)
    if callable(to_dict):
        try:
            spec = to_dict()
        except (TypeError, ValueError):  # e.g. a callable activation that does not serialize
            spec = {}
    defaults = spec.get("defaults", getattr(builder, "defaults", None))
    if not isinstance(defaults, Mapping):
        return {}
    layers = spec.get("layers", getattr(builder, "layers", ()))
    layers = [layer for layer in layers if isinstance(layer, Mapping)] if isinstance(
        layers, Iterable) else []
    rates = [r for r in (_number(x.get("dropout")) for x in [defaults, *layers]) if r is not None]
    bn = [x.get("batch_norm") for x in [defaults, *layers] if isinstance(x.get("batch_norm"), bool)]
    out: dict[str, Any] = {"width": _number(defaults.get("width"))}
    if rates:
        out["dropout"] = max(rates)
    if bn:
        out["batch_norm"] = any(bn)
    return out


def _mixes(fn: Any) -> bool:
    names = {type(fn).__name__}
    for part in getattr(fn, "transforms", None) or ():
        names.add(type(part).__name__)
    return bool(names & {"Mixup", "CutMix", "MixupOrCutMix"})


def _from_trainer(trainer: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if hasattr(trainer, "augment"):
        aug = trainer.augment
        out["augment"] = aug is not None
        out["mixup"] = aug is not None and _mixes(aug)
        out["augment_strength"] = _number(getattr(aug, "strength", None))
    if hasattr(trainer, "weight_decay"):
        out["weight_decay"] = _number(trainer.weight_decay)
    if hasattr(trainer, "scheduler"):
        out["scheduler"] = trainer.scheduler is not None
    callbacks = getattr(trainer, "callbacks", None)
    if isinstance(callbacks, Iterable):
        out["restores_best"] = any(type(cb).__name__ == "EarlyStopping"
                                   and getattr(cb, "restore_best_weights", False) is True
                                   for cb in callbacks)
    return out


def trained_with(model: Any = None, builder: Any = None, trainer: Any = None) -> TrainedWith:
    """Read what a run had from its model, builder and trainer (any of them ``None``).

    The model, when given, is the truth about batch norm and dropout (it is what was trained);
    the builder fills in what the model does not tell, and gives the width.

    Args:
        model: The trained model (anything with ``modules()``), or ``None``.
        builder: Its ``ModelBuilder`` (anything with ``defaults`` or ``to_dict()``), or ``None``.
        trainer: Its ``Trainer`` (anything with ``augment``, ``weight_decay``, ``scheduler``,
            ``callbacks``), or ``None``.

    Returns:
        A :class:`TrainedWith`; fields that none of them tells are ``None``.
    """
    fields: dict[str, Any] = {}
    fields.update({k: v for k, v in _from_builder(builder).items() if v is not None})
    fields.update({k: v for k, v in _from_model(model).items() if v is not None})
    fields.update({k: v for k, v in _from_trainer(trainer).items() if v is not None})
    return TrainedWith(**fields)
