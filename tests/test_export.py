"""cnnkit.export: ONNX, TorchScript and ExportedProgram files that compute what the model does.

Every format is loaded back with its own runtime (onnxruntime for ONNX, ``torch.jit.load``,
``torch.export.load``) and run against the original model to 1e-4, at batch sizes other than
the one it was traced with.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import torch
from torch import Tensor, nn

import cnnkit
from cnnkit import ModelBuilder, export, save_model
from cnnkit.saving import EXPORT_FORMATS

# torch 2.13 deprecates TorchScript (it still works); the torchscript format is tested anyway.
pytestmark = pytest.mark.filterwarnings(
    r"ignore:`torch\.jit\.\w+` is deprecated:DeprecationWarning"
)


def tiny() -> nn.Module:
    model = ModelBuilder(3, 3, 20, batch_norm=True, dropout=0.2).conv(4).conv(6).dense(8).build()
    model.train()
    with torch.no_grad():
        model(torch.rand(8, 3, 20, 20) * 2)  # non-trivial batch-norm running statistics
    return model.eval()


def run_torch_format(path: Path, format: str, x: Tensor) -> Tensor:
    if format == "torchscript":
        return torch.jit.load(str(path))(x)
    program = torch.export.load(str(path))
    return program.module()(x)


@pytest.mark.parametrize("format", ["torchscript", "exported-program"])
def test_torch_formats_match_the_model(tmp_path: Path, format: str) -> None:
    model = tiny().train()  # export uses eval mode and restores the caller's
    path = export(model, tmp_path / f"m.{format}", format)  # type: ignore[arg-type]
    assert path.is_file() and model.training
    model.eval()
    for n in (1, 7):
        x = torch.rand(n, 3, 20, 20)
        with torch.no_grad():
            assert torch.allclose(run_torch_format(path, format, x), model(x), atol=1e-4)


@pytest.mark.slow
def test_onnx_matches_the_model_in_onnxruntime(tmp_path: Path) -> None:
    model = tiny()
    saved = save_model(model, tmp_path / "m.pt", classes=["a", "b", "c"])
    path = export(saved, tmp_path / "m.onnx")  # from the model file; onnx is the default
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["images"]
    assert [o.name for o in session.get_outputs()] == ["logits"]
    for n in (1, 6):
        x = torch.rand(n, 3, 20, 20)
        (got,) = session.run(None, {"images": x.numpy()})
        with torch.no_grad():
            np.testing.assert_allclose(got, model(x).numpy(), atol=1e-4, rtol=0)


def test_a_plain_module_needs_an_example_input(tmp_path: Path) -> None:
    plain = nn.Sequential(nn.Conv2d(3, 2, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten()).eval()
    with pytest.raises(TypeError, match=r"example_input=torch.rand\(2, C, H, W\)"):
        export(plain, tmp_path / "p.ts", "torchscript")
    path = export(plain, tmp_path / "p.ts", "torchscript", example_input=torch.rand(2, 3, 9, 9))
    x = torch.rand(4, 3, 9, 9)
    with torch.no_grad():
        assert torch.allclose(torch.jit.load(str(path))(x), plain(x), atol=1e-4)
    uint8 = torch.zeros(2, 3, 9, 9, dtype=torch.uint8)
    with pytest.raises(ValueError, match=r"float tensor.*to_float"):
        export(plain, tmp_path / "p.ts", "torchscript", example_input=uint8)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\) tensor"):
        export(plain, tmp_path / "p.ts", "torchscript", example_input=torch.rand(3, 9, 9))


class CountingNet(nn.Module):
    """Its output changes with every call, so no trace can reproduce it."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 3)
        self.calls = 0

    def forward(self, x: Tensor) -> Tensor:
        self.calls += 1
        return self.conv(x).mean((2, 3)) * self.calls


@pytest.mark.parametrize("format", ["torchscript", "exported-program"])
def test_a_mismatching_export_is_not_written(tmp_path: Path, format: str) -> None:
    x = torch.rand(2, 3, 8, 8)
    with pytest.raises(RuntimeError, match=r"logits differ from the model's by .*nothing was"):
        export(CountingNet(), tmp_path / "c.bin", format, example_input=x)  # type: ignore[arg-type]
    assert not list(tmp_path.iterdir())
    # check=False writes it anyway
    export(CountingNet(), tmp_path / "c.bin", format, example_input=x, check=False)  # type: ignore[arg-type]
    assert (tmp_path / "c.bin").is_file()


@pytest.mark.parametrize("missing", ["onnx", "onnxscript"])
def test_onnx_without_its_packages_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    monkeypatch.setitem(sys.modules, missing, None)  # "import onnx" now raises ImportError
    with pytest.raises(ImportError, match=rf"needs .*{missing}.*not installed.*"
                       r"pip install cnnkit\[onnx\].*torchscript"):  # fmt: skip
        export(tiny(), tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_onnx_without_onnxruntime_can_skip_the_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ImportError, match=r"needs onnxruntime.*cnnkit\[onnx\].*check=False"):
        export(tiny(), tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"unknown format 'tflite'; use one of \['onnx'"):
        export(tiny(), tmp_path / "m", "tflite")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="atol must be >= 0"):
        export(tiny(), tmp_path / "m", "torchscript", atol=-1.0)
    with pytest.raises(FileNotFoundError):
        export(tmp_path / "missing.pt", tmp_path / "m", "torchscript")
    assert set(EXPORT_FORMATS) == {"onnx", "torchscript", "exported-program"}
    assert cnnkit.export is export


def test_onnx_needs_the_dynamo_exporter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def old_export(model: nn.Module, args: tuple[Tensor], f: str) -> None:  # torch < 2.5
        raise AssertionError("not reached")

    monkeypatch.setattr(torch.onnx, "export", old_export)
    with pytest.raises(ImportError, match=r"dynamo exporter.*torch>=2.5.*torchscript"):
        export(tiny(), tmp_path / "m.onnx")
