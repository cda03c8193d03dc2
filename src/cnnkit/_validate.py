"""Argument checks shared by every cnnkit module: one definition, one wording of each error.

Each check returns the value in its canonical form (``float``, ``int``, an ``(H, W)`` pair) or
raises with the bad value and what to pass instead. The module imports nothing beyond the
standard library, so the torch-free parts of cnnkit (diagnosis, history) can use it too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = [
    "SizeTypeError",
    "check_choice",
    "check_finite",
    "check_positive_int",
    "check_probability",
    "is_number",
    "size_pair",
]


class SizeTypeError(TypeError, ValueError):
    """A size of the wrong type (not an int or a pair of ints).

    It is both a ``TypeError`` (the usual exception for a wrong type) and a ``ValueError`` (what
    cnnkit 0.1.0 raised for it in the augmentations and the builder), so code written against
    either keeps working.
    """


def is_number(value: object) -> bool:
    """True for an ``int`` or ``float`` that is not a ``bool``."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_probability(p: object, name: str = "p", *, allow_one: bool = True) -> float:
    """``p`` as a float in ``[0, 1]``, or ``[0, 1)`` with ``allow_one=False``.

    Two meanings share this check and differ only at 1: a probability of applying something
    (``RandomFlip(p=1.0)`` always flips) admits 1, a dropout rate does not (dropping every unit
    leaves nothing to rescale), so dropout checks pass ``allow_one=False``.

    Raises:
        ValueError: ``p`` is not a number in the range.
    """
    ok = is_number(p) and 0.0 <= float(p) <= 1.0  # type: ignore[arg-type]
    if ok and not allow_one and float(p) == 1.0:  # type: ignore[arg-type]
        ok = False
    if not ok:
        interval = "[0, 1]" if allow_one else "[0, 1)"
        raise ValueError(f"{name} must be a probability in {interval}, got {p!r}")
    return float(p)  # type: ignore[arg-type]


def check_finite(value: object, name: str) -> float:
    """``value`` as a float; raises ``ValueError`` unless it is a finite number."""
    if not is_number(value) or not math.isfinite(float(value)):  # type: ignore[arg-type]
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)  # type: ignore[arg-type]


def check_positive_int(value: object, name: str) -> int:
    """``value`` as an int ``>= 1``; raises ``ValueError`` otherwise (``bool`` is refused)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def check_choice(value: object, name: str, choices: Sequence[str]) -> str:
    """``value`` if it is one of ``choices``; else ``ValueError`` listing the valid ones."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"unknown {name} {value!r}; use one of {list(choices)}")
    return value


def size_pair(size: object, name: str = "size") -> tuple[int, int]:
    """An image size as ``(height, width)``: an int ``s`` means ``(s, s)``.

    Args:
        size: An int, or a sequence of two ints (a one-element sequence means a square).
        name: The argument's name, used in the error.

    Raises:
        SizeTypeError: ``size`` is not an int or a pair of ints.
        ValueError: a side is not positive.
    """
    if isinstance(size, int) and not isinstance(size, bool):
        pair: tuple[object, ...] = (size, size)
    elif isinstance(size, Sequence) and not isinstance(size, str) and len(size) in (1, 2):
        pair = (size[0], size[-1])
    else:
        raise SizeTypeError(f"{name} must be an int or a (height, width) pair of ints, got {size!r}")
    if not all(isinstance(s, int) and not isinstance(s, bool) for s in pair):
        raise SizeTypeError(f"{name} must be an int or a (height, width) pair of ints, got {size!r}")
    h, w = int(pair[0]), int(pair[1])  # type: ignore[call-overload]
    if h < 1 or w < 1:
        raise ValueError(f"{name} must be positive, got {size!r}")
    return (h, w)
