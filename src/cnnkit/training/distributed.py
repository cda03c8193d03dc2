"""Distributed data parallel (DDP) support, detected from ``torchrun``'s environment variables.

``torchrun --nproc_per_node=N script.py`` starts ``N`` processes and sets ``RANK``,
``LOCAL_RANK`` and ``WORLD_SIZE`` in each. :func:`setup` reads them (as nanoGPT does), joins the
process group (``nccl`` on CUDA, ``gloo`` otherwise) and tells the trainer which shard of the data
this process owns. Without those variables everything here is a no-op and training is
single-process.

Teardown. The process group is destroyed by an ``atexit`` handler, while the interpreter is
still fully alive, and that must really free torch's backend: a gloo worker thread that is still
finishing a collective when the interpreter starts finalizing releases the last reference to a
Python-owned tensor, which needs the GIL; Python then ends that thread with ``pthread_exit``,
whose unwinding through a ``noexcept`` C++ destructor calls ``std::terminate`` ("terminate called
without an active exception", SIGABRT). Destroying the group at ``atexit`` joins those threads
first, but only if nothing else still holds the group: ``torch.distributed.nn.functional``
captures the default group in its functions' default arguments when it is first imported, and
torch imports it lazily (through ``torch._dynamo``, on the first optimizer's construction). So
:func:`setup` imports it *before* creating the group, and :func:`_destroy` collects reference
cycles (a DDP wrapper's reducer holds the group) before destroying it.
"""

from __future__ import annotations

import atexit
import gc
import importlib
import os
import warnings
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

__all__ = [
    "DistInfo",
    "all_reduce_sum",
    "broadcast_int",
    "detect",
    "setup",
    "sync_batchnorm",
    "wrap",
]


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands in a (possibly single-process) job.

    Attributes:
        rank: Global rank of this process (0 when single-process).
        local_rank: Rank on this machine, used to pick ``cuda:<local_rank>``.
        world_size: Number of processes (1 when single-process).
    """

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def enabled(self) -> bool:
        """True when more than one process trains together."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """True on rank 0, the only rank that prints or writes files."""
        return self.rank == 0


def detect() -> DistInfo:
    """Read ``RANK`` / ``LOCAL_RANK`` / ``WORLD_SIZE`` as set by ``torchrun``.

    Returns:
        The job layout; ``DistInfo()`` (single process) when the variables are absent.

    Raises:
        ValueError: If the variables are present but not integers.
    """
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return DistInfo()
    try:
        rank = int(os.environ["RANK"])
        world = int(os.environ["WORLD_SIZE"])
        local = int(os.environ.get("LOCAL_RANK", rank))
    except ValueError as err:
        raise ValueError(
            f"RANK/WORLD_SIZE/LOCAL_RANK must be integers (as torchrun sets them): {err}"
        ) from err
    return DistInfo(rank=rank, local_rank=local, world_size=world)


def setup(device_type: str) -> DistInfo:
    """Join the process group if launched by ``torchrun`` with more than one process.

    The group is created once per process and destroyed at interpreter exit, so a script may call
    :meth:`Trainer.fit` several times.

    Args:
        device_type: ``"cuda"`` selects the ``nccl`` backend, anything else ``gloo``.

    Returns:
        The job layout from :func:`detect`.

    Raises:
        RuntimeError: If ``torch.distributed`` is not available in this torch build.
    """
    info = detect()
    if not info.enabled:
        return info
    if not dist.is_available():
        raise RuntimeError(
            "WORLD_SIZE > 1 but this torch build has no torch.distributed; run without torchrun"
        )
    if not dist.is_initialized():
        backend = "nccl" if device_type == "cuda" else "gloo"
        # Imported after the group exists, this module would keep it alive in its functions'
        # default arguments (``group=group.WORLD``) past destroy_process_group: see the module
        # docstring for why the group must die at exit, not during interpreter finalization.
        importlib.import_module("torch.distributed.nn.functional")
        dist.init_process_group(backend=backend)
        atexit.register(_destroy)
    return info


def _destroy() -> None:
    """Destroy the process group at exit, joining the backend's threads while Python is alive."""
    if dist.is_available() and dist.is_initialized():
        gc.collect()  # DDP wrappers in reference cycles still hold the group through their reducers
        dist.destroy_process_group()


def wrap(model: nn.Module, device: torch.device, info: DistInfo) -> nn.Module:
    """``DistributedDataParallel(model)`` under DDP, else ``model`` itself.

    Args:
        model: The model, already on ``device``.
        device: This rank's device (CUDA: its index is the DDP device id).
        info: The job layout.

    Returns:
        What the loop calls.
    """
    if not info.enabled:
        return model
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)


def sync_batchnorm(
    model: nn.Module, requested: bool, info: DistInfo, device: torch.device
) -> nn.Module:
    """Apply ``Trainer(sync_batchnorm=...)``: convert batch norm to ``SyncBatchNorm`` under DDP.

    Call it directly from ``Trainer.fit`` (its warning points at the caller of ``fit``).

    Args:
        model: The model.
        requested: The option's value.
        info: The job layout (a single process only warns that the option does nothing).
        device: This rank's device.

    Returns:
        The model, converted when requested under DDP.

    Raises:
        ValueError: Under DDP on a device other than CUDA (torch supports GPUs only).
    """
    if not requested:
        return model
    if not info.enabled:
        warnings.warn(
            "sync_batchnorm=True has no effect in a single-process run (there is only one "
            "batch to take statistics from); it applies when launched with torchrun on GPUs",
            UserWarning,
            stacklevel=3,
        )
        return model
    if device.type != "cuda":
        raise ValueError(
            f"sync_batchnorm=True needs CUDA devices (torch's SyncBatchNorm only works "
            f"with GPU modules), but this run is on {device.type!r}; drop it on CPU (each "
            "rank then normalizes with the statistics of its own shard of the batch)"
        )
    converted: nn.Module = nn.SyncBatchNorm.convert_sync_batchnorm(model)  # type: ignore[no-untyped-call]
    return converted


def all_reduce_sum(tensor: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Sum ``tensor`` over all processes in place (a no-op when single-process).

    Args:
        tensor: Any shape; must have the same shape on every rank.
        info: The job layout.

    Returns:
        ``tensor`` itself, now holding the global sum.
    """
    if info.enabled:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def broadcast_int(value: int, info: DistInfo, device: torch.device) -> int:
    """Return rank 0's ``value`` on every rank (e.g. a random seed all ranks must share).

    Args:
        value: This rank's value (only rank 0's is kept).
        info: The job layout.
        device: Device the backend can communicate on (CUDA for nccl).

    Returns:
        Rank 0's value.
    """
    if not info.enabled:
        return value
    t = torch.tensor([value], dtype=torch.int64, device=device)
    dist.broadcast(t, src=0)
    return int(t.item())
