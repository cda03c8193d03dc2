"""Image files straight to class names: :func:`predict_images` and :class:`ImagePredictions`.

The files are decoded with :mod:`cnnkit.data`'s decoder (Pillow; EXIF orientation applied,
transparency on white, bilinear resize), resized to the model file's input size, scaled to
``[0, 1]``, normalized with the saved ``(mean, std)`` and classified in batches, exactly as
``Trainer(normalize=...)`` prepared the training images.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from cnnkit._validate import check_positive_int
from cnnkit.builder.convnet import ConvNet
from cnnkit.data.dataset import IMAGE_EXTENSIONS, _to_nchw, to_float
from cnnkit.data.decode import _decode_all

from .metadata import ModelMetadata
from .model_file import load_model, model_metadata

__all__ = ["ImagePredictions", "predict_images"]

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class ImagePredictions:
    """What :func:`predict_images` returns: one prediction per image file, in input order.

    Attributes:
        paths: the image files.
        classes: the predicted class name of each file (``str(label)`` if the model file
            has no class names).
        labels: ``int64`` tensor ``(N,)``, the predicted class indices (argmax).
        probabilities: ``float32`` tensor ``(N, K)``, softmax of the logits (rows sum to 1).
        class_names: the name of every class, ``class_names[k]`` for column ``k``.

    Iterating gives ``(path, class name, its probability)`` per file.
    """

    paths: tuple[Path, ...]
    classes: tuple[str, ...]
    labels: Tensor
    probabilities: Tensor
    class_names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.paths)

    def __iter__(self) -> Iterator[tuple[Path, str, float]]:
        confidence = self.probabilities.gather(1, self.labels[:, None])[:, 0].tolist()
        return iter(zip(self.paths, self.classes, confidence, strict=True))


def predict_images(
    model_or_path: nn.Module | PathLike,
    paths: PathLike | Sequence[PathLike],
    *,
    batch_size: int = 32,
    device: str | torch.device | None = None,
    num_workers: int | None = None,
) -> ImagePredictions:
    """Classify image files with a saved model: file names in, class names and probabilities out.

    Args:
        model_or_path: a file :func:`~cnnkit.saving.save_model` wrote, or a model
            :func:`~cnnkit.saving.load_model` returned (its ``metadata`` gives the class
            names, the normalization and the input size). A ``ModelBuilder``-built model that
            was never saved works too: images are resized to its built size and not
            normalized, and classes are named by index.
        paths: an image file, a folder (its image files, sorted by name, not recursive) or a
            sequence of image files.
        batch_size: images decoded and classified at a time (bounds the memory used).
        device: where to load a model file (default CPU). A model given as a module runs
            where its parameters are; a ``device`` of another type is refused.
        num_workers: decoding threads; ``None`` uses every core this process may run on.

    Returns:
        :class:`ImagePredictions` (``classes``, ``labels`` ``(N,)``, ``probabilities``
        ``(N, K)``), in the order of ``paths``.

    Raises:
        FileNotFoundError: an image file or the model file is missing.
        TypeError: ``model_or_path`` is neither a path nor a module, or a module with neither
            saved metadata nor a built input size.
        ValueError: no image file was given, a file cannot be decoded, ``batch_size`` is not
            a positive int, the model does not take 3-channel (RGB) images, or ``device``
            is not where the given model is.

    Example:
        >>> result = predict_images("vehicles.pt", ["a.jpg", "b.jpg"])  # doctest: +SKIP
        >>> result.classes, result.probabilities.shape  # doctest: +SKIP
        (('emergency', 'non-emergency'), torch.Size([2, 2]))
    """
    check_positive_int(batch_size, "batch_size")
    files = _image_files(paths)
    if isinstance(model_or_path, (str, os.PathLike)):
        model: nn.Module = load_model(model_or_path, device=device or "cpu")
    elif isinstance(model_or_path, nn.Module):
        model = model_or_path
        _check_device(model, device)
    else:
        raise TypeError(
            "model_or_path must be a model file path or an nn.Module, got "
            f"{type(model_or_path).__name__}"
        )
    meta = _metadata(model)
    if meta.in_channels != 3:
        raise ValueError(
            f"predict_images decodes image files as RGB (3 channels) but the model takes "
            f"{meta.in_channels}; prepare the images yourself and call the model on them"
        )
    first = next(model.parameters(), None)
    device = first.device if first is not None else torch.device("cpu")
    mean = std = None
    if meta.normalize is not None:
        mean = torch.tensor(meta.normalize[0], dtype=torch.float32, device=device).view(1, -1, 1, 1)
        std = torch.tensor(meta.normalize[1], dtype=torch.float32, device=device).view(1, -1, 1, 1)
    was_training = model.training
    model.eval()
    chunks = []
    try:
        with torch.inference_mode():
            for start in range(0, len(files), batch_size):
                array, _, _ = _decode_all(
                    files[start : start + batch_size], meta.input_size, "raise", num_workers
                )
                x = to_float(_to_nchw(array).to(device))
                if mean is not None and std is not None:
                    x = (x - mean) / std
                chunks.append(torch.softmax(model(x).float(), dim=1).cpu())
    finally:
        model.train(was_training)
    probabilities = torch.cat(chunks)
    labels = probabilities.argmax(dim=1)
    names = tuple(meta.class_name(k) for k in range(meta.num_classes))
    return ImagePredictions(
        paths=tuple(files),
        classes=tuple(names[k] for k in labels.tolist()),
        labels=labels,
        probabilities=probabilities,
        class_names=names,
    )


def _check_device(model: nn.Module, device: str | torch.device | None) -> None:
    """Refuse a ``device`` other than the one the given model's parameters are on."""
    first = next(model.parameters(), None)
    if device is None or first is None:
        return
    wanted = torch.device(device)
    if wanted.type != first.device.type or wanted.index not in (None, first.device.index):
        raise ValueError(
            f"device={str(device)!r} but the model is on {first.device}; move it first with "
            f"model.to({str(device)!r}), or leave device out to run where it is"
        )


def _metadata(model: nn.Module) -> ModelMetadata:
    """The saved metadata of ``model``, or what a never-saved ``ConvNet`` implies."""
    meta = model_metadata(model)
    if meta is not None:
        return meta
    if isinstance(model, ConvNet):
        c, h, w = model.input_shape
        return ModelMetadata(
            classes=None, normalize=None, input_size=(h, w), in_channels=c,
            num_classes=model.num_classes,
        )  # fmt: skip
    raise TypeError(
        f"predict_images needs a model file, or a model load_model returned (it knows the "
        f"input size, normalization and class names); got a {type(model).__name__} without "
        "them: save it with cnnkit.save_model(model, path, classes=..., normalize=..., "
        "input_size=...) and pass the path"
    )


def _image_files(paths: PathLike | Sequence[PathLike]) -> list[Path]:
    """The image files ``paths`` names: one file, a folder's image files, or a sequence."""
    if isinstance(paths, (str, os.PathLike)):
        one = Path(paths)
        if one.is_dir():
            files = sorted(p for p in one.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
            if not files:
                raise ValueError(
                    f"no image files ({', '.join(IMAGE_EXTENSIONS)}) in the folder {one}"
                )
            return files
        return [one]
    if not isinstance(paths, Sequence):
        raise TypeError(
            f"paths must be an image file, a folder or a list of files, got {type(paths).__name__}"
        )
    bad = [p for p in paths if not isinstance(p, (str, os.PathLike))]
    if bad:
        raise TypeError(f"paths must hold file paths, got {bad[0]!r}")
    if not paths:
        raise ValueError("paths is empty; pass at least one image file")
    return [Path(p) for p in paths]
