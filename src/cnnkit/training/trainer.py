"""The :class:`Trainer`: a readable training loop for image classifiers on any device.

In the spirit of nanoGPT's ``train.py``: one dataclass of options (each default commented), DDP
detected from ``torchrun``'s environment variables, and a loop (:meth:`Trainer._train_epoch`) that
fits on one screen. In-memory tensors take a fast path that does what a hand-written loop does
(``randperm`` + tensor indexing), so the trainer costs nothing over writing the loop yourself;
see ``benchmarks/trainer_overhead.py``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import math
import os
import random
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import distributed as ddp_util
from ._data import LoaderSource, Source, TensorSource, as_source
from .callbacks import Callback, FitState, ModelCheckpoint, callback_keys
from .checkpoint import load_checkpoint, set_rng_state
from .history import History

__all__ = ["LRFindResult", "Trainer", "seed_everything"]

#: ``factory(param_groups, lr=lr) -> Optimizer``; param groups already carry ``weight_decay``.
OptimizerFactory = Callable[..., torch.optim.Optimizer]
#: ``factory(optimizer, total_steps) -> scheduler``; stepped after every optimizer step
#: (a ``ReduceLROnPlateau`` is stepped once per epoch with the validation, else training, loss).
SchedulerFactory = Callable[[torch.optim.Optimizer, int], Any]
#: ``loss(logits (N, C), targets (N,) int64 or (N, C) float) -> scalar`` (mean over the batch).
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
#: ``augment(x (N, C, H, W) float on device, y) -> (x, y)``; training batches only.
AugmentFn = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]

_PRECISIONS = ("32", "bf16-mixed", "16-mixed")
_OPTIMIZERS = ("adam", "adamw", "sgd")
_SCHEDULERS = ("onecycle", "cosine")
_ALIASES = {"learning_rate": "lr", "epochs": "max_epochs", "clip_grad_norm": "grad_clip"}


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


@dataclass
class LRFindResult:
    """The learning-rate range test's curve and its suggestion.

    Attributes:
        lrs: Learning rate of each step (exponentially increasing).
        losses: Training loss of each step (raw).
        smoothed: Exponentially smoothed, bias-corrected losses (what the suggestion uses).
        suggestion: Learning rate where the smoothed loss falls fastest (steepest negative slope
            against ``log(lr)``), or ``None`` when the curve is too short to tell.
    """

    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    suggestion: float | None

    def to_dict(self) -> dict[str, Any]:
        """Return the result as a plain JSON-serializable dict."""
        return dataclasses.asdict(self)


@dataclass
class _Run:
    """Objects of one ``fit`` (or ``lr_find``/``evaluate``) call, shared by the loop helpers."""

    device: torch.device
    info: ddp_util.DistInfo
    model: nn.Module
    net: nn.Module  # what the loop calls: model, DDP(model) and/or torch.compile(...)
    loss_fn: LossFn
    mean: torch.Tensor | None = None
    std: torch.Tensor | None = None
    optimizer: torch.optim.Optimizer | None = None
    scheduler: Any = None
    scaler: Any = None
    params: list[nn.Parameter] = field(default_factory=list)
    num_classes: int | None = None


@dataclass(kw_only=True)
class Trainer:
    """Train a classifier on tensors, arrays, a Dataset or a DataLoader, on any device.

    Every option is a keyword; :meth:`replace` returns a copy with some changed (what
    ``diagnose()`` remedies use).

    Args:
        max_epochs: Number of passes over the training data (required).
        batch_size: Samples per optimizer step over all DDP ranks together (default 128, the case
            study's value: large enough to keep a CPU busy, small enough for a few thousand
            images to give tens of steps per epoch).
        optimizer: ``"adam"`` (default), ``"adamw"``, ``"sgd"`` (momentum 0.9, Nesterov) or a
            factory called as ``factory(param_groups, lr=lr)``, e.g.
            ``functools.partial(torch.optim.RMSprop, alpha=0.9)``.
        lr: Learning rate (default 1e-3, Adam's customary default; the case study used 1e-4).
        weight_decay: Decay for weights with 2+ dimensions (conv kernels, linear weights);
            biases and normalization weights are never decayed. For ``"adam"`` it is L2
            regularization, for ``"adamw"`` decoupled decay.
        scheduler: ``None`` (constant lr), ``"onecycle"`` (peak ``lr``), ``"cosine"`` (from
            ``lr`` to 0), both per optimizer step; or ``factory(optimizer, total_steps)``. A
            schedule is built for ``max_epochs`` epochs, so a run with one can only be resumed
            with the same ``max_epochs`` (and batch size, ``accumulate`` and data size).
        loss: ``None`` for cross-entropy (which accepts class indices or soft targets), or a
            callable ``loss(logits, targets) -> scalar mean`` (an instance such as
            ``nn.CrossEntropyLoss()``, not the class).
        label_smoothing: Label smoothing of the default cross-entropy, in ``[0, 1)``.
        device: ``"auto"`` (CUDA, then MPS, then CPU), ``"cpu"``, ``"cuda"``, ``"cuda:N"``,
            ``"mps"`` or a ``torch.device``; an invalid string fails here, not in ``fit``.
        precision: ``"32"``; ``"bf16-mixed"`` (autocast to bfloat16; CUDA with bf16 support, or
            CPU); ``"16-mixed"`` (float16 autocast with a gradient scaler; CUDA or MPS).
        grad_clip: Clip the global gradient L2 norm to this value (``None``: no clipping).
        accumulate: Batches per optimizer step (gradient accumulation; the loss of each batch is
            divided by ``accumulate``).
        channels_last: Use the channels-last memory format for model and inputs (faster convs
            on recent GPUs and with oneDNN on CPU).
        compile: ``True`` to ``torch.compile`` the model (default inductor backend) or a backend
            name such as ``"aot_eager"``.
        seed: An integer (or ``None``): seed Python, NumPy and torch at the start of ``fit``
            and order the data with it;
            two CPU runs with the same seed (and the same initial model) are bitwise identical.
        deterministic: ``torch.use_deterministic_algorithms(True)`` during ``fit`` (needed for
            bitwise reproducibility on CUDA; may be slower or unsupported by some ops).
        callbacks: A list of objects following the callback protocol (see
            :mod:`cnnkit.training.callbacks`); a single callback is accepted too.
        progress: Show progress: a tqdm bar per epoch on a terminal, one summary line per epoch
            otherwise, nothing with ``False``. Only rank 0 prints.
        num_workers: DataLoader workers for ``Dataset`` inputs (the in-memory fast path needs
            none).
        sync_batchnorm: Under DDP on CUDA, convert batch norm layers to ``SyncBatchNorm`` so
            statistics are computed over the global batch (torch supports it on GPUs only; a
            clear error on CPU). A single-process run ignores it with a ``UserWarning``.
        augment: ``augment(x, y) -> (x, y)`` applied to every training batch on the device,
            after uint8 images become floats in ``[0, 1]`` and before ``normalize`` (e.g. a
            ``cnnkit.augment`` pipeline, or ``Mixup`` which returns soft targets).
        normalize: ``(mean, std)`` applied to every batch on the device after augmentation;
            each a number (every channel) or one number per channel, e.g. ``(0.5, 0.25)`` or
            ``((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))``. Stored as two tuples; a
            per-channel length is checked against the images' channels before training.
        eval_batch_size: Batch size of validation, ``evaluate`` and ``predict`` (default
            ``batch_size``).

    Raises:
        ValueError / TypeError: For an invalid option, naming it and the accepted values.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> X, y = torch.rand(64, 3, 8, 8), torch.randint(0, 2, (64,))
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 2))
        >>> trainer = Trainer(max_epochs=2, batch_size=16, seed=0, progress=False)
        >>> history = trainer.fit(model, (X, y), val=(X, y))
        >>> len(history.train_loss), sorted(trainer.evaluate(model, (X, y)))
        (2, ['accuracy', 'loss'])
        >>> Trainer(max_epochs=1, normalize=(0.5, 0.25)).normalize
        ((0.5,), (0.25,))
    """

    max_epochs: int  # passes over the training data; required, there is no good universal value
    batch_size: int = 128  # global batch (all DDP ranks); the case study's value
    optimizer: str | OptimizerFactory = "adam"  # "adam" | "adamw" | "sgd" | factory(groups, lr=)
    lr: float = 1e-3  # Adam's customary default
    weight_decay: float = 0.0  # only on weights with ndim >= 2 (never biases or norm weights)
    scheduler: str | SchedulerFactory | None = None  # None | "onecycle" | "cosine" | factory
    loss: LossFn | None = None  # None: cross-entropy (class indices or soft targets)
    label_smoothing: float = 0.0  # for the default cross-entropy
    device: str | torch.device = "auto"  # "auto": cuda > mps > cpu
    precision: str = "32"  # "32" | "bf16-mixed" (cuda, cpu) | "16-mixed" (cuda, mps)
    grad_clip: float | None = None  # max global grad L2 norm; None: no clipping
    accumulate: int = 1  # batches per optimizer step
    channels_last: bool = False  # NHWC memory format for model and inputs
    compile: bool | str = False  # torch.compile (True: inductor; str: backend name)
    seed: int | None = None  # seeds everything at fit start; None: do not seed
    deterministic: bool = False  # torch.use_deterministic_algorithms during fit
    callbacks: Sequence[Callback] = ()  # see cnnkit.training.callbacks for the protocol
    progress: bool = True  # tqdm on a TTY, else one line per epoch; rank 0 only
    num_workers: int = 0  # DataLoader workers for Dataset inputs (fast path needs none)
    sync_batchnorm: bool = False  # SyncBatchNorm under DDP
    augment: AugmentFn | None = None  # per-batch training hook (x, y) -> (x, y), on device
    normalize: tuple[float | Sequence[float], float | Sequence[float]] | None = None  # (mean, std)
    eval_batch_size: int | None = None  # None: batch_size

    # ------------------------------------------------------------------ options
    def __post_init__(self) -> None:
        def bad(name: str, why: str) -> ValueError:
            return ValueError(f"Trainer({name}={getattr(self, name)!r}): {why}")

        for name in ("max_epochs", "batch_size", "accumulate"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise bad(name, "must be an integer >= 1")
        if self.eval_batch_size is not None and self.eval_batch_size < 1:
            raise bad("eval_batch_size", "must be >= 1 or None")
        if not (isinstance(self.lr, (int, float)) and self.lr > 0 and math.isfinite(self.lr)):
            raise bad("lr", "must be a finite number > 0")
        if not self.weight_decay >= 0:
            raise bad("weight_decay", "must be >= 0")
        if not 0 <= self.label_smoothing < 1:
            raise bad("label_smoothing", "must be in [0, 1)")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise bad("grad_clip", "must be > 0 or None")
        if self.num_workers < 0:
            raise bad("num_workers", "must be >= 0")
        if isinstance(self.optimizer, str) and self.optimizer not in _OPTIMIZERS:
            raise bad("optimizer", f"must be one of {_OPTIMIZERS} or a factory(param_groups, lr=)")
        if isinstance(self.scheduler, str) and self.scheduler not in _SCHEDULERS:
            raise bad(
                "scheduler",
                f"must be None, one of {_SCHEDULERS} or a factory(optimizer, total_steps)",
            )
        if self.precision not in _PRECISIONS:
            raise bad("precision", f"must be one of {_PRECISIONS}")
        if isinstance(self.seed, bool) or not (self.seed is None or isinstance(self.seed, int)):
            raise bad("seed", "must be an integer (e.g. seed=0) or None")
        self.device = _check_device(self.device)
        if isinstance(self.loss, type):
            raise TypeError(
                f"Trainer(loss={self.loss.__name__}): pass an instance, not the class, e.g. "
                f"loss={self.loss.__name__}() (a loss class called on (logits, targets) builds "
                "a new loss object instead of computing the loss)"
            )
        if self.loss is not None and not callable(self.loss):
            raise bad("loss", "must be None or a callable loss(logits, targets)")
        if self.augment is not None and not callable(self.augment):
            raise bad("augment", "must be None or a callable augment(x, y) -> (x, y)")
        if self.normalize is not None:
            self.normalize = _check_normalize(self.normalize)
        hooks = ("on_fit_start", "on_epoch_start", "on_epoch_end", "on_fit_end")
        cbs: Any = self.callbacks
        if any(hasattr(cbs, h) for h in hooks):
            cbs = (cbs,)  # a single callback: the common slip of forgetting the list
        elif isinstance(cbs, (str, bytes)) or not isinstance(cbs, Iterable):
            raise TypeError(
                f"Trainer(callbacks={cbs!r}): pass a list of callbacks, e.g. "
                "callbacks=[EarlyStopping(patience=5), ModelCheckpoint('runs/x')]"
            )
        self.callbacks = tuple(cbs)
        for cb in self.callbacks:
            if not any(hasattr(cb, h) for h in hooks):
                raise TypeError(
                    f"callback {cb!r} has none of on_fit_start/on_epoch_start/on_epoch_end/on_fit_end; "
                    "see cnnkit.training.callbacks for the protocol"
                )

    def replace(self, **changes: Any) -> Trainer:
        """Return a copy with some options changed (the original is not modified).

        Args:
            **changes: Option names and new values, e.g. ``lr=3e-4, max_epochs=40``.

        Returns:
            A new, validated :class:`Trainer`.

        Raises:
            TypeError: For an unknown option (with the closest valid names).

        Example:
            >>> Trainer(max_epochs=5).replace(lr=3e-4).lr
            0.0003
        """
        names = [f.name for f in dataclasses.fields(self)]
        for key in changes:
            if key not in names:
                close = difflib.get_close_matches(key, names, n=2)
                if key in _ALIASES:  # other libraries' names for the same option
                    close = [_ALIASES[key]]
                hint = f"; did you mean {' or '.join(close)}?" if close else ""
                raise TypeError(
                    f"Trainer has no option {key!r}{hint or '.'} Valid options: {', '.join(names)}"
                )
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------------ public API
    def fit(
        self,
        model: nn.Module,
        train: Any,
        val: Any = None,
        *,
        resume_from: str | os.PathLike[str] | None = None,
    ) -> History:
        """Train ``model`` and return its :class:`History`.

        Args:
            model: A classifier returning logits of shape ``(N, num_classes)``. It is moved to
                the device (and left there) and trained in place.
            train: ``(X, y)`` tensors or numpy arrays (``X``: ``(N, C, H, W)`` uint8 or float,
                or any ``(N, ...)`` the model takes; ``y``: ``(N,)`` integer class indices or
                ``(N, num_classes)`` soft targets), an object with ``images`` and ``labels``
                (``cnnkit.data.ImageDataset``), a ``Dataset`` of ``(x, y)`` pairs, or a
                ``DataLoader`` of ``(x, y)`` batches. uint8 images are divided by 255 per batch
                on the device; float images that look like 0..255 (non-negative, above 1.5 in
                the first 64 samples) without ``normalize`` give a ``UserWarning``. Training
                batches of host-side ``(X, y)`` are gathered into one reused buffer (no
                allocation per step); with float32 ``X`` on a CPU device that buffer is the
                very batch ``augment`` and the model receive, so a hook or ``augment`` that
                keeps it beyond the step must ``clone()`` it.
            val: Validation data in the same forms (labels required), or ``None``.
            resume_from: A checkpoint written by :class:`ModelCheckpoint` (``last.pt``): model,
                optimizer, scheduler, scaler, RNG, history and callback states are restored and
                training continues after its epoch. On CPU the result is bitwise identical to
                an uninterrupted run. Without a scheduler ``max_epochs`` may be raised to train
                longer; with one it must match the run that wrote the checkpoint.

        Returns:
            The history of all epochs (including those before a resume). Under ``torchrun``
            every rank returns the same, global history.

        Raises:
            ValueError: Before any training step, for empty data, ``X``/``y`` length mismatch,
                NHWC images, ``(N, 1)`` labels, labels outside ``[0, num_classes)`` (the
                model outputs too few logits), soft targets whose width is not the model's
                output width, a model with 1 output under cross-entropy, ``normalize`` values
                that do not match the channels, ``val`` without labels, an unsupported
                precision, or a ``resume_from`` checkpoint of another architecture or (with a
                scheduler) another planned length.
            TypeError: For unsupported data types, float class labels or string labels.
        """
        info = ddp_util.detect()
        device = self._resolve_device(info)
        info = ddp_util.setup(device.type)
        self._check_precision(device)
        if self.seed is not None:
            seed_everything(self.seed)
        pin = device.type == "cuda"
        train_src = as_source(train, "train", labels=True, num_workers=self.num_workers, pin=pin)
        val_src = (
            None
            if val is None
            else as_source(val, "val", labels=True, num_workers=self.num_workers, pin=pin)
        )

        if self.normalize is None:
            _warn_if_unscaled(train_src)
        if self.sync_batchnorm and not info.enabled:
            warnings.warn(
                "sync_batchnorm=True has no effect in a single-process run (there is only one "
                "batch to take statistics from); it applies when launched with torchrun on GPUs",
                UserWarning,
                stacklevel=2,
            )
        if self.sync_batchnorm and info.enabled:
            if device.type != "cuda":
                raise ValueError(
                    f"sync_batchnorm=True needs CUDA devices (torch's SyncBatchNorm only works "
                    f"with GPU modules), but this run is on {device.type!r}; drop it on CPU (each "
                    "rank then normalizes with the statistics of its own shard of the batch)"
                )
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)  # type: ignore[no-untyped-call]
        run = self._setup(model, device, info)
        run.num_classes = self._check_model(run, train_src, val_src)
        run.params = [p for p in model.parameters() if p.requires_grad]
        if not run.params:
            raise ValueError("the model has no trainable parameters (all requires_grad=False)")
        run.optimizer = self._make_optimizer(model)
        n_batches = (
            train_src.num_batches(self.batch_size)
            if isinstance(train_src, TensorSource)
            else train_src.num_batches(self.batch_size, info.world_size)
        )
        steps_per_epoch = None if n_batches is None else math.ceil(n_batches / self.accumulate)
        run.scheduler = self._make_scheduler(run.optimizer, steps_per_epoch)
        schedule_steps = (
            None
            if run.scheduler is None or _is_plateau(run.scheduler) or steps_per_epoch is None
            else steps_per_epoch * self.max_epochs
        )
        if self.precision == "16-mixed" and device.type == "cuda":
            run.scaler = _grad_scaler(device.type)
        if info.enabled:
            ids = [device.index] if device.type == "cuda" else None
            run.net = nn.parallel.DistributedDataParallel(model, device_ids=ids)
        if self.compile:
            backend = self.compile if isinstance(self.compile, str) else "inductor"
            run.net = torch.compile(run.net, backend=backend)  # type: ignore[assignment]

        # Data order comes from its own generator, shared by all ranks (rank 0's seed).
        base = self.seed if self.seed is not None else int(torch.randint(0, 2**62, (1,)).item())
        gen = torch.Generator().manual_seed(ddp_util.broadcast_int(base, info, device))
        callbacks = [c for c in self.callbacks if not isinstance(c, ModelCheckpoint)]
        callbacks += [c for c in self.callbacks if isinstance(c, ModelCheckpoint)]
        state = FitState(
            trainer=self,
            model=model,
            optimizer=run.optimizer,
            scheduler=run.scheduler,
            scaler=run.scaler,
            history=History(),
            epoch=0,
            max_epochs=self.max_epochs,
            has_val=val_src is not None,
            is_main=info.is_main,
            world_size=info.world_size,
            callbacks=callbacks,
            shuffle_generator=gen,
            schedule_steps=schedule_steps,
        )
        if resume_from is not None:
            self._resume(state, run, resume_from, device)
        with self._determinism():
            for cb in callbacks:
                _call(cb, "on_fit_start", state)
            while state.epoch < self.max_epochs and not state.should_stop:
                for cb in callbacks:
                    _call(cb, "on_epoch_start", state)
                self._run_epoch(state, run, train_src, val_src, gen, n_batches)
                for cb in callbacks:
                    _call(cb, "on_epoch_end", state)
            for cb in callbacks:
                _call(cb, "on_fit_end", state)
        state.history.stop_reason = state.stop_reason
        return state.history

    def evaluate(self, model: nn.Module, data: Any) -> dict[str, float]:
        """Mean loss and accuracy of ``model`` on labelled data (model in eval mode, no grad).

        Runs in this process on all of ``data`` (no sharding), with the trainer's device,
        precision, loss and ``normalize``.

        Args:
            model: The classifier.
            data: ``(X, y)``, a ``Dataset`` or a ``DataLoader`` (labels required).

        Returns:
            ``{"loss": float, "accuracy": float}`` with accuracy in ``[0, 1]``.

        Raises:
            ValueError / TypeError: As :meth:`fit` for bad data.
        """
        device = self._resolve_device(ddp_util.DistInfo())
        self._check_precision(device)
        src = as_source(
            data, "data", labels=True, num_workers=self.num_workers, pin=device.type == "cuda"
        )
        run = self._setup(model, device, ddp_util.DistInfo())
        run.num_classes = self._check_model(run, src, None)
        was_training = model.training
        try:
            loss_sum, correct, count = self._eval_sums(run, src)
        finally:
            model.train(was_training)
        return {"loss": loss_sum / count, "accuracy": correct / count}

    @torch.no_grad()
    def predict(self, model: nn.Module, X: Any) -> torch.Tensor:
        """Logits of ``model`` for every sample of ``X`` (eval mode, no grad, in order).

        Args:
            model: The classifier.
            X: ``(N, C, H, W)`` tensor/array (uint8 or float), ``(X, y)`` (``y`` ignored), a
                ``Dataset`` or a ``DataLoader`` (labels, if any, ignored).

        Returns:
            Float32 CPU tensor of shape ``(N, num_classes)``; apply ``softmax(dim=1)`` for
            probabilities or ``argmax(dim=1)`` for classes.
        """
        device = self._resolve_device(ddp_util.DistInfo())
        self._check_precision(device)
        src = as_source(
            X, "predict", labels=False, num_workers=self.num_workers, pin=device.type == "cuda"
        )
        run = self._setup(model, device, ddp_util.DistInfo())
        was_training = model.training
        model.eval()
        outs = []
        try:
            for xb, _, _ in src.eval_batches(self.eval_batch_size or self.batch_size, 0, 1):
                xb, _ = self._prepare(run, xb, None, train=False)
                with self._autocast(device):
                    outs.append(run.net(xb).float().cpu())
        finally:
            model.train(was_training)
        return torch.cat(outs)

    def lr_find(
        self,
        model: nn.Module,
        train: Any,
        *,
        start_lr: float = 1e-7,
        end_lr: float = 10.0,
        num_iter: int = 100,
        smooth: float = 0.05,
        diverge: float = 4.0,
    ) -> LRFindResult:
        """Learning-rate range test: train ``num_iter`` steps with an exponentially growing lr.

        The model's weights, training mode and the global RNG states are restored afterwards,
        so the test leaves no trace. Uses this trainer's optimizer, loss, precision, device,
        ``augment`` and ``normalize``; runs in this process only.

        Args:
            model: The classifier.
            train: Training data as in :meth:`fit` (cycled if shorter than ``num_iter`` batches).
            start_lr: First learning rate.
            end_lr: Last learning rate.
            num_iter: Number of steps.
            smooth: Weight of the newest loss in the exponential smoothing.
            diverge: Stop when the smoothed loss exceeds ``diverge`` times its minimum.

        Returns:
            The curve and a suggested learning rate (see :class:`LRFindResult`).

        Raises:
            ValueError: For ``start_lr >= end_lr``, non-positive rates or ``num_iter < 2``.

        Example:
            >>> # res = Trainer(max_epochs=1).lr_find(model, (X, y)); res.suggestion
        """
        if not 0 < start_lr < end_lr:
            raise ValueError(
                f"need 0 < start_lr < end_lr, got start_lr={start_lr}, end_lr={end_lr}"
            )
        if num_iter < 2:
            raise ValueError(f"num_iter must be >= 2, got {num_iter}")
        device = self._resolve_device(ddp_util.DistInfo())
        self._check_precision(device)
        src = as_source(
            train, "train", labels=True, num_workers=self.num_workers, pin=device.type == "cuda"
        )
        saved = {k: v.detach().clone() for k, v in model.state_dict().items()}
        was_training = model.training
        rng = torch.get_rng_state()
        run = self._setup(model, device, ddp_util.DistInfo())
        run.num_classes = self._check_model(run, src, None)
        run.params = [p for p in model.parameters() if p.requires_grad]
        opt = self._make_optimizer(model)
        run.optimizer = opt
        scaler = (
            _grad_scaler(device.type)
            if self.precision == "16-mixed" and device.type == "cuda"
            else None
        )
        gen = torch.Generator().manual_seed(self.seed if self.seed is not None else 0)
        gamma = (end_lr / start_lr) ** (1.0 / (num_iter - 1))
        lrs: list[float] = []
        losses: list[float] = []
        smoothed: list[float] = []
        avg, best = 0.0, math.inf
        model.train()
        try:
            batches = _cycle(lambda: src.train_batches(self.batch_size, gen, 0, 1, 0))
            for it in range(num_iter):
                lr = start_lr * gamma**it
                for group in opt.param_groups:
                    group["lr"] = lr
                xb, yb, _ = next(batches)
                xb, yb = self._prepare(run, xb, yb, train=True)
                with self._autocast(device):
                    loss = run.loss_fn(run.net(xb), yb)
                (scaler.scale(loss) if scaler else loss).backward()
                if scaler:
                    scaler.step(opt)
                    scaler.update()
                else:
                    opt.step()
                opt.zero_grad(set_to_none=True)
                value = float(loss.item())
                avg = (1 - smooth) * avg + smooth * value
                debiased = avg / (1 - (1 - smooth) ** (it + 1))
                lrs.append(lr)
                losses.append(value)
                smoothed.append(debiased)
                if not math.isfinite(debiased) or debiased > diverge * best:
                    break
                best = min(best, debiased)
        finally:
            model.load_state_dict(saved)
            model.train(was_training)
            torch.set_rng_state(rng)
        return LRFindResult(lrs, losses, smoothed, _steepest(lrs, smoothed))

    # ------------------------------------------------------------------ the loop
    def _train_epoch(
        self, run: _Run, batches: Iterator[Any], n_batches: int | None, bar: Any
    ) -> dict[str, Any]:
        """One pass over the training data. Per-step numbers stay on the device until the end."""
        net, opt, acc, world = run.net, run.optimizer, self.accumulate, run.info.world_size
        assert opt is not None
        net.train()
        # Bookkeeping is one detach and one argmax per step; the rest happens once per epoch.
        losses, ns, preds, targets, norms = [], [], [], [], []
        stop_early = run.device.type == "cpu" and not run.info.enabled  # .item() is free on CPU
        i = -1
        for i, (xb, yb, global_n) in enumerate(batches):
            xb, yb = self._prepare(run, xb, yb, train=True)
            n = xb.shape[0]
            sync = (i + 1) % acc == 0 or i + 1 == n_batches
            no_sync = net.no_sync() if world > 1 and not sync else contextlib.nullcontext()  # type: ignore[operator]
            with no_sync:
                with self._autocast(run.device):
                    out = net(xb)
                    loss = run.loss_fn(out, yb) if n else out.sum() * 0.0
                # Weight so that DDP's mean over ranks equals the mean over the global batch.
                scale = (n * world / global_n if world > 1 else 1.0) / acc
                scaled = loss * scale if scale != 1.0 else loss
                (run.scaler.scale(scaled) if run.scaler else scaled).backward()
            if sync:
                norms.append(self._optimizer_step(run))
            losses.append(loss.detach())
            ns.append(n)
            preds.append(out.detach().argmax(1))
            targets.append(yb if yb.ndim == 1 else yb.argmax(1))
            if bar is not None:
                bar.update(1)
            if stop_early and not math.isfinite(losses[-1].item()):
                break
        if n_batches is None and (i + 1) % acc != 0:  # a DataLoader without len(): flush
            norms.append(self._optimizer_step(run))
        if not losses:
            raise ValueError("the training data produced no batches this epoch")
        sums = torch.stack(losses).double() * torch.tensor(
            ns, dtype=torch.float64, device=run.device
        )
        correct = (torch.cat(preds) == torch.cat(targets)).sum()
        return {"sums": sums, "ns": ns, "correct": correct, "norms": norms}

    def _optimizer_step(self, run: _Run) -> torch.Tensor:
        opt, scaler = run.optimizer, run.scaler
        assert opt is not None
        if scaler is not None:
            scaler.unscale_(opt)
        if self.grad_clip is not None:
            norm = nn.utils.clip_grad_norm_(run.params, self.grad_clip)
        else:
            norm = _total_norm(run.params)
        if scaler is not None:
            scaler.step(opt)
            scaler.update()
        else:
            opt.step()
        opt.zero_grad(set_to_none=True)
        if run.scheduler is not None and not _is_plateau(run.scheduler):
            run.scheduler.step()
        return norm.detach().float()

    def _run_epoch(
        self,
        state: FitState,
        run: _Run,
        train: Source,
        val: Source | None,
        gen: torch.Generator,
        n_batches: int | None,
    ) -> None:
        """Train one epoch, validate, all-reduce the metrics and append them to the history."""
        info, dev, hist = run.info, run.device, state.history
        epoch = state.epoch + 1
        assert run.optimizer is not None
        lr = float(run.optimizer.param_groups[0]["lr"])
        bar = self._bar(info, epoch, n_batches)
        t0 = time.perf_counter()
        batches = train.train_batches(self.batch_size, gen, info.rank, info.world_size, epoch)
        res = self._train_epoch(run, batches, n_batches, bar)
        # One all-reduce for all of the epoch's training numbers: [step sums..., correct, n,
        # finite grad-norm sum, finite grad-norm count].
        sums = res["sums"]
        norms = torch.stack(res["norms"]) if res["norms"] else torch.zeros(0, device=dev)
        finite = torch.isfinite(norms)
        extra = torch.stack(
            [
                res["correct"].double(),
                torch.tensor(float(sum(res["ns"])), dtype=torch.float64, device=dev),
                torch.where(finite, norms, torch.zeros_like(norms)).sum().double(),
                finite.sum().double(),
            ]
        )
        packed = ddp_util.all_reduce_sum(torch.cat([sums.double(), extra.double()]), info).tolist()
        k = len(res["ns"])
        global_ns = [n * info.world_size for n in res["ns"]] if info.enabled else res["ns"]
        if info.enabled:  # exact global batch sizes: all-reduce of the counts as well
            global_ns = ddp_util.all_reduce_sum(
                torch.tensor(res["ns"], dtype=torch.float64, device=dev), info
            ).tolist()
        step_loss = [s / max(n, 1) for s, n in zip(packed[:k], global_ns, strict=False)]
        correct, count, norm_sum, norm_count = packed[k:]
        train_loss = sum(packed[:k]) / max(count, 1)
        hist.step_loss.extend(step_loss)
        hist.train_loss.append(train_loss)
        hist.train_acc.append(correct / max(count, 1))
        hist.lr.append(lr)
        hist.grad_norm.append(norm_sum / norm_count if norm_count else math.nan)
        diverged = not all(math.isfinite(v) for v in step_loss)
        if val is not None:
            if diverged:
                vl, va = math.nan, math.nan
            else:
                vs, vc, vn = self._eval_sums(run, val, sharded=True)
                vl, va = vs / vn, vc / vn
            hist.val_loss.append(vl)
            hist.val_acc.append(va)
        hist.epoch_time.append(time.perf_counter() - t0)
        state.epoch = epoch
        if run.scheduler is not None and _is_plateau(run.scheduler) and not diverged:
            run.scheduler.step(hist.val_loss[-1] if val is not None else train_loss)
        if bar is not None:
            bar.set_postfix_str(self._summary(hist), refresh=False)
            bar.close()
        elif info.is_main and self.progress:
            print(f"epoch {epoch}/{self.max_epochs}  {self._summary(hist)}", flush=True)
        if diverged:
            bad = next(j for j, v in enumerate(step_loss) if not math.isfinite(v))
            state.should_stop = True
            state.stop_reason = (
                f"non-finite training loss ({step_loss[bad]}) at epoch {epoch}, batch {bad + 1}: "
                "training diverged; lower lr (try Trainer.lr_find), set grad_clip, or check the "
                "inputs for extreme values"
            )
            if info.is_main:
                warnings.warn(state.stop_reason, RuntimeWarning, stacklevel=3)

    @torch.no_grad()
    def _eval_sums(
        self, run: _Run, src: Source, sharded: bool = False
    ) -> tuple[float, float, float]:
        """Summed loss, correct count and sample count over ``src`` (all-reduced if sharded)."""
        info = run.info if sharded else ddp_util.DistInfo()
        run.net.eval()
        dev = run.device
        loss_sum = torch.zeros((), dtype=torch.float64, device=dev)
        correct = torch.zeros((), dtype=torch.float64, device=dev)
        count = torch.zeros((), dtype=torch.float64, device=dev)
        bs = self.eval_batch_size or self.batch_size
        for xb, yb, _ in src.eval_batches(bs, info.rank, info.world_size):
            if xb.shape[0] == 0:
                continue
            xb, yb = self._prepare(run, xb, yb, train=False)
            with self._autocast(dev):
                out = run.net(xb)
                loss = run.loss_fn(out, yb)
            target = yb if yb.ndim == 1 else yb.argmax(1)
            loss_sum += loss.double() * xb.shape[0]
            correct += (out.argmax(1) == target).sum()
            count += xb.shape[0]
        totals = ddp_util.all_reduce_sum(torch.stack([loss_sum, correct, count]), info).tolist()
        if totals[2] == 0:
            raise ValueError("evaluation data produced no samples")
        return totals[0], totals[1], totals[2]

    # ------------------------------------------------------------------ helpers
    def _prepare(
        self, run: _Run, xb: torch.Tensor, yb: torch.Tensor | None, *, train: bool
    ) -> tuple[torch.Tensor, Any]:
        """Move a batch to the device; uint8 -> float in [0, 1]; augment; normalize."""
        xb = xb.to(run.device, non_blocking=True)
        if xb.dtype == torch.uint8:
            xb = xb.float().div_(255.0)
        elif xb.dtype != torch.float32 and xb.dtype.is_floating_point:
            xb = xb.float()
        if yb is not None:
            yb = yb.to(run.device, non_blocking=True)
        if train and self.augment is not None:
            xb, yb = self.augment(xb, yb)  # type: ignore[arg-type]
        if run.mean is not None and run.std is not None:
            xb = (xb - run.mean) / run.std
        if self.channels_last and xb.ndim == 4:
            xb = xb.contiguous(memory_format=torch.channels_last)
        return xb, yb

    def _setup(self, model: nn.Module, device: torch.device, info: ddp_util.DistInfo) -> _Run:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        model.to(device)
        if self.channels_last:
            model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        loss_fn: LossFn
        if self.loss is None:
            ls = self.label_smoothing

            def cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
                return F.cross_entropy(logits, target, label_smoothing=ls)

            loss_fn = cross_entropy
        else:
            loss_fn = self.loss
        run = _Run(device=device, info=info, model=model, net=model, loss_fn=loss_fn)
        if self.normalize is not None:
            mean, std = self.normalize
            run.mean = torch.tensor(mean, dtype=torch.float32, device=device).view(1, -1, 1, 1)
            run.std = torch.tensor(std, dtype=torch.float32, device=device).view(1, -1, 1, 1)
        return run

    @torch.no_grad()
    def _check_model(self, run: _Run, train: Source, val: Source | None) -> int | None:
        """Run the model once on two samples to learn its output width and check the labels."""
        model = run.model
        was_training = model.training
        model.eval()
        try:
            xs, _ys = train.sample()
            _check_channels(self.normalize, xs, train.role)
            xb, _ = self._prepare(run, xs, None, train=False)
            try:
                out = model(xb)
            except Exception as err:
                raise ValueError(
                    f"the model failed on a batch of shape {tuple(xb.shape)} taken from the "
                    f"training data ({type(err).__name__}: {err}); check the input shape the "
                    "model expects"
                ) from err
        finally:
            model.train(was_training)
        if not isinstance(out, torch.Tensor) or out.ndim != 2:
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ValueError(f"the model must return logits of shape (N, num_classes), got {shape}")
        num_classes = int(out.shape[1])
        if self.loss is not None:
            return num_classes  # a custom loss may use any target format
        if num_classes < 2:
            raise ValueError(
                "the model outputs 1 value per sample; cross-entropy needs one logit per class "
                "(2 for a binary problem), or pass a custom loss="
            )
        for src in (train, val):
            if isinstance(src, TensorSource) and src.y is not None:
                _check_targets(src.y, num_classes, src.role)
            elif isinstance(src, LoaderSource):
                # Labels of a Dataset are only seen batch by batch: check each on the host
                # (a reduction over ~100 numbers, far cheaper than the step).
                src.num_classes = num_classes
                _, y1 = src.sample()
                if y1 is not None:
                    _check_targets(y1, num_classes, src.role)
        return num_classes

    def _resolve_device(self, info: ddp_util.DistInfo) -> torch.device:
        if self.device != "auto":
            dev = torch.device(self.device)
            if dev.type == "cuda" and not torch.cuda.is_available():
                raise ValueError(
                    f"Trainer(device={self.device!r}) but CUDA is not available; use device='auto' or 'cpu'"
                )
            if dev.type == "cuda" and dev.index is None and info.enabled:
                dev = torch.device("cuda", info.local_rank)
            if dev.type == "cuda":
                torch.cuda.set_device(dev)
            return dev
        if torch.cuda.is_available():
            dev = torch.device(
                "cuda", info.local_rank if info.enabled else torch.cuda.current_device()
            )
            torch.cuda.set_device(dev)
            return dev
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available() and not info.enabled:
            return torch.device("mps")
        return torch.device("cpu")

    def _check_precision(self, device: torch.device) -> None:
        if self.precision == "bf16-mixed":
            if device.type == "cuda" and not torch.cuda.is_bf16_supported():
                raise ValueError(
                    "precision='bf16-mixed' but this GPU does not support bfloat16; use "
                    "precision='16-mixed'"
                )
            if device.type not in ("cuda", "cpu"):
                raise ValueError(
                    f"precision='bf16-mixed' is supported on CUDA and CPU, not {device.type!r}; use '16-mixed' or '32'"
                )
        elif self.precision == "16-mixed" and device.type not in ("cuda", "mps"):
            raise ValueError(
                f"precision='16-mixed' needs a CUDA or MPS device (got {device.type!r}); on CPU "
                "use precision='bf16-mixed' or '32'"
            )

    def _autocast(self, device: torch.device) -> contextlib.AbstractContextManager[Any]:
        if self.precision == "32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.precision == "bf16-mixed" else torch.float16
        return torch.autocast(device_type=device.type, dtype=dtype)

    def _make_optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        # nanoGPT's rule: decay only tensors with 2+ dims (weights of convs and linears), never
        # biases or normalization scales.
        params = [p for p in model.parameters() if p.requires_grad]
        if self.weight_decay > 0:
            groups: list[dict[str, Any]] = [
                {"params": [p for p in params if p.ndim >= 2], "weight_decay": self.weight_decay},
                {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
            ]
            groups = [g for g in groups if g["params"]]
        else:
            groups = [{"params": params, "weight_decay": 0.0}]
        if self.optimizer == "adam":
            return torch.optim.Adam(groups, lr=self.lr)
        if self.optimizer == "adamw":
            return torch.optim.AdamW(groups, lr=self.lr)
        if self.optimizer == "sgd":
            return torch.optim.SGD(groups, lr=self.lr, momentum=0.9, nesterov=True)
        assert callable(self.optimizer)
        opt = self.optimizer(groups, lr=self.lr)
        if not isinstance(opt, torch.optim.Optimizer):
            raise TypeError(
                f"the optimizer factory returned {type(opt).__name__}, not a torch.optim.Optimizer"
            )
        return opt

    def _make_scheduler(self, opt: torch.optim.Optimizer, steps_per_epoch: int | None) -> Any:
        if self.scheduler is None:
            return None
        if steps_per_epoch is None:
            raise ValueError(
                f"scheduler={self.scheduler!r} needs the number of steps, but the training "
                "DataLoader has no len(); pass a map-style Dataset or no scheduler"
            )
        total = steps_per_epoch * self.max_epochs
        if self.scheduler == "onecycle":
            return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=self.lr, total_steps=total)
        if self.scheduler == "cosine":
            return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
        assert callable(self.scheduler)
        return self.scheduler(opt, total)

    def _resume(
        self, state: FitState, run: _Run, path: str | os.PathLike[str], device: torch.device
    ) -> None:
        ckpt = load_checkpoint(path, map_location=device)
        _check_schedule(ckpt, state, path)
        try:
            state.model.load_state_dict(ckpt["model"])
        except RuntimeError as err:
            raise ValueError(
                f"the weights in checkpoint {path} do not fit this model ({_brief(err)}); "
                "resume with a model built exactly like the one that wrote the checkpoint (e.g. "
                "from the same ModelBuilder spec / constructor arguments)"
            ) from err
        assert run.optimizer is not None
        try:
            run.optimizer.load_state_dict(ckpt["optimizer"])
        except ValueError as err:
            raise ValueError(
                f"the optimizer state in checkpoint {path} does not fit this run ({err}); resume "
                "with the same optimizer, weight_decay (which sets the parameter groups) and "
                "trainable parameters as the run that wrote it"
            ) from err
        if run.scheduler is not None and ckpt.get("scheduler") is not None:
            run.scheduler.load_state_dict(ckpt["scheduler"])
        if run.scaler is not None and ckpt.get("scaler") is not None:
            run.scaler.load_state_dict(ckpt["scaler"])
        states = ckpt.get("callbacks") or {}
        for key, cb in zip(callback_keys(state.callbacks), state.callbacks, strict=False):
            if key in states:
                if hasattr(cb, "load_state_dict"):
                    cb.load_state_dict(states[key])
            elif getattr(cb, "state_dict", lambda: None)() is not None:
                warnings.warn(
                    f"checkpoint {path} holds no state for callback {key} (it has "
                    f"{sorted(states)}); {key} starts afresh",
                    RuntimeWarning,
                    stacklevel=3,
                )
        state.history = History.from_dict(ckpt["history"])
        state.epoch = int(ckpt["epoch"])
        state.should_stop = bool(ckpt.get("should_stop", False))
        state.stop_reason = ckpt.get("stop_reason")
        set_rng_state(ckpt["rng"], state.shuffle_generator)

    @contextlib.contextmanager
    def _determinism(self) -> Iterator[None]:
        if not self.deterministic:
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

    def _bar(self, info: ddp_util.DistInfo, epoch: int, total: int | None) -> Any:
        if not (self.progress and info.is_main and sys.stderr.isatty()):
            return None
        from tqdm.auto import tqdm

        return tqdm(
            total=total, desc=f"epoch {epoch}/{self.max_epochs}", leave=True, dynamic_ncols=True
        )

    @staticmethod
    def _summary(h: History) -> str:
        parts = [f"train_loss {h.train_loss[-1]:.4f}", f"train_acc {h.train_acc[-1]:.3f}"]
        if h.val_loss:
            parts += [f"val_loss {h.val_loss[-1]:.4f}", f"val_acc {h.val_acc[-1]:.3f}"]
        parts += [f"lr {h.lr[-1]:.3g}", f"{h.epoch_time[-1]:.1f}s"]
        return "  ".join(parts)


# ---------------------------------------------------------------------- module helpers
_DEVICE_FORMS = "'auto', 'cpu', 'cuda', 'cuda:N' (e.g. 'cuda:0'), 'mps' or a torch.device"


def _check_device(device: Any) -> str | torch.device:
    """Validate ``Trainer(device=...)`` up front, so a typo fails at construction, not in fit."""
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


def _check_normalize(value: Any) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Canonical ``((mean, ...), (std, ...))``: each part a number or one number per channel."""
    form = (
        "must be (mean, std), each a number (same for every channel) or a sequence with one "
        "number per channel, e.g. normalize=(0.5, 0.25) or "
        "normalize=((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))"
    )
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 2:
        raise ValueError(f"Trainer(normalize={value!r}) {form}")
    parts: list[tuple[float, ...]] = []
    for part in value:
        seq = (part,) if isinstance(part, (int, float)) else part
        if (
            isinstance(seq, (str, bytes))
            or not isinstance(seq, Sequence)
            or not seq
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in seq)
        ):
            raise ValueError(f"Trainer(normalize={value!r}) {form}")
        parts.append(tuple(float(v) for v in seq))
    mean, std = parts
    if len(mean) != len(std) and 1 not in (len(mean), len(std)):
        raise ValueError(
            f"Trainer(normalize={value!r}): mean has {len(mean)} values but std has {len(std)}; "
            "give one value per channel in each (or a single number)"
        )
    if not all(v > 0 and math.isfinite(v) for v in std):
        raise ValueError(f"Trainer(normalize={value!r}): std values must be finite and > 0")
    return mean, std


