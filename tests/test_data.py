"""Tests of cnnkit.data: loaders (real and generated files), cache, split, synthetic data set."""

from __future__ import annotations

import builtins
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from cnnkit.data import (
    ImageDataset,
    load_image_csv,
    load_image_folder,
    synthetic_vehicles,
    to_float,
    train_val_split,
)
from cnnkit.data import decode as cdecode

#: The case study's original data set (train.csv + images/, 1646 images), beside the repository.
VEHICLES_FULL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "vehicles_full"

# ---------------------------------------------------------------------------------------------
# helpers


def _pillow_rgb(path: Path, size: tuple[int, int] | None = None) -> np.ndarray[Any, Any]:
    """Reference decoding straight from Pillow: (H, W, 3) uint8."""
    with Image.open(path) as im:
        im = im.convert("RGB")
        if size is not None:
            im = im.resize((size[1], size[0]), Image.Resampling.BILINEAR)
        return np.asarray(im).copy()


def _write_csv(
    root: Path, rows: list[tuple[str, str]], header: str = "image_names,emergency_or_not"
):
    (root / "labels.csv").write_text(header + "\n" + "".join(f"{a},{b}\n" for a, b in rows))


def _check_suggestion(message: str, n_images: int) -> None:
    """The last loader call in an error message runs and loads ``n_images`` images."""
    calls = re.findall(r"load_image_(?:csv|folder)\([^()]+\)", message)
    assert calls, f"no suggested call in: {message}"
    namespace = {
        "load_image_csv": lambda *a, **k: load_image_csv(*a, size=8, **k),
        "load_image_folder": lambda *a, **k: load_image_folder(*a, size=8, **k),
    }
    dataset = eval(calls[-1], namespace)  # the message's own text, run as written
    assert len(dataset.images) == n_images


def _random_rgb(rng: np.random.Generator, h: int = 20, w: int = 24) -> np.ndarray[Any, Any]:
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.fixture
def csv_root(tmp_path: Path) -> Path:
    """A CSV + images layout of 6 PNGs (3 per class), distinct random pixels."""
    rng = np.random.default_rng(0)
    (tmp_path / "images").mkdir()
    rows = []
    for i in range(6):
        Image.fromarray(_random_rgb(rng)).save(tmp_path / "images" / f"{i}.png")
        rows.append((f"{i}.png", str(i % 2)))
    _write_csv(tmp_path, rows)
    return tmp_path


# ---------------------------------------------------------------------------------------------
# the real images


def test_real_csv_layout_matches_pillow(vehicles_dir: Path) -> None:
    ds = load_image_csv(vehicles_dir, size=None)
    assert isinstance(ds, ImageDataset)
    X, y, classes = ds
    assert X.dtype == torch.uint8 and X.shape == (201, 3, 224, 224)
    assert y.dtype == torch.int64 and y.shape == (201,)
    assert classes == ["0", "1"]
    # 85 emergency (label 1) and 116 others, as documented beside the data
    assert int(y.sum()) == 85
    rows = (vehicles_dir / "labels.csv").read_text().split()[1:]
    for k in (0, 57, 200):
        name, label = rows[k].split(",")
        expected = _pillow_rgb(vehicles_dir / "images" / name)
        # channel c of the NCHW tensor is Pillow's channel c (a reshape would scramble them)
        for c in range(3):
            assert np.array_equal(X[k, c].numpy(), expected[:, :, c])
        assert int(y[k]) == int(label)


def test_real_resized_matches_pillow_and_threads_agree(vehicles_dir: Path) -> None:
    X1, y1, _ = load_image_csv(vehicles_dir, size=(48, 40), num_workers=1)
    X2, y2, _ = load_image_csv(vehicles_dir, size=(48, 40), num_workers=2)
    assert X1.shape == (201, 3, 48, 40)
    assert torch.equal(X1, X2) and torch.equal(y1, y2)
    expected = _pillow_rgb(vehicles_dir / "images" / "3.jpg", (48, 40))
    assert np.array_equal(X1[3].permute(1, 2, 0).numpy(), expected)


@pytest.fixture(scope="module")
def vehicles_full() -> Path:
    """Path of ``../shared/data/vehicles_full`` (train.csv + images, the original layout)."""
    if not (VEHICLES_FULL / "train.csv").is_file():
        raise FileNotFoundError(
            f"the shared vehicle data set is missing at {VEHICLES_FULL}; the repository expects "
            "../shared beside it, as in CI"
        )
    return VEHICLES_FULL


