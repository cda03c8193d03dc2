"""cnnkit's own residual family: small CIFAR-style ResNets described with :class:`ModelBuilder`."""

from __future__ import annotations

from collections.abc import Sequence

from cnnkit._validate import check_probability
from cnnkit.builder.model_builder import ModelBuilder

__all__ = ["FAMILY", "resnet_builder"]

FAMILY: dict[str, tuple[int, int, int]] = {
    "cnnkit-resnet8": (1, 1, 1),
    "cnnkit-resnet14": (2, 2, 2),
    "cnnkit-resnet20": (3, 3, 3),
}
"""Name -> residual blocks in each of the three stages (16, 32 and 64 channels; the second and
third start with stride 2). Depth = 2 convs a block + the stem conv + the classifier, as in He
et al.'s CIFAR ResNets (ResNet-20 is theirs)."""

_WIDTHS = (16, 32, 64)


def resnet_builder(
    name: str,
    num_classes: int,
    *,
    in_channels: int = 3,
    input_size: int | Sequence[int] = 64,
    width: float = 1.0,
    drop_path: float = 0.0,
) -> ModelBuilder:
    """The :class:`~cnnkit.builder.ModelBuilder` of a :data:`FAMILY` member.

    A 3x3 stem conv with batch norm (no pooling), three stages of
    :class:`~cnnkit.layers.ResidualBlock`, global average pooling and a linear classifier.

    Args:
        name: a key of :data:`FAMILY`.
        num_classes: classifier outputs (at least 2).
        in_channels: image channels.
        input_size: image side or ``(H, W)``; any size works (average-pooling head), this one
            is used for the summary and the shape checks.
        width: multiplier of every stage's channels.
        drop_path: stochastic depth of the last block; earlier blocks get linearly less
            (0 for the first), as in Huang et al. (2016).

    Returns:
        The builder; ``.build()`` makes the model and ``.to_dict()`` describes it.

    Raises:
        ValueError: an unknown name or a bad argument.

    Example:
        >>> resnet_builder("cnnkit-resnet8", 10, input_size=32).num_parameters()
        78042
    """
    if name not in FAMILY:
        raise ValueError(f"unknown cnnkit backbone {name!r}; use one of {sorted(FAMILY)}")
    rate = check_probability(drop_path, "drop_path", allow_one=False)
    builder = ModelBuilder(in_channels, num_classes, input_size, head="avg", width=width)
    builder.conv(_WIDTHS[0], batch_norm=True, pool=None)
    total = sum(FAMILY[name])
    index = 0
    for stage, (blocks, channels) in enumerate(zip(FAMILY[name], _WIDTHS, strict=True)):
        for b in range(blocks):
            extra = {"drop_path": rate * index / (total - 1)} if rate and total > 1 else {}
            builder.residual(channels, stride=2 if stage and b == 0 else 1, **extra)
            index += 1
    return builder
