"""A trained model as one file: :func:`save_model` writes it, :func:`load_model` rebuilds it.

The file is a ``torch.save`` of a plain dict (tensors, strings, numbers, lists), so it loads
with ``torch.load(weights_only=True)``: opening a model file from someone else runs no code.
It holds the format version, the builder spec (:meth:`ModelBuilder.to_dict`), the weights (a
CPU ``state_dict``), the class names, the normalization, the input size and any extra plain
values. It is written with :func:`cnnkit._atomic.atomic_write`, so a crash leaves the old file
or the new one, never half of one.
"""

from __future__ import annotations

import copy
import importlib.metadata
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from cnnkit._atomic import atomic_write
from cnnkit.builder.convnet import ConvNet
from cnnkit.builder.model_builder import ModelBuilder

from .metadata import (
    ModelMetadata,
    check_classes,
    check_extra,
    check_input_size,
    check_normalize,
)
from .safe_load import safe_torch_load

__all__ = ["MODEL_FORMAT", "load_model", "model_metadata", "save_model"]

MODEL_FORMAT = 1
"""Version of the model file format, stored under the key ``"cnnkit_model"``; :func:`load_model`
reads this version and older ones and refuses newer ones (upgrade cnnkit to read them)."""

_KEY = "cnnkit_model"
_HINT = "Pass a file written by cnnkit.save_model (a copy cut short in transfer is damaged too)"


