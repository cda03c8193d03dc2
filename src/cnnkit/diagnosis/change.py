"""The machine-readable part of a remedy: :class:`Change`, checked against the real names.

A :class:`Change` says what to change in a cnnkit run: ``builder`` settings (for
``ModelBuilder.replace``), ``trainer`` options (for ``Trainer.replace``), the ``augment``
pipeline and ``callbacks`` to add. :func:`cnnkit.study.apply_change` applies it. Every name is
checked when the change is created, so a misspelt remedy fails where it is written, not silently
later. The diagnosis is torch-free, so the valid names are kept here as plain tables;
``tests/test_diagnosis_change.py`` asserts that they equal the real ones (``ModelBuilder``'s
settings, ``dataclasses.fields(Trainer)``, the callback registry, ``cnnkit.augment.default``'s
parameters), so they cannot drift apart.

Examples:
    >>> c = Change(builder={"dropout": 0.25})
    >>> c["builder"], dict(c)
    ({'dropout': 0.25}, {'builder': {'dropout': 0.25}})
    >>> Change(builder={"dropuot": 0.25})
    Traceback (most recent call last):
    ...
    ValueError: unknown ModelBuilder setting 'dropuot' in Change.builder; did you mean 'dropout' or 'dropout_kind'? ...
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NoReturn

from cnnkit.diagnosis._format import jsonable

__all__ = [
    "AUGMENT_PRESETS",
    "AUGMENT_SETTINGS",
    "BUILDER_SETTINGS",
    "CALLBACK_TYPES",
    "CHANGE_PARTS",
    "TRAINER_FIELDS",
    "Change",
]

#: The parts of a change, in the order they are applied and shown.
CHANGE_PARTS: tuple[str, ...] = ("builder", "trainer", "augment", "callbacks")

#: Settings ``ModelBuilder.replace`` accepts: the builder-level defaults plus the three
#: constructor arguments.
BUILDER_SETTINGS: tuple[str, ...] = (
    "in_channels", "num_classes", "input_size", "batch_norm", "dropout", "dropout_kind",
    "block_size", "activation", "pool", "pool_size", "kernel_size", "order", "head", "width",
)  # fmt: skip

#: Fields of ``cnnkit.training.Trainer`` (what ``Trainer.replace`` accepts).
TRAINER_FIELDS: tuple[str, ...] = (
    "max_epochs", "batch_size", "optimizer", "lr", "weight_decay", "scheduler", "loss",
    "label_smoothing", "device", "precision", "grad_clip", "accumulate", "channels_last",
    "compile", "seed", "deterministic", "callbacks", "progress", "num_workers", "sync_batchnorm",
    "augment", "normalize", "eval_batch_size", "class_weight", "metrics",
    "scheduler_options", "ema", "backbone_lr",
)  # fmt: skip

#: Callback types ``cnnkit.training.callback_from_dict`` builds, with their keyword arguments.
CALLBACK_TYPES: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "EarlyStopping": ("monitor", "patience", "min_delta", "mode", "restore_best_weights"),
    "ModelCheckpoint": ("dirpath", "save_best", "save_last", "monitor", "mode", "save_model",
                        "classes"),
    "CSVLogger": ("path", "steps"),
    "TensorBoardLogger": ("log_dir", "steps"),
})  # fmt: skip

#: Keyword arguments of ``cnnkit.augment.default`` a change may set (``generator`` is not data).
AUGMENT_SETTINGS: tuple[str, ...] = ("strength",)

#: Named augmentation settings: ``"default"`` is ``cnnkit.augment.default()``, ``"none"`` turns
#: augmentation off.
AUGMENT_PRESETS: tuple[str, ...] = ("default", "none")

AugmentPart = str | Mapping[str, float] | Callable[..., Any] | None


class _ReadOnlyDict(dict[str, Any]):
    """A dict that refuses changes; it copies, pickles and ``dataclasses.asdict``-s like a dict."""

    def _refuse(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("a Change is read-only: build a new one, e.g. Change(builder={...})")

    __setitem__ = __delitem__ = __ior__ = _refuse  # type: ignore[assignment]
    clear = pop = popitem = setdefault = update = _refuse  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, ...]:
        return (_ReadOnlyDict, (dict(self),))


def _check_names(names: Iterable[Any], valid: Iterable[str], what: str, where: str) -> None:
    """Raise ValueError for the first name not in ``valid``, with the closest valid names."""
    valid = list(valid)
    for name in names:
        if name in valid:
            continue
        close = difflib.get_close_matches(str(name), valid, n=2)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else "."
        raise ValueError(
            f"unknown {what} {name!r} in {where}{hint} Valid names: {', '.join(valid)}"
        )


def _frozen(part: Any, where: str) -> Mapping[str, Any]:
    """A read-only copy of a ``{name: value}`` part; ``None`` is empty."""
    if part is None:
        return _ReadOnlyDict()
    if not isinstance(part, Mapping):
        raise TypeError(f"{where} must be a mapping of settings, e.g. {{'dropout': 0.25}}; "
                        f"got {type(part).__name__}")
    return _ReadOnlyDict(part)


def _check_augment(value: Any) -> Any:
    if value is None or callable(value):
        return value
    if isinstance(value, str):
        if value not in AUGMENT_PRESETS:
            _check_names([value], AUGMENT_PRESETS, "augmentation", "Change.augment")
        return value
    if isinstance(value, Mapping):
        _check_names(value, AUGMENT_SETTINGS, "cnnkit.augment.default() setting",
                     "Change.augment")
        for key, v in value.items():
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ValueError(f"Change.augment[{key!r}] must be a finite number, got {v!r}")
        return _ReadOnlyDict(value)
    raise TypeError(
        "Change.augment must be 'default', 'none', a dict of cnnkit.augment.default() settings "
        f"such as {{'strength': 0.5}}, a callable (x, y) -> (x, y) or None; got {value!r}"
    )


def _check_callback(spec: Any) -> Mapping[str, Any]:
    if not isinstance(spec, Mapping):
        raise TypeError(
            "each entry of Change.callbacks must be a dict such as "
            f"{{'type': 'EarlyStopping', 'patience': 5}}; got {spec!r}"
        )
    kind = spec.get("type")
    if kind is None:
        raise ValueError(f"callback {dict(spec)!r} in Change.callbacks has no 'type'; expected "
                         f"one of {', '.join(CALLBACK_TYPES)}")
    _check_names([kind], CALLBACK_TYPES, "callback type", "Change.callbacks")
    _check_names([k for k in spec if k != "type"], CALLBACK_TYPES[kind],
                 f"{kind} argument", "Change.callbacks")
    return _ReadOnlyDict(spec)


@dataclass(frozen=True, eq=False)
class Change(Mapping[str, Any]):
    """What a remedy changes, in parts that cnnkit can apply; every name checked on creation.

    A ``Change`` is also a read-only mapping of its non-empty parts, the form remedies had in
    cnnkit 0.1.0: ``change["builder"]`` is a plain dict, ``dict(change)`` and ``change ==
    {"builder": {"dropout": 0.25}}`` work, and an empty change is falsy.

    Attributes:
        builder: ``ModelBuilder.replace`` settings, e.g. ``{"dropout": 0.25}`` (names in
            ``BUILDER_SETTINGS``).
        trainer: ``Trainer.replace`` options, e.g. ``{"lr": 3e-4}`` (names in
            ``TRAINER_FIELDS``).
        augment: ``"default"`` (``cnnkit.augment.default()``), ``{"strength": s}``
            (``default(strength=s)``), ``"none"`` (no augmentation), a callable
            ``(x, y) -> (x, y)``, or ``None`` to leave the augmentation as it is.
        callbacks: Callbacks to add, as ``{"type": ..., **kwargs}`` dicts for
            ``cnnkit.training.callback_from_dict`` (types and arguments in ``CALLBACK_TYPES``);
            each replaces a callback of the same type.

    Raises:
        ValueError: An unknown setting, option, augmentation or callback name (the message lists
            the valid names and the closest matches), or a non-numeric augmentation setting.
        TypeError: A part of the wrong type (e.g. ``builder`` not a mapping).

    Examples:
        >>> Change(trainer={"lr": 3e-4}, callbacks=[{"type": "EarlyStopping", "patience": 5}])
        Change(trainer={'lr': 0.0003}, callbacks=[{'type': 'EarlyStopping', 'patience': 5}])
    """

    builder: Mapping[str, Any] = field(default_factory=dict)
    trainer: Mapping[str, Any] = field(default_factory=dict)
    augment: AugmentPart = None
    callbacks: tuple[Mapping[str, Any], ...] = ()

    def __post_init__(self) -> None:
        builder = _frozen(self.builder, "Change.builder")
        _check_names(builder, BUILDER_SETTINGS, "ModelBuilder setting", "Change.builder")
        trainer = _frozen(self.trainer, "Change.trainer")
        _check_names(trainer, TRAINER_FIELDS, "Trainer option", "Change.trainer")
        callbacks = self.callbacks if self.callbacks is not None else ()
        if isinstance(callbacks, (str, bytes, Mapping)) or not isinstance(callbacks, Iterable):
            raise TypeError("Change.callbacks must be a list of dicts such as "
                            f"[{{'type': 'EarlyStopping', 'patience': 5}}]; got {callbacks!r}")
        object.__setattr__(self, "builder", builder)
        object.__setattr__(self, "trainer", trainer)
        object.__setattr__(self, "augment", _check_augment(self.augment))
        object.__setattr__(self, "callbacks", tuple(_check_callback(c) for c in callbacks))

    @classmethod
    def from_mapping(cls, change: Mapping[str, Any]) -> Change:
        """Build a change from its 0.1.0 dict form, e.g. ``{"builder": {"dropout": 0.25}}``.

        Args:
            change: A mapping with keys among ``builder``, ``trainer``, ``augment`` and
                ``callbacks`` (a :class:`Change` is returned as it is). An explicit
                ``"augment": None`` means "no augmentation", as ``apply_change`` read it in 0.1.0.

        Returns:
            The validated :class:`Change`.

        Raises:
            ValueError: An unknown key or name (see :class:`Change`).
            TypeError: ``change`` is not a mapping, or a part has the wrong type.
        """
        if isinstance(change, Change):
            return change
        if not isinstance(change, Mapping):
            raise TypeError(f"a change must be a Change or a mapping such as "
                            f"{{'builder': {{'dropout': 0.25}}}}; got {type(change).__name__}")
        unknown = [k for k in change if k not in CHANGE_PARTS]
        if unknown:
            raise ValueError(
                f"cannot apply change keys {sorted(map(str, unknown))}; known: "
                f"{', '.join(CHANGE_PARTS)}"
            )
        augment = change.get("augment")
        if "augment" in change and augment is None:
            augment = "none"
        return cls(builder=change.get("builder") or {}, trainer=change.get("trainer") or {},
                   augment=augment, callbacks=tuple(change.get("callbacks") or ()))

    # -- the read-only mapping of non-empty parts -------------------------------------------

    def __getitem__(self, key: str) -> Any:
        if key not in CHANGE_PARTS or not self._has(key):
            raise KeyError(key)
        if key == "callbacks":
            return [dict(c) for c in self.callbacks]
        value = getattr(self, key)
        return dict(value) if isinstance(value, Mapping) else value

    def __iter__(self) -> Iterator[str]:
        return (part for part in CHANGE_PARTS if self._has(part))

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def _has(self, part: str) -> bool:
        value = getattr(self, part)
        return value is not None if part == "augment" else len(value) > 0

    def __repr__(self) -> str:
        parts = ", ".join(f"{k}={self[k]!r}" for k in self)
        return f"Change({parts})"

    def to_dict(self) -> dict[str, Any]:
        """The non-empty parts as plain JSON-serializable data (the 0.1.0 ``change`` dict)."""
        out: dict[str, Any] = jsonable(dict(self))
        return out
