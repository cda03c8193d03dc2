"""Tests of cnnkit.plotting: learning-curve PNGs for one and several histories."""

from __future__ import annotations

import builtins
import math
import struct
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from cnnkit.plotting import plot_history

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

OVERFIT = {
    "epoch": [1, 2, 3, 4, 5],
    "train_loss": [0.69, 0.55, 0.42, 0.30, 0.21],
    "val_loss": [0.68, 0.60, 0.58, 0.63, 0.70],
    "train_acc": [0.55, 0.70, 0.80, 0.88, 0.93],
    "val_acc": [0.56, 0.66, 0.70, 0.69, 0.68],
    "lr": [1e-3] * 5,
}
HEALTHY = {
    "train_loss": [0.69, 0.5, 0.4, 0.35],
    "val_loss": [0.68, 0.52, 0.43, 0.38],
    "train_acc": [0.55, 0.72, 0.8, 0.84],
    "val_acc": [0.56, 0.7, 0.78, 0.82],
}


class FakeHistory:
    """Duck-typed History: only ``to_dict()``."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def to_dict(self) -> dict[str, Any]:
        return self.data


class FakeDiagnosis:
    """Duck-typed Diagnosis: a ``label`` with a ``value`` (like a str enum)."""

    class _Label:
        value = "overfitting"

    label = _Label()


def _png_size(path: Path) -> tuple[int, int]:
    raw = path.read_bytes()
    assert raw[:8] == PNG_SIGNATURE
    assert raw[12:16] == b"IHDR"
    width, height = struct.unpack(">II", raw[16:24])
    return int(width), int(height)


def _texts(fig: Any) -> str:
    return " ".join(t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text")))


def test_single_history_png(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "curves.png"
    fig = plot_history(FakeHistory(OVERFIT), path, title="baseline", diagnosis=FakeDiagnosis())
    width, height = _png_size(path)
    assert (width, height) == (1100, 420)
    with Image.open(path) as im:
        im.load()
        assert im.size == (1100, 420)
        # not a blank canvas: many distinct colours drawn
        assert len(im.convert("RGB").getcolors(maxcolors=1_000_000) or []) > 20
    loss_ax, acc_ax = fig.axes[:2]
    assert "baseline (overfitting)" in fig._suptitle.get_text()
    # two curves per panel (train, val) plus the best-epoch marker
    lines = [ln for ln in loss_ax.get_lines() if len(ln.get_xdata()) == 5]
    assert sorted(list(ln.get_ydata()) for ln in lines) == sorted(
        [OVERFIT["train_loss"], OVERFIT["val_loss"]]
    )
    # best epoch = lowest validation loss = epoch 3: a marker and a vertical line there
    markers = [ln for ln in loss_ax.get_lines() if list(ln.get_xdata()) == [3]]
    assert markers and math.isclose(markers[0].get_ydata()[0], 0.58)
    assert any(list(ln.get_xdata()) == [3, 3] for ln in acc_ax.get_lines())


def test_several_histories_and_string_diagnosis(tmp_path: Path) -> None:
    path = tmp_path / "compare.png"
    fig = plot_history(
        {"baseline": OVERFIT, "dropout": FakeHistory(HEALTHY)},
        path,
        diagnosis={"baseline": "overfitting", "dropout": "healthy"},
    )
    assert _png_size(path) == (1100, 420)
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "baseline (overfitting) val" in legend and "dropout (healthy) train" in legend
    acc_lines = [ln for ln in fig.axes[1].get_lines() if len(ln.get_xdata()) > 2]
    assert len(acc_lines) == 4
    fig2 = plot_history([OVERFIT, HEALTHY], labels=["a", "b"], diagnosis="inconclusive")
    assert "inconclusive" in fig2._suptitle.get_text()
    assert "a train" in _texts(fig2) and "b val" in _texts(fig2)


def test_keras_names_and_missing_validation() -> None:
    keras = {"loss": [0.9, 0.5], "accuracy": [0.4, 0.8]}
    fig = plot_history(keras)
    loss_lines = [ln for ln in fig.axes[0].get_lines() if len(ln.get_xdata()) == 2]
    assert [list(ln.get_ydata()) for ln in loss_lines] == [[0.9, 0.5]]
    nan_val = {"train_loss": [0.7, 0.6, 0.5], "val_loss": [float("nan"), 0.65, 0.66]}
    fig = plot_history(nan_val)
    assert any(list(ln.get_xdata()) == [2] for ln in fig.axes[0].get_lines())


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="none of the series"):
        plot_history({"lr": [0.1, 0.1]})
    with pytest.raises(TypeError, match="to_dict"):
        plot_history(42)
    with pytest.raises(ValueError, match="2 labels for 1"):
        plot_history([OVERFIT], labels=["a", "b"])
    with pytest.raises(TypeError, match=r"\.label"):
        plot_history(OVERFIT, diagnosis=3.5)


def test_missing_matplotlib_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def fake_import(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match=r"pip install cnnkit\[plot\]"):
        plot_history(OVERFIT)


# ---------------------------------------------------------------------- confusion matrix
def test_confusion_matrix_png_and_normalized_rows(tmp_path: Path) -> None:
    import torch

    from cnnkit.plotting import plot_confusion_matrix

    cm = torch.tensor([[50, 3, 0], [9, 38, 3], [0, 0, 0]])  # class 2: no sample
    fig = plot_confusion_matrix(cm, ["emergency", "other", "none"], tmp_path / "sub" / "cm.png")
    width, height = _png_size(tmp_path / "sub" / "cm.png")
    assert width > height > 200
    shown = fig.axes[0].images[0].get_array()
    assert [round(float(v), 6) for v in shown.sum(1)] == [1.0, 1.0, 0.0]
    assert float(shown[0, 0]) == pytest.approx(50 / 53)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["emergency", "other", "none"]
    counts = plot_confusion_matrix([[1, 2], [3, 4]], normalize=None).axes[0].images[0]
    assert counts.get_array().tolist() == [[1, 2], [3, 4]]
    cols = plot_confusion_matrix([[1, 3], [1, 1]], normalize="pred").axes[0].images[0]
    assert cols.get_array().sum(0).tolist() == [1.0, 1.0]


def test_confusion_matrix_bad_input_errors() -> None:
    from cnnkit.plotting import plot_confusion_matrix

    with pytest.raises(ValueError, match="square"):
        plot_confusion_matrix([[1, 2, 3], [4, 5, 6]])
    with pytest.raises(ValueError, match="2 class names for a 3x3"):
        plot_confusion_matrix([[1, 0, 0], [0, 1, 0], [0, 0, 1]], classes=["a", "b"])
    with pytest.raises(ValueError, match="normalize must be one of"):
        plot_confusion_matrix([[1]], normalize="rows")
    with pytest.raises(ValueError, match="counts"):
        plot_confusion_matrix([[1, -1], [0, 1]])