def save_model(
    model: nn.Module,
    path: str | os.PathLike[str],
    *,
    classes: Sequence[str] | None = None,
    normalize: Any = None,
    input_size: int | Sequence[int] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``model`` with everything needed to use it again into one file, atomically.

    Args:
        model: a model :meth:`ModelBuilder.build` made (it carries its builder spec as
            ``model.spec``), possibly trained, moved to a GPU, wrapped in
            ``DistributedDataParallel`` / ``DataParallel`` or ``torch.compile``-d.
        path: destination (e.g. ``"vehicles.pt"``); missing folders are created.
        classes: class names, one per output, in label order (the data set's
            ``class_names``). ``None`` keeps the ones of a model :func:`load_model` returned,
            else saves none.
        normalize: ``(mean, std)`` the model's ``[0, 1]`` inputs were normalized with, the
            ``Trainer(normalize=...)`` of its training, each a number or one per channel.
            ``None`` keeps a loaded model's, else saves none (inputs in ``[0, 1]``).
        input_size: ``(height, width)`` (or an int) that images are resized to before
            prediction; ``None``: a loaded model's, else the size the model was built for. A
            flatten head accepts only the size it was built for.
        extra: plain values to keep beside the model (``None``, bool, int, float, str, lists
            and dicts of them), e.g. ``{"epoch": 12, "val_acc": 0.81}``; read back as
            ``model.metadata.extra``.

    Returns:
        The destination as a ``Path``.

    Raises:
        TypeError: ``model`` is not a module or has no builder spec (the message says how to
            save it instead), or ``classes`` / ``extra`` hold values of the wrong type.
        ValueError: ``classes`` does not have one distinct name per output, ``normalize`` or
            ``input_size`` is malformed, or the weights no longer match the spec (the model was
            changed after ``build()``, e.g. by ``fuse_batchnorm``).

    Example:
        >>> model = ModelBuilder(3, 2, 32).conv(4).build()
        >>> save_model(model, tmp / "m.pt", classes=["car", "ambulance"])  # doctest: +SKIP
    """
    net = _unwrap(model)
    spec = _spec_of(net)
    builder = ModelBuilder.from_dict(spec)
    state = {k: v.detach().to("cpu") for k, v in net.state_dict().items()}
    hint = "save it before fuse_batchnorm, or save its state_dict and rebuild it to load it"
    _check_weights(builder, state, "the model's weights", hint)
    prior = model_metadata(net)
    if classes is None and prior is not None:
        classes = prior.classes
    if normalize is None and prior is not None:
        normalize = prior.normalize
    if input_size is None and prior is not None:
        input_size = prior.input_size
    if extra is None and prior is not None:
        extra = prior.extra
    names = check_classes(classes, builder.num_classes)
    norm = check_normalize(normalize, builder.in_channels)
    size = check_input_size(input_size, builder.input_size, builder.defaults["head"] == "avg")
    payload: dict[str, Any] = {
        _KEY: MODEL_FORMAT,
        "cnnkit_version": _cnnkit_version(),
        "spec": copy.deepcopy(dict(spec)),
        "state_dict": state,
        "classes": None if names is None else list(names),
        "normalize": None if norm is None else [list(norm[0]), list(norm[1])],
        "input_size": list(size),
        "extra": check_extra(extra),
    }
    return atomic_write(path, lambda fh: torch.save(payload, fh))


def load_model(path: str | os.PathLike[str], *, device: str | torch.device = "cpu") -> ConvNet:
    """Rebuild the model a :func:`save_model` file holds, ready to predict.

    The file is read with ``torch.load(weights_only=True)`` (no pickled code runs), the model
    is rebuilt from its builder spec (without drawing from the global random generator), the
    weights are loaded (strictly) and it is put in eval mode on ``device``. Everything else the file records is ``model.metadata``, a
    :class:`ModelMetadata` (``classes``, ``normalize``, ``input_size``, ``extra``, ...).

    Args:
        path: a file :func:`save_model` wrote.
        device: where the model goes (default CPU).

    Returns:
        The :class:`~cnnkit.builder.ConvNet` in eval mode, taking ``(N, C, H, W)`` float
        images (in ``[0, 1]``, normalized with ``model.metadata.normalize`` if set) and
        returning ``(N, num_classes)`` logits.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file is not a cnnkit model file (a training checkpoint or a bare
            ``state_dict`` gets its own advice), is damaged, or was written by a newer cnnkit
            (a newer format version: upgrade cnnkit).

    Example:
        >>> model = load_model("vehicles.pt")  # doctest: +SKIP
        >>> model.metadata.classes  # doctest: +SKIP
        ('non-emergency', 'emergency')
    """
    p = Path(path)
    if not p.is_file():
        where = "a folder" if p.is_dir() else "no file"
        raise FileNotFoundError(f"{where} at {p}; pass the path of a file cnnkit.save_model wrote")
    payload = safe_torch_load(p, what="a cnnkit model file", hint=_HINT)
    version = _check_payload(payload, p)
    try:
        builder = ModelBuilder.from_dict(payload["spec"])
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"{p} holds a builder spec this cnnkit cannot rebuild ({err}); if a newer cnnkit "
            "wrote it, upgrade: pip install -U cnnkit"
        ) from None
    state = payload["state_dict"]
    _check_weights(builder, state, f"the weights in {p}", _HINT)
    try:
        names = check_classes(payload["classes"], builder.num_classes)
        norm = check_normalize(payload["normalize"], builder.in_channels)
        size = check_input_size(
            payload["input_size"], builder.input_size, builder.defaults["head"] == "avg"
        )
        extra = check_extra(payload.get("extra"))
    except (TypeError, ValueError) as err:
        raise ValueError(f"{p} is damaged: {err}. {_HINT}") from None
    with torch.random.fork_rng(devices=[]):  # the random init is overwritten: leave no trace
        model = builder.build()
    model.load_state_dict(state)
    model.__dict__["metadata"] = ModelMetadata(
        classes=names,
        normalize=norm,
        input_size=size,
        in_channels=builder.in_channels,
        num_classes=builder.num_classes,
        extra=extra,
        format_version=version,
        cnnkit_version=payload.get("cnnkit_version"),
        path=p,
    )
    return model.to(device).eval()


def model_metadata(model: nn.Module) -> ModelMetadata | None:
    """The :class:`ModelMetadata` :func:`load_model` attached to ``model``, or ``None``.

    Args:
        model: any module (wrappers such as ``DistributedDataParallel`` are looked through).

    Returns:
        ``model.metadata`` if it is a :class:`ModelMetadata`, else ``None``.
    """
    meta = _unwrap(model).__dict__.get("metadata")
    return meta if isinstance(meta, ModelMetadata) else None


def _unwrap(model: nn.Module) -> nn.Module:
    """The module inside ``DistributedDataParallel``, ``DataParallel`` and ``torch.compile``."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch nn.Module, got {type(model).__name__}")
    while True:
        inner = getattr(model, "_orig_mod", None)  # torch.compile's OptimizedModule
        if isinstance(inner, nn.Module):
            model = inner
        elif isinstance(model, (nn.parallel.DistributedDataParallel, nn.DataParallel)):
            model = model.module
        else:
            return model


