"""cnnkit: regularization building blocks for convolutional image classifiers.

Build a small CNN from composable blocks, train it on any device with a trainer that records a
full history, and ask :func:`diagnose` whether the run overfits, underfits or converges slowly.

Example:
    >>> from cnnkit import ModelBuilder
    >>> model = ModelBuilder(3, 2, 224, batch_norm=True, dropout=0.25).conv(4).conv(8).build()
"""

from cnnkit.builder import CASE_STUDY_VARIANTS, ConvNet, ModelBuilder, case_study
from cnnkit.fuse import fuse_batchnorm
from cnnkit.layers import ConvBlock, DenseBlock, DropBlock2d

__version__ = "0.1.0"

__all__ = [
    "CASE_STUDY_VARIANTS",
    "ConvBlock",
    "ConvNet",
    "DenseBlock",
    "DropBlock2d",
    "ModelBuilder",
    "__version__",
    "case_study",
    "fuse_batchnorm",
]
