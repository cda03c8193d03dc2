"""The built-in data set: procedurally drawn road vehicles, emergency or not."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .dataset import ImageDataset, _to_nchw
from .drawing import _box, _coverage, _disc, _paint

__all__ = ["EMERGENCY_FRACTION", "synthetic_vehicles"]

#: Share of emergency vehicles: 85 of the 201 real images in the case study's ``labels.csv``.
EMERGENCY_FRACTION = 85 / 201

#: Drawing settings, tuned so that the case-study CNN overfits this data the way it overfits
#: the real photos (see docs/data.md). Ranges are (low, high) of uniform draws.
_SYNTH: dict[str, Any] = {
    "light_p": 0.8,  # emergency: chance of a red/blue light bar on the roof
    "stripe_p": 0.6,  # emergency: chance of a chequered livery stripe
    "hidden_p": 0.4,  # emergency: chance that no cue is visible (unmarked vehicle)
    "lookalike_p": 0.1,  # other vehicles: chance of a red/blue roof light (e.g. security car)
    "rack_p": 0.5,  # other vehicles: chance of a roof rack or sign
    "decoy_p": 0.5,  # share of those roof items that are a single red, blue or amber sign
    "plain_stripe_p": 0.5,  # other vehicles: chance of a decorative stripe
    "decoy_chk_p": 0.5,  # share of those stripes that are black/white chequered
    "stripe_h": (0.15, 0.3),  # stripe height, fraction of the body height
    "bar_w": (0.2, 0.4),  # light bar length, fraction of the cabin length
    "bar_h": (0.06, 0.1),  # light bar height, fraction of the image height
    "noise": (0.01, 0.05),  # sensor noise standard deviation (pixel values in [0, 1])
}

_CHUNK = 16


def _draw_vehicles(n: int, size: int, seed: int, settings: dict[str, Any]) -> ImageDataset:
    """Draw the synthetic set with explicit ``settings`` (see ``_SYNTH``)."""
    p = {**_SYNTH, **settings}
    rng = np.random.default_rng(seed)
    s = float(size)
    f32 = np.float32

    def u(lo: float, hi: float) -> np.ndarray[Any, Any]:
        return rng.uniform(lo, hi, n).astype(f32)

    def chance(prob: float) -> np.ndarray[Any, Any]:
        return rng.random(n) < prob

    labels = np.zeros(n, dtype=np.int64)
    labels[: round(n * EMERGENCY_FRACTION)] = 1
    labels = rng.permutation(labels)
    em = labels == 1

    # Scene: sky gradient, a few buildings on the horizon, a road.
    horizon = u(0.3, 0.55) * s
    sky_top = rng.uniform(0.35, 0.95, (n, 3)).astype(f32)
    sky_bottom = np.clip(sky_top + rng.uniform(-0.2, 0.2, (n, 3)), 0, 1).astype(f32)
    road = (u(0.2, 0.6)[:, None] + rng.uniform(-0.05, 0.05, (n, 3))).astype(f32)
    buildings = []
    for _ in range(3):
        bx = u(-0.2, 1.0) * s
        buildings.append(
            (bx, bx + u(0.1, 0.4) * s, u(0.05, 0.35) * s, rng.uniform(0.1, 0.95, (n, 3)).astype(f32),
             chance(0.7))
        )  # fmt: skip

    # Vehicle: a body, a cabin of varied length and height with a window, two wheels.
    length = u(0.5, 0.9) * s
    body_h = length * u(0.2, 0.38)
    wheel_r = body_h * u(0.28, 0.4)
    ground = np.minimum(horizon + u(0.45, 0.9) * (s - horizon), s - 1.0)
    x0 = u(0.0, 1.0) * (s - length)
    body_bottom = ground - wheel_r * 0.6
    body_top = body_bottom - body_h
    cab_len = length * u(0.35, 1.0)
    cab_x = x0 + u(0.0, 1.0) * (length - cab_len)
    cab_h = body_h * u(0.35, 0.9)
    cab_top = body_top - cab_h
    body_col = rng.uniform(0.05, 0.95, (n, 3)).astype(f32)
    white = chance(0.3)
    body_col[white] = rng.uniform(0.8, 1.0, (int(white.sum()), 1))
    glass = np.clip(u(0.15, 0.5)[:, None] + np.array([0.0, 0.05, 0.12], f32), 0, 1)

    # Emergency cues: a red/blue light bar, a chequered livery stripe (at least one, unless the
    # vehicle is "unmarked"); other vehicles carry look-alikes of both.
    light = em & chance(p["light_p"])
    stripe = em & chance(p["stripe_p"])
    neither = em & ~light & ~stripe
    coin = chance(0.5)
    light |= neither & coin
    stripe |= neither & ~coin
    hidden = em & chance(p["hidden_p"])
    light &= ~hidden
    stripe &= ~hidden
    light |= ~em & chance(p["lookalike_p"])
    rack = ~light & chance(p["rack_p"])
    plain = ~stripe & chance(p["plain_stripe_p"])
    checker_decoy = plain & chance(p["decoy_chk_p"])

    bar_w = np.maximum(cab_len * u(*p["bar_w"]), 2.0)
    bar_h = np.maximum(s * u(*p["bar_h"]), 1.0)
    bar_x = cab_x + u(0.05, 0.95) * (cab_len - bar_w)
    red, blue, amber = np.array([[1.0, 0.12, 0.1], [0.1, 0.25, 1.0], [1.0, 0.7, 0.05]], f32)
    bar_left = rng.uniform(0.9, 1.0, (n, 1)).astype(f32) * red
    bar_right = rng.uniform(0.9, 1.0, (n, 1)).astype(f32) * blue
    swap = chance(0.5)
    bar_left[swap], bar_right[swap] = bar_right[swap].copy(), bar_left[swap].copy()
    rack_col = rng.uniform(0.05, 0.45, (n, 1)).astype(f32) * np.ones(3, f32)
    sign = chance(p["decoy_p"])
    rack_col[sign] = np.stack([red, blue, amber])[rng.integers(0, 3, int(sign.sum()))]

    stripe_y = body_top + body_h * u(0.3, 0.6)
    stripe_h = np.maximum(body_h * u(*p["stripe_h"]), 1.0)
    cell = np.maximum(stripe_h * u(1.0, 1.6), 1.5)
    bright_body = (body_col.mean(1) > 0.6)[:, None]
    livery_a = np.where(bright_body, red, np.array([0.95, 0.85, 0.1], f32)).astype(f32)
    livery_b = np.where(chance(0.5)[:, None], np.array([0.1, 0.2, 0.8], f32), f32(0.95))
    livery_b = livery_b.astype(f32)
    plain_col = rng.uniform(0.05, 0.95, (n, 3)).astype(f32)

    # Camera: mirror, exposure, colour cast, sensor noise.
    gain = u(0.7, 1.15)
    cast = rng.uniform(-0.05, 0.05, (n, 3)).astype(f32)
    sigma = u(*p["noise"])
    flip = chance(0.5)
    noise_seed = int(rng.integers(0, 2**63 - 1))

    out = np.empty((n, size, size, 3), dtype=np.uint8)
    xs = np.arange(size, dtype=f32)[None, None, :]
    ys = np.arange(size, dtype=f32)[None, :, None]
    noise_rng = np.random.default_rng(noise_seed)
    chunk = _CHUNK  # images drawn at once: bounds memory, keeps arrays in cache
    for start in range(0, n, chunk):
        sl = slice(start, min(start + chunk, n))
        m = sl.stop - sl.start

        def on(mask: np.ndarray[Any, Any], _sl: slice = sl) -> np.ndarray[Any, Any]:
            return mask[_sl, None, None]

        t = np.clip(ys / horizon[sl, None, None], 0, 1)[..., None]
        img = sky_top[sl, None, None, :] * (1 - t) + sky_bottom[sl, None, None, :] * t
        img = np.ascontiguousarray(np.broadcast_to(img, (m, size, size, 3)), dtype=f32)
        for bx0, bx1, bh, bcol, present in buildings:
            hz = horizon[sl]
            _paint(img, _box(xs, ys, bx0[sl], bx1[sl], hz - bh[sl], hz + 1) * on(present), bcol[sl])
        road_alpha = np.broadcast_to(
            _coverage(ys, horizon[sl, None, None], np.float32(2 * s)), (m, size, size)
        )
        _paint(img, road_alpha, road[sl])
        cab = (cab_x[sl], cab_x[sl] + cab_len[sl])
        _paint(img, _box(xs, ys, *cab, cab_top[sl], body_top[sl] + 1), body_col[sl])
        inset = cab_h[sl] * 0.18
        window = _box(xs, ys, cab[0] + inset, cab[1] - inset, cab_top[sl] + inset, body_top[sl])
        _paint(img, window, glass[sl])
        body_x = (x0[sl], x0[sl] + length[sl])
        _paint(img, _box(xs, ys, *body_x, body_top[sl], body_bottom[sl]), body_col[sl])

        band = _box(xs, ys, *body_x, stripe_y[sl], stripe_y[sl] + stripe_h[sl])
        checker = (np.floor((xs - x0[sl, None, None]) / cell[sl, None, None]) % 2)[..., None]
        livery = livery_a[sl, None, None, :] * checker + livery_b[sl, None, None, :] * (1 - checker)
        _paint(img, band * on(stripe), np.broadcast_to(livery, (m, size, size, 3)))
        _paint(img, band * on(plain & ~checker_decoy), plain_col[sl])
        bw = np.broadcast_to(checker * 0.9 + (1 - checker) * 0.1, (m, 1, size, 1))
        _paint(img, band * on(checker_decoy), np.broadcast_to(bw, (m, size, size, 3)))

        roof = (cab_top[sl] - bar_h[sl], cab_top[sl] + 0.5)
        mid = bar_x[sl] + bar_w[sl] / 2
        _paint(img, _box(xs, ys, bar_x[sl], mid, *roof) * on(light), bar_left[sl])
        _paint(img, _box(xs, ys, mid, bar_x[sl] + bar_w[sl], *roof) * on(light), bar_right[sl])
        _paint(img, _box(xs, ys, bar_x[sl], bar_x[sl] + bar_w[sl], *roof) * on(rack), rack_col[sl])

        tyre = np.full((m, 3), 0.08, f32)
        hub = np.full((m, 3), 0.6, f32)
        for frac in (0.18, 0.82):
            cx = x0[sl] + length[sl] * frac
            cy = ground[sl] - wheel_r[sl]
            _paint(img, _disc(xs, ys, cx, cy, wheel_r[sl]), tyre)
            _paint(img, _disc(xs, ys, cx, cy, wheel_r[sl] * 0.45), hub)

        img = img * gain[sl, None, None, None] + cast[sl, None, None, :]
        img += noise_rng.standard_normal(img.shape, dtype=f32) * sigma[sl, None, None, None]
        img[flip[sl]] = img[flip[sl], :, ::-1]
        out[sl] = np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return ImageDataset(_to_nchw(out), torch.from_numpy(labels), ["non-emergency", "emergency"])


def synthetic_vehicles(n: int = 1646, size: int = 64, seed: int = 0) -> ImageDataset:
    """The built-in data set: procedurally drawn road vehicles, emergency or not.

    Each image shows one vehicle in side view (body, cabin with window, two wheels; varied
    length, height, cabin shape, colour, position and scale, facing left or right) in front of a
    sky, buildings and a road, with varied exposure, colour cast and Gaussian sensor noise.
    Emergency vehicles (label 1) differ only by small cues: a red/blue light bar on the roof
    and/or a chequered livery stripe. Other vehicles carry look-alikes (roof racks, single-colour
    roof signs, plain or black-and-white chequered stripes), 40% of emergency vehicles are
    unmarked and 10% of the others carry a red/blue light, so no classifier reaches 100%
    validation accuracy and a small CNN that memorizes visibly overfits, as on the real photos.
    With the case-study CNN at 64x64 (Adam lr 1e-3, batch 32, 25 epochs) the baseline reaches
    about 82% train / 67% validation accuracy; see ``docs/data.md`` for every variant.

    The class ratio is the case study's: ``round(n * 85 / 201)`` emergency vehicles (42%, as in
    the real ``labels.csv``), in shuffled order. The same arguments always give the same images.

    Args:
        n: number of images.
        size: height and width in pixels (at least 16).
        seed: random seed.

    Returns:
        :class:`ImageDataset` with ``images`` ``uint8`` ``(n, 3, size, size)``, ``labels``
        ``int64`` ``(n,)`` and ``class_names == ["non-emergency", "emergency"]``.

    Raises:
        TypeError: ``n`` or ``size`` is not an int.
        ValueError: ``n < 1`` or ``size < 16``.

    Example:
        >>> X, y, classes = synthetic_vehicles(n=100, size=32, seed=1)
        >>> X.shape, int(y.sum()), classes[1]
        (torch.Size([100, 3, 32, 32]), 42, 'emergency')
    """
    for name, value, low in (("n", n, 1), ("size", size, 16)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, got {value!r}")
        if value < low:
            raise ValueError(f"{name} must be at least {low}, got {value}")
    return _draw_vehicles(n, size, seed, {})