def _brief(err: BaseException, limit: int = 300) -> str:
    """The error's text on one line, cut to ``limit`` characters (state_dict errors run long)."""
    text = " ".join(line.strip() for line in str(err).strip().splitlines())
    return text if len(text) <= limit else text[: limit - 3] + "..."


#: Float images are sampled this many at a time for the 0..255 check (cheap, once per fit).
_SCALE_SAMPLE = 64


def _warn_if_unscaled(src: Source) -> None:
    """Warn once per fit when in-memory float images look like 0..255 pixel values."""
    if not isinstance(src, TensorSource) or not src.x.dtype.is_floating_point:
        return
    lo, hi = torch.aminmax(src.x[:_SCALE_SAMPLE])
    peak = float(hi)
    # Standardized inputs (already mean/std-normalized) also exceed 1.5 but go below 0; raw
    # 0..255 pixels never do, so only non-negative data with a large peak is warned about.
    if peak > 1.5 and float(lo) >= 0:
        warnings.warn(
            f"{src.role} X is {src.x.dtype} with values up to {peak:g} (in its first "
            f"{min(len(src), _SCALE_SAMPLE)} samples) and no normalize= is set: images in "
            "0..255 train poorly. Divide by 255 (X / 255), pass the uint8 images as they are "
            "(cnnkit scales them), or set normalize=(mean, std) for this scale",
            UserWarning,
            stacklevel=3,
        )


