"""Distributed data parallel (DDP) support, detected from ``torchrun``'s environment variables.

``torchrun --nproc_per_node=N script.py`` starts ``N`` processes and sets ``RANK``,
``LOCAL_RANK`` and ``WORLD_SIZE`` in each. :func:`setup` reads them (as nanoGPT does), joins the
process group (``nccl`` on CUDA, ``gloo`` otherwise) and tells the trainer which shard of the data
this process owns. Without those variables everything here is a no-op and training is
single-process.
"""

from __future__ import annotations

import atexit
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

__all__ = ["DistInfo", "all_reduce_sum", "broadcast_int", "detect", "setup"]


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
        dist.init_process_group(backend=backend)
        atexit.register(_destroy)
    return info


def _destroy() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


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
