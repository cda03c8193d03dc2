"""cnnkit: regularization building blocks for convolutional image classifiers.

Build a small CNN from composable blocks, train it on any device with a trainer that records a
full history, and ask :func:`diagnose` whether the run overfits, underfits or converges slowly.

Example:
    >>> from cnnkit import ModelBuilder, Trainer, diagnose
    >>> model = ModelBuilder(3, 2, 224, batch_norm=True, dropout=0.25).conv(4).conv(8).build()

The submodules :mod:`cnnkit.data` (image loading, the built-in dataset), :mod:`cnnkit.augment`
(batched augmentations), :mod:`cnnkit.study` (comparisons and the remedy loop) and
:mod:`cnnkit.plotting` (learning curves) are imported by name.
"""

__version__ = "0.1.0"

from cnnkit.builder import CASE_STUDY_VARIANTS, ConvNet, ModelBuilder, case_study
from cnnkit.diagnosis import (
    Diagnosis,
    Finding,
    Label,
    Remedy,
    Severity,
    check_data,
    diagnose,
    diagnose_file,
)
from cnnkit.fuse import fuse_batchnorm
from cnnkit.layers import ConvBlock, DenseBlock, DropBlock2d
from cnnkit.training import Callback, EarlyStopping, History, ModelCheckpoint, Trainer

__all__ = [
    "CASE_STUDY_VARIANTS",
    "Callback",
    "ConvBlock",
    "ConvNet",
    "DenseBlock",
    "Diagnosis",
    "DropBlock2d",
    "EarlyStopping",
    "Finding",
    "History",
    "Label",
    "ModelBuilder",
    "ModelCheckpoint",
    "Remedy",
    "Severity",
    "Trainer",
    "__version__",
    "case_study",
    "check_data",
    "diagnose",
    "diagnose_file",
    "fuse_batchnorm",
]
