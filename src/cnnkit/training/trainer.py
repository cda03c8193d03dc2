"""The :class:`Trainer`: the one public front of training, a dataclass of options that delegates.

In the spirit of nanoGPT's ``train.py``: one dataclass of options (each default commented), DDP
detected from ``torchrun``'s environment variables, and a loop
(:func:`cnnkit.training.loop.train_epoch`) that fits on one screen. In-memory tensors take a fast
path that does what a hand-written loop does (``randperm`` + tensor indexing), so the trainer
costs nothing over writing the loop yourself; see ``benchmarks/trainer_overhead.py``.

The work happens in the modules beside this one: :mod:`~cnnkit.training.sources` (data),
:mod:`~cnnkit.training.preflight` (checks before the first step), :mod:`~cnnkit.training.loop`
(the epochs), :mod:`~cnnkit.training.optim`, :mod:`~cnnkit.training.precision`,
:mod:`~cnnkit.training.checkpoint` (resume), :mod:`~cnnkit.training.lr_find` and
:mod:`~cnnkit.training.distributed`.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from cnnkit.history import History

from . import distributed as ddp_util
from . import ema as ema_util
from . import loop, optim, preflight
from . import metrics as metrics_util
from . import precision as device_policy
from . import tta as tta_util
from .callbacks.base import Callback
from .callbacks.model_checkpoint import ModelCheckpoint
from .checkpoint import restore
from .lr_find import LRFindResult, range_test
from .optim import OptimizerFactory, SchedulerFactory
from .options import unknown_option, validate
from .predict import outputs as predict_outputs
from .seed import seed_everything
from .sources import Source, as_source
from .state import AugmentFn, FitState, LossFn

__all__ = ["LRFindResult", "Trainer", "seed_everything"]


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
            CPU); ``"16-mixed"`` (float16 autocast with a gradient scaler; CUDA or MPS);
            ``"auto"``: ``"bf16-mixed"`` where the device runs bfloat16 natively (a bf16 GPU, a
            CPU with AVX512-BF16 or AMX), else ``"32"``.
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
        class_weight: Class weights of the default cross-entropy (with ``label_smoothing``):
            ``"balanced"`` (``n_samples / (n_classes * bincount)`` of the training labels) or
            one weight per class; the training and the validation loss (see docs/training.md).
        metrics: ``{name: fn(logits (N, C), targets (N,)) -> float}`` (on the whole epoch's
            outputs) or objects with ``update``/``compute``/``reset`` (torchmetrics); recorded
            per epoch in ``History.metrics`` as ``train_<name>`` and ``val_<name>``.
        scheduler_options: Arguments of the named ``scheduler`` (see
            :data:`~cnnkit.training.optim.SCHEDULER_OPTIONS`), e.g. for ``"plateau"``
            (``ReduceLROnPlateau``, per epoch) ``{"monitor": "val_loss", "factor": 0.5,
            "patience": 3}``.
        ema: Decay in ``(0, 1)`` of a moving average of the weights (e.g. 0.999), updated per
            optimizer step; validation runs on it, checkpoints hold it, ``fit`` ends with it.
        backbone_lr: Fine-tuning: the rate of everything but the head (``head_name(model)`` of
            :mod:`cnnkit.backbones`), which keeps ``lr``; ``None``: one rate for all.

    Raises:
        ValueError / TypeError: For an invalid option, naming it and the accepted values.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> X, y = torch.rand(64, 3, 8, 8), torch.randint(0, 2, (64,))
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 2))
        >>> trainer = Trainer(max_epochs=2, batch_size=16, seed=0, progress=False)
        >>> history = trainer.fit(model, (X, y), val=(X, y))
        >>> result = trainer.evaluate(model, (X, y))
        >>> len(history.train_loss), result["confusion_matrix"].shape, sorted(result)[:2]
        (2, torch.Size([2, 2]), ['accuracy', 'balanced_accuracy'])
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
    precision: str = "32"  # "32" | "bf16-mixed" (cuda, cpu) | "16-mixed" (cuda, mps) | "auto"
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
    class_weight: str | Sequence[float] | None = None  # None | "balanced" | one weight a class
    metrics: Mapping[str, Any] | None = None  # {name: fn(logits, targets) | update/compute obj}
    scheduler_options: Mapping[str, Any] | None = None  # e.g. {"factor": 0.5, "patience": 3}
    ema: float | None = None  # decay of the weights' moving average (e.g. 0.999); None: off
    backbone_lr: float | None = None  # lr of the body when fine-tuning; None: lr everywhere

    # ------------------------------------------------------------------ options
    def __post_init__(self) -> None:
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        for name, value in validate(values).items():
            setattr(self, name, value)

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
                raise unknown_option(key, names)
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
                precision, or a ``resume_from`` file that is not a cnnkit checkpoint (or is
                damaged), or is one of another architecture or (with a scheduler) another
                planned length.
            TypeError: For unsupported data types, float class labels or string labels.
        """
        info = ddp_util.detect()
        device = device_policy.resolve_device(self.device, info)
        info = ddp_util.setup(device.type)
        device_policy.check_precision(self.precision, device)
        if self.seed is not None:
            seed_everything(self.seed)
        train_src = self._source(train, "train", device)
        val_src = None if val is None else self._source(val, "val", device)

        if self.normalize is None:
            preflight.warn_if_unscaled(train_src)
        model = ddp_util.sync_batchnorm(model, self.sync_batchnorm, info, device)
        run = self._setup(model, device, info, check=(train_src, val_src))
        run.params = [p for p in model.parameters() if p.requires_grad]
        if not run.params:
            raise ValueError("the model has no trainable parameters (all requires_grad=False)")
        run.optimizer = optim.make_optimizer(
            self.optimizer, model, self.lr, self.weight_decay, backbone_lr=self.backbone_lr
        )
        n_batches = train_src.num_batches(self.batch_size, info.world_size)
        steps_per_epoch = None if n_batches is None else math.ceil(n_batches / self.accumulate)
        plan = (self.lr, self.max_epochs, steps_per_epoch, self.scheduler_options)
        run.scheduler = optim.make_scheduler(self.scheduler, run.optimizer, *plan)
        run.plateau_monitor = optim.plateau_monitor(
            self.scheduler, self.scheduler_options, val_src is not None
        )
        schedule_steps = (
            None
            if run.scheduler is None or optim.is_plateau(run.scheduler) or steps_per_epoch is None
            else steps_per_epoch * self.max_epochs
        )
        run.scaler = device_policy.make_scaler(self.precision, device)
        run.metrics = metrics_util.EpochMetrics(self.metrics, device) if self.metrics else None
        run.net = ddp_util.wrap(model, device, info)
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
        if self.ema is not None:
            run.ema = state.ema = ema_util.make_ema(model, self.ema)
            state.ema_decay = self.ema
        if resume_from is not None:
            restore(state, resume_from, device)
        return loop.fit_epochs(state, run, train_src, val_src, gen, n_batches, self.deterministic)

    def evaluate(
        self, model: nn.Module, data: Any, *, tta: bool | Sequence[str] = False
    ) -> dict[str, Any]:
        """Loss, accuracy, per-class metrics and the confusion matrix of ``model`` on ``data``.

        The model is in eval mode, without gradients.

        Runs in this process on all of ``data`` (no sharding), with the trainer's device,
        precision, loss and ``normalize``.

        Args:
            model: The classifier.
            data: ``(X, y)``, a ``Dataset`` or a ``DataLoader`` (labels required).
            tta: ``True``: average the softmax of each image and its flip (see ``predict``);
                the loss is that of the averaged probabilities.

        Returns:
            ``loss``, ``accuracy``, ``per_class`` (lists ``precision``, ``recall``, ``f1``,
            ``support``), ``macro_f1``, ``balanced_accuracy``, ``confusion_matrix`` (``(C, C)``
            int64, true class in rows) and, with more than 5 classes, ``top5_accuracy``.

        Raises:
            ValueError / TypeError: As :meth:`fit` for bad data.
        """
        run, src = self._local_run(model, data, "data", labels=True)
        run.num_classes = preflight.check_model(
            run, src, None, self.normalize, self.loss is not None
        )
        was_training = model.training
        counter = metrics_util.ConfusionCounter(run.num_classes or 1, run.device, metrics_util.TOPK)
        run.net = tta_util.wrap(run.net, tta)
        try:
            loss_sum, correct, count = loop.eval_sums(run, src, observe=counter)
        finally:
            model.train(was_training)
        return metrics_util.evaluation(loss_sum / count, correct / count, counter)

    def predict(
        self,
        model: nn.Module,
        X: Any,
        *,
        probabilities: bool = False,
        tta: bool | Sequence[str] = False,
    ) -> torch.Tensor:
        """Logits (or probabilities) of ``model`` for every sample of ``X`` (eval mode, no grad).

        Args:
            model: The classifier.
            X: ``(N, C, H, W)`` tensor/array (uint8 or float), ``(X, y)`` (``y`` ignored), a
                ``Dataset`` or a ``DataLoader`` (labels, if any, ignored).
            probabilities: Return softmax probabilities (each row sums to 1) instead of logits.
            tta: Test-time augmentation: ``True`` averages the softmax of each image and its
                horizontal flip (or a list of :data:`~cnnkit.training.tta.TTA_VIEWS`); the
                result is the log of the averaged probabilities. Images ``(N, C, H, W)`` only.

        Returns:
            Float32 CPU tensor of shape ``(N, num_classes)``, in the order of ``X``; without
            ``probabilities``, apply ``softmax(dim=1)`` for probabilities or ``argmax(dim=1)``
            for classes.

        Raises:
            ValueError: For ``tta`` on inputs that are not images ``(N, C, H, W)``, or an
                unknown view.
        """
        tta_util.check_tta(tta)  # before the data is read
        run, src = self._local_run(model, X, "predict", labels=False)
        run.net = tta_util.wrap(run.net, tta)
        bs = self.eval_batch_size or self.batch_size
        return predict_outputs(run, src, bs, probabilities=probabilities)

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
        device = device_policy.resolve_device(self.device, ddp_util.DistInfo())
        device_policy.check_precision(self.precision, device)
        src = self._source(train, "train", device)
        saved = {k: v.detach().clone() for k, v in model.state_dict().items()}
        was_training = model.training
        rng = torch.get_rng_state()
        run = self._setup(model, device, ddp_util.DistInfo(), check=(src, None))
        run.params = [p for p in model.parameters() if p.requires_grad]
        run.optimizer = optim.make_optimizer(
            self.optimizer, model, self.lr, self.weight_decay, backbone_lr=self.backbone_lr
        )
        run.scaler = device_policy.make_scaler(self.precision, device)
        gen = torch.Generator().manual_seed(self.seed if self.seed is not None else 0)
        try:
            return range_test(
                run,
                src,
                gen,
                start_lr=start_lr,
                end_lr=end_lr,
                num_iter=num_iter,
                smooth=smooth,
                diverge=diverge,
            )
        finally:
            model.load_state_dict(saved)
            model.train(was_training)
            torch.set_rng_state(rng)

    # ------------------------------------------------------------------ helpers
    def _source(self, data: Any, role: str, device: torch.device, labels: bool = True) -> Source:
        return as_source(
            data, role, labels=labels, num_workers=self.num_workers, pin=device.type == "cuda"
        )

    def _local_run(
        self, model: nn.Module, data: Any, role: str, labels: bool
    ) -> tuple[loop.Run, Source]:
        """Device, data and run of a call that runs in this process only (evaluate, predict)."""
        device = device_policy.resolve_device(self.device, ddp_util.DistInfo())
        device_policy.check_precision(self.precision, device)
        src = self._source(data, role, device, labels=labels)
        return self._setup(model, device, ddp_util.DistInfo(), (src, None) if labels else None), src

    def _setup(
        self,
        model: nn.Module,
        device: torch.device,
        info: ddp_util.DistInfo,
        check: tuple[Source, Source | None] | None = None,
    ) -> loop.Run:
        """The run of ``model`` on ``device``; ``check``: the data to check the model against."""
        run = loop.make_run(
            self,
            model,
            device,
            info,
            loss=self.loss,
            label_smoothing=self.label_smoothing,
            normalize=self.normalize,
        )
        if check is not None:
            custom_loss = self.loss is not None
            run.num_classes = preflight.check_model(run, *check, self.normalize, custom_loss)
            if self.class_weight is not None and not custom_loss:
                w = metrics_util.resolve_class_weight(self, run.num_classes or 0, check[0])
                run.loss_fn = metrics_util.weighted_cross_entropy(w, self.label_smoothing, device)
        return run
