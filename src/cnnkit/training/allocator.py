"""CPU training speed: keep freed tensor memory in glibc's heap (:func:`tune_cpu_allocator`).

PyTorch's CPU allocator asks ``malloc`` for every tensor and frees it when the tensor dies. glibc
serves blocks above its *mmap threshold* (128 KiB, raised dynamically up to 32 MiB) with a fresh
``mmap`` and gives them back with ``munmap`` on ``free``, and trims the heap top above its *trim
threshold*. A training step allocates and frees the same activation and gradient buffers of
megabytes every step, so every step page-faults and zero-fills them anew: on the recipe's model
at 96x96 that was 40% of the epoch (``aten::fill_`` and batch norm's backward in a profile).
Pinning both thresholds high keeps those blocks in the heap for reuse. This is done by hand with
``mallopt`` (what ``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_`` do at start-up), since no
library offers it; ``benchmarks/cpu_allocator.py`` measures it.
"""

from __future__ import annotations

import ctypes
import ctypes.util

__all__ = ["DEFAULT_THRESHOLD", "tune_cpu_allocator"]

DEFAULT_THRESHOLD = 1 << 30
"""1 GiB: above any single tensor of a small CNN's step, so none is handed back to the OS."""

_M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers (malloc.h)
_M_MMAP_THRESHOLD = -3


def tune_cpu_allocator(threshold: int = DEFAULT_THRESHOLD) -> bool:
    """Keep freed memory in the process heap instead of returning it to the OS at every step.

    Call it once, at the start of a training script on Linux (glibc): for the recommended
    recipe on a CPU it made epochs 1.6 times faster (docs/benchmarks.md). It changes the whole
    process's ``malloc``: up to ``threshold`` bytes of freed memory stay mapped for reuse (the
    resident size stays near its peak rather than falling between steps). It has no effect on
    what is computed.

    Args:
        threshold: the mmap and trim thresholds in bytes (default :data:`DEFAULT_THRESHOLD`).

    Returns:
        ``True`` when both thresholds were set; ``False`` where there is no glibc ``mallopt``
        (macOS, Windows, musl) or glibc refused the value: then nothing changed.

    Raises:
        ValueError: ``threshold`` is not a positive integer below 2**31.

    Examples:
        >>> tune_cpu_allocator() in (True, False)
        True
    """
    if isinstance(threshold, bool) or not isinstance(threshold, int) or not 0 < threshold < 2**31:
        raise ValueError(f"threshold must be a positive number of bytes below 2**31, got {threshold!r}")
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, threshold)) and bool(mallopt(_M_TRIM_THRESHOLD, threshold))