def _planned_steps(ckpt: dict[str, Any]) -> int | None:
    """Total steps the checkpoint's schedule was built for (older checkpoints: from its state)."""
    if ckpt.get("schedule_steps") is not None:
        return int(ckpt["schedule_steps"])
    sched = ckpt.get("scheduler")
    if isinstance(sched, dict):
        for key in ("total_steps", "T_max"):  # OneCycleLR, CosineAnnealingLR
            if isinstance(sched.get(key), int):
                return int(sched[key])
    return None


def _check_schedule(ckpt: dict[str, Any], state: FitState, path: str | os.PathLike[str]) -> None:
    """A schedule is built for a fixed number of steps: refuse to resume it with another."""
    if state.schedule_steps is None:
        return
    saved = _planned_steps(ckpt)
    if saved is None or saved == state.schedule_steps:
        return
    done = int(ckpt.get("epoch", 0))
    raise ValueError(
        f"checkpoint {path} was written by a run whose learning-rate schedule spans {saved} "
        f"steps, but this fit plans {state.schedule_steps} (max_epochs={state.max_epochs}); a "
        "scheduled run can only be resumed with the same max_epochs, batch_size, accumulate and "
        "training data. Resume with the original max_epochs, or start a new run from the "
        f"checkpoint's weights (load_checkpoint(path, model), then fit without resume_from; it "
        f"completed {done} epochs) so the schedule is built for the new length"
    )


