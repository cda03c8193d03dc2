"""cnnkit.saving: a trained model as one file (save_model / load_model) and predict_images.

The round trip is checked where it matters: a model trained a few steps on real vehicle photos
is saved, reloaded in a fresh Python process and must predict the same classes and
probabilities (to 1e-6) on the real image files.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

import cnnkit
from cnnkit import ModelBuilder, fuse_batchnorm, load_model, predict_images, save_model
from cnnkit.data import load_image_csv, to_float
from cnnkit.saving import MODEL_FORMAT, ImagePredictions, ModelMetadata, model_metadata

CLASSES = ["non-emergency", "emergency"]


def tiny(head: str = "flatten", size: int = 16, channels: int = 3) -> nn.Module:
    """A small batch-norm CNN with non-trivial running statistics."""
    model = ModelBuilder(channels, 2, size, batch_norm=True, dropout=0.1, head=head).conv(4).build()
    model.train()
    with torch.no_grad():
        model(torch.rand(8, channels, size, size) * 3)  # moves the batch-norm running stats
    return model.eval()


def assert_no_unsafe_advice(err: pytest.ExceptionInfo[BaseException]) -> None:
    assert "weights_only=False" not in str(err.value)
    assert err.value.__cause__ is None and err.value.__suppress_context__


# ---------------------------------------------------------------------- round trip
def test_round_trip_rebuilds_the_same_model_with_its_metadata(tmp_path: Path) -> None:
    model = tiny()
    path = save_model(model, tmp_path / "sub" / "m.pt", classes=CLASSES,
                      normalize=((0.5, 0.4, 0.3), (0.2, 0.25, 0.3)), extra={"epoch": 3})  # fmt: skip
    assert path == tmp_path / "sub" / "m.pt" and path.is_file()
    loaded = load_model(path)
    assert isinstance(loaded, cnnkit.ConvNet) and not loaded.training
    assert loaded.spec == model.spec
    x = torch.rand(5, 3, 16, 16)
    assert torch.equal(loaded(x), model(x))
    meta = loaded.metadata
    assert meta == model_metadata(loaded)
    assert meta.classes == tuple(CLASSES) and meta.class_name(1) == "emergency"
    assert meta.normalize == ((0.5, 0.4, 0.3), (0.2, 0.25, 0.3))
    assert (meta.input_size, meta.in_channels, meta.num_classes) == ((16, 16), 3, 2)
    assert meta.extra == {"epoch": 3} and meta.format_version == MODEL_FORMAT
    assert meta.path == path and meta.cnnkit_version == cnnkit.__version__
    # the file is plain data: torch's safe loader reads it without cnnkit's help
    raw = torch.load(path, weights_only=True)
    assert raw["cnnkit_model"] == MODEL_FORMAT and raw["classes"] == CLASSES
    assert not list(tmp_path.glob("sub/.*.tmp"))


def test_loading_leaves_the_global_random_generator_alone(tmp_path: Path) -> None:
    path = save_model(tiny(), tmp_path / "m.pt")
    state = torch.get_rng_state()
    load_model(path)
    assert torch.equal(torch.get_rng_state(), state)


def test_defaults_without_metadata(tmp_path: Path) -> None:
    loaded = load_model(save_model(tiny(), tmp_path / "m.pt"))
    meta = loaded.metadata
    assert meta.classes is None and meta.normalize is None and meta.extra == {}
    assert meta.input_size == (16, 16) and meta.class_name(1) == "1"


def test_resaving_a_loaded_model_keeps_its_metadata(tmp_path: Path) -> None:
    first = load_model(save_model(tiny(), tmp_path / "a.pt", classes=CLASSES, normalize=(0.5, 0.2)))
    with torch.no_grad():  # "fine-tune" it
        next(first.parameters()).add_(1.0)
    second = load_model(save_model(first, tmp_path / "b.pt", extra={"round": 2}))
    assert second.metadata.classes == tuple(CLASSES)
    assert second.metadata.normalize == ((0.5,), (0.2,))
    assert second.metadata.extra == {"round": 2}
    assert torch.equal(next(second.parameters()), next(first.parameters()))
    relabelled = load_model(save_model(first, tmp_path / "c.pt", classes=["car", "siren"]))
    assert relabelled.metadata.classes == ("car", "siren")


def test_wrapped_models_save_their_inner_module(tmp_path: Path) -> None:
    model = tiny()
    save_model(nn.DataParallel(model), tmp_path / "m.pt")
    loaded = load_model(tmp_path / "m.pt")
    assert set(loaded.state_dict()) == set(model.state_dict())  # no "module." prefix
    x = torch.rand(2, 3, 16, 16)
    assert torch.equal(loaded(x), model(x))


def test_input_size_follows_the_head(tmp_path: Path) -> None:
    avg = load_model(save_model(tiny(head="avg"), tmp_path / "avg.pt", input_size=(24, 20)))
    assert avg.metadata.input_size == (24, 20)
    with pytest.raises(ValueError, match=r"built for \(16, 16\).*head='avg'"):
        save_model(tiny(), tmp_path / "flat.pt", input_size=24)
    with pytest.raises(ValueError, match="input_size"):
        save_model(tiny(), tmp_path / "flat.pt", input_size=0)
    assert not (tmp_path / "flat.pt").exists()


# ---------------------------------------------------------------------- bad input to save_model
def test_a_model_without_a_builder_spec_is_refused_with_the_alternatives(tmp_path: Path) -> None:
    plain = nn.Sequential(nn.Conv2d(3, 2, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    with pytest.raises(TypeError, match="ModelBuilder-built model") as err:
        save_model(plain, tmp_path / "m.pt")
    assert "state_dict" in str(err.value) and "weights_only=True" in str(err.value)
    callable_act = ModelBuilder(3, 2, 16, activation=nn.Tanh).conv(4).build()
    with pytest.raises(TypeError, match="callable activation or pool"):
        save_model(callable_act, tmp_path / "m.pt")
    with pytest.raises(TypeError, match=r"nn.Module"):
        save_model("model.pt", tmp_path / "m.pt")  # type: ignore[arg-type]
    assert not (tmp_path / "m.pt").exists()


def test_weights_that_no_longer_match_the_spec_are_refused(tmp_path: Path) -> None:
    fused = fuse_batchnorm(tiny())
    with pytest.raises(ValueError, match=r"do not match the architecture.*before fuse_batchnorm"):
        save_model(fused, tmp_path / "m.pt")


@pytest.mark.parametrize(
    ("classes", "error", "match"),
    [
        (["only-one"], ValueError, r"1 names \['only-one'\] but the model has 2 outputs"),
        (["a", "b", "c"], ValueError, "3 names"),
        (["a", "a"], ValueError, r"distinct.*\['a'\]"),
        ([0, 1], TypeError, r"strings.*str\(c\)"),
        ("ab", TypeError, "sequence of class names"),
    ],
)
def test_bad_classes(tmp_path: Path, classes: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        save_model(tiny(), tmp_path / "m.pt", classes=classes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("normalize", "match"),
    [
        (0.5, "must be \\(mean, std\\)"),
        ((0.5, 0.2, 0.1), "must be \\(mean, std\\)"),
        (((0.5, 0.5), (0.2, 0.2)), "one number per channel \\(the model has 3\\)"),
        ((0.5, 0.0), "std values must be finite and > 0"),
        ((float("nan"), 0.2), "mean values must be finite"),
        (("a", 0.2), "must be \\(mean, std\\)"),
    ],
)
def test_bad_normalize(tmp_path: Path, normalize: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        save_model(tiny(), tmp_path / "m.pt", normalize=normalize)


def test_extra_must_be_plain_values(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"extra\['scores'\]\[1\] is a Tensor.*tolist"):
        save_model(tiny(), tmp_path / "m.pt", extra={"scores": [0.1, torch.tensor(0.2)]})
    with pytest.raises(TypeError, match="non-string key 1"):
        save_model(tiny(), tmp_path / "m.pt", extra={1: "x"})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="mapping"):
        save_model(tiny(), tmp_path / "m.pt", extra=[1])  # type: ignore[arg-type]


def test_a_failed_save_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = save_model(tiny(), tmp_path / "m.pt", classes=CLASSES)
    before = path.read_bytes()

    def broken_save(obj: object, fh: io.BufferedWriter) -> None:
        fh.write(b"PK\x03\x04 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_model(tiny(), path, classes=["x", "y"])
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt"]


# ---------------------------------------------------------------------- bad files for load_model
def test_missing_file_or_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"no file at .*save_model"):
        load_model(tmp_path / "nope.pt")
    with pytest.raises(FileNotFoundError, match="a folder at"):
        load_model(tmp_path)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "the file is empty"),
        (b"hello, not a model", "it is not a file written by torch.save"),
        ("truncated", "it is truncated or corrupted"),
        ("pickled", r"it holds a pickled Python object \(.*Sequential\)"),
    ],
)
def test_damaged_or_foreign_files_never_advise_unsafe_loading(
    tmp_path: Path, content: bytes | str, reason: str
) -> None:
    path = tmp_path / "m.pt"
    if content == "truncated":
        good = save_model(tiny(), tmp_path / "good.pt").read_bytes()
        path.write_bytes(good[: len(good) // 2])
    elif content == "pickled":
        torch.save(nn.Sequential(nn.Linear(2, 2)), path)  # a whole pickled module
    else:
        assert isinstance(content, bytes)
        path.write_bytes(content)
    with pytest.raises(ValueError, match=f"not a cnnkit model file or is damaged: {reason}") as err:
        load_model(path)
    assert "cnnkit.save_model" in str(err.value)
    assert_no_unsafe_advice(err)


def test_other_torch_files_get_their_own_advice(tmp_path: Path) -> None:
    model = tiny()
    torch.save(model.state_dict(), tmp_path / "state.pt")
    with pytest.raises(ValueError, match=r"bare state_dict.*load_state_dict.*save_model"):
        load_model(tmp_path / "state.pt")
    torch.save({"cnnkit_checkpoint": 1, "model": model.state_dict()}, tmp_path / "last.pt")
    with pytest.raises(ValueError, match=r"training checkpoint.*resume_from.*load_checkpoint"):
        load_model(tmp_path / "last.pt")
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(ValueError, match="not a cnnkit model file \\(no 'cnnkit_model' key\\)"):
        load_model(tmp_path / "list.pt")


def _rewrite(path: Path, **changes: object) -> None:
    payload = torch.load(path, weights_only=True)
    for key, value in changes.items():
        if value is None and key.startswith("drop_"):
            del payload[key[5:]]
        else:
            payload[key] = value
    torch.save(payload, path)


def test_a_newer_format_says_upgrade(tmp_path: Path) -> None:
    path = save_model(tiny(), tmp_path / "m.pt")
    _rewrite(path, cnnkit_model=MODEL_FORMAT + 1, cnnkit_version="9.0")
    with pytest.raises(ValueError, match=rf"newer cnnkit \(9.0, model file format {MODEL_FORMAT + 1}"
                       r"\).*pip install -U cnnkit"):  # fmt: skip
        load_model(path)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"cnnkit_model": "one"}, "format version 'one' is not valid"),
        ({"drop_state_dict": None}, r"lacks \['state_dict'\]"),
        ({"classes": ["a"]}, "is damaged: classes has 1 names"),
        ({"normalize": [[0.5], [-1.0]]}, "is damaged: normalize std"),
        ({"spec": {"in_channels": 3}}, "builder spec this cnnkit cannot rebuild"),
        ({"spec": "x"}, "builder spec this cnnkit cannot rebuild"),
        ({"state_dict": [1, 2]}, "not a state_dict of named tensors"),
    ],
)
def test_damaged_contents(tmp_path: Path, changes: dict[str, object], match: str) -> None:
    path = save_model(tiny(), tmp_path / "m.pt")
    _rewrite(path, **changes)
    with pytest.raises(ValueError, match=match):
        load_model(path)


def test_weights_of_another_architecture(tmp_path: Path) -> None:
    path = save_model(tiny(), tmp_path / "m.pt")
    other = ModelBuilder(3, 2, 16, batch_norm=True).conv(6).build()
    _rewrite(path, state_dict=other.state_dict())
    with pytest.raises(ValueError, match=r"do not match the architecture.*of another shape"):
        load_model(path)


# ---------------------------------------------------------------------- predict_images
@pytest.fixture(scope="module")
def photos(vehicles_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CSV layout with 16 of the real photos: 8 per class (the images are linked, not copied)."""
    rows = (vehicles_dir / "labels.csv").read_text(encoding="utf-8").splitlines()
    header, body = rows[0], [r.split(",") for r in rows[1:]]
    picked = [r for r in body if r[1] == "0"][:8] + [r for r in body if r[1] == "1"][:8]
    root = tmp_path_factory.mktemp("photos")
    (root / "images").mkdir()
    for name, _ in picked:
        os.symlink(vehicles_dir / "images" / name, root / "images" / name)
    (root / "labels.csv").write_text(
        "\n".join([header, *(",".join(r) for r in picked)]) + "\n", encoding="utf-8"
    )
    return root


