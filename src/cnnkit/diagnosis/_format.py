"""Plain-data and text formatting shared by the diagnosis types (numpy only)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from enum import Enum
from typing import Any

import numpy as np

__all__ = ["fmt", "jsonable"]


def jsonable(value: Any) -> Any:
    """Plain Python copy of ``value`` for strict JSON.

    Mappings become dicts with ``str`` keys, lists and tuples become lists, enums their value,
    numpy scalars Python numbers, and non-finite floats ``None``. Anything else is returned as is.

    Args:
        value: Nested mappings, sequences and scalars.

    Returns:
        The converted copy.
    """
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return f if math.isfinite(f) else None
    return value


def fmt(x: Any) -> str:
    """Format a number for reports (4 significant digits; ``None`` -> ``"n/a"``)."""
    if x is None:
        return "n/a"
    if isinstance(x, (float, np.floating)):
        return f"{float(x):.4g}"
    return str(x)