def _call(cb: Any, hook: str, state: FitState) -> None:
    fn = getattr(cb, hook, None)
    if fn is not None:
        fn(state)


def _check_channels(normalize: Any, xs: torch.Tensor, role: str) -> None:
    """``normalize`` with one value per channel must match the images' channel axis."""
    if normalize is None:
        return
    n = max(len(normalize[0]), len(normalize[1]))
    if n > 1 and (xs.ndim < 2 or xs.shape[1] != n):
        got = f"{xs.shape[1]} channels" if xs.ndim >= 2 else f"shape {tuple(xs.shape)}"
        raise ValueError(
            f"normalize has {n} values per channel (mean {normalize[0]}, std {normalize[1]}) but "
            f"the {role} images have {got} (samples of shape {tuple(xs.shape[1:])}, expected "
            f"(C, H, W)); give one mean and one std per channel, or a single number for all"
        )


def _check_targets(y: torch.Tensor, num_classes: int, role: str) -> None:
    if y.ndim == 2:
        if y.shape[1] != num_classes:
            raise ValueError(
                f"{role} soft targets have {y.shape[1]} columns but the model outputs "
                f"{num_classes} logits per sample; they must match"
            )
        return
    lo, hi = int(y.min()), int(y.max())
    if lo < 0 or hi >= num_classes:
        raise ValueError(
            f"{role} labels span [{lo}, {hi}] but the model outputs {num_classes} logits per "
            f"sample, so labels must lie in [0, {num_classes - 1}]; fix the labels or make the "
            f"model's last layer output {hi + 1} classes"
        )


