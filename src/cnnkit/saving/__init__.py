"""A trained model as one file, predictions from image files, and exports for serving.

* :func:`save_model` / :func:`load_model`: weights, builder spec, class names, normalization
  and input size in one file, read back with ``torch.load(weights_only=True)`` into a ready
  model whose :class:`ModelMetadata` is ``model.metadata``.
* :func:`predict_images`: image files (or a folder) straight to class names and probabilities.
* :func:`export`: ONNX, TorchScript or a ``torch.export`` ExportedProgram, checked against the
  model before it is written.

One concept a module: ``metadata`` (:class:`ModelMetadata` and its checks), ``safe_load``
(``weights_only`` loading with errors that help), ``model_file`` (the file format),
``prediction`` (:func:`predict_images`) and ``exporting`` (:func:`export`).
"""

from __future__ import annotations

from .exporting import EXPORT_FORMATS, ExportFormat, export
from .metadata import ModelMetadata
from .model_file import MODEL_FORMAT, load_model, model_metadata, save_model
from .prediction import ImagePredictions, predict_images

__all__ = [
    "EXPORT_FORMATS",
    "MODEL_FORMAT",
    "ExportFormat",
    "ImagePredictions",
    "ModelMetadata",
    "export",
    "load_model",
    "model_metadata",
    "predict_images",
    "save_model",
]
