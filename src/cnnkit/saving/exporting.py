"""A model for serving without cnnkit: :func:`export` to ONNX, TorchScript or an ExportedProgram.

* ``"onnx"``: ``torch.onnx.export`` (its ``dynamo=True`` exporter; needs the ``onnx`` extra,
  ``pip install cnnkit[onnx]``: onnx, onnxscript, and onnxruntime to check the result), for
  onnxruntime, TensorRT, OpenVINO and the browser.
* ``"torchscript"``: ``torch.jit.trace``, loaded with ``torch.jit.load`` (C++ libtorch too).
* ``"exported-program"``: ``torch.export.export`` + ``torch.export.save``, loaded with
  ``torch.export.load(path).module()`` (the ahead-of-time path: AOTInductor, ExecuTorch).

The batch dimension stays dynamic (any ``N``); channels and image size are fixed. The exported
model takes what the model takes (``(N, C, H, W)`` float images, normalized as in training: the
model file's ``metadata.normalize`` says how) and returns ``(N, K)`` logits. Before anything is
written, the export is loaded back and run against the model on random inputs of two batch
sizes; outputs must agree to ``atol`` (1e-4 by default), else nothing is written.
"""

from __future__ import annotations

import importlib
import inspect
import io
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor, nn
from torch.jit import TracerWarning  # type: ignore[attr-defined]

from cnnkit._atomic import atomic_write
from cnnkit._validate import check_choice, check_finite
from cnnkit.builder.convnet import ConvNet

from .model_file import _unwrap, load_model, model_metadata

__all__ = ["EXPORT_FORMATS", "ExportFormat", "export"]

ExportFormat = Literal["onnx", "torchscript", "exported-program"]
"""The ``format`` argument of :func:`export`."""

EXPORT_FORMATS: tuple[str, ...] = ("onnx", "torchscript", "exported-program")
"""The formats :func:`export` writes."""

#: Python packages each format needs to export (``check=True`` adds onnxruntime for onnx).
_NEEDS: dict[str, tuple[str, ...]] = {"onnx": ("onnx", "onnxscript")}


def export(
    model: nn.Module | str | os.PathLike[str],
    path: str | os.PathLike[str],
    format: ExportFormat = "onnx",
    *,
    example_input: Tensor | None = None,
    check: bool = True,
    atol: float = 1e-4,
) -> Path:
    """Export ``model`` to ``path`` in ``format``, checked against the model before writing.

    Args:
        model: a model, or a file :func:`~cnnkit.saving.save_model` wrote (loaded with
            :func:`~cnnkit.saving.load_model`). Wrappers (``DistributedDataParallel``,
            ``torch.compile``) are looked through; the model is exported in eval mode and its
            own mode is restored afterwards.
        path: destination file (e.g. ``model.onnx``, ``model.ts``, ``model.pt2``).
        format: ``"onnx"``, ``"torchscript"`` or ``"exported-program"``.
        example_input: an ``(N, C, H, W)`` float tensor to trace with; default: random
            ``(2, C, H, W)`` at the model's input size (required for a model that is not a
            cnnkit ``ConvNet``).
        check: run the export (onnxruntime for ONNX) against the model on random inputs of
            batch 1 and 3 and refuse to write it if any output differs by more than ``atol``.
        atol: the largest absolute difference of logits ``check`` allows.

    Returns:
        ``path`` as a ``Path``.

    Raises:
        ImportError: a package the format needs is missing (the message names
            ``pip install cnnkit[onnx]``), or (ONNX) torch is older than 2.5.
        TypeError: no ``example_input`` for a model that does not record its input shape.
        ValueError: an unknown ``format``, a negative ``atol``, or an ``example_input`` that
            is not a 4-D float tensor.
        RuntimeError: ``check`` found the export's outputs differ from the model's.

    Example:
        >>> export("vehicles.pt", "vehicles.onnx", format="onnx")  # doctest: +SKIP
    """
    check_choice(format, "format", EXPORT_FORMATS)
    if check_finite(atol, "atol") < 0:
        raise ValueError(f"atol must be >= 0, got {atol!r}")
    _require(format, check)
    net = load_model(model) if isinstance(model, (str, os.PathLike)) else _unwrap(model)
    x = _example(net, example_input)
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad():
            data, run = _EXPORTERS[format](net, x)
            if check:
                _check(net, run, x, atol, format)
    finally:
        net.train(was_training)
    return atomic_write(path, lambda fh: fh.write(data))


# ---------------------------------------------------------------------- the three formats
Runner = Callable[[Tensor], Tensor]


def _torchscript(net: nn.Module, x: Tensor) -> tuple[bytes, Runner]:
    with warnings.catch_warnings():
        # The model's input checks become constants in the trace; the shapes they check are
        # the ones traced, which is what the trace is for.
        warnings.simplefilter("ignore", TracerWarning)
        traced = torch.jit.trace(net, x, check_trace=False)  # type: ignore[no-untyped-call]
    buf = io.BytesIO()
    torch.jit.save(traced, buf)
    data = buf.getvalue()
    load = torch.jit.load
    loaded = load(io.BytesIO(data), map_location=x.device)  # type: ignore[no-untyped-call]
    return data, loaded


