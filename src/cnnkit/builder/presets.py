"""Ready-made builders: the case study's four models."""

from __future__ import annotations

from collections.abc import Sequence

from cnnkit._validate import check_choice
from cnnkit.builder.model_builder import ModelBuilder

__all__ = ["CASE_STUDY_VARIANTS", "case_study"]

CASE_STUDY_VARIANTS = ("baseline", "dropout", "batchnorm", "both")
"""The four models of the case study, in its order."""


def case_study(
    variant: str = "baseline",
    *,
    input_size: int | Sequence[int] = 224,
    in_channels: int = 3,
    num_classes: int = 2,
    dropout: float = 0.5,
) -> ModelBuilder:
    """The case study's CNN (Conv 3->4, ReLU, MaxPool 2, Conv 4->8, ReLU, MaxPool 2, Linear).

    Args:
        variant: ``"baseline"`` (no regularization: 50,586 parameters at 224x224),
            ``"dropout"`` (element-wise dropout ``dropout`` after each conv block, as in the
            study), ``"batchnorm"`` (batch norm after each conv), or ``"both"``.
        input_size: image side or ``(H, W)``.
        in_channels: image channels.
        num_classes: classes (at least 2).
        dropout: drop probability of the dropout variants.

    Returns:
        A :class:`ModelBuilder`; call ``.build()`` for the model.

    Raises:
        ValueError: an unknown ``variant``, or a bad value for :class:`ModelBuilder`.

    Example:
        >>> case_study("both").build().head.classifier
        Linear(in_features=25088, out_features=2, bias=True)
    """
    check_choice(variant, "case-study variant", CASE_STUDY_VARIANTS)
    builder = ModelBuilder(
        in_channels,
        num_classes,
        input_size,
        batch_norm=variant in ("batchnorm", "both"),
        dropout=dropout if variant in ("dropout", "both") else 0.0,
        dropout_kind="element",
    )
    return builder.conv(4).conv(8)