def _total_norm(params: list[nn.Parameter]) -> torch.Tensor:
    """Global L2 norm of the gradients (what clip_grad_norm_ computes, without clipping)."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.zeros(())
    foreach_norm = getattr(torch, "_foreach_norm", None)
    if foreach_norm is not None and len({(g.device, g.dtype) for g in grads}) == 1:
        # One fused kernel; 3x cheaper per step than nn.utils.get_total_norm's grouping logic,
        # which matters for small models (measured: 21 vs 64 us for 6 tensors on CPU).
        total: torch.Tensor = torch.linalg.vector_norm(torch.stack(foreach_norm(grads)))
        return total
    norms = torch.stack([torch.linalg.vector_norm(g).float() for g in grads])
    total = torch.linalg.vector_norm(norms)
    return total


def _grad_scaler(device_type: str) -> Any:
    amp = getattr(torch, "amp", None)
    if amp is not None and hasattr(amp, "GradScaler"):
        return amp.GradScaler(device_type)
    return torch.cuda.amp.GradScaler()  # torch < 2.3


def _is_plateau(scheduler: Any) -> bool:
    return isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)


def _cycle(make: Callable[[], Iterator[Any]]) -> Iterator[Any]:
    while True:
        empty = True
        for item in make():
            empty = False
            yield item
        if empty:
            raise ValueError("the training data produced no batches")


def _steepest(lrs: list[float], losses: list[float]) -> float | None:
    """The lr at the most negative slope of loss against log(lr), ignoring the first/last points."""
    finite = [(lr, loss) for lr, loss in zip(lrs, losses, strict=False) if math.isfinite(loss)]
    if len(finite) < 5:
        return None
    x = np.log(np.array([p[0] for p in finite]))
    y = np.array([p[1] for p in finite])
    slope = np.gradient(y, x)
    inner = slope[1:-1]
    return float(finite[int(np.argmin(inner)) + 1][0])
