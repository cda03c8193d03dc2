"""Exact-duplicate detection and removal, on planted copies and on the case study's real photos."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from cnnkit.data import deduplicate, duplicate_groups, load_image_csv, train_val_split
from cnnkit.diagnosis import check_data

VEHICLES_FULL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "vehicles_full"


@given(st.lists(st.integers(0, 5), min_size=1, max_size=30))
def test_groups_are_exactly_the_equal_images(codes: list[int]) -> None:
    """Image i is filled with codes[i]: images are equal exactly when their codes are."""
    x = torch.stack([torch.full((3, 4, 4), c, dtype=torch.uint8) for c in codes])
    expected = []
    for c in sorted(set(codes), key=codes.index):
        idx = [i for i, v in enumerate(codes) if v == c]
        if len(idx) > 1:
            expected.append(idx)
    assert duplicate_groups(x) == expected


def test_one_differing_pixel_is_not_a_duplicate() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (2, 3, 8, 8), dtype=torch.uint8, generator=g)
    x[1] = x[0]
    assert duplicate_groups(x) == [[0, 1]]
    x[1, 2, 7, 7] ^= 1
    assert duplicate_groups(x) == []


def test_deduplicate_keeps_first_and_handles_conflicting_labels() -> None:
    x = torch.zeros(5, 1, 2, 2, dtype=torch.uint8)
    x[1], x[3] = 1, 2  # groups: {0, 2, 4} (all zeros), 1 and 3 unique
    y = torch.tensor([0, 1, 0, 1, 0])
    images, labels, kept = deduplicate(x, y)
    assert kept.tolist() == [0, 1, 3] and labels.tolist() == [0, 1, 1]
    assert torch.equal(images, x[[0, 1, 3]])
    y_conflict = torch.tensor([0, 1, 1, 1, 0])
    with pytest.warns(UserWarning, match="1 group"):
        _, _, kept = deduplicate(x, y_conflict)
    assert kept.tolist() == [1, 3]
    with pytest.warns(UserWarning, match="kept the first"):
        _, labels, kept = deduplicate(x, y_conflict, conflicting="first")
    assert kept.tolist() == [0, 1, 3] and labels.tolist() == [0, 1, 1]


def test_bad_input() -> None:
    x = torch.zeros(2, 1, 2, 2)
    with pytest.raises(ValueError, match="2 images but 3 labels"):
        deduplicate(x, torch.zeros(3, dtype=torch.int64))
    with pytest.raises(ValueError, match="use one of"):
        deduplicate(x, torch.zeros(2, dtype=torch.int64), conflicting="last")
    with pytest.raises(ValueError, match="non-empty"):
        duplicate_groups(torch.zeros(0, 3, 2, 2))


def test_real_data_set_split_leaks_until_deduplicated() -> None:
    """The original 1646 photos hold copies; a plain split leaks them, a deduplicated one not."""
    X, y, _ = load_image_csv(VEHICLES_FULL, size=32)
    train, val = train_val_split(X, y, val_fraction=0.1, stratify=True, seed=0)
    leaks = [f for f in check_data(*train, val=val, num_classes=2) if "duplicate" in f.code]
    assert leaks, "the plain split should put copies of training images into validation"
    with pytest.warns(UserWarning, match="different labels"):
        Xd, yd, kept = deduplicate(X, y)
    assert 1400 < len(kept) < len(y) and duplicate_groups(Xd) == []
    train, val = train_val_split(Xd, yd, val_fraction=0.1, stratify=True, seed=0)
    assert not [f for f in check_data(*train, val=val, num_classes=2) if "duplicate" in f.code]
