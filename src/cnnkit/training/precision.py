"""Device and precision policy: which device a run uses, autocast, and the fp16 gradient scaler.

``device="auto"`` means CUDA, then MPS, then CPU (under DDP: ``cuda:<LOCAL_RANK>``). Mixed precision
is used only where the device supports it: ``"bf16-mixed"`` on CUDA with bfloat16 and on CPU,
``"16-mixed"`` on CUDA (with a :class:`torch.amp.GradScaler`) and MPS. ``"auto"`` is
``"bf16-mixed"`` where the device computes in bfloat16 natively (:func:`has_fast_bf16`), else
``"32"``: on a CPU with AVX512-BF16 it trains 2-3 times faster at the same accuracy
(``benchmarks/time_to_accuracy.py``, docs/benchmarks.md).
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch

from .distributed import DistInfo

__all__ = [
    "PRECISIONS",
    "autocast",
    "check_device",
    "check_precision",
    "effective_precision",
    "grad_scaler",
    "has_fast_bf16",
    "make_scaler",
    "resolve_device",
]

#: The accepted ``Trainer(precision=...)`` values.
PRECISIONS = ("32", "bf16-mixed", "16-mixed", "auto")

_DEVICE_FORMS = "'auto', 'cpu', 'cuda', 'cuda:N' (e.g. 'cuda:0'), 'mps' or a torch.device"


def check_device(device: Any) -> str | torch.device:
    """Validate ``Trainer(device=...)`` up front, so a typo fails at construction, not in fit.

    Args:
        device: ``"auto"``, a device string or a ``torch.device``.

    Returns:
        ``device`` unchanged.

    Raises:
        TypeError: For a value that is neither a string nor a ``torch.device``.
        ValueError: For a string torch does not parse (``"gpu"`` is told torch says ``"cuda"``).
    """
    if isinstance(device, torch.device):
        return device
    if not isinstance(device, str):
        raise TypeError(
            f"Trainer(device={device!r}): expected a string or torch.device; use {_DEVICE_FORMS}"
        )
    if device == "auto":
        return device
    try:
        torch.device(device)
    except (RuntimeError, ValueError) as err:
        hint = " (torch calls GPUs 'cuda')" if device.lower().startswith("gpu") else ""
        raise ValueError(
            f"Trainer(device={device!r}) is not a valid device{hint}; use {_DEVICE_FORMS}"
        ) from err
    return device


def resolve_device(device: str | torch.device, info: DistInfo) -> torch.device:
    """The device this process trains on (and make it the current CUDA device).

    Args:
        device: The validated ``Trainer(device=...)`` option.
        info: The job layout (a DDP rank takes ``cuda:<local_rank>``).

    Returns:
        The device.

    Raises:
        ValueError: For a CUDA device when CUDA is not available.
    """
    if device != "auto":
        dev = torch.device(device)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(
                f"Trainer(device={device!r}) but CUDA is not available; use device='auto' or 'cpu'"
            )
        if dev.type == "cuda" and dev.index is None and info.enabled:
            dev = torch.device("cuda", info.local_rank)
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        return dev
    if torch.cuda.is_available():
        dev = torch.device("cuda", info.local_rank if info.enabled else torch.cuda.current_device())
        torch.cuda.set_device(dev)
        return dev
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available() and not info.enabled:
        return torch.device("mps")
    return torch.device("cpu")


def has_fast_bf16(device: torch.device) -> bool:
    """Whether ``device`` runs bfloat16 natively: a CUDA GPU with bf16, or a CPU with AVX512-BF16
    or AMX tiles (Intel Cooper Lake, Sapphire Rapids and later; AMD Zen 4 and later).

    Other CPUs emulate bfloat16 and are slower with it than in float32, which is why
    ``precision="auto"`` asks. ``torch.cpu._is_avx512_bf16_supported`` is private API (stable
    since torch 2.0); where it is missing the answer is ``False``, the safe side.
    """
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    if device.type != "cpu":
        return False
    cpu = torch.cpu
    checks = [getattr(cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    return any(bool(check()) for check in checks if check is not None)


def effective_precision(precision: str, device: torch.device) -> str:
    """The precision a run uses: ``"auto"`` becomes ``"bf16-mixed"`` where
    :func:`has_fast_bf16` says the device runs it natively, else ``"32"``; others are unchanged.

    Example:
        >>> effective_precision("32", torch.device("cpu"))
        '32'
    """
    if precision != "auto":
        return precision
    return "bf16-mixed" if has_fast_bf16(device) else "32"


def check_precision(precision: str, device: torch.device) -> None:
    """Refuse a precision the device cannot run, naming the alternative.

    Args:
        precision: One of :data:`PRECISIONS`.
        device: The resolved device.

    Raises:
        ValueError: ``"bf16-mixed"`` on a GPU without bfloat16 or on MPS; ``"16-mixed"`` on CPU.
    """
    if precision == "bf16-mixed":
        if device.type == "cuda" and not torch.cuda.is_bf16_supported():
            raise ValueError(
                "precision='bf16-mixed' but this GPU does not support bfloat16; use "
                "precision='16-mixed'"
            )
        if device.type not in ("cuda", "cpu"):
            raise ValueError(
                f"precision='bf16-mixed' is supported on CUDA and CPU, not {device.type!r}; use '16-mixed' or '32'"
            )
    elif precision == "16-mixed" and device.type not in ("cuda", "mps"):
        raise ValueError(
            f"precision='16-mixed' needs a CUDA or MPS device (got {device.type!r}); on CPU "
            "use precision='bf16-mixed' or '32'"
        )


def autocast(precision: str, device: torch.device) -> contextlib.AbstractContextManager[Any]:
    """The context the forward pass and loss run in: ``torch.autocast`` for mixed precision.

    Args:
        precision: One of :data:`PRECISIONS`.
        device: The resolved device.

    Returns:
        A null context for ``"32"``, else autocast to bfloat16 or float16.
    """
    precision = effective_precision(precision, device)
    if precision == "32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16-mixed" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


def grad_scaler(device_type: str) -> Any:
    """A new gradient scaler for ``device_type`` (``torch.amp``, or ``torch.cuda.amp`` before 2.3)."""
    amp = getattr(torch, "amp", None)
    if amp is not None and hasattr(amp, "GradScaler"):
        return amp.GradScaler(device_type)
    return torch.cuda.amp.GradScaler()  # torch < 2.3


def make_scaler(precision: str, device: torch.device) -> Any:
    """The gradient scaler a run needs: one for ``"16-mixed"`` on CUDA, else ``None``.

    Args:
        precision: One of :data:`PRECISIONS`.
        device: The resolved device.

    Returns:
        A ``GradScaler`` or ``None``.
    """
    if effective_precision(precision, device) == "16-mixed" and device.type == "cuda":
        return grad_scaler(device.type)
    return None