def _exported_program(net: nn.Module, x: Tensor) -> tuple[bytes, Runner]:
    program = torch.export.export(net, (x,), dynamic_shapes=_dynamic_batch())
    buf = io.BytesIO()
    torch.export.save(program, buf)
    data = buf.getvalue()
    loaded = torch.export.load(io.BytesIO(data)).module()
    return data, loaded


def _onnx(net: nn.Module, x: Tensor) -> tuple[bytes, Runner]:
    with warnings.catch_warnings():
        # torch's exporter trips over its own deprecated pytree API; nothing for users to do.
        warnings.filterwarnings("ignore", ".*LeafSpec.*", FutureWarning)
        program = torch.onnx.export(
            net,
            (x,),
            dynamo=True,
            dynamic_shapes=_dynamic_batch(),
            input_names=["images"],
            output_names=["logits"],
            verbose=False,
        )
    assert program is not None  # the dynamo exporter returns its ONNXProgram
    data: bytes = program.model_proto.SerializeToString()

    def run(inputs: Tensor) -> Tensor:
        ort = importlib.import_module("onnxruntime")
        session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
        (out,) = session.run(None, {"images": inputs.detach().cpu().numpy()})
        return torch.from_numpy(out)

    return data, run


_EXPORTERS: dict[str, Callable[[nn.Module, Tensor], tuple[bytes, Runner]]] = {
    "onnx": _onnx,
    "torchscript": _torchscript,
    "exported-program": _exported_program,
}


# ---------------------------------------------------------------------- helpers
def _dynamic_batch() -> tuple[dict[int, Any]]:
    return ({0: torch.export.Dim("batch", min=1)},)


def _require(format: str, check: bool) -> None:
    """Raise an ``ImportError`` naming the extra if a package ``format`` needs is missing."""
    needed = _NEEDS.get(format, ()) + (("onnxruntime",) if format == "onnx" and check else ())
    missing = []
    for name in needed:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if format == "onnx" and "dynamo" not in inspect.signature(torch.onnx.export).parameters:
        raise ImportError(
            f"export(format='onnx') uses torch.onnx's dynamo exporter, which this torch "
            f"({torch.__version__}) lacks; upgrade to torch>=2.5, or use format='torchscript'"
        )
    if missing:
        hint = " (or pass check=False to skip running it)" if missing == ["onnxruntime"] else ""
        raise ImportError(
            f"export(format={format!r}) needs {', '.join(missing)}, which "
            f"{'is' if len(missing) == 1 else 'are'} not installed; install the extra with "
            f"`pip install cnnkit[onnx]`{hint}, or use format='torchscript' or "
            "'exported-program' (plain torch)"
        )


def _example(net: nn.Module, example_input: Tensor | None) -> Tensor:
    """The ``(N, C, H, W)`` tensor to trace ``net`` with, on the device of its parameters."""
    first = next(net.parameters(), None)
    device = first.device if first is not None else torch.device("cpu")
    if example_input is not None:
        if not isinstance(example_input, Tensor) or example_input.ndim != 4:
            raise ValueError(
                "example_input must be an (N, C, H, W) tensor, got "
                f"{getattr(example_input, 'shape', type(example_input).__name__)}"
            )
        if not example_input.is_floating_point():
            raise ValueError(
                f"example_input must be a float tensor (the model's input), got "
                f"{example_input.dtype}; convert uint8 images with cnnkit.data.to_float"
            )
        return example_input.to(device)
    meta = model_metadata(net)
    if meta is not None:
        shape = (meta.in_channels, *meta.input_size)
    elif isinstance(net, ConvNet):
        shape = net.input_shape
    else:
        raise TypeError(
            f"export cannot tell the input shape of a {type(net).__name__}; pass "
            "example_input=torch.rand(2, C, H, W)"
        )
    generator = torch.Generator().manual_seed(0)
    return torch.rand(2, *shape, generator=generator).to(device)


def _check(net: nn.Module, run: Runner, x: Tensor, atol: float, format: str) -> None:
    """Run ``run`` and ``net`` on batches of 1 and 3 shaped like ``x``; refuse a difference."""
    generator = torch.Generator().manual_seed(1)
    for n in (1, 3):
        inputs = torch.rand(n, *x.shape[1:], generator=generator).to(x.device)
        expected = net(inputs).float().cpu()
        got = run(inputs).float().cpu()
        if got.shape != expected.shape:
            raise RuntimeError(
                f"the {format} export returned shape {tuple(got.shape)} for a batch of {n}, the "
                f"model {tuple(expected.shape)}; nothing was written"
            )
        diff = (got - expected).abs().max().item()
        if not diff <= atol:
            raise RuntimeError(
                f"the {format} export's logits differ from the model's by {diff:.3g} (more than "
                f"atol={atol:g}) on a batch of {n}; nothing was written. Pass a larger atol, or "
                "check=False to write it anyway"
            )
