"""Reproducibility: seed every random stream, and optionally force deterministic kernels."""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Iterator

import numpy as np
import torch

__all__ = ["determinism", "seed_everything"]


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and torch (CPU and all CUDA devices).

    Call it before building the model so that weight initialization is reproducible too.

    Args:
        seed: Any integer.

    Example:
        >>> seed_everything(0); a = torch.rand(1); seed_everything(0)
        >>> bool(torch.rand(1) == a)
        True
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@contextlib.contextmanager
def determinism(enabled: bool) -> Iterator[None]:
    """Run the block with ``torch.use_deterministic_algorithms(True)`` (and no cuDNN benchmark).

    The previous settings are restored afterwards; ``CUBLAS_WORKSPACE_CONFIG`` is set (if unset)
    as CUDA's deterministic GEMMs require.

    Args:
        enabled: ``False`` makes this a no-op.
    """
    if not enabled:
        yield
        return
    prev = torch.are_deterministic_algorithms_enabled()
    prev_bench = torch.backends.cudnn.benchmark
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(prev)
        torch.backends.cudnn.benchmark = prev_bench
