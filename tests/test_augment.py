"""Tests of ``cnnkit.augment``: batched, per-image random augmentations."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor, nn

from cnnkit.augment import (
    ColorJitter,
    Compose,
    CutMix,
    Mixup,
    MixupOrCutMix,
    RandomAffine,
    RandomChoice,
    RandomCrop,
    RandomErasing,
    RandomFlip,
    RandomResizedCrop,
    default,
)
from cnnkit.augment.sampling import _sample_beta
from cnnkit.augment.warp import _affine_grid


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def images(n: int = 8, c: int = 3, h: int = 16, w: int = 16, seed: int = 0) -> Tensor:
    return torch.rand(n, c, h, w, generator=gen(seed))


# Factories of every shape-preserving image augmentation, at p=1 unless the default is used.
SAME_SHAPE: dict[str, Callable[[float, torch.Generator | None], nn.Module]] = {
    "flip_h": lambda p, g: RandomFlip("horizontal", p=p, generator=g),
    "flip_v": lambda p, g: RandomFlip("vertical", p=p, generator=g),
    "flip_both": lambda p, g: RandomFlip("both", p=p, generator=g),
    "affine": lambda p, g: RandomAffine(
        degrees=20, translate=(0.1, 0.2), scale=(0.8, 1.2), shear=(-5, 5, -5, 5), p=p, generator=g
    ),
    "jitter": lambda p, g: ColorJitter(0.4, 0.4, 0.4, p=p, generator=g),
    "erasing": lambda p, g: RandomErasing(p=p, scale=(0.05, 0.3), generator=g),
}


def crop_same_size(x: Tensor, p: float, g: torch.Generator | None) -> Tensor:
    """RandomCrop keeping the input size (as used with padding)."""
    size = (x.shape[-2], x.shape[-1])
    return RandomCrop(size, padding=(3, 4), padding_mode="reflect", p=p, generator=g)(x)


def augment(name: str, x: Tensor, p: float, g: torch.Generator | None) -> Tensor:
    """Apply the named same-shape augmentation (``"crop"``: padded crop to the input size)."""
    if name == "crop":
        return crop_same_size(x, p, g)
    return SAME_SHAPE[name](p, g)(x)  # type: ignore[no-any-return]


NAMES = [*sorted(SAME_SHAPE), "crop"]


DTYPES = [torch.float32, torch.float64, torch.uint8]


def as_dtype(x: Tensor, dtype: torch.dtype) -> Tensor:
    return (x * 255).round().to(torch.uint8) if dtype == torch.uint8 else x.to(dtype)


# ------------------------------------------------------------------ shapes and dtypes


@settings(max_examples=30)
@given(
    name=st.sampled_from(NAMES),
    n=st.integers(1, 5),
    c=st.sampled_from([1, 3]),
    h=st.integers(10, 24),
    w=st.integers(10, 24),
    dtype=st.sampled_from(DTYPES),
)
def test_shape_and_dtype_preserved(
    name: str, n: int, c: int, h: int, w: int, dtype: torch.dtype
) -> None:
    x = as_dtype(torch.rand(n, c, h, w, generator=gen(n * h + w)), dtype)
    out = augment(name, x, 1.0, gen(1))
    assert out.shape == x.shape
    assert out.dtype == x.dtype
    assert out.device == x.device


@settings(max_examples=20)
@given(
    n=st.integers(1, 4),
    c=st.integers(1, 5),
    h=st.integers(6, 30),
    w=st.integers(6, 30),
    oh=st.integers(1, 12),
    ow=st.integers(1, 12),
    dtype=st.sampled_from(DTYPES),
)
def test_crops_produce_requested_size(
    n: int, c: int, h: int, w: int, oh: int, ow: int, dtype: torch.dtype
) -> None:
    x = as_dtype(torch.rand(n, c, h, w, generator=gen(0)), dtype)
    for aug in (
        RandomCrop((oh, ow), padding=3, padding_mode="symmetric", generator=gen(0)),
        RandomResizedCrop((oh, ow), generator=gen(0)),
    ):
        out = aug(x)
        assert out.shape == (n, c, oh, ow)
        assert out.dtype == dtype


@settings(max_examples=15)
@given(n=st.integers(1, 6), c=st.integers(1, 5), dtype=st.sampled_from(DTYPES))
def test_any_channel_count_for_geometric_transforms(n: int, c: int, dtype: torch.dtype) -> None:
    x = as_dtype(torch.rand(n, c, 12, 14, generator=gen(c)), dtype)
    for aug in (
        RandomFlip("both", generator=gen(0)),
        RandomAffine(10, generator=gen(0)),
        RandomErasing(p=1.0, generator=gen(0)),
        ColorJitter(brightness=0.3, contrast=0.3, generator=gen(0)),
        *([default(generator=gen(0))] if c in (1, 3) else []),  # saturation needs RGB or gray
    ):
        out = aug(x)
        assert out.shape == x.shape and out.dtype == x.dtype


def test_empty_batch_is_returned_unchanged() -> None:
    x = torch.rand(0, 3, 8, 8)
    assert default()(x).shape == (0, 3, 8, 8)
    out, y = Mixup(2)(x, torch.zeros(0, dtype=torch.long))
    assert out.shape == (0, 3, 8, 8) and y.shape == (0, 2)


# ------------------------------------------------------------------ exact behaviours


def test_flip_twice_is_identity() -> None:
    x = images()
    flip = RandomFlip("both", p=1.0)
    assert torch.equal(flip(flip(x)), x)
    # With p=0.5, the same seed selects the same images both times.
    once = RandomFlip("horizontal", p=0.5, generator=gen(3))(x)
    twice = RandomFlip("horizontal", p=0.5, generator=gen(3))(once)
    assert torch.equal(twice, x)
    assert not torch.equal(once, x)


def test_horizontal_flip_reverses_columns() -> None:
    x = torch.arange(12.0).view(1, 1, 3, 4)
    assert torch.equal(RandomFlip("horizontal", p=1.0)(x), x.flip(-1))
    assert torch.equal(RandomFlip("vertical", p=1.0)(x), x.flip(-2))


@pytest.mark.parametrize("dtype", DTYPES)
def test_zero_affine_is_identity(dtype: torch.dtype) -> None:
    x = as_dtype(images(h=15, w=21), dtype)
    aug = RandomAffine(degrees=0, translate=(0, 0), scale=(1, 1), shear=0, p=1.0)
    out = aug(x)
    if dtype == torch.uint8:
        assert torch.equal(out, x)
    else:
        torch.testing.assert_close(out, x, atol=1e-5, rtol=0)


@settings(max_examples=10)
@given(n=st.integers(1, 4), h=st.integers(1, 20), w=st.integers(1, 20), seed=st.integers(0, 9))
def test_affine_grid_matches_torch(n: int, h: int, w: int, seed: int) -> None:
    theta = torch.randn(n, 2, 3, generator=gen(seed))
    expected = F.affine_grid(theta, [n, 1, h, w], align_corners=False)
    torch.testing.assert_close(_affine_grid(theta, (h, w)), expected, atol=1e-5, rtol=1e-5)


def test_affine_rotation_by_90_degrees_matches_rot90() -> None:
    x = images(h=9, w=9)
    out = RandomAffine(degrees=(90, 90))(x)
    # Positive angles rotate counter-clockwise, like torchvision.
    torch.testing.assert_close(out, torch.rot90(x, 1, dims=(-2, -1)), atol=1e-5, rtol=0)
    x2 = images(h=6, w=10)
    torch.testing.assert_close(
        RandomAffine(degrees=(180, 180))(x2), x2.flip(-1).flip(-2), atol=1e-5, rtol=0
    )


def test_affine_scale_zooms_about_the_centre() -> None:
    # A 2x zoom maps a centred 2x2 block of ones onto a centred 4x4 block.
    x = torch.zeros(1, 1, 8, 8)
    x[..., 3:5, 3:5] = 1.0
    out = RandomAffine(degrees=0, scale=(2.0, 2.0), interpolation="nearest")(x)
    expected = torch.zeros(1, 1, 8, 8)
    expected[..., 2:6, 2:6] = 1.0
    assert torch.equal(out, expected)


def test_affine_fill_value_outside_the_image() -> None:
    x = torch.zeros(2, 3, 16, 16)
    out = RandomAffine(degrees=(45, 45), fill=0.5)(x)
    assert torch.isclose(out[..., 0, 0], torch.tensor(0.5)).all()  # corners come from outside
    assert torch.isclose(out[..., 8, 8], torch.tensor(0.0)).all()  # the centre stays inside


def test_random_crop_constant_padding_matches_a_window_of_the_padded_image() -> None:
    x = images(n=6, h=8, w=8)
    for mode, torch_mode in (
        ("constant", "constant"),
        ("reflect", "reflect"),
        ("edge", "replicate"),
    ):
        out = RandomCrop(8, padding=3, padding_mode=mode, generator=gen(1))(x)  # type: ignore[arg-type]
        padded = F.pad(x, (3, 3, 3, 3), mode=torch_mode)
        for i in range(x.shape[0]):  # checking only: find each crop among all windows
            windows = padded[i].unfold(1, 8, 1).unfold(2, 8, 1)  # (C, 7, 7, 8, 8)
            match = (windows == out[i][:, None, None]).flatten(3).all(-1).all(0)
            assert match.any(), f"crop {i} with padding_mode={mode} is no window of the padding"


def test_resized_crop_at_scale_one_is_a_window_of_the_image() -> None:
    # A 8x8 box (a quarter of the area, ratio 1) resized to 8x8: an exact window of the input.
    x = images(n=6, h=16, w=16)
    out = RandomResizedCrop(8, scale=(0.25, 0.25), ratio=(1.0, 1.0), generator=gen(2))(x)
    for i in range(x.shape[0]):  # checking only: find each crop among all windows
        windows = x[i].unfold(1, 8, 1).unfold(2, 8, 1)  # (C, 9, 9, 8, 8)
        error = (windows - out[i][:, None, None]).abs().flatten(3).amax(-1).amax(0)
        assert float(error.min()) < 1e-5
    whole = RandomResizedCrop(16, scale=(1.0, 1.0), ratio=(1.0, 1.0))(x)
    torch.testing.assert_close(whole, x, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", ["affine", "jitter"])
def test_uint8_result_is_the_rounded_float_result(name: str) -> None:
    x = as_dtype(images(), torch.uint8)
    out_u8 = SAME_SHAPE[name](1.0, gen(4))(x)
    out_float = SAME_SHAPE[name](1.0, gen(4))(x.float())
    expected = out_float.round().clamp(0, 255).to(torch.uint8)
    assert (out_u8.int() - expected.int()).abs().max() <= 1  # float32 rounding at .5 only


def test_colour_jitter_factors_are_per_image_and_in_range() -> None:
    x = images(n=64) * 0.5 + 0.25
    out = ColorJitter(brightness=0.3, generator=gen(0))(x)
    ratio = out / x
    per_image = ratio.flatten(1)
    torch.testing.assert_close(per_image.min(1).values, per_image.max(1).values)  # one factor
    factors = per_image[:, 0]
    assert factors.min() >= 0.7 - 1e-6 and factors.max() <= 1.3 + 1e-6
    assert factors.std() > 0.1  # spread over the range (uniform on [0.7, 1.3]: std 0.17)


def test_zero_saturation_gives_gray_and_zero_contrast_gives_the_mean() -> None:
    x = images()
    gray = ColorJitter(saturation=(0.0, 0.0))(x)
    torch.testing.assert_close(gray[:, 0], gray[:, 1])
    torch.testing.assert_close(gray[:, 1], gray[:, 2])
    luma = 0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]
    torch.testing.assert_close(gray[:, 0], luma)
    flat = ColorJitter(contrast=(0.0, 0.0))(x)
    mean = luma.mean(dim=(1, 2)).view(-1, 1, 1, 1).expand_as(x)
    torch.testing.assert_close(flat, mean)


def test_colour_jitter_value_range_clamps_and_uint8_saturates() -> None:
    x = torch.full((4, 3, 4, 4), 0.9)
    out = ColorJitter(brightness=(1.5, 1.5), value_range=(0.0, 1.0))(x)
    assert torch.equal(out, torch.ones_like(x))
    u = torch.full((4, 3, 4, 4), 200, dtype=torch.uint8)
    assert torch.equal(ColorJitter(brightness=(1.5, 1.5))(u), torch.full_like(u, 255))


def test_erasing_area_fraction_within_scale() -> None:
    x = torch.ones(200, 3, 20, 20)
    out = RandomErasing(p=1.0, scale=(0.1, 0.2), ratio=(0.5, 2.0), generator=gen(0))(x)
    fraction = (out[:, 0] == 0).float().mean(dim=(1, 2))
    # Rounding the box sides to whole pixels moves the area a little off the exact range.
    assert fraction.min() >= 0.07 and fraction.max() <= 0.24
    assert (out == 0).all(dim=1).eq(out[:, 0] == 0).all()  # same box in every channel


# ------------------------------------------------------------------ probability p


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.uint8])
def test_p_zero_is_identity(name: str, dtype: torch.dtype) -> None:
    x = as_dtype(images(), dtype)
    assert torch.equal(augment(name, x, 0.0, gen(0)), x)


def test_p_zero_is_identity_for_crops_and_mixing() -> None:
    x = images()
    assert torch.equal(RandomResizedCrop(16, p=0.0)(x), x)
    y = torch.arange(8) % 3
    for mix in (Mixup(3, p=0.0), CutMix(3, p=0.0), MixupOrCutMix(3, p=0.0)):
        out, soft = mix(x, y)
        assert torch.equal(out, x)
        assert torch.equal(soft, F.one_hot(y, 3).float())


@pytest.mark.parametrize("name", sorted(SAME_SHAPE))
def test_p_one_transforms_every_image(name: str) -> None:
    x = images(n=32)
    out = augment(name, x, 1.0, gen(0))
    changed = (out != x).flatten(1).any(1)
    assert changed.all(), f"{name} left images {changed.logical_not().nonzero().flatten().tolist()}"


def test_p_one_crops_and_mixing_change_every_image() -> None:
    x = images(n=32)
    # A padded crop keeps the image only at the centre offset: 1 of 7 * 9 offsets.
    kept = (crop_same_size(x, 1.0, gen(0)) == x).flatten(1).all(1)
    assert int(kept.sum()) <= 3
    assert (RandomResizedCrop(16, p=1.0, generator=gen(0))(x) != x).flatten(1).any(1).all()
    y = torch.arange(32) % 2
    out, _ = Mixup(2, alpha=1.0, generator=gen(0))(x, y)
    assert (out != x).flatten(1).any(1).all()


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_fraction_flipped_matches_p(p: float) -> None:
    # One row per image, so whether an image was flipped is directly visible.
    n = 4000
    x = torch.arange(4.0).view(1, 1, 1, 4).repeat(n, 1, 1, 1)
    out = RandomFlip(p=p, generator=gen(7))(x)
    flipped = int((out[:, 0, 0, 0] == 3.0).sum())
    sd = math.sqrt(n * p * (1 - p))  # binomial standard deviation
    # Tolerance: 4 standard deviations (a correct implementation fails 6e-5 of seeds).
    assert abs(flipped - n * p) <= 4 * sd, (
        f"flipped {flipped} of {n}, expected {n * p} ± {4 * sd:.0f}"
    )


@pytest.mark.parametrize("name", ["affine", "jitter", "erasing", "crop"])
def test_fraction_transformed_matches_p(name: str) -> None:
    n, p = 2000, 0.3
    x = images(n=n, h=8, w=8)
    out = augment(name, x, p, gen(11))
    changed = int((out != x).flatten(1).any(1).sum())
    sd = math.sqrt(n * p * (1 - p))
    assert abs(changed - n * p) <= 4 * sd


# ------------------------------------------------------------------ per-image parameters


@pytest.mark.parametrize("name", ["affine", "jitter", "erasing", "crop"])
def test_parameters_differ_within_a_batch(name: str) -> None:
    # The same image repeated: outputs differ only if each image draws its own parameters.
    n = 16
    x = images(n=1, h=20, w=20).repeat(n, 1, 1, 1)
    out = augment(name, x, 1.0, gen(0))
    distinct = {tuple(o.flatten().tolist()) for o in out}
    # Continuous parameters never repeat; the crop has 9 * 9 offsets, so a few draws can.
    assert len(distinct) >= (12 if name == "crop" else n)


def test_flip_decisions_differ_within_a_batch() -> None:
    x = images(n=1).repeat(64, 1, 1, 1)
    out = RandomFlip(p=0.5, generator=gen(0))(x)
    flipped = (out == x.flip(-1)).flatten(1).all(1)
    assert 0 < int(flipped.sum()) < 64


# ------------------------------------------------------------------ mixup / cutmix


def indexed_batch(n: int) -> tuple[Tensor, Tensor]:
    """Image ``i`` is the constant ``i``, with label ``i``: pixel content reveals the mixing."""
    x = torch.arange(float(n)).view(n, 1, 1, 1).expand(n, 3, 12, 12).contiguous()
    return x, torch.arange(n)


@pytest.mark.parametrize("mix_cls", [Mixup, CutMix, MixupOrCutMix])
def test_mixing_targets_sum_to_one_and_match_the_pixels(mix_cls: type[MixupOrCutMix]) -> None:
    n = 16
    x, y = indexed_batch(n)
    out, soft = mix_cls(num_classes=n, generator=gen(0))(x, y)
    assert soft.shape == (n, n) and soft.dtype == torch.float32
    torch.testing.assert_close(soft.sum(1), torch.ones(n))
    assert (soft >= 0).all()
    # The mean pixel value of a mixed image is the label-weighted mean of the source values.
    expected = soft @ torch.arange(float(n))
    torch.testing.assert_close(out.mean(dim=(1, 2, 3)), expected, atol=1e-4, rtol=0)
    # Every image is mixed with at most one other, never with itself.
    assert ((soft > 0).sum(1) <= 2).all()
    assert (soft.diagonal() > 0).all()


def test_cutmix_pastes_a_box_and_mixup_blends() -> None:
    x, y = indexed_batch(8)
    out, _ = CutMix(8, generator=gen(1))(x, y)
    values_per_image = [set(o.unique().tolist()) for o in out]
    assert all(len(v) <= 2 for v in values_per_image)  # original + one pasted box, no blending
    out, _ = Mixup(8, alpha=1.0, generator=gen(1))(x, y)
    assert all(o.unique().numel() == 1 for o in out)  # constant images stay constant


def test_mixing_soft_targets_and_uint8() -> None:
    x = (images() * 255).to(torch.uint8)
    soft = torch.softmax(torch.randn(8, 4, generator=gen(0)), dim=1)
    out, mixed = MixupOrCutMix(4, generator=gen(0))(x, soft)
    assert out.dtype == torch.uint8
    torch.testing.assert_close(mixed.sum(1), torch.ones(8))


def test_beta_sampler_matches_known_moments() -> None:
    # Beta(a, a): mean 1/2, variance 1 / (4 (2a + 1)). n = 20000: standard error of the mean
    # is at most 0.5 / sqrt(n) = 0.0035; the tolerances are about 4 standard errors.
    n = 20_000
    for alpha in (0.2, 1.0, 4.0):
        b = _sample_beta(alpha, n, gen(5), torch.device("cpu"))
        assert ((b >= 0) & (b <= 1)).all()
        assert abs(float(b.mean()) - 0.5) < 0.015
        assert abs(float(b.var()) - 1 / (4 * (2 * alpha + 1))) < 0.01


# ------------------------------------------------------------------ reproducibility


def test_reproducible_with_a_generator() -> None:
    x = images()
    y = torch.arange(8) % 2

    def pipeline(seed: int) -> nn.Module:
        g = gen(seed)
        return Compose(
            [
                default(1.0, generator=g),
                RandomResizedCrop(12, generator=g),
                RandomCrop(12, padding=2, generator=g),
                MixupOrCutMix(2, generator=g),
            ]
        )

    a, ya = pipeline(0)(x, y)
    b, yb = pipeline(0)(x, y)
    c, _ = pipeline(1)(x, y)
    assert torch.equal(a, b) and torch.equal(ya, yb)
    assert not torch.equal(a, c)


def test_reproducible_with_the_global_seed() -> None:
    x = images()
    torch.manual_seed(3)
    a = default()(x)
    torch.manual_seed(3)
    assert torch.equal(default()(x), a)


# ------------------------------------------------------------------ containers, API


def test_targets_pass_through_image_transforms_and_compose() -> None:
    x, y = images(), torch.arange(8) % 2
    out, y_out = default(generator=gen(0))(x, y)
    assert out.shape == x.shape and y_out is y
    out, soft = Compose([RandomFlip(), Mixup(2)])(x, y)
    assert soft.shape == (8, 2)
    _, soft = RandomChoice([Mixup(2), CutMix(2)], generator=gen(0))(x, y)
    torch.testing.assert_close(soft.sum(1), torch.ones(8))


def test_default_pipeline_settings_and_strength() -> None:
    assert len(default(0.0)) == 0
    x = images()
    assert torch.equal(default(0.0)(x), x)
    aug = default(2.0)
    affine = aug.transforms[1]
    assert isinstance(affine, RandomAffine) and affine.degrees == (-30.0, 30.0)
    assert "RandomFlip" in repr(aug) and "ColorJitter" in repr(aug)


def test_modules_move_with_to_and_have_no_parameters() -> None:
    aug = default()
    assert list(aug.parameters()) == []
    assert aug.to(torch.float64) is aug


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: RandomFlip(p=1.5), "p must be a probability"),
        (lambda: RandomFlip(p=-0.1), "p must be a probability"),
        (lambda: RandomFlip("diagonal"), "direction"),  # type: ignore[arg-type]
        (lambda: RandomFlip(generator=0), "generator"),  # type: ignore[arg-type]
        (lambda: RandomCrop(0), "size"),
        (lambda: RandomCrop(8, padding=-1), "padding"),
        (lambda: RandomCrop(8, padding=(1, 2, 3)), "padding"),
        (lambda: RandomCrop(8, padding_mode="wrap"), "padding_mode"),  # type: ignore[arg-type]
        (lambda: RandomResizedCrop(8, scale=(0.5, 0.2)), "low <= high"),
        (lambda: RandomResizedCrop(8, scale=(0.0, 1.0)), "scale"),
        (lambda: RandomResizedCrop(8, ratio=(-1.0, 2.0)), "ratio"),
        (lambda: RandomAffine(degrees=-5), "non-negative"),
        (lambda: RandomAffine(degrees=(10, 5)), "low <= high"),
        (lambda: RandomAffine(degrees=float("nan")), "finite"),
        (lambda: RandomAffine(0, translate=(1.5, 0)), "translate"),
        (lambda: RandomAffine(0, translate=0.1), "translate"),  # type: ignore[arg-type]
        (lambda: RandomAffine(0, scale=(0.0, 1.0)), "scale"),
        (lambda: RandomAffine(0, shear=95), "shear"),
        (lambda: RandomAffine(0, interpolation="cubic"), "interpolation"),  # type: ignore[arg-type]
        (lambda: RandomAffine(0, padding_mode="wrap"), "padding_mode"),  # type: ignore[arg-type]
        (lambda: ColorJitter(brightness=-0.1), "non-negative"),
        (lambda: ColorJitter(contrast=(-0.5, 1.0)), "non-negative"),
        (lambda: ColorJitter(saturation="high"), "saturation"),  # type: ignore[arg-type]
        (lambda: RandomErasing(scale=(0.0, 0.5)), "scale"),
        (lambda: RandomErasing(value="noise"), "value"),  # type: ignore[arg-type]
        (lambda: Mixup(0), "num_classes"),
        (lambda: Mixup(2, alpha=0.0), "alpha"),
        (lambda: MixupOrCutMix(2, switch_prob=2.0), "switch_prob"),
        (lambda: default(-1.0), "strength"),
        (lambda: default(5.0), "strength"),
        (lambda: RandomChoice([]), "at least one"),
        (lambda: RandomChoice([Mixup(2)], weights=[0.0]), "weights"),
    ],
)
def test_invalid_arguments_raise(make: Callable[[], object], match: str) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        make()


@pytest.mark.parametrize("size", [4.0, "4", (1, 2, 3), (4, 4.5), None, True])
@pytest.mark.parametrize("make", [RandomCrop, RandomResizedCrop])
def test_size_of_the_wrong_type_is_a_type_and_a_value_error(
    make: Callable[[object], nn.Module], size: object
) -> None:
    # cnnkit 0.1.0 raised ValueError; the shared size check raises an error that is both.
    for error in (TypeError, ValueError):
        with pytest.raises(error, match=r"size must be an int or a \(height, width\) pair"):
            make(size)


def test_non_module_in_compose_raises() -> None:
    with pytest.raises(TypeError, match=r"nn\.Module"):
        Compose([lambda x: x])  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("x", "error", "match"),
    [
        (torch.rand(3, 8, 8), ValueError, "unsqueeze"),
        (torch.rand(8, 8), ValueError, "4-D|2-D"),
        (torch.rand(2, 32, 32, 3), ValueError, "permute"),
        (torch.zeros(2, 3, 8, 8, dtype=torch.int32), TypeError, "dtype"),
        ([[1.0]], TypeError, "Tensor"),
    ],
)
def test_invalid_inputs_raise(x: object, error: type[Exception], match: str) -> None:
    for aug in (RandomFlip(), RandomAffine(5), default()):
        with pytest.raises(error, match=match):
            aug(x)  # type: ignore[call-overload]


def test_invalid_targets_and_call_time_errors_raise() -> None:
    x = images(n=4)
    with pytest.raises(ValueError, match="one entry per image"):
        RandomFlip()(x, torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="mixes targets"):
        Mixup(2)(x)
    with pytest.raises(ValueError, match="outside"):
        Mixup(2)(x, torch.tensor([0, 1, 2, 0]))
    with pytest.raises(TypeError, match="integer"):
        Mixup(2)(x, torch.tensor([0.0, 1.0, 1.0, 0.0]))
    with pytest.raises(ValueError, match="columns"):
        Mixup(2)(x, torch.rand(4, 3))
    with pytest.raises(ValueError, match="larger than the padded"):
        RandomCrop(20)(x)
    with pytest.raises(ValueError, match="saturation"):
        ColorJitter(saturation=0.5)(torch.rand(2, 4, 8, 8))


# ------------------------------------------------------------------ the trainer's hook


@pytest.mark.parametrize("make", [lambda: default(), lambda: MixupOrCutMix(2)])
def test_plugs_into_the_trainer_augment_hook(make: Callable[[], nn.Module]) -> None:
    from cnnkit.training import Trainer

    x = (torch.rand(32, 3, 12, 12, generator=gen(0)) * 255).to(torch.uint8)
    y = torch.arange(32) % 2
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 12 * 12, 2))
    trainer = Trainer(max_epochs=2, batch_size=8, seed=0, progress=False, device="cpu")
    history = trainer.replace(augment=make()).fit(model, (x, y), val=(x, y))
    assert len(history.train_loss) == 2
    assert all(math.isfinite(v) for v in history.train_loss + history.val_loss)
