"""Parametric learning-curve models with realistic noise, for the diagnosis tests.

Each family draws its parameters (epochs, time constants, levels, noise) from a seeded numpy
generator, so every test case is reproducible and the families cover a range of shapes rather than
one hand-tuned curve. Loss levels are cross-entropy-like (chance level ln C), accuracies are
fractions with chance 1/C. Noise: training curves are epoch averages (about 1 % of the level),
validation curves are noisier (2-4 %), accuracies a point or two.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

History = dict[str, list[float]]


def _decay(t: np.ndarray, start: float, end: float, tau: float) -> np.ndarray:
    """Exponential approach from ``start`` (t=0) to ``end`` with time constant ``tau``."""
    return end + (start - end) * np.exp(-t / tau)


def _noisy(rng: np.random.Generator, x: np.ndarray, rel: float) -> np.ndarray:
    return x * (1.0 + rng.normal(0.0, rel, x.size))


def _acc_noise(rng: np.random.Generator, x: np.ndarray, sd: float) -> np.ndarray:
    return np.clip(x + rng.normal(0.0, sd, x.size), 0.0, 1.0)


def _epochs(rng: np.random.Generator, n: int | None, choices: list[int]) -> int:
    """The run length: ``n`` when given, else drawn from ``choices``."""
    return int(rng.choice(choices)) if n is None else n


def _pack(tl: np.ndarray, vl: np.ndarray, ta: np.ndarray, va: np.ndarray) -> History:
    return {"train_loss": tl.tolist(), "val_loss": vl.tolist(), "train_acc": ta.tolist(),
            "val_acc": va.tolist()}


def healthy(rng: np.random.Generator, classes: int, n: int | None = None) -> History:
    """Fast convergence (tau <= n/6), small gap, validation flat at the end."""
    n = _epochs(rng, n, [20, 30, 50, 100])
    t = np.arange(1, n + 1, dtype=float)
    lc, c = math.log(classes), 1.0 / classes
    tau = n * rng.uniform(1 / 12, 1 / 6)
    a_end = rng.uniform(0.9, 0.97) if classes == 2 else rng.uniform(0.8, 0.9)
    lt_end = rng.uniform(0.15, 0.3) * lc
    tl = _noisy(rng, _decay(t, lc, lt_end, tau), 0.01)
    vl = _noisy(rng, _decay(t, lc, lt_end * rng.uniform(1.05, 1.2), tau), rng.uniform(0.02, 0.04))
    ta = _acc_noise(rng, _decay(t, c, a_end, tau), 0.005)
    va = _acc_noise(rng, _decay(t, c, a_end - rng.uniform(0.01, 0.04), tau), 0.01)
    return _pack(tl, vl, ta, va)


def _ar1(rng: np.random.Generator, n: int, sd: float, phi: float) -> np.ndarray:
    """AR(1) noise with marginal std ``sd``: validation curves wander, they are not i.i.d."""
    e = np.zeros(n)
    for i in range(n):
        e[i] = (phi * e[i - 1] if i else 0.0) + rng.normal(0.0, sd * math.sqrt(1 - phi**2))
    return e


def healthy_wandering(rng: np.random.Generator, classes: int, n: int | None = None) -> History:
    """Converged run whose validation curves carry autocorrelated noise (AR(1), phi up to 0.8,
    2-7 %): the hard case for false overfitting alarms."""
    n = _epochs(rng, n, [20, 30, 50, 100])
    t = np.arange(1, n + 1, dtype=float)
    lc, c = math.log(classes), 1.0 / classes
    tau = n * rng.uniform(1 / 12, 1 / 6)
    phi, sd = rng.uniform(0.0, 0.8), rng.uniform(0.02, 0.07)
    a_end = 0.93 if classes == 2 else 0.85
    tl = _noisy(rng, _decay(t, lc, 0.3 * lc, tau), 0.01)
    vl = _decay(t, lc, 0.42 * lc, tau) * (1 + _ar1(rng, n, sd, phi))
    ta = _acc_noise(rng, _decay(t, c, a_end, tau), 0.005)
    va = np.clip(_decay(t, c, a_end - 0.05, tau) + _ar1(rng, n, sd / 3, phi), 0, 1)
    return _pack(tl, vl, ta, va)


def overfitting(rng: np.random.Generator, classes: int, n: int | None = None) -> History:
    """Training loss keeps falling; validation loss is U-shaped (rises 20-80 % above its minimum)."""
    n = _epochs(rng, n, [25, 40, 60, 100])
    t = np.arange(1, n + 1, dtype=float)
    lc, c = math.log(classes), 1.0 / classes
    tau = n * rng.uniform(0.1, 0.25)
    tl = _noisy(rng, _decay(t, lc, 0.03 * lc, tau), 0.01)
    t_best = n * rng.uniform(0.2, 0.5)
    v_min = lc * rng.uniform(0.35, 0.6)
    rise = rng.uniform(0.2, 0.8) * v_min
    bump = rise * np.clip((t - t_best) / (n - t_best), 0, None) ** 1.3
    vl = _noisy(rng, _decay(t, lc, v_min, t_best / 3) + bump, rng.uniform(0.02, 0.04))
    ta = _acc_noise(rng, _decay(t, c, 0.99, tau), 0.005)
    v_peak = rng.uniform(0.65, 0.8) if classes == 2 else rng.uniform(0.45, 0.6)
    va = _acc_noise(rng, _decay(t, c, v_peak, t_best / 3) - 0.15 * bump / v_min * (v_peak - c),
                    0.01)
    return _pack(tl, vl, ta, va)


def underfitting(rng: np.random.Generator, classes: int, n: int | None = None) -> History:
    """Accuracy plateaus early far below what the task allows; train and val agree."""
    n = _epochs(rng, n, [20, 30, 50, 100])
    t = np.arange(1, n + 1, dtype=float)
    lc, c = math.log(classes), 1.0 / classes
    tau = n * rng.uniform(1 / 12, 1 / 6)
    a_end = rng.uniform(0.55, 0.66) if classes == 2 else rng.uniform(0.18, 0.4)
    l_end = lc * rng.uniform(0.8, 0.95)
    tl = _noisy(rng, _decay(t, lc, l_end, tau), 0.01)
    vl = _noisy(rng, _decay(t, lc, l_end * rng.uniform(0.98, 1.03), tau), rng.uniform(0.01, 0.03))
    ta = _acc_noise(rng, _decay(t, c, a_end, tau), 0.01)
    va = _acc_noise(rng, _decay(t, c, a_end - rng.uniform(-0.02, 0.02), tau), 0.015)
    return _pack(tl, vl, ta, va)


def slow(rng: np.random.Generator, classes: int, n: int | None = None) -> History:
    """Far from converged: time constant 1.5-4x the run, both losses still falling together."""
    n = _epochs(rng, n, [20, 30, 50, 100])
    t = np.arange(1, n + 1, dtype=float)
    lc, c = math.log(classes), 1.0 / classes
    tau = n * rng.uniform(1.5, 4.0)
    l_inf = lc * rng.uniform(0.1, 0.3)
    a_inf = 0.95 if classes == 2 else 0.85
    tl = _noisy(rng, _decay(t, lc, l_inf, tau), 0.01)
    vl = _noisy(rng, _decay(t, lc, l_inf * 1.1, tau), rng.uniform(0.01, 0.02))
    ta = _acc_noise(rng, _decay(t, c, a_inf, tau), 0.005)
    va = _acc_noise(rng, _decay(t, c, a_inf - 0.02, tau), 0.01)
    return _pack(tl, vl, ta, va)


def diverging(rng: np.random.Generator, classes: int, n: int | None = None) -> History:
    """Three ways to diverge: NaN from some epoch, a loss that grows to many times its start with
    accuracy collapsing to chance, or a loss that blows up and stays at chance."""
    n = _epochs(rng, n, [20, 30, 50])
    t = np.arange(1, n + 1, dtype=float)
    lc, c = math.log(classes), 1.0 / classes
    kind = int(rng.integers(0, 3))
    h = healthy(rng, classes, n)
    tl, vl = np.array(h["train_loss"][:n]), np.array(h["val_loss"][:n])
    ta, va = np.array(h["train_acc"][:n]), np.array(h["val_acc"][:n])
    start = int(n * rng.uniform(0.3, 0.7))
    if kind == 0:
        tl[start:] = np.nan
        vl[start:] = np.nan
    else:
        growth = np.exp((t - start).clip(0) * rng.uniform(0.3, 0.6)) if kind == 1 else np.where(
            t > start, rng.uniform(20, 60), 1.0)
        tl = tl * growth
        vl = vl * growth
        collapsed = t > start
        ta[collapsed] = _acc_noise(rng, np.full(int(collapsed.sum()), c), 0.01)
        va[collapsed] = _acc_noise(rng, np.full(int(collapsed.sum()), c), 0.01)
        if kind == 2:  # stuck at chance after the blow-up
            tl[t > start + 2] = lc * _noisy(rng, np.ones(int((t > start + 2).sum())), 0.01)
            tl[start] = lc * rng.uniform(15, 40)
    return _pack(tl, vl, ta, va)


def short(rng: np.random.Generator, classes: int, n: int | None = None) -> History:
    """Only 2-4 epochs of an otherwise healthy run."""
    h = healthy(rng, classes)
    k = int(rng.integers(2, 5))
    return {key: v[:k] for key, v in h.items()}


FAMILIES: dict[str, Callable[..., History]] = {
    "healthy": healthy,
    "overfitting": overfitting,
    "underfitting": underfitting,
    "slow-converging": slow,
    "diverging": diverging,
    "inconclusive": short,
}
