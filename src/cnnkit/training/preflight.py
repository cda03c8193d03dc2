"""Checks that run once before the first training step, so bad data fails early and clearly.

The model is run once on two samples (eval mode, no grad) to learn its output width; labels,
soft targets and ``normalize`` are checked against it and against the images' channels.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch

from .loop import Run, prepare
from .sources import LoaderSource, Source, TensorSource

__all__ = ["check_channels", "check_model", "check_targets", "warn_if_unscaled"]

#: Float images are sampled this many at a time for the 0..255 check (cheap, once per fit).
_SCALE_SAMPLE = 64


@torch.no_grad()
def check_model(
    run: Run, train: Source, val: Source | None, normalize: Any, custom_loss: bool
) -> int | None:
    """Run the model once on two samples to learn its output width and check the labels.

    Args:
        run: The run (model on its device).
        train: The training (or evaluated) data.
        val: The validation data, or ``None``.
        normalize: The canonical ``Trainer(normalize=...)`` value, or ``None``.
        custom_loss: A custom loss may take any target format: skip the label checks.

    Returns:
        The model's output width ``num_classes``.

    Raises:
        ValueError: If the model fails on the input shape or does not return ``(N, C)``
            logits, or (with the default cross-entropy) for a single output, labels outside
            ``[0, num_classes)`` or soft targets of another width.
    """
    model = run.model
    was_training = model.training
    model.eval()
    try:
        xs, _ys = train.sample()
        check_channels(normalize, xs, train.role)
        xb, _ = prepare(run, xs, None, train=False)
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
    if custom_loss:
        return num_classes  # a custom loss may use any target format
    if num_classes < 2:
        raise ValueError(
            "the model outputs 1 value per sample; cross-entropy needs one logit per class "
            "(2 for a binary problem), or pass a custom loss="
        )
    for src in (train, val):
        if isinstance(src, TensorSource) and src.y is not None:
            check_targets(src.y, num_classes, src.role)
        elif isinstance(src, LoaderSource):
            # Labels of a Dataset are only seen batch by batch: check each on the host
            # (a reduction over ~100 numbers, far cheaper than the step).
            src.num_classes = num_classes
            _, y1 = src.sample()
            if y1 is not None:
                check_targets(y1, num_classes, src.role)
    return num_classes


def check_channels(normalize: Any, xs: torch.Tensor, role: str) -> None:
    """``normalize`` with one value per channel must match the images' channel axis.

    Args:
        normalize: ``((mean, ...), (std, ...))`` or ``None``.
        xs: A batch of samples ``(n, C, H, W)``.
        role: The data's name in the message.

    Raises:
        ValueError: If the per-channel length differs from ``C``.
    """
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


def check_targets(y: torch.Tensor, num_classes: int, role: str) -> None:
    """Class indices must lie in ``[0, num_classes)``; soft targets must be ``num_classes`` wide.

    Args:
        y: Labels ``(N,)`` or soft targets ``(N, C)``.
        num_classes: The model's output width.
        role: The data's name in the message.

    Raises:
        ValueError: For labels out of range or soft targets of another width.
    """
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


def warn_if_unscaled(src: Source) -> None:
    """Warn once per fit when in-memory float images look like 0..255 pixel values.

    Call it directly from ``Trainer.fit`` (the warning points at the caller of ``fit``).

    Args:
        src: The training data (only a :class:`TensorSource` of floats is inspected).
    """
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
