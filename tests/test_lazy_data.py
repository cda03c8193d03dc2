"""The lazy loaders (``lazy=True``): the eager path's files, labels, classes, pixels and errors."""

from __future__ import annotations

import csv
import pickle
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from cnnkit.builder import ModelBuilder
from cnnkit.data import LazyImageDataset, load_image_csv, load_image_folder
from cnnkit.training import Trainer

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
VEHICLES_FULL = SHARED / "vehicles_full"
INTEL = SHARED / "intel_scenes"


def _stack(ds: LazyImageDataset) -> tuple[torch.Tensor, torch.Tensor]:
    items = [ds[i] for i in range(len(ds))]
    return torch.stack([x for x, _ in items]), torch.tensor([y for _, y in items])


def _same_as_eager(eager: Any, lazy: LazyImageDataset) -> None:
    X, y = _stack(lazy)
    assert X.dtype == torch.uint8 and X.shape == eager.images.shape
    assert torch.equal(X, eager.images)
    assert torch.equal(y, eager.labels) and torch.equal(lazy.labels, eager.labels)
    assert lazy.classes == lazy.class_names == eager.class_names


def _half(image: torch.Tensor) -> torch.Tensor:
    """A picklable transform (module level) for the tests."""
    return image.float() / 2


@pytest.fixture
def csv_root(tmp_path: Path) -> Path:
    """6 random 20x24 PNGs, labels 0/1 alternating, in the CSV layout."""
    rng = np.random.default_rng(0)
    (tmp_path / "images").mkdir()
    lines = ["image_names,emergency_or_not"]
    for i in range(6):
        Image.fromarray(rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)).save(
            tmp_path / "images" / f"{i}.png"
        )
        lines.append(f"{i}.png,{i % 2}")
    (tmp_path / "labels.csv").write_text("\n".join(lines) + "\n")
    return tmp_path


# ---------------------------------------------------------------------------------------------
# the real images


def test_emergency_vehicles_lazy_equals_eager(vehicles_dir: Path) -> None:
    eager = load_image_csv(vehicles_dir, size=32)
    lazy = load_image_csv(vehicles_dir, size=32, lazy=True)
    assert isinstance(lazy, LazyImageDataset) and len(lazy) == 201
    _same_as_eager(eager, lazy)