def test_original_data_set_loads_unchanged(vehicles_full: Path) -> None:
    # train.csv (not labels.csv) with columns image_names,emergency_or_not: found by the rule
    X, y, classes = load_image_csv(vehicles_full, size=8)
    assert X.shape == (1646, 3, 8, 8) and classes == ["0", "1"]
    assert int(y.sum()) == 681  # 681 emergency, 965 not, as documented beside the data
    rows = [r.split(",") for r in (vehicles_full / "train.csv").read_text().split()[1:]]
    assert y.tolist() == [int(label) for _, label in rows]  # CSV row order
    for k in (0, 1645):
        expected = _pillow_rgb(vehicles_full / "images" / rows[k][0], (8, 8))
        assert np.array_equal(X[k].permute(1, 2, 0).numpy(), expected)


def test_original_layout_full_size_on_a_few_rows(vehicles_full: Path, tmp_path: Path) -> None:
    # the first rows of the real train.csv beside a link to the real images: full 224x224 decode
    lines = (vehicles_full / "train.csv").read_text().splitlines()[:13]
    (tmp_path / "train.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "images").symlink_to(vehicles_full / "images", target_is_directory=True)
    X, y, _ = load_image_csv(tmp_path, size=None)
    assert X.shape == (12, 3, 224, 224)
    name, label = lines[5].split(",")
    assert int(y[4]) == int(label)
    expected = _pillow_rgb(vehicles_full / "images" / name)
    for c in range(3):
        assert np.array_equal(X[4, c].numpy(), expected[:, :, c])
    explicit = load_image_csv(
        tmp_path, "train.csv", image_column="image_names", label_column="emergency_or_not", size=None
    )
    assert torch.equal(explicit.images, X) and torch.equal(explicit.labels, y)


def test_original_layout_errors_suggest_calls_that_work(vehicles_full: Path) -> None:
    root = str(vehicles_full)
    # the old default name: says what exists and the call that reads it
    with pytest.raises(FileNotFoundError, match=r"labels\.csv.*\['train\.csv'\]") as info:
        load_image_csv(vehicles_full, "labels.csv", size=8)
    assert f"load_image_csv({root!r}) reads it" in str(info.value)
    # the folder loader, on this layout, points to load_image_csv(root): which now works
    with pytest.raises(ValueError, match=r"1 class sub-folder.*\['images'\].*train\.csv") as info:
        load_image_folder(vehicles_full, size=8)
    assert str(info.value).endswith(f"use load_image_csv({root!r})")
    # a wrong column name: the suggestion names the real ones
    with pytest.raises(ValueError, match=r"'label'.*\['image_names', 'emergency_or_not'\]") as info:
        load_image_csv(vehicles_full, label_column="label", size=8)
    assert "label_column='emergency_or_not'" in str(info.value)


# ---------------------------------------------------------------------------------------------
# generated files


def test_csv_labels_classes_and_csv_path(csv_root: Path, tmp_path: Path) -> None:
    X, y, classes = load_image_csv(csv_root, size=None)
    assert classes == ["0", "1"]
    assert y.tolist() == [0, 1, 0, 1, 0, 1]
    assert np.array_equal(X[4].permute(1, 2, 0).numpy(), _pillow_rgb(csv_root / "images" / "4.png"))
    # a CSV elsewhere, given by absolute path, with other column names and string labels
    other = tmp_path / "meta.csv"
    other.write_text("file,kind\n0.png,truck\n1.png,car\n2.png,van\n")
    X2, y2, classes2 = load_image_csv(
        csv_root, other, image_column="file", label_column="kind", size=8
    )
    assert classes2 == ["car", "truck", "van"]
    assert y2.tolist() == [1, 0, 2]
    assert X2.shape == (3, 3, 8, 8)


def test_numeric_labels_sort_numerically(csv_root: Path) -> None:
    _write_csv(csv_root, [("0.png", "10"), ("1.png", "2"), ("2.png", "2")])
    _, y, classes = load_image_csv(csv_root, size=8)
    assert classes == ["2", "10"]
    assert y.tolist() == [1, 0, 0]


def test_grey_rgba_and_palette_images(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    grey = np.arange(12 * 10, dtype=np.uint8).reshape(12, 10)
    Image.fromarray(grey, mode="L").save(tmp_path / "images" / "grey.png")
    rgba = np.zeros((12, 10, 4), dtype=np.uint8)
    rgba[..., 0] = 200
    rgba[..., 3] = 255
    rgba[0, 0, 3] = 0  # one transparent pixel
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "images" / "rgba.png")
    Image.fromarray(grey, mode="L").convert("P").save(tmp_path / "images" / "pal.gif")
    _write_csv(tmp_path, [("grey.png", "a"), ("rgba.png", "b"), ("pal.gif", "a")])
    X, _, _ = load_image_csv(tmp_path, size=None)
    assert X.shape == (3, 3, 12, 10)
    for c in range(3):
        assert np.array_equal(X[0, c].numpy(), grey)
    assert X[1, :, 1, 1].tolist() == [200, 0, 0]
    assert X[1, :, 0, 0].tolist() == [255, 255, 255]  # transparent -> white background
    assert np.array_equal(
        X[2].permute(1, 2, 0).numpy(), _pillow_rgb(tmp_path / "images" / "pal.gif")
    )


def test_corrupt_jpeg_named_or_skipped(csv_root: Path) -> None:
    good = csv_root / "images" / "good.jpg"
    Image.fromarray(_random_rgb(np.random.default_rng(1), 32, 32)).save(good)
    payload = good.read_bytes()
    (csv_root / "images" / "bad.jpg").write_bytes(payload[: len(payload) // 2])
    (csv_root / "images" / "junk.jpg").write_bytes(b"not an image at all")
    _write_csv(csv_root, [("good.jpg", "0"), ("bad.jpg", "1"), ("0.png", "1")])
    with pytest.raises(ValueError, match=r"bad\.jpg"):
        load_image_csv(csv_root, size=16)
    _write_csv(csv_root, [("good.jpg", "0"), ("junk.jpg", "1"), ("bad.jpg", "1"), ("0.png", "1")])
    with pytest.warns(UserWarning, match=r"skipped 2 item"):
        X, y, _ = load_image_csv(csv_root, size=16, on_error="skip")
    assert X.shape == (2, 3, 16, 16)
    assert y.tolist() == [0, 1]


def test_missing_file_named_or_skipped(csv_root: Path) -> None:
    _write_csv(csv_root, [("0.png", "0"), ("nope.png", "1")])
    with pytest.raises(FileNotFoundError, match=r"nope\.png"):
        load_image_csv(csv_root, size=8)
    with pytest.warns(UserWarning, match=r"skipped 1 item.*nope\.png"):
        X, _, _ = load_image_csv(csv_root, size=8, on_error="skip")
    assert len(X) == 1
    with pytest.raises(FileNotFoundError, match=r"other\.csv"):
        load_image_csv(csv_root, "other.csv")


def test_missing_column_names_it(csv_root: Path) -> None:
    _write_csv(csv_root, [("0.png", "0"), ("1.png", "1")], header="filename,emergency_or_not")
    with pytest.raises(ValueError, match=r"'image_names'.*\['filename', 'emergency_or_not'\]") as info:
        load_image_csv(csv_root, size=8, image_column="image_names")
    assert "image_column='filename', label_column='emergency_or_not'" in str(info.value)
    _check_suggestion(str(info.value), 2)
    # by default a two-column CSV's image column is the one of image file names
    X, y, _ = load_image_csv(csv_root, size=8)
    assert X.shape == (2, 3, 8, 8) and y.tolist() == [0, 1]


def test_columns_that_cannot_be_told_apart(csv_root: Path) -> None:
    (csv_root / "labels.csv").write_text("kind,file,note\n1,0.png,x\n0,1.png,y\n")
    with pytest.raises(ValueError, match=r"cannot tell the label column .*'image_names' if present") as info:
        load_image_csv(csv_root, size=8)
    message = str(info.value)
    assert "image_column='file', label_column='kind'" in message and "['kind', 'note']" in message
    _check_suggestion(message, 2)
    (csv_root / "labels.csv").write_text("id,kind\n0,1\n1,0\n")  # names without an extension
    with pytest.raises(ValueError, match=r"image and label columns.*names a file in"):
        load_image_csv(csv_root, size=8)
    (csv_root / "labels.csv").write_text("file\n0.png\n")
    with pytest.raises(ValueError, match=r"needs one column of image file names and one of labels"):
        load_image_csv(csv_root, size=8)


def test_which_csv_is_read(csv_root: Path) -> None:
    (csv_root / "labels.csv").rename(csv_root / "train.csv")
    assert load_image_csv(csv_root, size=8).labels.tolist() == [0, 1, 0, 1, 0, 1]
    (csv_root / "labels.csv").write_text("image_names,emergency_or_not\n0.png,1\n")
    assert load_image_csv(csv_root, size=8).labels.tolist() == [0]  # labels.csv comes first
    (csv_root / "labels.csv").unlink()
    (csv_root / "train.csv").rename(csv_root / "meta.CSV")  # the only CSV, any case
    assert len(load_image_csv(csv_root, size=8).labels) == 6
    (csv_root / "notes.csv").write_text("a,b,c\n1,2,3\n")
    with pytest.raises(FileNotFoundError, match=r"labels\.csv, then train\.csv.*'meta\.CSV', 'notes\.csv'") as info:
        load_image_csv(csv_root, size=8)
    assert "csv='meta.CSV'" in str(info.value)
    _check_suggestion(str(info.value), 6)
    (csv_root / "meta.CSV").unlink()
    (csv_root / "notes.csv").unlink()
    with pytest.raises(FileNotFoundError, match=r"no label CSV in .*has no \.csv file; pass csv="):
        load_image_csv(csv_root, size=8)
    with pytest.raises(FileNotFoundError, match=r"data folder not found"):
        load_image_csv(csv_root / "nowhere", size=8)


def test_class_folders_without_csv_point_to_the_folder_loader(tmp_path: Path) -> None:
    for cls in ("car", "van"):
        (tmp_path / cls).mkdir()
        Image.fromarray(_random_rgb(np.random.default_rng(4))).save(tmp_path / cls / "a.png")
    with pytest.raises(FileNotFoundError, match=r"one sub-folder per class \['car', 'van'\]") as info:
        load_image_csv(tmp_path, size=8)
    _check_suggestion(str(info.value), 2)


def test_missing_images_folder_names_the_right_one(csv_root: Path) -> None:
    (csv_root / "images").rename(csv_root / "pictures")
    with pytest.raises(FileNotFoundError, match=r"images folder not found.*use load_image_csv.*images_dir='pictures'") as info:
        load_image_csv(csv_root, size=8)
    _check_suggestion(str(info.value), 6)
    # with on_error="skip" too: a missing folder is a layout error, not a bad row
    with pytest.raises(FileNotFoundError, match=r"images folder not found"):
        load_image_csv(csv_root, size=8, on_error="skip")


def test_unknown_and_blank_labels(csv_root: Path) -> None:
    _write_csv(csv_root, [("0.png", "0"), ("1.png", "maybe"), ("2.png", "1")])
    with pytest.raises(ValueError, match=r"unknown label 'maybe' for image '1\.png'"):
        load_image_csv(csv_root, size=8, classes=["0", "1"])
    with pytest.warns(UserWarning, match="skipped 1 item"):
        _, y, classes = load_image_csv(csv_root, size=8, classes=["0", "1"], on_error="skip")
    assert classes == ["0", "1"] and y.tolist() == [0, 1]
    _write_csv(csv_root, [("0.png", "0"), ("1.png", " ")])
    with pytest.raises(ValueError, match=r"blank label for image '1\.png'"):
        load_image_csv(csv_root, size=8)


def test_mixed_sizes_need_size(csv_root: Path) -> None:
    Image.fromarray(_random_rgb(np.random.default_rng(2), 9, 9)).save(csv_root / "images" / "s.png")
    _write_csv(csv_root, [("0.png", "0"), ("s.png", "1")])
    with pytest.raises(ValueError, match=r"s\.png.*pass size="):
        load_image_csv(csv_root, size=None)
    assert load_image_csv(csv_root, size=9).images.shape == (2, 3, 9, 9)


@pytest.mark.parametrize("bad", [0, -3, (4, 0)])
def test_bad_size_rejected(csv_root: Path, bad: Any) -> None:
    with pytest.raises(ValueError, match="size must be positive"):
        load_image_csv(csv_root, size=bad)


def test_bad_size_type_and_on_error(csv_root: Path) -> None:
    with pytest.raises(TypeError, match="size must be"):
        load_image_csv(csv_root, size=(4.0, 4.0))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="on_error"):
        load_image_csv(csv_root, on_error="ignore")  # type: ignore[arg-type]


def test_folder_layout(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    arrays = {}
    for cls, n in (("truck", 2), ("ambulance", 3)):
        (tmp_path / cls).mkdir()
        for i in range(n):
            arrays[(cls, i)] = _random_rgb(rng, 10, 14)
            Image.fromarray(arrays[(cls, i)]).save(tmp_path / cls / f"{i}.PNG")
        (tmp_path / cls / "notes.txt").write_text("not an image")
    (tmp_path / ".cnnkit_cache").mkdir()  # hidden folders are not classes
    X, y, classes = load_image_folder(tmp_path, size=None, cache=True)
    assert classes == ["ambulance", "truck"]
    assert y.tolist() == [0, 0, 0, 1, 1]
    assert np.array_equal(X[3].permute(1, 2, 0).numpy(), arrays[("truck", 0)])
    _, y2, classes2 = load_image_folder(tmp_path, size=None, classes=["truck"])
    assert classes2 == ["truck"] and y2.tolist() == [0, 0]
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"empty.*no image files"):
        load_image_folder(tmp_path, size=8)
    with pytest.raises(FileNotFoundError, match="bus"):
        load_image_folder(tmp_path, size=8, classes=["bus"])


def test_missing_pillow_message(monkeypatch: pytest.MonkeyPatch, csv_root: Path) -> None:
    real_import = builtins.__import__

    def fake_import(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "PIL" or name.startswith("PIL."):
            raise ImportError("No module named 'PIL'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match=r"pip install cnnkit\[images\]"):
        load_image_csv(csv_root, size=8)


# ---------------------------------------------------------------------------------------------
# cache


def test_cache_hit_skips_decoding_and_change_invalidates(
    csv_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache_dir = tmp_path / "cache"
    first = load_image_csv(csv_root, size=8, cache=cache_dir)
    files = list(cache_dir.iterdir())
    assert len(files) == 1 and files[0].suffix == ".npz"

    def boom(path: Path, size: Any) -> Any:
        raise AssertionError(f"decoded {path} although the cache should have been used")

    monkeypatch.setattr(cdecode, "_decode_image", boom)
    second = load_image_csv(csv_root, size=8, cache=cache_dir)
    assert torch.equal(first.images, second.images)
    assert torch.equal(first.labels, second.labels)
    assert first.class_names == second.class_names
    # another size is another cache entry: it must decode, so it hits the patched decoder
    with pytest.raises(AssertionError, match="decoded"):
        load_image_csv(csv_root, size=9, cache=cache_dir)
    # a rewritten image (new size in bytes) invalidates the entry
    Image.fromarray(_random_rgb(np.random.default_rng(9), 30, 30)).save(
        csv_root / "images" / "2.png"
    )
    with pytest.raises(AssertionError, match="decoded"):
        load_image_csv(csv_root, size=8, cache=cache_dir)


def test_cache_true_uses_root_folder_and_leaves_no_temp(csv_root: Path) -> None:
    load_image_csv(csv_root, size=8, cache=True)
    names = [p.name for p in (csv_root / ".cnnkit_cache").iterdir()]
    assert len(names) == 1 and names[0].endswith(".npz")


def test_cache_unwritable_warns_and_still_loads(csv_root: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file_not_dir"
    blocker.write_text("x")
    with pytest.warns(UserWarning, match="could not write the image cache"):
        X, _, _ = load_image_csv(csv_root, size=8, cache=blocker)
    assert X.shape == (6, 3, 8, 8)


# ---------------------------------------------------------------------------------------------
# split


@given(
    labels=st.lists(st.integers(0, 4), min_size=4, max_size=300),
    fraction=st.floats(0.05, 0.6),
    seed=st.integers(0, 2**31 - 1),
)
def test_split_stratified_complete_and_reproducible(
    labels: list[int], fraction: float, seed: int
) -> None:
    y = np.array(labels, dtype=np.int64)
    n = len(y)
    n_val = math.ceil(n * fraction)
    X = np.arange(n)
    if n_val >= n:
        with pytest.raises(ValueError, match="empty part"):
            train_val_split(X, y, fraction, seed=seed)
        return
    (X_tr, y_tr), (X_va, y_va) = train_val_split(X, y, fraction, seed=seed)
    assert len(X_va) == n_val and len(X_tr) == n - n_val
    # a partition of the samples, labels travel with their samples
    assert sorted(np.concatenate([X_tr, X_va]).tolist()) == list(range(n))
    assert np.array_equal(y[X_tr], y_tr) and np.array_equal(y[X_va], y_va)
    # each class within one sample of its exact share
    for c in np.unique(y):
        share = np.sum(y == c) * n_val / n
        assert abs(np.sum(y_va == c) - share) < 1.0
    (X_tr2, _), (X_va2, _) = train_val_split(X, y, fraction, seed=seed)
    assert np.array_equal(X_tr, X_tr2) and np.array_equal(X_va, X_va2)


def test_split_case_study_sizes_tensors_and_seed() -> None:
    y = torch.tensor([0] * 965 + [1] * 681)
    X = torch.arange(1646).float()[:, None]
    (X_tr, _), (X_va, y_va) = train_val_split(X, y)
    assert isinstance(X_tr, torch.Tensor) and isinstance(y_va, torch.Tensor)
    assert (len(X_tr), len(X_va)) == (1481, 165)
    assert int(y_va.sum()) == 68  # 681 * 165 / 1646 = 68.3
    (_, _), (X_va1, _) = train_val_split(X, y, seed=1)
    assert not torch.equal(X_va, X_va1)
    (X_tr_ns, _), (X_va_ns, _) = train_val_split(X, y, stratify=False, seed=0)
    assert len(X_va_ns) == 165 and len(X_tr_ns) == 1481


def test_split_errors() -> None:
    X = np.zeros((5, 2))
    with pytest.raises(ValueError, match="4 labels"):
        train_val_split(X, np.zeros(4, dtype=np.int64))
    with pytest.raises(ValueError, match="val_fraction"):
        train_val_split(X, np.zeros(5, dtype=np.int64), val_fraction=1.0)
    with pytest.raises(TypeError, match="integer class labels"):
        train_val_split(X, np.zeros(5), val_fraction=0.4)
    with pytest.raises(TypeError, match="numpy array"):
        train_val_split([1, 2, 3], np.zeros(3, dtype=np.int64))  # type: ignore[type-var]


def test_to_float() -> None:
    x = torch.tensor([[0, 51, 255]], dtype=torch.uint8)
    assert torch.allclose(to_float(x), torch.tensor([[0.0, 0.2, 1.0]]))
    assert to_float(torch.ones(2, dtype=torch.float64)).dtype == torch.float32
    with pytest.raises(TypeError, match="int64"):
        to_float(torch.ones(2, dtype=torch.int64))


# ---------------------------------------------------------------------------------------------
# synthetic data set


def test_synthetic_deterministic_shape_and_ratio() -> None:
    X, y, classes = synthetic_vehicles(n=300, size=32, seed=5)
    assert X.dtype == torch.uint8 and X.shape == (300, 3, 32, 32)
    assert y.dtype == torch.int64 and classes == ["non-emergency", "emergency"]
    assert int(y.sum()) == round(300 * 85 / 201)  # the real labels.csv ratio: 85 of 201
    X2, y2, _ = synthetic_vehicles(n=300, size=32, seed=5)
    assert torch.equal(X, X2) and torch.equal(y, y2)
    X3, _, _ = synthetic_vehicles(n=300, size=32, seed=6)
    assert not torch.equal(X, X3)
    # real images, not constant: every image has spread, the set uses the full value range
    assert float(X.float().std(dim=(1, 2, 3)).min()) > 10
    assert int(X.min()) == 0 and int(X.max()) == 255


def test_synthetic_default_size_and_errors() -> None:
    X, y, _ = synthetic_vehicles()
    assert X.shape == (1646, 3, 64, 64)
    assert int(y.sum()) == 696
    with pytest.raises(ValueError, match="size must be at least 16"):
        synthetic_vehicles(n=4, size=8)
    with pytest.raises(ValueError, match="n must be at least 1"):
        synthetic_vehicles(n=0)


def test_synthetic_emergency_cues_are_red_blue_roof_lights() -> None:
    """Emergency images hold more saturated red-next-to-blue light pixels than the others."""
    X, y, _ = synthetic_vehicles(n=400, size=64, seed=0)
    x = X.float()
    r, g, b = x[:, 0], x[:, 1], x[:, 2]
    reds = ((r > 170) & (g < 90) & (b < 90)).flatten(1).sum(1)
    blues = ((b > 170) & (r < 90) & (g < 110)).flatten(1).sum(1)
    both = ((reds > 0) & (blues > 0)).float()
    assert both[y == 1].mean() > both[y == 0].mean() + 0.2


def test_folder_loader_rejects_the_csv_layout(vehicles_dir: Path) -> None:
    # The case study's layout has a single "images" folder: not one folder per class.
    with pytest.raises(ValueError, match=r"1 class sub-folder.*\['images'\].*use load_image_csv"):
        load_image_folder(vehicles_dir, size=16)


def test_folder_loader_needs_two_classes(tmp_path: Path) -> None:
    (tmp_path / "only").mkdir()
    with pytest.raises(ValueError, match=r"1 class sub-folder\(s\) \[.only.\]; load_image_folder expects"):
        load_image_folder(tmp_path, size=16)
