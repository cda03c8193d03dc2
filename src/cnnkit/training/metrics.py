"""Classification metrics beyond accuracy, per-epoch user metrics, and class weights.

* :class:`ConfusionCounter` accumulates the confusion matrix batch by batch with one
  ``bincount`` on the device (exact integer counts; under DDP one all-reduce of the ``C x C``
  counts), plus the top-k hits; :func:`classification_report` turns the counts into per-class
  precision, recall, F1 and support (``Trainer.evaluate`` returns it).
* :class:`EpochMetrics` runs ``Trainer(metrics={...})``: callables ``fn(logits, targets)`` are
  computed once per epoch on the **concatenated** epoch outputs (exact for metrics such as F1
  that are not a mean over batches), objects with ``update``/``compute``/``reset`` (the
  torchmetrics protocol) are updated per batch and computed at the end of the epoch.
* :func:`balanced_class_weight` and :func:`resolve_class_weight`: ``Trainer(class_weight=...)``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import torch
import torch.nn.functional as F

from . import distributed as ddp_util
from .sources import Source, TensorSource

__all__ = [
    "TOPK",
    "ConfusionCounter",
    "EpochMetrics",
    "balanced_class_weight",
    "check_class_weight",
    "check_metrics",
    "classification_report",
    "evaluation",
    "resolve_class_weight",
    "weighted_cross_entropy",
]

#: ``Trainer.evaluate`` reports top-``TOPK`` accuracy when the model has more than ``TOPK``
#: classes (with 5 or fewer every label is in the top 5).
TOPK = 5

#: Metric names that would collide with the series the trainer records itself.
_RESERVED = ("loss", "acc")


class ConfusionCounter:
    """Accumulate a ``(C, C)`` confusion matrix (rows: true class, columns: predicted) per batch.

    Args:
        num_classes: ``C``, the model's output width.
        device: Where the counts live (the run's device: no host sync per batch).
        topk: Also count the samples whose label is among the ``topk`` largest logits
            (``0``: do not).
    """

    def __init__(self, num_classes: int, device: torch.device, topk: int = 0) -> None:
        self.num_classes = num_classes
        self.topk = topk if 0 < topk < num_classes else 0
        self.counts = torch.zeros(num_classes * num_classes, dtype=torch.int64, device=device)
        self.topk_hits = torch.zeros((), dtype=torch.int64, device=device)

    def __call__(self, logits: torch.Tensor, target: torch.Tensor) -> None:
        """Add one batch: ``logits`` ``(n, C)``, ``target`` ``(n,)`` class indices."""
        c = self.num_classes
        pred = logits.argmax(1)
        self.counts += torch.bincount(target.long() * c + pred, minlength=c * c)[: c * c]
        if self.topk:
            top = logits.topk(self.topk, dim=1).indices
            self.topk_hits += (top == target.long().unsqueeze(1)).any(1).sum()

    def totals(self, info: ddp_util.DistInfo) -> tuple[torch.Tensor, int]:
        """The matrix summed over ranks (an int64 CPU tensor ``(C, C)``) and the top-k hits."""
        packed = torch.cat([self.counts, self.topk_hits.view(1)])
        if info.enabled:  # float64 is exact for counts below 2**53
            packed = ddp_util.all_reduce_sum(packed.double(), info).round().long()
        packed = packed.cpu()
        c = self.num_classes
        return packed[: c * c].view(c, c), int(packed[-1])


def classification_report(cm: torch.Tensor) -> dict[str, Any]:
    """Per-class precision, recall, F1 and support of a confusion matrix.

    A class with no predicted sample has precision 0, one with no true sample recall 0
    (scikit-learn's ``zero_division=0``). Macro averages are over the classes that occur in
    the labels or the predictions (scikit-learn's default label set).

    Args:
        cm: ``(C, C)`` counts, rows the true class and columns the predicted one.

    Returns:
        ``{"per_class": {"precision": [...], "recall": [...], "f1": [...], "support": [...]},
        "macro_f1": float, "balanced_accuracy": float}`` (lists of length ``C``; support as
        ints; ``balanced_accuracy`` is the macro recall).

    Example:
        >>> rep = classification_report(torch.tensor([[3, 1], [0, 2]]))
        >>> rep["per_class"]["recall"], rep["per_class"]["support"]
        ([0.75, 1.0], [4, 2])
    """
    cm = cm.double()
    tp = cm.diagonal()
    true = cm.sum(1)
    pred = cm.sum(0)
    precision = torch.where(pred > 0, tp / pred.clamp(min=1), torch.zeros_like(tp))
    recall = torch.where(true > 0, tp / true.clamp(min=1), torch.zeros_like(tp))
    denom = precision + recall
    f1 = torch.where(denom > 0, 2 * precision * recall / denom.clamp(min=1e-300), denom * 0)
    present = (true > 0) | (pred > 0)
    k = max(int(present.sum()), 1)
    return {
        "per_class": {
            "precision": precision.tolist(),
            "recall": recall.tolist(),
            "f1": f1.tolist(),
            "support": [int(v) for v in true.tolist()],
        },
        "macro_f1": float(f1[present].sum()) / k,
        "balanced_accuracy": float(recall[present].sum()) / k,
    }


def evaluation(loss: float, accuracy: float, counter: ConfusionCounter) -> dict[str, Any]:
    """What ``Trainer.evaluate`` returns, from the loss, the accuracy and the counts.

    Args:
        loss: Mean loss.
        accuracy: Fraction correct.
        counter: The counts of the evaluated data (this process only).

    Returns:
        ``{"loss", "accuracy", "per_class", "macro_f1", "balanced_accuracy",
        "confusion_matrix"}`` and ``"top5_accuracy"`` with more than 5 classes.
    """
    cm, hits = counter.totals(ddp_util.DistInfo())
    out: dict[str, Any] = {"loss": loss, "accuracy": accuracy}
    out.update(classification_report(cm))
    out["confusion_matrix"] = cm
    if counter.topk:
        out[f"top{counter.topk}_accuracy"] = hits / max(int(cm.sum()), 1)
    return out


# ---------------------------------------------------------------------- per-epoch metrics
def _is_stateful(obj: Any) -> bool:
    return all(callable(getattr(obj, m, None)) for m in ("update", "compute", "reset"))


def check_metrics(value: Any) -> dict[str, Any]:
    """Check ``Trainer(metrics=...)``: a mapping of names to callables or metric objects.

    Args:
        value: ``None`` or ``{name: fn(logits, targets) | object with update/compute/reset}``.

    Returns:
        A plain dict (empty for ``None``).

    Raises:
        TypeError: For a non-mapping, a non-string name or a value that is neither.
        ValueError: For a name that is not an identifier or would collide with a recorded
            series (``loss``, ``acc``).
    """
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(
            f"Trainer(metrics={value!r}): pass a dict of name -> metric, e.g. "
            "metrics={'f1': f1_fn} with f1_fn(logits, targets) -> float"
        )
    out: dict[str, Any] = {}
    for name, metric in value.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(
                f"Trainer(metrics=...): metric name {name!r} must be an identifier such as "
                "'f1' (it is recorded as train_<name> and val_<name>)"
            )
        if name in _RESERVED:
            raise ValueError(
                f"Trainer(metrics=...): {name!r} is recorded already (train_{name}, "
                f"val_{name}); give your metric another name, e.g. 'my_{name}'"
            )
        if not (callable(metric) or _is_stateful(metric)):
            raise TypeError(
                f"Trainer(metrics={{{name!r}: {metric!r}}}): a metric must be a callable "
                "fn(logits, targets) -> float or an object with update(logits, targets), "
                "compute() and reset() (e.g. a torchmetrics metric)"
            )
        out[name] = metric
    return out


def _as_float(value: Any, name: str) -> float:
    if hasattr(value, "numel") and hasattr(value, "item"):
        if value.numel() != 1:
            raise ValueError(
                f"metric {name!r} returned a tensor of shape {tuple(value.shape)}; it must "
                "return one number (e.g. average per-class values with .mean())"
            )
        return float(value.item())
    try:
        return float(value)
    except (TypeError, ValueError) as err:
        raise TypeError(f"metric {name!r} returned {value!r}; it must return one number") from err


def _gather(t: torch.Tensor, info: ddp_util.DistInfo) -> torch.Tensor:
    """Concatenate every rank's ``t`` (same trailing shape, any length) in rank order."""
    if not info.enabled:
        return t
    sizes = torch.zeros(info.world_size, dtype=torch.float64, device=t.device)
    sizes[info.rank] = t.shape[0]
    counts = [int(v) for v in ddp_util.all_reduce_sum(sizes, info).tolist()]
    buf = torch.zeros((sum(counts), *t.shape[1:]), dtype=torch.float64, device=t.device)
    start = sum(counts[: info.rank])
    buf[start : start + t.shape[0]] = t.double()
    return ddp_util.all_reduce_sum(buf, info).to(t.dtype)


class EpochMetrics:
    """The user metrics of one fit, for its two phases (``"train"`` and ``"val"``).

    Each phase gets its own deep copy of a stateful metric object, so one object given to
    ``Trainer(metrics=...)`` serves both phases without mixing their data.

    Plain callables see the outputs of every DDP rank (gathered with two all-reduces at the
    end of the phase); a stateful object sees this rank's batches and syncs itself if it can
    (torchmetrics metrics do).

    Args:
        metrics: The checked ``Trainer(metrics=...)`` mapping.
        device: The run's device (where the DDP collectives run).
    """

    def __init__(self, metrics: Mapping[str, Any], device: torch.device | None = None) -> None:
        self.metrics = dict(metrics)
        self.device = device if device is not None else torch.device("cpu")
        self._objects = {
            phase: {n: copy.deepcopy(m) for n, m in metrics.items() if _is_stateful(m)}
            for phase in ("train", "val")
        }
        self._outputs: dict[str, list[tuple[torch.Tensor, torch.Tensor]]] = {
            "train": [],
            "val": [],
        }

    def names(self) -> list[str]:
        """The recorded series: ``train_<name>`` and ``val_<name>`` for every metric."""
        return [f"{p}_{n}" for n in self.metrics for p in ("train", "val")]

    def reset(self, phase: str) -> None:
        """Start a phase of an epoch: forget the previous outputs, reset the objects."""
        self._outputs[phase] = []
        for obj in self._objects[phase].values():
            obj.reset()

    def update(self, phase: str, logits: torch.Tensor, target: torch.Tensor) -> None:
        """Add one batch: ``logits`` ``(n, C)`` (detached), ``target`` ``(n,)`` class indices."""
        logits = logits.detach()
        for obj in self._objects[phase].values():
            obj.update(logits, target)
        if len(self._objects[phase]) < len(self.metrics):  # some are plain callables
            self._outputs[phase].append((logits.float(), target))

    def compute(self, phase: str, info: ddp_util.DistInfo) -> dict[str, float]:
        """This phase's value of every metric (callables see all ranks' outputs)."""
        out: dict[str, float] = {}
        logits, targets = self._epoch_outputs(phase, info)
        for name, metric in self.metrics.items():
            obj = self._objects[phase].get(name)
            if obj is not None:
                out[name] = _as_float(obj.compute(), name)
            elif logits is None or targets is None:
                out[name] = math.nan
            else:
                out[name] = _as_float(metric(logits, targets), name)
        self._outputs[phase] = []
        return out

    def _epoch_outputs(
        self, phase: str, info: ddp_util.DistInfo
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """The phase's logits ``(N, C)`` and targets ``(N,)`` over all ranks (``None``: none).

        Under DDP every rank takes part, also one whose shard was empty (it contributes no
        rows), so the collectives always match.
        """
        pairs = self._outputs[phase]
        if len(self._objects[phase]) == len(self.metrics):
            return None, None  # only stateful objects: nothing to gather
        if not info.enabled and not pairs:
            return None, None
        width = pairs[0][0].shape[1] if pairs else 0
        if info.enabled:  # a rank without rows learns the width from the others
            w = torch.tensor([float(width), float(width > 0)], device=self.device)
            total, ranks = ddp_util.all_reduce_sum(w.double(), info).tolist()
            width = round(total / max(ranks, 1))
        dev = pairs[0][0].device if pairs else self.device
        logits = torch.cat([p[0] for p in pairs]) if pairs else torch.zeros(0, width, device=dev)
        targets = (
            torch.cat([p[1] for p in pairs])
            if pairs
            else torch.zeros(0, dtype=torch.long, device=dev)
        )
        logits, targets = _gather(logits, info), _gather(targets, info)
        if logits.shape[0] == 0:
            return None, None
        return logits, targets

    def record(self, history: Any, phase: str, info: ddp_util.DistInfo, skip: bool) -> None:
        """Append this phase's values to ``history.metrics`` (``nan`` when ``skip``)."""
        values = dict.fromkeys(self.metrics, math.nan) if skip else self.compute(phase, info)
        for name, value in values.items():
            history.metrics.setdefault(f"{phase}_{name}", []).append(value)


# ---------------------------------------------------------------------- class weights
def balanced_class_weight(labels: torch.Tensor, num_classes: int) -> list[float]:
    """scikit-learn's ``"balanced"`` weights: ``n_samples / (n_classes * bincount(labels))``.

    Args:
        labels: ``(N,)`` class indices, or ``(N, C)`` soft targets (their column sums count).
        num_classes: ``C``.

    Returns:
        ``C`` weights (a rare class weighs more; the weighted count of every class is equal).

    Raises:
        ValueError: If a class has no sample (its weight would be infinite).

    Example:
        >>> balanced_class_weight(torch.tensor([0, 0, 0, 1]), 2)
        [0.6666666666666666, 2.0]
    """
    if labels.ndim == 2:
        counts = labels.double().sum(0)
    else:
        counts = torch.bincount(labels.long().flatten(), minlength=num_classes).double()
    counts = counts[:num_classes]
    missing = [i for i, c in enumerate(counts.tolist()) if c <= 0]
    if missing:
        raise ValueError(
            f"class_weight='balanced': class(es) {missing} have no training sample, so their "
            "weight would be infinite; pass class_weight as a list of weights instead"
        )
    total = float(counts.sum())
    return (total / (num_classes * counts)).tolist()


def _labels(src: Source, batch_size: int) -> torch.Tensor:
    """All labels of a source: the tensor itself, a dataset's labels/targets, else one pass."""
    if isinstance(src, TensorSource) and src.y is not None:
        return src.y
    dataset = getattr(src, "dataset", None)
    for attr in ("labels", "targets"):
        found = getattr(dataset, attr, None)
        if found is not None:
            return torch.as_tensor(found)
    parts = [yb for _, yb, _ in src.eval_batches(batch_size, 0, 1) if yb is not None]
    return torch.cat(parts)


def resolve_class_weight(opts: Any, num_classes: int, src: Source) -> torch.Tensor:
    """The class weights of ``opts.class_weight`` as a float32 tensor ``(C,)`` (on the CPU).

    Args:
        opts: The trainer (its ``class_weight``: ``"balanced"`` or one weight per class, and
            its ``batch_size``).
        num_classes: The model's output width ``C``.
        src: The training data (``"balanced"`` counts its labels; a ``Dataset`` without
            ``labels``/``targets`` attributes costs one pass over it).

    Returns:
        The weights.

    Raises:
        ValueError: For a sequence whose length is not ``C``, or a class with no sample.
    """
    class_weight = opts.class_weight
    if isinstance(class_weight, str):
        labels = _labels(src, opts.batch_size)
        return torch.tensor(balanced_class_weight(labels, num_classes), dtype=torch.float32)
    weights = [float(w) for w in class_weight]
    if len(weights) != num_classes:
        raise ValueError(
            f"Trainer(class_weight=...) has {len(weights)} weights but the model has "
            f"{num_classes} outputs; give one weight per class (or class_weight='balanced')"
        )
    return torch.tensor(weights, dtype=torch.float32)


def weighted_cross_entropy(
    weight: torch.Tensor | None, label_smoothing: float, device: torch.device
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """Cross-entropy with class weights (moved to ``device``) and label smoothing together.

    Args:
        weight: ``(C,)`` class weights or ``None``.
        label_smoothing: In ``[0, 1)``.
        device: The run's device.

    Returns:
        ``loss(logits, targets) -> scalar``: each sample's loss times its class weight,
        averaged over the samples (Keras' ``class_weight``). ``nn.CrossEntropyLoss(weight=)``
        divides by the sum of the weights instead, which makes a batch mean that cannot be
        averaged over batches; this mean can, so the epoch loss is exact at any batch size,
        and ``"balanced"`` weights average to 1 over the training set (the loss keeps its
        scale).
    """
    w = None if weight is None else weight.to(device=device, dtype=torch.float32)

    def cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        wt = None if w is None else w.to(logits.dtype)
        per_sample = F.cross_entropy(
            logits, target, weight=wt, label_smoothing=label_smoothing, reduction="none"
        )
        return per_sample.mean()

    return cross_entropy


def check_class_weight(value: Any) -> Any:
    """Check ``Trainer(class_weight=...)``: ``None``, ``"balanced"`` or positive numbers.

    Args:
        value: The option.

    Returns:
        ``None``, ``"balanced"`` or a tuple of floats.

    Raises:
        ValueError: For another string, an empty sequence or a weight that is not finite
            and >= 0 (at least one > 0).
        TypeError: For another type.
    """
    if value is None or value == "balanced":
        return value
    if isinstance(value, str):
        raise ValueError(
            f"Trainer(class_weight={value!r}): must be None, 'balanced' or one weight per class"
        )
    if hasattr(value, "tolist"):
        value = value.tolist()
    if not isinstance(value, Iterable):
        raise TypeError(
            f"Trainer(class_weight={value!r}): must be None, 'balanced' or a sequence of "
            "weights, e.g. class_weight=[1.0, 3.0]"
        )
    weights = tuple(value)
    if (
        not weights
        or not all(isinstance(w, (int, float)) and not isinstance(w, bool) for w in weights)
        or not all(math.isfinite(w) and w >= 0 for w in weights)
        or not any(w > 0 for w in weights)
    ):
        raise ValueError(
            f"Trainer(class_weight={value!r}): weights must be finite numbers >= 0 (not all "
            "zero), one per class"
        )
    return tuple(float(w) for w in weights)