def test_vehicles_full_discovery_and_items(tmp_path: Path) -> None:
    lazy = load_image_csv(VEHICLES_FULL, size=24, lazy=True)
    with (VEHICLES_FULL / "train.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(lazy) == len(rows) == 1646
    assert lazy.classes == ["0", "1"]
    assert lazy.files == [VEHICLES_FULL / "images" / r["image_names"] for r in rows]
    assert lazy.labels.tolist() == [int(r["emergency_or_not"]) for r in rows]
    # a few rows far apart, through the eager loader on a CSV of just those rows
    picks = [0, 823, 1645]
    (tmp_path / "few.csv").write_text(
        "image_names,emergency_or_not\n"
        + "".join(f"{rows[i]['image_names']},{rows[i]['emergency_or_not']}\n" for i in picks)
    )
    few = load_image_csv(
        tmp_path, "few.csv", size=24, images_dir=VEHICLES_FULL / "images", classes=["0", "1"]
    )
    for k, i in enumerate(picks):
        x, y = lazy[i]
        assert torch.equal(x, few.images[k]) and y == int(few.labels[k])


def test_intel_scenes_discovery_and_a_subset(tmp_path: Path) -> None:
    lazy = load_image_folder(INTEL, size=16, lazy=True)
    classes = sorted(p.name for p in INTEL.iterdir() if p.is_dir())
    files = [f for k in classes for f in sorted((INTEL / k).iterdir())]
    assert lazy.classes == classes and len(classes) == 6
    assert lazy.files == files and len(lazy) == 2400
    assert lazy.labels.tolist() == [classes.index(f.parent.name) for f in files]
    for name in classes:  # 4 real photos a class, linked: eager and lazy agree bit for bit
        (tmp_path / name).mkdir()
        for f in sorted((INTEL / name).iterdir())[:4]:
            (tmp_path / name / f.name).symlink_to(f)
    _same_as_eager(
        load_image_folder(tmp_path, size=40), load_image_folder(tmp_path, size=40, lazy=True)
    )


def test_dataloader_workers_give_the_same_batches_and_pickle(vehicles_dir: Path) -> None:
    lazy = load_image_csv(vehicles_dir, size=16, lazy=True)
    subset = torch.utils.data.Subset(lazy, range(40))
    serial = list(DataLoader(subset, batch_size=8, num_workers=0))
    parallel = list(DataLoader(subset, batch_size=8, num_workers=2))
    assert len(serial) == len(parallel) == 5
    for (xa, ya), (xb, yb) in zip(serial, parallel, strict=True):
        assert xa.shape == (8, 3, 16, 16) and ya.dtype == torch.int64
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    copy = pickle.loads(pickle.dumps(lazy))
    assert copy.files == lazy.files and torch.equal(copy[7][0], lazy[7][0])


def test_trainer_fits_on_the_lazy_dataset(vehicles_dir: Path) -> None:
    lazy = load_image_csv(vehicles_dir, size=16, lazy=True)
    model = ModelBuilder(3, len(lazy.classes), 16).conv(4).build()
    history = Trainer(max_epochs=1, batch_size=64, device="cpu", seed=0, progress=False).fit(
        model, lazy
    )
    assert len(history.train_loss) == 1 and np.isfinite(history.train_loss[0])


# ---------------------------------------------------------------------------------------------
# errors: the eager path's, word for word


def _eager_and_lazy_error(expected: type[Exception], **kwargs: Any) -> None:
    loader = kwargs.pop("loader")
    with pytest.raises(expected) as eager:
        loader(**kwargs)
    with pytest.raises(expected) as lazy:
        loader(**kwargs, lazy=True)
    assert str(lazy.value) == str(eager.value)


def test_same_errors_as_eager(csv_root: Path, tmp_path: Path) -> None:
    _eager_and_lazy_error(FileNotFoundError, loader=load_image_folder, root=tmp_path / "nope")
    _eager_and_lazy_error(FileNotFoundError, loader=load_image_csv, root=tmp_path / "nope")
    _eager_and_lazy_error(ValueError, loader=load_image_csv, root=csv_root, label_column="cls")
    _eager_and_lazy_error(TypeError, loader=load_image_csv, root=csv_root, size="big")
    _eager_and_lazy_error(ValueError, loader=load_image_csv, root=csv_root, size=0)
    _eager_and_lazy_error(ValueError, loader=load_image_csv, root=csv_root, on_error="ignore")
    (csv_root / "images" / "3.png").unlink()
    _eager_and_lazy_error(FileNotFoundError, loader=load_image_csv, root=csv_root, size=8)


def test_eager_only_options_are_refused_with_lazy(csv_root: Path) -> None:
    with pytest.raises(ValueError, match="cache"):
        load_image_csv(csv_root, lazy=True, cache=True)
    with pytest.raises(ValueError, match="num_workers"):
        load_image_csv(csv_root, lazy=True, num_workers=2)
    with pytest.raises(ValueError, match="lazy=True"):
        load_image_csv(csv_root, transform=_half)
    with pytest.raises(TypeError, match="callable"):
        load_image_csv(csv_root, lazy=True, transform=3)  # type: ignore[call-overload]


def test_transform_hook_and_indexing(csv_root: Path) -> None:
    plain = load_image_csv(csv_root, size=8, lazy=True)
    halved = load_image_csv(csv_root, size=8, lazy=True, transform=_half)
    x, y = halved[-1]
    assert x.dtype == torch.float32 and torch.equal(x, plain[5][0].float() / 2) and y == 1
    with pytest.raises(IndexError, match="out of range"):
        plain[6]
    assert "6 images" in repr(plain)
    assert pickle.loads(pickle.dumps(halved))[0][0].dtype == torch.float32


def test_skip_missing_at_construction_corrupt_on_access(csv_root: Path) -> None:
    (csv_root / "images" / "1.png").unlink()
    (csv_root / "images" / "3.png").write_bytes(b"not an image")
    with open(csv_root / "labels.csv", "a") as fh:
        fh.write("6.png,\n")  # a blank label: a row the discovery step leaves out
    with pytest.warns(UserWarning) as eager_warning:
        eager = load_image_csv(csv_root, size=8, on_error="skip")
    with pytest.warns(UserWarning, match=r"skipped 2 item\(s\)") as lazy_warning:
        lazy = load_image_csv(csv_root, size=8, on_error="skip", lazy=True)
    assert "blank label" in str(lazy_warning[0].message)
    assert "image file not found" in str(lazy_warning[0].message)
    assert "skipped 3 item(s)" in str(eager_warning[0].message)  # + the corrupt file
    assert len(eager.images) == 4 and len(lazy) == 5  # 0, 2, 3 (corrupt), 4, 5
    assert [f.name for f in lazy.files] == ["0.png", "2.png", "3.png", "4.png", "5.png"]
    # the corrupt file: replaced by the next item that decodes, with a warning, once
    with pytest.warns(UserWarning, match="3.png"):
        x, y = lazy[2]
    assert torch.equal(x, eager.images[2]) and y == int(eager.labels[2])  # that is 4.png
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert torch.equal(lazy[2][0], x)  # remembered: no second decode, no second warning
    # with on_error="raise" the eager loader's error, raised when the item is decoded
    raising = LazyImageDataset(lazy.files, lazy.labels.tolist(), lazy.classes, size=8)
    with pytest.raises(ValueError) as on_access:
        raising[2]
    with pytest.raises(ValueError) as eager_error:
        load_image_csv(csv_root, size=8, classes=["0", "1"], csv=_drop_rows(csv_root, "1.png"))
    assert str(on_access.value) == str(eager_error.value)


def _drop_rows(root: Path, name: str) -> str:
    rows = [r for r in (root / "labels.csv").read_text().splitlines() if not r.startswith(name)]
    (root / "kept.csv").write_text("\n".join(r for r in rows if not r.endswith(",")) + "\n")
    return "kept.csv"


def test_size_none_mismatch_named_like_eager(csv_root: Path) -> None:
    Image.new("RGB", (10, 10)).save(csv_root / "images" / "4.png")
    with pytest.raises(ValueError) as eager:
        load_image_csv(csv_root, size=None)
    lazy = load_image_csv(csv_root, size=None, lazy=True)
    assert lazy[0][0].shape == (3, 20, 24)
    with pytest.raises(ValueError) as on_access:
        lazy[4]
    assert str(on_access.value) == str(eager.value)


def test_constructor_checks_its_arguments(csv_root: Path) -> None:
    files = sorted((csv_root / "images").iterdir())
    with pytest.raises(ValueError, match="6 files but 2 labels"):
        LazyImageDataset(files, [0, 1], ["a", "b"])
    with pytest.raises(ValueError, match="label 2 is outside"):
        LazyImageDataset(files, [0, 1, 2, 0, 1, 0], ["a", "b"])
    with pytest.raises(ValueError, match="on_error"):
        LazyImageDataset(files, [0] * 6, ["a"], on_error="ignore")  # type: ignore[arg-type]
