"""Recommended recipes: a from-scratch CNN and its training, chosen by the data's size.

:func:`recommended` returns a :class:`~cnnkit.builder.ModelBuilder` and a
:class:`~cnnkit.training.Trainer` for a few hundred to tens of thousands of images. Every
ingredient was ablated on two real data sets (the case study's 1646 vehicle photos and 2400
six-class scene photos) over several seeds; the table, the spreads and the commands are in
``docs/recipes.md`` (``benchmarks/recipe_ablation.py`` reproduces them). The choices, in short:

- **Architecture**: VGG-style conv blocks (3x3 conv, batch norm, ReLU, 2x2 max pool), widths
  32, 64, 128, 256 (doubling, capped at 256), as many blocks as halve the image to about 4-7
  pixels, then global average pooling (the head does not grow with the image, so the model
  cannot memorize through a huge linear layer as the case study's flatten head does).
- **Regularization**: batch norm everywhere, :func:`cnnkit.augment.default` (flips, affine,
  colour, erasing), label smoothing 0.1, AdamW's decoupled weight decay 0.05, and no dropout:
  the first draft had channel dropout 0.1 in every conv block, and removing it raised held-out
  accuracy on both real sets (the model was under-fitting, not over-fitting).
- **Optimization**: AdamW at peak rate 2e-3 with a one-cycle schedule (warm-up then cosine
  annealing to nearly 0, so the run ends converged rather than noisy), batch 64 (32 below 1024
  images, so an epoch still has 16+ steps), and enough epochs for about :data:`TARGET_STEPS`
  optimizer steps (between :data:`MIN_EPOCHS` and :data:`MAX_EPOCHS`).
- **Speed**: ``precision="auto"`` (bfloat16 autocast where the hardware computes in it, e.g. a
  CPU with AVX512-BF16: 2-3 times faster at the same accuracy) and ``channels_last``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cnnkit.augment as augment_lib
from cnnkit._validate import check_positive_int, size_pair
from cnnkit.builder import ModelBuilder
from cnnkit.training import Trainer

__all__ = ["MAX_EPOCHS", "MIN_EPOCHS", "TARGET_STEPS", "recommended"]

TARGET_STEPS = 700
"""Optimizer steps the recipe aims for (epochs = steps / steps per epoch, then clipped): on both
real sets a one-cycle run of about 700 steps reached its plateau (docs/recipes.md)."""

MIN_EPOCHS = 15
"""Fewest epochs: with tens of thousands of images 700 steps would be under one pass; every image
should be seen (augmented differently) several times."""

MAX_EPOCHS = 100
"""Most epochs: with a few hundred images 700 steps would be hundreds of passes, where the gain
is nil and the memorization risk grows."""

WIDTHS = (32, 64, 128, 256, 256)
"""Channels of the conv blocks, in order (the recipe uses the first :func:`num_blocks`)."""


def num_blocks(input_size: int | Sequence[int]) -> int:
    """Conv blocks for an image size: each halves the map, down to about 4-7 pixels (2 to 5 blocks).

    Examples:
        >>> [num_blocks(s) for s in (32, 64, 96, 128, 224)]
        [3, 4, 4, 5, 5]
    """
    h, w = size_pair(input_size, "input_size")
    side = min(h, w)
    if side < 16:
        raise ValueError(
            f"input_size {input_size!r} is too small for the recipe's conv blocks: use images of "
            "at least 16x16 pixels (resize them when loading, e.g. load_image_folder(root, size=64))"
        )
    return max(2, min(len(WIDTHS), int(math.log2(side / 4))))


def recommended(
    num_classes: int,
    input_size: int | Sequence[int],
    num_train: int,
    *,
    in_channels: int = 3,
) -> tuple[ModelBuilder, Trainer]:
    """The recommended from-scratch CNN and trainer for ``num_train`` images of ``input_size``.

    Args:
        num_classes: classes (at least 2).
        input_size: the images' side ``S`` or ``(H, W)``, as they are fed to the model (96 is a
            good size for photos on a CPU: 2.3 times the pixels of 64, at most a quarter of 224's
            cost).
        num_train: training images (after any validation split); sets the batch size and the
            number of epochs.
        in_channels: image channels (3 for RGB).

    Returns:
        ``(builder, trainer)``: call ``builder.build()`` for the model and
        ``trainer.fit(model, train, val)``. Both are ordinary objects: change any part with
        ``builder.replace(...)`` / ``trainer.replace(...)``.

    Raises:
        ValueError: ``num_classes < 2``, a non-positive ``num_train`` or ``in_channels``, or
            images smaller than 16 pixels.

    Examples:
        >>> builder, trainer = recommended(num_classes=2, input_size=96, num_train=1400)
        >>> [layer["out_channels"] for layer in builder.layers]
        [32, 64, 128, 256]
        >>> trainer.optimizer, trainer.scheduler, trainer.batch_size, trainer.max_epochs
        ('adamw', 'onecycle', 64, 32)
    """
    check_positive_int(num_train, "num_train")
    blocks = num_blocks(input_size)
    builder = ModelBuilder(
        in_channels,
        num_classes,
        input_size,
        batch_norm=True,  # every block: faster, steadier training; its noise regularizes too
        dropout=0.0,  # none: with batch norm, augmentation and decay, dropout 0.1 under-fitted
        dropout_kind="channel",  # what a remedy that adds dropout gets (Dropout2d)
        head="avg",  # global average pooling: a 256-weight-per-class head, not a huge flatten
    )
    for width in WIDTHS[:blocks]:
        builder.conv(width)
    batch_size = 64 if num_train >= 1024 else 32  # 16+ steps per epoch either way
    steps_per_epoch = math.ceil(num_train / batch_size)
    epochs = max(MIN_EPOCHS, min(MAX_EPOCHS, math.ceil(TARGET_STEPS / steps_per_epoch)))
    trainer = Trainer(
        max_epochs=epochs,
        batch_size=batch_size,
        optimizer="adamw",  # decoupled weight decay: it does not fight the adaptive rates
        lr=2e-3,  # the one-cycle peak; batch norm tolerates it, and it converges in ~700 steps
        weight_decay=0.05,  # AdamW's decoupled decay, on conv and linear weights only
        scheduler="onecycle",  # warm-up, then anneal to ~0: ends converged, not noisy
        label_smoothing=0.1,  # calibrated, less over-confident logits on small data
        augment=augment_lib.default(),  # flips, affine, colour jitter, erasing (per image, seeded)
        precision="auto",  # bf16 where the hardware runs it natively (2-3x on such CPUs)
        channels_last=True,  # NHWC: oneDNN's fast convolution layout on CPU, tensor cores on GPU
    )
    return builder, trainer
