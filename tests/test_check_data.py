"""Tests of cnnkit.diagnosis.check_data, on the real vehicle photos and on crafted arrays."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from cnnkit.diagnosis import Finding, Severity, check_data

LAYOUT_CODES = {"channels-last", "reshape-scramble", "no-spatial-correlation", "unusual-channels"}


def _codes(findings: list[Finding]) -> set[str]:
    return {f.code for f in findings}


def _load(vehicles_dir: Path, size: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    """``count`` photos, both classes, as NHWC uint8 at ``size`` x ``size`` (as files decode)."""
    with (vehicles_dir / "labels.csv").open() as f:
        rows = list(csv.DictReader(f))[:count]
    images = []
    for r in rows:
        with Image.open(vehicles_dir / "images" / r["image_names"]) as im:
            im.draft("RGB", (size, size))
            images.append(np.asarray(im.convert("RGB").resize((size, size))))
    labels = np.array([int(r["emergency_or_not"]) for r in rows])
    return np.stack(images), labels


@pytest.fixture(scope="module")
def photos224(vehicles_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    return _load(vehicles_dir, 224, 201)


@pytest.fixture(scope="module")
def photos32(vehicles_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    return _load(vehicles_dir, 32, 201)


@pytest.mark.parametrize("size", [224, 32])
def test_real_photos_correct_nchw_pass_layout_checks(
        size: int, photos224: tuple[np.ndarray, np.ndarray],
        photos32: tuple[np.ndarray, np.ndarray]) -> None:
    nhwc, y = photos224 if size == 224 else photos32
    X = torch.from_numpy(nhwc).permute(0, 3, 1, 2)  # the right way
    findings = check_data(X, torch.from_numpy(y), num_classes=2)
    assert not _codes(findings) & LAYOUT_CODES, [str(f) for f in findings]
    assert not [f for f in findings if f.severity == Severity.ERROR]
    assert _codes(findings) == {"small-training-set"}  # 201 photos: augmentation advised
    small = findings[0]
    assert small.remedies[0].change == {"augment": "default"}


@pytest.mark.parametrize("size", [224, 32])
def test_real_photos_reshaped_instead_of_permuted_are_caught(
        size: int, photos224: tuple[np.ndarray, np.ndarray],
        photos32: tuple[np.ndarray, np.ndarray]) -> None:
    nhwc, y = photos224 if size == 224 else photos32
    n = len(nhwc)
    scrambled = torch.from_numpy(nhwc).reshape(n, 3, size, size)  # the case study's bug
    findings = check_data(scrambled, y)
    f = next(f for f in findings if f.code == "reshape-scramble")
    assert f.severity == Severity.ERROR
    ev = f.evidence
    assert ev["corr_down"] < 0.5 < ev["corr_down_if_unscrambled"]
    # The repair the remedy prints restores the photos exactly.
    assert f"X.reshape(N, {size}, {size}, 3).permute(0, 3, 1, 2)" in f.remedies[0].text
    repaired = scrambled.reshape(n, size, size, 3).permute(0, 3, 1, 2)
    assert torch.equal(repaired, torch.from_numpy(nhwc).permute(0, 3, 1, 2))
    assert "reshape-scramble" not in _codes(check_data(repaired, y))


def test_channels_last_input(photos32: tuple[np.ndarray, np.ndarray]) -> None:
    nhwc, y = photos32
    findings = check_data(nhwc, y)
    assert findings[0].code == "channels-last" and findings[0].severity == Severity.ERROR
    assert "permute(0, 3, 1, 2)" in findings[0].remedies[0].text


def test_float_ranges(photos32: tuple[np.ndarray, np.ndarray]) -> None:
    nhwc, y = photos32
    X = nhwc.transpose(0, 3, 1, 2).astype(np.float32)
    f = next(f for f in check_data(X, y) if f.code == "unnormalized-range")
    assert f.evidence["max"] == pytest.approx(float(X.max()))
    assert "unnormalized-range" not in _codes(check_data(X / 255, y))
    standardized = (X - X.mean()) / X.std()
    assert "unnormalized-range" not in _codes(check_data(standardized, y))


def test_nan_and_constant_images() -> None:
    rng = np.random.default_rng(0)
    X = rng.random((20, 3, 16, 16)).astype(np.float32)
    X[5, 1, 2, 3] = np.nan
    X[7, 0, 0, 0] = np.inf
    X[9] = 0.5
    X[11] = 0.0
    findings = check_data(torch.from_numpy(X), np.arange(20) % 2)
    nonfinite = next(f for f in findings if f.code == "non-finite-inputs")
    assert (nonfinite.evidence["images"], nonfinite.evidence["first_index"]) == (2, 5)
    const = next(f for f in findings if f.code == "constant-images")
    assert (const.evidence["images"], const.severity) == (2, Severity.WARNING)
    assert next(f for f in check_data(np.zeros((4, 3, 8, 8)), np.arange(4) % 2)
                if f.code == "constant-images").severity == Severity.ERROR


def test_random_noise_has_no_spatial_correlation() -> None:
    X = np.random.default_rng(1).integers(0, 256, (32, 3, 32, 32), dtype=np.uint8)
    f = next(f for f in check_data(X, np.arange(32) % 2) if f.code == "no-spatial-correlation")
    assert f.severity == Severity.WARNING and abs(f.evidence["corr_across"]) < 0.1


def test_labels() -> None:
    X = np.random.default_rng(2).random((10, 1, 8, 8)).astype(np.float32)
    out = next(f for f in check_data(X, np.array([0, 1, 2, 3, 1, 0, 1, 0, 1, 5]), num_classes=3)
               if f.code == "labels-out-of-range")
    assert (out.evidence["count"], out.evidence["max"]) == (2, 5)  # the 3 and the 5
    assert "labels-out-of-range" in _codes(check_data(X, np.array([0, -1] * 5)))
    assert "non-integer-labels" in _codes(check_data(X, np.array([0.0, 0.5] * 5)))
    one_hot = np.eye(2)[np.arange(10) % 2]
    assert not {"bad-labels", "labels-out-of-range"} & _codes(check_data(X, one_hot, num_classes=2))
    assert "length-mismatch" in _codes(check_data(X, np.zeros(9, dtype=np.int64)))
    missing = next(f for f in check_data(X, np.zeros(10, dtype=np.int64), num_classes=3)
                   if f.code == "missing-classes")
    assert missing.evidence["counts"] == [10, 0, 0]


def test_class_imbalance_reports_majority_chance() -> None:
    X = np.random.default_rng(3).random((100, 1, 8, 8)).astype(np.float32)
    y = np.array([0] * 90 + [1] * 10)
    f = next(f for f in check_data(X, y) if f.code == "class-imbalance")
    assert f.evidence["counts"] == [90, 10] and f.evidence["majority_fraction"] == 0.9
    assert "chance_accuracy=0.900" in f.remedies[0].text
    assert "class-imbalance" not in _codes(check_data(X, np.array([0, 1] * 50)))


def test_train_val_duplicates(photos32: tuple[np.ndarray, np.ndarray]) -> None:
    nhwc, y = photos32
    X = np.ascontiguousarray(nhwc.transpose(0, 3, 1, 2))
    Xtr, ytr, Xv, yv = X[:150], y[:150], X[150:].copy(), y[150:]
    assert "train-val-duplicates" not in _codes(check_data(Xtr, ytr, val=(Xv, yv)))
    Xv[[4, 10, 30]] = Xtr[[0, 77, 149]]
    f = next(f for f in check_data(Xtr, ytr, val=(Xv, yv)) if f.code == "train-val-duplicates")
    assert f.evidence["count"] == 3 and f.evidence["val_indices"] == [4, 10, 30]
    Xv[4, 0, 0, 0] ^= 1  # one bit off is not an exact duplicate
    f = next(f for f in check_data(Xtr, ytr, val=(Xv, yv)) if f.code == "train-val-duplicates")
    assert f.evidence["val_indices"] == [10, 30]


def test_validation_set_is_checked_too(photos32: tuple[np.ndarray, np.ndarray]) -> None:
    nhwc, y = photos32
    X = nhwc.transpose(0, 3, 1, 2)
    findings = check_data(X[:150], y[:150], val=(nhwc[150:], y[150:]))
    f = next(f for f in findings if f.code == "channels-last")
    assert f.evidence["split"] == "val" and f.message.startswith("validation")
    assert "val-shape-mismatch" in _codes(findings)


def test_bad_shapes_and_types() -> None:
    bad = check_data(np.zeros((4, 8, 8)), np.zeros(4, dtype=np.int64))
    assert bad[0].code == "bad-shape" and "unsqueeze(1)" in bad[0].message
    assert "empty" in _codes(check_data(np.zeros((0, 3, 8, 8)), np.zeros(0, dtype=np.int64)))
    with pytest.raises(TypeError, match="X must be"):
        check_data("images", [0, 1])
    with pytest.raises(ValueError, match="num_classes"):
        check_data(np.zeros((2, 3, 8, 8)), np.zeros(2, dtype=np.int64), num_classes=0)
    with pytest.raises(ValueError, match="pair"):
        check_data(np.zeros((2, 3, 8, 8)), np.zeros(2, dtype=np.int64), val=np.zeros(3))  # type: ignore[arg-type]


def test_grayscale_photos_pass_and_grayscale_noise_is_flagged(
        photos32: tuple[np.ndarray, np.ndarray]) -> None:
    nhwc, y = photos32
    grey = nhwc.mean(axis=3, keepdims=True).transpose(0, 3, 1, 2).astype(np.float32) / 255
    assert not _codes(check_data(grey, y)) & LAYOUT_CODES
    noise = np.random.default_rng(5).random(grey.shape).astype(np.float32)
    assert "no-spatial-correlation" in _codes(check_data(noise, y))


@given(hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=5, max_side=6),
                  elements=st.floats(allow_nan=True, allow_infinity=True, width=32)),
       hnp.arrays(np.int64, hnp.array_shapes(min_dims=1, max_dims=2, max_side=6),
                  elements=st.integers(-3, 9)),
       st.one_of(st.none(), st.integers(1, 5)))
def test_arbitrary_arrays_give_findings_never_a_crash(
        X: np.ndarray, y: np.ndarray, num_classes: int | None) -> None:
    findings = check_data(X, y, num_classes=num_classes, val=(X, y))
    assert all(isinstance(f, Finding) for f in findings)
    for f in findings:
        assert str(f) and f.to_dict()["code"] == f.code
