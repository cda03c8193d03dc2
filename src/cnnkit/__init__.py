"""cnnkit: regularization building blocks for convolutional image classifiers.

Build a small CNN from composable blocks, train it on any device with a trainer that records a
full history, and ask :func:`diagnose` whether the run overfits, underfits or converges slowly.

Example:
    >>> from cnnkit import ModelBuilder, Trainer, diagnose
    >>> model = ModelBuilder(3, 2, 224, batch_norm=True, dropout=0.25).conv(4).conv(8).build()

The submodules :mod:`cnnkit.data` (image loading, the built-in dataset), :mod:`cnnkit.augment`
(batched augmentations), :mod:`cnnkit.study` (comparisons and the remedy loop) and
:mod:`cnnkit.plotting` (learning curves) are imported by name.

Everything here is imported on first use (PEP 562), so ``import cnnkit`` is cheap and the
torch-free parts (:mod:`cnnkit.diagnosis`, :mod:`cnnkit.history`, ``cnnkit diagnose``) work on
a machine without torch: a Keras user can diagnose a ``CSVLogger`` file with numpy alone.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: Public name -> the module that defines it. Imported when first asked for.
_EXPORTS: dict[str, str] = {
    "backbone": "cnnkit.backbones",
    "list_backbones": "cnnkit.backbones",
    "CASE_STUDY_VARIANTS": "cnnkit.builder",
    "ConvNet": "cnnkit.builder",
    "ModelBuilder": "cnnkit.builder",
    "case_study": "cnnkit.builder",
    "Change": "cnnkit.diagnosis",
    "Diagnosis": "cnnkit.diagnosis",
    "Finding": "cnnkit.diagnosis",
    "Label": "cnnkit.diagnosis",
    "Remedy": "cnnkit.diagnosis",
    "Severity": "cnnkit.diagnosis",
    "check_data": "cnnkit.diagnosis",
    "diagnose": "cnnkit.diagnosis",
    "diagnose_file": "cnnkit.diagnosis",
    "fuse_batchnorm": "cnnkit.fuse",
    "ConvBlock": "cnnkit.layers",
    "DenseBlock": "cnnkit.layers",
    "DropBlock2d": "cnnkit.layers",
    "History": "cnnkit.history",
    "export": "cnnkit.saving",
    "load_model": "cnnkit.saving",
    "predict_images": "cnnkit.saving",
    "save_model": "cnnkit.saving",
    "Callback": "cnnkit.training",
    "EarlyStopping": "cnnkit.training",
    "ModelCheckpoint": "cnnkit.training",
    "Trainer": "cnnkit.training",
}

#: Submodules reachable as attributes (``cnnkit.augment.default()`` after ``import cnnkit``).
_SUBMODULES = frozenset(
    {
        "augment", "builder", "checks", "cli", "data", "diagnosis", "fuse", "history",
        "backbones", "layers", "metric_names", "plotting", "recipes", "saving", "study", "training",
    }
)  # fmt: skip

__all__ = [
    "CASE_STUDY_VARIANTS",
    "Callback",
    "Change",
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
    "backbone",
    "case_study",
    "check_data",
    "diagnose",
    "diagnose_file",
    "export",
    "fuse_batchnorm",
    "list_backbones",
    "load_model",
    "predict_images",
    "save_model",
]

if TYPE_CHECKING:  # pragma: no cover - static type checkers see the eager imports
    from cnnkit.backbones import backbone, list_backbones
    from cnnkit.builder import CASE_STUDY_VARIANTS, ConvNet, ModelBuilder, case_study
    from cnnkit.diagnosis import (
        Change,
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
    from cnnkit.history import History
    from cnnkit.layers import ConvBlock, DenseBlock, DropBlock2d
    from cnnkit.saving import export, load_model, predict_images, save_model
    from cnnkit.training import Callback, EarlyStopping, ModelCheckpoint, Trainer


def __getattr__(name: str) -> Any:
    """Import a public name (or a submodule) the first time it is used."""
    module = _EXPORTS.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"cnnkit.{name}")
    raise AttributeError(f"module 'cnnkit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS, *_SUBMODULES})
