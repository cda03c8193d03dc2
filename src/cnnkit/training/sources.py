"""The data sources behind ``fit``/``evaluate``/``predict``: one interface, two implementations.

Every :class:`Source` yields batches ``(x, y, global_n)`` where ``x``/``y`` are this rank's part of
a batch (on the host, as stored) and ``global_n`` is the size of the whole batch over all ranks
(used to weight the loss so DDP averages exactly like one big batch):

* :class:`TensorSource`, the fast path for in-memory ``(X, y)``: one ``randperm`` per epoch and one
  index per batch, no per-sample collation (the case study's hand-written loop, as a class).
* :class:`LoaderSource`, for a ``Dataset`` (a DataLoader is built, sharded under DDP) or a
  user ``DataLoader`` (used as given).

:func:`as_source` picks the right one for what the user passed.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, IterableDataset

from .convert import check_labels_dtype, nhwc_hint, to_tensor

__all__ = ["Batch", "LoaderSource", "Source", "TensorSource", "as_source"]

#: ``(x, y or None, global_n)``: this rank's part of a batch and the global batch size.
Batch = tuple[torch.Tensor, torch.Tensor | None, int]


class Source(ABC):
    """What the training loop needs from data, whatever form the user passed it in.

    Attributes:
        role: ``"train"``, ``"val"``, ``"data"`` or ``"predict"`` (used in messages).
    """

    role: str

    @abstractmethod
    def sample(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return a batch of the first sample(s) ``(x (n, ...), y (n, ...) or None)``, n <= 2.

        Used for the checks before training (output width, label range, channels).
        """

    @abstractmethod
    def num_batches(self, batch_size: int, world: int = 1) -> int | None:
        """Return how many batches this rank draws per training epoch.

        Args:
            batch_size: The global batch size (all ranks together).
            world: Number of DDP processes.

        Returns:
            The count (the same on every rank), or ``None`` for a DataLoader without ``len()``.
        """

    @abstractmethod
    def train_batches(
        self, batch_size: int, gen: torch.Generator, rank: int, world: int, epoch: int
    ) -> Iterator[Batch]:
        """Yield this rank's part of each training batch of one epoch, in a shuffled order.

        Args:
            batch_size: The global batch size.
            gen: The data-order generator (the same seed on every rank).
            rank: This process's rank.
            world: Number of processes.
            epoch: The 1-based epoch (seeds a DataLoader's sampler).
        """

    @abstractmethod
    def eval_batches(self, batch_size: int, rank: int, world: int) -> Iterator[Batch]:
        """Yield this rank's share of the data in order (validation, ``evaluate``, ``predict``).

        Args:
            batch_size: The global batch size.
            rank: This process's rank.
            world: Number of processes (1: all of the data).
        """