NORMALIZE = ((0.47, 0.45, 0.43), (0.27, 0.26, 0.27))


def test_a_model_trained_on_real_photos_predicts_the_same_in_a_fresh_process(
    photos: Path, tmp_path: Path
) -> None:
    data = load_image_csv(photos, size=32, num_workers=1)
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in NORMALIZE)
    inputs = (to_float(data.images) - mean) / std
    model = ModelBuilder(3, 2, 32, batch_norm=True, dropout=0.1).conv(4).conv(8).build()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(5):  # a few real training steps: weights and running stats move
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(inputs), data.labels).backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        expected = torch.softmax(model(inputs), dim=1)
    path = save_model(model, tmp_path / "vehicles.pt", classes=CLASSES, normalize=NORMALIZE,
                      input_size=32)  # fmt: skip
    files = [photos / "images" / name for name in data_order(photos)]  # load_image_csv's order
    script = (
        "import json, sys, torch\n"
        "torch.set_num_threads(1)\n"
        "from cnnkit import predict_images\n"
        "r = predict_images(sys.argv[1], sys.argv[2:], batch_size=5)\n"
        "print(json.dumps({'classes': list(r.classes), 'p': r.probabilities.tolist()}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(path), *map(str, files)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    fresh = json.loads(done.stdout.strip().splitlines()[-1])
    probabilities = torch.tensor(fresh["p"])
    assert probabilities.shape == (16, 2)
    assert torch.allclose(probabilities, expected, atol=1e-6, rtol=0)
    assert fresh["classes"] == [CLASSES[k] for k in expected.argmax(1).tolist()]
    # and in this process, from the file and from the loaded model alike
    here = predict_images(path, files)
    assert torch.allclose(here.probabilities, expected, atol=1e-6, rtol=0)
    assert list(here.classes) == fresh["classes"]


def data_order(root: Path) -> list[str]:
    """Image names in the order of the CSV (the order load_image_csv returns them in)."""
    return [line.split(",")[0] for line in (root / "labels.csv").read_text().splitlines()[1:]]


def test_predict_images_result_and_inputs(photos: Path, tmp_path: Path) -> None:
    model = tiny(size=24)
    path = save_model(model, tmp_path / "m.pt", classes=CLASSES, normalize=(0.5, 0.25))
    folder = photos / "images"
    result = predict_images(path, folder, batch_size=3, num_workers=1)
    files = sorted(folder.iterdir())
    assert isinstance(result, ImagePredictions) and len(result) == 16
    assert result.paths == tuple(files) and result.class_names == tuple(CLASSES)
    assert result.labels.dtype == torch.int64 and result.probabilities.dtype == torch.float32
    assert torch.allclose(result.probabilities.sum(1), torch.ones(16))
    assert result.classes == tuple(CLASSES[k] for k in result.labels.tolist())
    rows = list(result)
    assert rows[0][0] == files[0] and rows[0][1] == result.classes[0]
    assert rows[0][2] == pytest.approx(result.probabilities[0].max().item())
    # one file, a list, batches of any size and a loaded model give the same numbers
    one = predict_images(path, files[4])
    assert torch.allclose(one.probabilities[0], result.probabilities[4], atol=1e-6)
    loaded = load_model(path).train()
    whole = predict_images(loaded, [str(f) for f in files], batch_size=64)
    assert torch.allclose(whole.probabilities, result.probabilities, atol=1e-6)
    assert loaded.training  # its mode is restored
    # a never-saved model: built size, no normalization, classes named by index
    bare = predict_images(model, files[:2])
    assert bare.class_names == ("0", "1") and bare.probabilities.shape == (2, 2)


def test_predict_images_bad_input(photos: Path, tmp_path: Path) -> None:
    path = save_model(tiny(), tmp_path / "m.pt")
    image = next((photos / "images").iterdir())
    with pytest.raises(FileNotFoundError, match="image file not found"):
        predict_images(path, [tmp_path / "missing.jpg"])
    (tmp_path / "bad.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(ValueError, match="cannot decode image"):
        predict_images(path, [tmp_path / "bad.jpg"])
    with pytest.raises(ValueError, match="paths is empty"):
        predict_images(path, [])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no image files"):
        predict_images(path, tmp_path / "empty")
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        predict_images(path, [image], batch_size=0)
    with pytest.raises(TypeError, match=r"model file path or an nn.Module"):
        predict_images(3, [image])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="file paths"):
        predict_images(path, [image, 3])  # type: ignore[list-item]
    with pytest.raises(ValueError, match=r"device='meta' but the model is on cpu.*model.to"):
        predict_images(tiny(), [image], device="meta")
    assert predict_images(path, [image], device="cpu").probabilities.shape == (1, 2)
    with pytest.raises(TypeError, match=r"save it with cnnkit.save_model"):
        predict_images(nn.Sequential(nn.Flatten()), [image])
    grey = save_model(tiny(channels=1), tmp_path / "grey.pt")
    with pytest.raises(ValueError, match="RGB \\(3 channels\\) but the model takes 1"):
        predict_images(grey, [image])


def test_metadata_is_a_frozen_record() -> None:
    meta = ModelMetadata(classes=None, normalize=None, input_size=(8, 8), in_channels=3,
                         num_classes=4)  # fmt: skip
    assert meta.class_name(3) == "3" and meta.path is None
    with pytest.raises(AttributeError):
        meta.classes = ("a",)  # type: ignore[misc]