def _spec_of(model: nn.Module) -> Mapping[str, Any]:
    """The builder spec a ``ModelBuilder``-built model carries, or a ``TypeError`` that helps."""
    spec = getattr(model, "spec", None)
    if isinstance(spec, Mapping):
        return spec
    why = (
        "it was built with a callable activation or pool, which cannot be saved by name; build "
        "it with names such as activation='relu'"
        if isinstance(model, ConvNet)
        else "only models that cnnkit.ModelBuilder(...).build() made carry one"
    )
    raise TypeError(
        f"save_model needs a model with a builder spec (model.spec) to rebuild it from, but "
        f"this {type(model).__name__} has none: {why}. Pass a ModelBuilder-built model, or save "
        "its weights with torch.save(model.state_dict(), path) and rebuild the model yourself "
        "to load them with model.load_state_dict(torch.load(path, weights_only=True))"
    )


def _check_weights(builder: ModelBuilder, state: Any, what: str, hint: str) -> None:
    """Refuse weights whose names or shapes differ from the model ``builder`` builds."""
    if not isinstance(state, Mapping) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise ValueError(f"{what} are not a state_dict of named tensors. {hint}")
    with torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in builder.build().state_dict().items()}
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(expected) & set(state) if tuple(state[k].shape) != expected[k])
    if missing or unexpected or wrong:
        found = {"missing": missing, "unexpected": unexpected, "of another shape": wrong}
        parts = [
            f"{label} {keys[:3]}{' ...' if len(keys) > 3 else ''}"
            for label, keys in found.items()
            if keys
        ]
        raise ValueError(
            f"{what} do not match the architecture of the builder spec ({'; '.join(parts)}). {hint}"
        )


def _check_payload(payload: Any, path: Path) -> int:
    """The format version of a loaded model file, after checking it is one this cnnkit reads."""
    if not isinstance(payload, dict) or _KEY not in payload:
        if isinstance(payload, dict) and "cnnkit_checkpoint" in payload:
            raise ValueError(
                f"{path} is a cnnkit training checkpoint, not a model file; resume from it with "
                "Trainer.fit(..., resume_from=path), or load its weights with "
                "cnnkit.training.load_checkpoint(path, model) into a model you rebuilt"
            )
        if (
            isinstance(payload, dict)
            and payload
            and all(isinstance(v, torch.Tensor) for v in payload.values())
        ):
            raise ValueError(
                f"{path} is a bare state_dict, not a cnnkit model file: rebuild the model and "
                "call model.load_state_dict(torch.load(path, weights_only=True)), then "
                "cnnkit.save_model(model, path) to make it a model file"
            )
        raise ValueError(f"{path} is not a cnnkit model file (no {_KEY!r} key). {_HINT}")
    version = payload[_KEY]
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"{path} is damaged: format version {version!r} is not valid. {_HINT}")
    if version > MODEL_FORMAT:
        raise ValueError(
            f"{path} was written by a newer cnnkit ({payload.get('cnnkit_version') or 'unknown'}"
            f", model file format {version}); this cnnkit reads format {MODEL_FORMAT} and "
            "older. Upgrade cnnkit: pip install -U cnnkit"
        )
    missing = sorted({"spec", "state_dict", "classes", "normalize", "input_size"} - set(payload))
    if missing:
        raise ValueError(f"{path} is damaged: it lacks {missing}. {_HINT}")
    return version


def _cnnkit_version() -> str | None:
    try:
        return importlib.metadata.version("cnnkit")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - not installed
        return None
