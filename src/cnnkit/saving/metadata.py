"""What a model file says about its model besides the weights: :class:`ModelMetadata`.

The class names, the normalization the model was trained with, the image size it expects and
any extra plain values (an epoch, a score) travel with the weights, so a model file is enough
to turn image files into class names. Every part is checked when it is saved, with errors that
name the bad value, because a wrong one found at prediction time gives silently wrong answers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnnkit._validate import is_number, size_pair

__all__ = ["ModelMetadata"]

#: ``(mean, std)`` with one float per channel (or one for every channel).
Normalize = tuple[tuple[float, ...], tuple[float, ...]]


@dataclass(frozen=True)
class ModelMetadata:
    """Everything a cnnkit model file records about its model, besides the weights.

    :func:`~cnnkit.saving.load_model` puts it on the model it returns as ``model.metadata``;
    :func:`~cnnkit.saving.save_model` reads it back from there, so a loaded model that is
    fine-tuned and saved again keeps its class names and normalization.

    Attributes:
        classes: name of each class (``classes[k]`` is output ``k``), or ``None`` if not saved.
        normalize: ``(mean, std)``, one float per channel (or one for all), that inputs in
            ``[0, 1]`` were normalized with as ``(x - mean) / std``, like
            ``Trainer(normalize=...)``; ``None`` if the model takes ``[0, 1]`` inputs as is.
        input_size: ``(height, width)`` images are resized to before prediction.
        in_channels: channels of the input, ``C`` of ``(N, C, H, W)``.
        num_classes: width of the output, ``K`` of ``(N, K)``.
        extra: plain values saved beside the model (``save_model(..., extra={...})``).
        format_version: version of the file format the model was read from (the current one
            for a model that was not loaded from a file).
        cnnkit_version: version of cnnkit that wrote the file, or ``None`` if unknown.
        path: the file the model was loaded from, or ``None``.
    """

    classes: tuple[str, ...] | None
    normalize: Normalize | None
    input_size: tuple[int, int]
    in_channels: int
    num_classes: int
    extra: Mapping[str, Any] = field(default_factory=dict)
    format_version: int = 1
    cnnkit_version: str | None = None
    path: Path | None = None

    def class_name(self, index: int) -> str:
        """The name of class ``index``: ``classes[index]``, or ``str(index)`` without names."""
        return self.classes[index] if self.classes is not None else str(index)


def check_classes(classes: Any, num_classes: int) -> tuple[str, ...] | None:
    """``classes`` as a tuple of distinct strings, one per output of the model.

    Args:
        classes: ``None`` or a sequence of class names (e.g. ``ImageDataset.class_names``).
        num_classes: the model's output width.

    Returns:
        The names as a tuple, or ``None``.

    Raises:
        TypeError: ``classes`` is a string or not a sequence, or holds a non-string.
        ValueError: its length is not ``num_classes``, or a name repeats.
    """
    if classes is None:
        return None
    if isinstance(classes, (str, bytes)) or not isinstance(classes, Sequence):
        raise TypeError(
            f"classes must be a sequence of class names such as ['cat', 'dog'], got {classes!r}"
        )
    names = tuple(classes)
    bad = [c for c in names if not isinstance(c, str)]
    if bad:
        raise TypeError(
            f"classes must be strings, got {bad[0]!r} ({type(bad[0]).__name__}); pass "
            "[str(c) for c in classes]"
        )
    if len(names) != num_classes:
        raise ValueError(
            f"classes has {len(names)} names {list(names)} but the model has {num_classes} "
            f"outputs; pass one name per output, in label order (the data set's class_names)"
        )
    repeated = sorted({c for c in names if names.count(c) > 1})
    if repeated:
        raise ValueError(f"classes must be distinct, but {repeated} repeat: {list(names)}")
    return names


def check_normalize(normalize: Any, in_channels: int) -> Normalize | None:
    """``normalize`` as ``((mean, ...), (std, ...))`` of floats, checked against the channels.

    Args:
        normalize: ``None`` or ``(mean, std)``, each a number (every channel) or a sequence of
            one number per channel, as ``Trainer(normalize=...)`` takes it.
        in_channels: the model's input channels.

    Returns:
        The canonical form, or ``None``.

    Raises:
        ValueError: another form, a length that is neither 1 nor ``in_channels``, a mean that is
            not finite, or a std that is not finite and > 0.
    """
    if normalize is None:
        return None
    form = (
        f"normalize must be (mean, std), each a number or one number per channel (the model "
        f"has {in_channels}), e.g. normalize=((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)) "
        f"(the Trainer's normalize); got {normalize!r}"
    )
    if isinstance(normalize, (str, bytes)) or not isinstance(normalize, Sequence):
        raise ValueError(form)
    if len(normalize) != 2:
        raise ValueError(form)
    parts: list[tuple[float, ...]] = []
    for part in normalize:
        values = (part,) if is_number(part) else part
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
            raise ValueError(form)
        if not values or not all(is_number(v) for v in values):
            raise ValueError(form)
        if len(values) not in (1, in_channels):
            raise ValueError(form)
        parts.append(tuple(float(v) for v in values))
    mean, std = parts
    if not all(math.isfinite(v) for v in mean):
        raise ValueError(f"normalize mean values must be finite, got {mean}")
    if not all(math.isfinite(v) and v > 0 for v in std):
        raise ValueError(f"normalize std values must be finite and > 0, got {std}")
    return mean, std


def check_input_size(
    input_size: Any, built_for: tuple[int, int], any_size: bool
) -> tuple[int, int]:
    """The ``(height, width)`` to save: ``input_size``, else the size the model was built for.

    Args:
        input_size: ``None``, an int (square) or ``(height, width)``.
        built_for: the builder spec's ``input_size``.
        any_size: the model accepts any size (a global-average-pooling head).

    Returns:
        ``(height, width)``.

    Raises:
        ValueError: a non-positive side, or a size other than ``built_for`` for a model whose
            flatten head fixes its input size.
        TypeError: a wrong type (:class:`~cnnkit._validate.SizeTypeError`).
    """
    if input_size is None:
        return built_for
    size = size_pair(input_size, "input_size")
    if size != built_for and not any_size:
        raise ValueError(
            f"input_size={size} but the model was built for {built_for} and its flatten head "
            "accepts no other size; leave input_size out, or build with head='avg' (any size)"
        )
    return size


def check_extra(extra: Any) -> dict[str, Any]:
    """``extra`` as a dict of plain values that ``torch.load(weights_only=True)`` reads back.

    Args:
        extra: ``None`` or a mapping with string keys and values made of ``None``, bool, int,
            float, str, lists, tuples and dicts of those.

    Returns:
        A plain dict copy.

    Raises:
        TypeError: a key is not a string, or a value is of another type (the message names
            its place, e.g. ``extra['scores'][2]``).
    """
    if extra is None:
        return {}
    if not isinstance(extra, Mapping):
        raise TypeError(f"extra must be a mapping of plain values, got {type(extra).__name__}")
    _check_plain(extra, "extra")
    return dict(extra)


def _check_plain(value: Any, where: str) -> None:
    if value is None or isinstance(value, (bool, int, float, str)):
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_plain(item, f"{where}[{i}]")
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where} has a non-string key {key!r}; use string keys")
            _check_plain(item, f"{where}[{key!r}]")
        return
    raise TypeError(
        f"{where} is a {type(value).__name__} ({value!r}); a model file holds only None, bool, "
        "int, float, str and lists/dicts of them beside the weights (use float(x) or .tolist())"
    )