class TensorSource(Source):
    """In-memory ``(X, y)`` data: the fast path.

    Args:
        x: Images ``(N, ...)`` as a tensor, numpy array or list.
        y: Labels ``(N,)`` or soft targets ``(N, C)``, or ``None`` (prediction).
        role: Name in messages.

    Raises:
        TypeError / ValueError: For empty data, mismatched lengths, NHWC images, NaN/inf values
            or bad labels.
    """

    def __init__(self, x: Any, y: Any, role: str) -> None:
        self.role = role
        self._buffer: torch.Tensor | None = None
        self.x = to_tensor(x, f"{role} X")
        self.y = (
            None
            if y is None
            else check_labels_dtype(
                to_tensor(y, f"{role} y"), f"{role} y", numpy=isinstance(y, np.ndarray)
            )
        )
        n = self.x.shape[0] if self.x.ndim else 0
        if self.x.ndim < 2:
            raise ValueError(
                f"{role} X must have shape (N, ...) with a sample axis, got {tuple(self.x.shape)}"
            )
        if n == 0:
            raise ValueError(
                f"{role} data is empty (X has shape {tuple(self.x.shape)}); pass at least one sample"
            )
        if self.y is not None and self.y.shape[0] != n:
            raise ValueError(
                f"{role} X has {n} samples but y has {self.y.shape[0]}; X and y must have the same length"
            )
        hint = nhwc_hint(
            self.x.shape, f"{role} X" if role != "predict" else "X", numpy=isinstance(x, np.ndarray)
        )
        if hint:
            raise ValueError(hint)
        # One pass over the data, once per fit: NaN/inf inputs would silently poison training.
        if self.x.dtype.is_floating_point and not bool(torch.isfinite(self.x).all()):
            raise ValueError(f"{role} X contains NaN or inf values; clean or impute them first")

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def num_batches(self, batch_size: int, world: int = 1) -> int:
        """Global batches per epoch: each is split across the ranks, so every rank draws all."""
        return math.ceil(len(self) / batch_size)

    def sample(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The first two samples (for the pre-training model check)."""
        return self.x[:2], None if self.y is None else self.y[:2]

    def train_batches(
        self, batch_size: int, gen: torch.Generator, rank: int, world: int, epoch: int
    ) -> Iterator[Batch]:
        """One ``randperm`` per epoch; rank ``r`` takes every ``world``-th sample of a batch."""
        perm = torch.randperm(len(self), generator=gen)
        # Host-side data is gathered into one reused (pageable) buffer instead of a fresh
        # tensor per batch: same values as ``x[idx]``, but no allocation and no page faults per
        # step (worth ~2% of a CPU epoch of the case study). A batch is only used until the
        # next one is drawn, and a copy from pageable memory to a GPU has consumed the source
        # when ``.to()`` returns, so reuse is safe.
        reuse = self.x.device.type == "cpu" and not self.x.is_pinned()
        for i in range(0, len(self), batch_size):
            idx = perm[i : i + batch_size]
            global_n = idx.shape[0]
            if world > 1:
                idx = idx[rank::world]
            if reuse:
                if self._buffer is None or self._buffer.shape[0] < idx.shape[0]:
                    self._buffer = self.x.new_empty((idx.shape[0], *self.x.shape[1:]))
                xb = torch.index_select(self.x, 0, idx, out=self._buffer[: idx.shape[0]])
            else:
                xb = self.x[idx]
            yield xb, None if self.y is None else self.y[idx], global_n

    def eval_batches(self, batch_size: int, rank: int, world: int) -> Iterator[Batch]:
        """Contiguous slices (views: no copy at all on the evaluation path)."""
        for i in range(0, len(self), batch_size):
            end = min(i + batch_size, len(self))
            sl = slice(i + rank, end, world)
            yield self.x[sl], None if self.y is None else self.y[sl], end - i


class LoaderSource(Source):
    """A ``Dataset`` or ``DataLoader``; items/batches are ``(x, y)`` (or ``x`` for prediction).

    Args:
        data: A map-style ``Dataset`` (cnnkit builds the DataLoader) or a ``DataLoader``.
        role: Name in messages.
        num_workers: Workers of the DataLoaders cnnkit builds.
        pin: Pin host memory (CUDA).

    Raises:
        TypeError: For a bare ``IterableDataset``.
        ValueError: For an empty dataset.
    """

    def __init__(
        self, data: Dataset[Any] | DataLoader[Any], role: str, num_workers: int, pin: bool
    ) -> None:
        self.role = role
        self.loader = data if isinstance(data, DataLoader) else None
        self.dataset: Dataset[Any] = data.dataset if isinstance(data, DataLoader) else data
        self.num_workers = num_workers
        self.pin = pin
        self.iterable = isinstance(self.dataset, IterableDataset)
        self.num_classes: int | None = None  # set by the trainer's model check
        if self.loader is None and self.iterable:
            raise TypeError(
                f"{role}: an IterableDataset has no length or order to shuffle; wrap it in a "
                "DataLoader yourself and pass the DataLoader"
            )
        try:
            n = len(self.dataset)  # type: ignore[arg-type]
        except TypeError:
            n = -1
        if n == 0:
            raise ValueError(f"{role} dataset is empty; pass at least one sample")

    def sample(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The first item (a map-style dataset) or the first two of the first batch."""
        if not self.iterable:
            item = self.dataset[0]
            x, y = self._split(item)
            is_np = isinstance(x, np.ndarray)
            x = to_tensor(x, f"{self.role} sample")
            hint = nhwc_hint(x.shape, f"{self.role} sample", numpy=is_np)
            if hint:
                raise ValueError(hint + " (fix it in the Dataset's __getitem__)")
            yt = None if y is None else torch.as_tensor(y)
            return x.unsqueeze(0), None if yt is None else yt.unsqueeze(0)
        assert self.loader is not None
        batch = next(iter(self.loader))
        x, y = self._split(batch)
        xt = to_tensor(x, f"{self.role} batch")
        return xt[:2], None if y is None else to_tensor(y, f"{self.role} labels")[:2]

    def _split(self, item: Any) -> tuple[Any, Any]:
        if isinstance(item, (tuple, list)) and len(item) == 2:
            return item[0], item[1]
        if isinstance(item, (tuple, list)) and len(item) == 1:
            return item[0], None
        if isinstance(item, (torch.Tensor, np.ndarray)):
            return item, None
        raise TypeError(
            f"{self.role} items must be (x, y) pairs (or x alone for prediction), got "
            f"{type(item).__name__}{f' of length {len(item)}' if isinstance(item, (tuple, list)) else ''}"
        )

    def num_batches(self, batch_size: int, world: int = 1) -> int | None:
        """``len(loader)`` for a user DataLoader, else the batches of this rank's shard."""
        try:
            if self.loader is not None:
                return len(self.loader)
            n = len(self.dataset)  # type: ignore[arg-type]
        except TypeError:
            return None
        return math.ceil(math.ceil(n / world) / max(1, batch_size // world))

    def _iterate(self, loader: DataLoader[Any], world: int) -> Iterator[Batch]:
        for batch in loader:
            x, y = self._split(batch)
            xt = to_tensor(x, f"{self.role} batch")
            yt = (
                None
                if y is None
                else check_labels_dtype(to_tensor(y, f"{self.role} labels"), f"{self.role} labels")
            )
            if yt is not None and yt.ndim == 1 and self.num_classes is not None and yt.numel():
                lo, hi = int(yt.min()), int(yt.max())
                if lo < 0 or hi >= self.num_classes:
                    raise ValueError(
                        f"{self.role} batch has labels in [{lo}, {hi}] but the model outputs "
                        f"{self.num_classes} logits; labels must lie in [0, {self.num_classes - 1}]"
                    )
            yield xt, yt, int(xt.shape[0]) * world

    def train_batches(
        self, batch_size: int, gen: torch.Generator, rank: int, world: int, epoch: int
    ) -> Iterator[Batch]:
        """A user DataLoader as given (a DistributedSampler under DDP), else one cnnkit builds."""
        if self.loader is not None:
            sampler = getattr(self.loader, "sampler", None)
            if world > 1:
                if not isinstance(sampler, DistributedSampler):
                    raise ValueError(
                        "under torchrun the training DataLoader needs a DistributedSampler so each "
                        "rank sees its own shard; pass the Dataset (or (X, y)) instead and cnnkit "
                        "shards it"
                    )
                sampler.set_epoch(epoch)
            return self._iterate(self.loader, world)
        if world > 1:
            seed = int(torch.randint(0, 2**62, (1,), generator=gen).item())
            dsampler: DistributedSampler[Any] = DistributedSampler(
                self.dataset, num_replicas=world, rank=rank, shuffle=True, seed=seed
            )
            loader = DataLoader(
                self.dataset,
                batch_size=max(1, batch_size // world),
                sampler=dsampler,
                num_workers=self.num_workers,
                pin_memory=self.pin,
            )
        else:
            # The same permutation as the tensor fast path, so both paths see identical batches.
            order = torch.randperm(len(self.dataset), generator=gen).tolist()  # type: ignore[arg-type]
            loader = DataLoader(
                self.dataset,
                batch_size=batch_size,
                sampler=order,
                # Workers' seeds come from here; a generator of its own leaves ``gen`` untouched.
                generator=torch.Generator().manual_seed(gen.initial_seed() + epoch),
                num_workers=self.num_workers,
                pin_memory=self.pin,
            )
        return self._iterate(loader, world)

    def eval_batches(self, batch_size: int, rank: int, world: int) -> Iterator[Batch]:
        """A user DataLoader whole on every rank, else this rank's interleaved shard."""
        if self.loader is not None:
            # Every rank evaluates the whole loader: sums and counts both grow by ``world``, so
            # the all-reduced means are unchanged.
            return self._iterate(self.loader, 1)
        n = len(self.dataset)  # type: ignore[arg-type]
        loader = DataLoader(
            self.dataset,
            batch_size=max(1, batch_size // world),
            sampler=range(rank, n, world),
            num_workers=self.num_workers,
            pin_memory=self.pin,
        )
        return self._iterate(loader, world)


def as_source(
    data: Any, role: str, *, labels: bool, num_workers: int = 0, pin: bool = False
) -> Source:
    """Wrap user data for ``fit``/``evaluate``/``predict``.

    Args:
        data: ``(X, y)`` tensors/arrays, ``X`` alone (only when ``labels`` is False), an
            object with ``images`` and ``labels`` attributes (``cnnkit.data.ImageDataset``), a
            ``Dataset`` or a ``DataLoader``.
        role: ``"train"``, ``"val"``, ``"data"`` or ``"predict"`` (used in messages).
        labels: Whether labels are required.
        num_workers: Workers for DataLoaders cnnkit builds.
        pin: Pin host memory (CUDA).

    Returns:
        A :class:`TensorSource` for in-memory data, else a :class:`LoaderSource`.

    Raises:
        TypeError / ValueError: For unsupported types, missing labels, empty or mismatched data.
    """
    if isinstance(data, (DataLoader, Dataset)):
        return LoaderSource(data, role, num_workers, pin)
    if hasattr(data, "images") and hasattr(data, "labels"):
        # cnnkit.data.ImageDataset (images, labels, class_names), duck-typed so training does
        # not depend on cnnkit.data; checked before the tuple case since it is a NamedTuple.
        return TensorSource(data.images, data.labels if labels else None, role)
    if isinstance(data, (tuple, list)):
        if len(data) != 2:
            raise ValueError(
                f"{role} must be (X, y) (images and labels); got a {type(data).__name__} of "
                f"length {len(data)}"
            )
        x, y = data
        if y is None and labels:
            raise ValueError(f"{role} was given without labels (y is None); pass {role}=(X, y)")
        return TensorSource(x, y, role)
    if isinstance(data, (torch.Tensor, np.ndarray)):
        if labels:
            raise ValueError(
                f"{role} was given as a single array of shape {tuple(data.shape)} without labels; "
                f"pass {role}=(X, y) (labels are needed for the loss and accuracy)"
            )
        return TensorSource(data, None, role)
    raise TypeError(
        f"{role} must be (X, y) tensors or numpy arrays, a torch Dataset or a DataLoader; got "
        f"{type(data).__name__}"
    )
