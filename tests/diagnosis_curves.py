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
from typing import Any

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


# ------------------------------------------------------------------------------------------------
# Hard patterns (issue 13): runs whose end points point the wrong way. Each takes ``length``
# ("short" or "long", drawn when None) and ``noise`` (level 0, 1 or 2, drawn when None).
# ------------------------------------------------------------------------------------------------

LENGTHS: dict[str, list[int]] = {"short": [10, 12, 15, 20], "long": [30, 50, 80, 120]}


def _setting(rng: np.random.Generator, length: str | None, noise: int | None,
             lengths: dict[str, list[int]] = LENGTHS) -> tuple[int, int]:
    """(epochs, noise level): drawn from ``lengths[length]`` and {0, 1, 2} when not given."""
    length = str(rng.choice(list(lengths))) if length is None else length
    level = int(rng.integers(0, 3)) if noise is None else noise
    return int(rng.choice(lengths[length])), level


def _smooth_step(t: np.ndarray, start: float, ramp: float) -> np.ndarray:
    """0 before ``start``, rising linearly to 1 over ``ramp`` epochs, then 1."""
    return np.clip((t - start) / max(ramp, 1e-9), 0.0, 1.0)


def _rise_above_min(fall: np.ndarray, step: np.ndarray, rel: float) -> float:
    """The height ``r`` of ``step`` (0 -> 1) for which ``fall + r * step`` ends ``rel`` above its
    own minimum. The fall has not quite flattened where the rise begins, so a rise of ``rel``
    times the fall's asymptote would end less than ``rel`` above the curve's minimum (a fifth of
    the draws ended under 15 %). A fixed point: the minimum moves little with ``r``."""
    r = rel * float(fall.min())
    for _ in range(50):
        r = (1 + rel) * float((fall + r * step).min()) - float(fall[-1])
    return r


def loss_only_overfitting(rng: np.random.Generator, classes: int, length: str | None = None,
                          noise: int | None = None) -> History:
    """Overfitting seen only in the loss: validation loss bottoms out at 30-60 % of the run, then
    rises 15-60 % above its minimum (the noise-free curve's own minimum, see
    :func:`_rise_above_min`) and stays up, while training loss keeps falling and the accuracies
    stay high (>= 80 %) with a small gap (0-6 points): the model grows over-confident. Noise
    levels: validation loss 1 / 2 / 3.5 % a point."""
    n, level = _setting(rng, length, noise)
    t = np.arange(1, n + 1, dtype=float)
    lc, c = math.log(classes), 1.0 / classes
    t_best = n * rng.uniform(0.3, 0.6)
    v_min = lc * (rng.uniform(0.12, 0.3) if classes == 2 else rng.uniform(0.15, 0.25))
    rel_rise = rng.uniform(0.15, 0.6)
    ramp = (n - t_best) * rng.uniform(0.3, 1.0)
    fall, step = _decay(t, lc, v_min, t_best / 4), _smooth_step(t, t_best, ramp)
    vl = _noisy(rng, fall + _rise_above_min(fall, step, rel_rise) * step,
                (0.01, 0.02, 0.035)[level])
    tl = _noisy(rng, _decay(t, lc, v_min * rng.uniform(0.1, 0.4), n * rng.uniform(0.15, 0.3)),
                (0.005, 0.01, 0.015)[level])
    a_peak = rng.uniform(0.88, 0.97) if classes == 2 else rng.uniform(0.8, 0.92)
    a_train = min(a_peak + rng.uniform(0.0, 0.06), 0.995)
    acc_sd = (0.003, 0.006, 0.01)[level]
    ta = _acc_noise(rng, _decay(t, c, a_train, t_best / 4), acc_sd / 2)
    va = _acc_noise(rng, _decay(t, c, a_peak, t_best / 4), acc_sd)
    return _pack(tl, vl, ta, va)


def noisy_val_overfitting(rng: np.random.Generator, classes: int, length: str | None = None,
                          noise: int | None = None, rise_units: tuple[float, float] = (2.0, 4.0),
                          truth: dict[str, Any] | None = None) -> History:
    """The same on a noisy validation set of 150-250 images over 12-50 epochs: the validation
    loss's per-epoch noise is the per-image loss spread / sqrt(images) (spread 1.5 / 2.25 / 3 x the
    loss by noise level, autocorrelated with phi up to 0.3: the same images every epoch), and the
    rise is only 2-4 of those noise units, but it comes within a few epochs of the minimum (at
    30-50 % of the run) and holds over the whole last 40 %. ``rise_units=(0, 0)`` is the null
    case: the same run with a flat validation loss (training loss still falling). ``truth``, when
    given, receives what the draw hid: the noise-free fall and rise, the noise's sd and phi, and
    where the rise starts and ends (for :func:`noisy_val_oracle`)."""
    n, level = _setting(rng, length, noise, {"short": [12, 15, 20], "long": [30, 40, 50]})
    t = np.arange(1, n + 1, dtype=float)
    lc, c = math.log(classes), 1.0 / classes
    images = int(rng.integers(150, 251))
    v_min = lc * (rng.uniform(0.15, 0.35) if classes == 2 else rng.uniform(0.15, 0.3))
    sd = v_min * (1.5, 2.25, 3.0)[level] / math.sqrt(images)
    t_best = n * rng.uniform(0.3, 0.5)
    ramp = max(1.0, n * rng.uniform(0.03, 0.1))
    rise = rng.uniform(*rise_units) * sd
    fall, step = _decay(t, lc, v_min, t_best / 6), rise * _smooth_step(t, t_best, ramp)
    phi = rng.uniform(0.0, 0.3)
    vl = fall + step + _ar1(rng, n, sd, phi)
    if truth is not None:
        truth.update(fall=fall, step=step, sd=sd, phi=phi, start=t_best, end=t_best + ramp)
    tl = _noisy(rng, _decay(t, lc, v_min * rng.uniform(0.2, 0.5), n * rng.uniform(0.15, 0.3)), 0.01)
    a_peak = rng.uniform(0.86, 0.95) if classes == 2 else rng.uniform(0.8, 0.9)
    a_train = min(a_peak + rng.uniform(0.0, 0.05), 0.995)
    ta = _acc_noise(rng, _decay(t, c, a_train, t_best / 4), 0.005)
    va = _acc_noise(rng, _decay(t, c, a_peak, t_best / 4), math.sqrt(a_peak * (1 - a_peak) / images))
    return _pack(tl, vl, ta, va)


def noisy_val_oracle(seeds: range = range(8, 58), z: float = 1.645) -> tuple[float, float]:
    """What the noisy-validation family allows at best: a one-sided test at level ``z`` (1.645:
    5 %) of the mean after the rise against the mean of the flat stretch before it (where the
    fall is within half a noise unit of its floor), told where the rise starts and ends and the
    noise's true sd and phi (variance of a mean inflated by (1 + phi) / (1 - phi)). Returns the
    fraction of the family's draws (over ``seeds`` x {binary, 10-class}, as :func:`measure`) it
    calls a rise, and the fraction of the same draws with the rise taken out."""
    i = list(HARD_FAMILIES).index("noisy-val-overfitting")
    hits, false = [], []
    for c in (2, 10):
        for s in seeds:
            k: dict[str, Any] = {}
            vl = np.array(noisy_val_overfitting(np.random.default_rng([s, c, 100 + i]), c,
                                                truth=k)["val_loss"])
            fall, step = np.asarray(k["fall"]), np.asarray(k["step"])
            sd, phi = float(k["sd"]), float(k["phi"])
            t = np.arange(1, vl.size + 1, dtype=float)
            pre = (t < float(k["start"])) & (fall - fall[-1] < 0.5 * sd)
            post = t >= float(k["end"])
            se = sd * math.sqrt((1 + phi) / (1 - phi) * (1 / pre.sum() + 1 / post.sum()))
            for out, x in ((hits, vl), (false, vl - step)):
                out.append((x[post].mean() - x[pre].mean()) / se >= z)
    return float(np.mean(hits)), float(np.mean(false))


#: The target the underfitting-against-a-target family is judged against.
TARGET_ACCURACY = 0.95


def target_underfitting(rng: np.random.Generator, classes: int, length: str | None = None,
                        noise: int | None = None) -> History:
    """Underfitting against ``target_accuracy=0.95``: training accuracy plateaus at 77-83 % within
    the first half of the run (validation under 5 points below), flat in the last half; the
    training loss creeps down by up to 2 % over the last half. Accuracy noise 0.5 / 1 / 1.5 points."""
    n, level = _setting(rng, length, noise)
    t = np.arange(1, n + 1, dtype=float)
    lc, c = math.log(classes), 1.0 / classes
    tau = n * rng.uniform(1 / 15, 1 / 8)
    a_end = rng.uniform(0.77, 0.83)
    va_end = a_end - rng.uniform(0.0, 0.05)
    l_end = (0.45 if classes == 2 else 0.7) * rng.uniform(0.9, 1.1)
    creep = 1 - rng.uniform(0.0, 0.02) * np.clip((t - n / 2) / (n / 2), 0, None)
    rel = (0.005, 0.01, 0.015)[level]
    tl = _noisy(rng, _decay(t, lc, l_end, tau) * creep, rel)
    vl = _noisy(rng, _decay(t, lc, l_end * rng.uniform(1.0, 1.1), tau), 2 * rel)
    ta = _acc_noise(rng, _decay(t, c, a_end, tau), rel)
    va = _acc_noise(rng, _decay(t, c, va_end, tau), 1.5 * rel)
    return _pack(tl, vl, ta, va)


def healthy_moderate_gap(rng: np.random.Generator, classes: int, length: str | None = None,
                         noise: int | None = None) -> History:
    """Healthy with a stable moderate gap: both losses converged (tau <= n/6), validation loss
    flat, a constant 6-10 point train/validation accuracy gap that is not growing. Noise levels:
    validation loss 1.5 / 3 / 4.5 %, validation accuracy 0.5 / 1 / 1.5 points."""
    n, level = _setting(rng, length, noise)
    t = np.arange(1, n + 1, dtype=float)
    lc, c = math.log(classes), 1.0 / classes
    tau = n * rng.uniform(1 / 12, 1 / 6)
    a_train = rng.uniform(0.9, 0.98) if classes == 2 else rng.uniform(0.82, 0.95)
    gap = rng.uniform(0.06, 0.10)
    lt_end = lc * (rng.uniform(0.1, 0.25) if classes == 2 else rng.uniform(0.1, 0.2))
    tl = _noisy(rng, _decay(t, lc, lt_end, tau), 0.01)
    vl = _noisy(rng, _decay(t, lc, lt_end * rng.uniform(1.3, 1.8), tau), (0.015, 0.03, 0.045)[level])
    sd = (0.005, 0.01, 0.015)[level]
    ta = _acc_noise(rng, _decay(t, c, a_train, tau), sd / 2)
    va = _acc_noise(rng, _decay(t, c, a_train - gap, tau), sd)
    return _pack(tl, vl, ta, va)


def hidden_divergence(rng: np.random.Generator, classes: int, length: str | None = None,
                      noise: int | None = None) -> History:
    """Divergence hidden by a huge first epoch (Adam at lr 1-3): a first loss of 1e4-1e8, then
    either both losses stay 20-1000x ln C, or the training loss drops to about ln C while the
    validation loss stays near 1000; accuracy at chance (with a chance-sized wobble). The loss's
    relative noise is 5 / 10 / 20 % by level."""
    n, level = _setting(rng, length, noise)
    lc, c = math.log(classes), 1.0 / classes
    rel = (0.05, 0.1, 0.2)[level]
    first = 10 ** rng.uniform(4, 8)
    if rng.random() < 0.5:
        tl = lc * rng.uniform(20, 1000) * np.exp(rng.normal(0, rel, n))
        vl = tl * rng.uniform(0.5, 2.0) * np.exp(rng.normal(0, rel, n))
    else:
        tl = lc * rng.uniform(0.95, 1.1) * np.exp(rng.normal(0, rel / 5, n))
        vl = rng.uniform(300, 3000) * np.exp(rng.normal(0, rel, n))
    tl[0], vl[0] = first, first * rng.uniform(0.1, 1.0)
    ta = _acc_noise(rng, np.full(n, c), 0.02)
    va = _acc_noise(rng, np.full(n, c), 0.03)
    return _pack(tl, vl, ta, va)


def annealed_healthy(rng: np.random.Generator, classes: int, length: str | None = None,
                     noise: int | None = None) -> History:
    """A healthy run under a cosine schedule, with ``lr`` logged: the loss converges at the peak
    rate, then drops a further 30-50 % as the rate anneals to 0-1 % of its peak, so it is still
    falling at the end. Loss noise 0.5 / 1 / 1.5 % (validation twice that)."""
    n, level = _setting(rng, length, noise)
    t = np.arange(1, n + 1, dtype=float)
    lc, c = math.log(classes), 1.0 / classes
    tau = n * rng.uniform(1 / 12, 1 / 6)
    peak = 10 ** rng.uniform(-4, -2)
    floor = rng.uniform(0.0, 0.01)
    lr = peak * (floor + (1 - floor) * 0.5 * (1 + np.cos(math.pi * (t - 1) / (n - 1))))
    anneal = rng.uniform(0.3, 0.5) * (1 - lr / peak) ** 3
    rel = (0.005, 0.01, 0.015)[level]
    l_end = lc * (rng.uniform(0.15, 0.3) if classes == 2 else rng.uniform(0.2, 0.35))
    tl = _noisy(rng, _decay(t, lc, l_end, tau) * (1 - anneal), rel)
    vl = _noisy(rng, _decay(t, lc, l_end * rng.uniform(1.05, 1.2), tau) * (1 - anneal / 2), 2 * rel)
    a_end = rng.uniform(0.88, 0.96) if classes == 2 else rng.uniform(0.78, 0.9)
    ta = _acc_noise(rng, _decay(t, c, a_end, tau) + 0.03 * anneal, rel)
    va = _acc_noise(rng, _decay(t, c, a_end - rng.uniform(0.01, 0.04), tau) + 0.02 * anneal, rel)
    return {**_pack(tl, vl, ta, va), "lr": lr.tolist()}


def tiny_model_underfit(rng: np.random.Generator, classes: int, length: str | None = None,
                        noise: int | None = None) -> History:
    """A tiny model (tens to hundreds of parameters) that stopped short: training accuracy
    plateaus at skill 0.1-0.4 over chance (binary: 55-70 %) within the first third of the run, then
    creeps up linearly by 1-3 points over the whole run (about 2 points more over as many epochs
    again); the training loss, 85-95 % of ln C, keeps creeping down by 1-3 % over the run (its
    trend is significant and, against the small total drop, not slow by the rate ratio); the
    validation loss is flat or rises by up to 3 %, the validation accuracy flat within 2 points
    of training. Noise levels: training loss 0.3 / 0.6 / 1 %, validation loss 1 / 2 / 3 %,
    accuracies 0.5 / 1 / 1.5 points."""
    n, level = _setting(rng, length, noise)
    t = np.arange(1, n + 1, dtype=float)
    lc, c = math.log(classes), 1.0 / classes
    tau = n * rng.uniform(1 / 15, 1 / 8)
    a_end = c + rng.uniform(0.1, 0.4) * (1 - c)
    gain = rng.uniform(0.01, 0.03)
    l_end = lc * rng.uniform(0.85, 0.95)
    creep = 1 - rng.uniform(0.01, 0.03) * t / n
    rel_t, rel_v, sd = (0.003, 0.006, 0.01)[level], (0.01, 0.02, 0.03)[level], (0.005, 0.01, 0.015)[level]
    tl = _noisy(rng, _decay(t, lc, l_end, tau) * creep, rel_t)
    rise = rng.uniform(0.0, 0.03) * np.clip((t - n / 2) / (n / 2), 0, None)
    vl = _noisy(rng, _decay(t, lc, l_end * rng.uniform(0.98, 1.04), tau) * (1 + rise), rel_v)
    ta = _acc_noise(rng, _decay(t, c, a_end - gain, tau) + gain * t / n, sd)
    va = _acc_noise(rng, _decay(t, c, a_end - gain + rng.uniform(-0.02, 0.02), tau), 1.5 * sd)
    return _pack(tl, vl, ta, va)


def issue_example() -> History:
    """The 10-epoch binary run of issue 13: validation loss 37 % above its minimum and still rising
    while training loss goes 0.55 -> 0.041 and validation accuracy sits at 0.955-0.965."""
    return {
        "train_loss": [0.55, 0.3, 0.2, 0.14, 0.105, 0.08, 0.065, 0.055, 0.047, 0.041],
        "val_loss": [0.52, 0.27, 0.16, 0.12, 0.105, 0.11, 0.125, 0.133, 0.138, 0.144],
        "train_acc": [0.78, 0.9, 0.94, 0.957, 0.966, 0.975, 0.981, 0.985, 0.988, 0.99],
        "val_acc": [0.8, 0.91, 0.945, 0.955, 0.96, 0.965, 0.96, 0.962, 0.958, 0.96],
    }


#: The hard families: name -> (generator, expected label, diagnose() options).
HARD_FAMILIES: dict[str, tuple[Callable[..., History], str, dict[str, float]]] = {
    "loss-only-overfitting": (loss_only_overfitting, "overfitting", {}),
    "noisy-val-overfitting": (noisy_val_overfitting, "overfitting", {}),
    "target-underfitting": (target_underfitting, "underfitting",
                            {"target_accuracy": TARGET_ACCURACY}),
    "healthy-moderate-gap": (healthy_moderate_gap, "healthy", {}),
    "hidden-divergence": (hidden_divergence, "diverging", {}),
    "annealed-healthy": (annealed_healthy, "healthy", {}),
    "tiny-model-underfit": (tiny_model_underfit, "underfitting", {}),
}


def measure(seeds: range = range(8, 58)) -> dict[str, float]:
    """Fraction right per family over ``seeds`` x {binary, 10-class}, lengths and noise levels
    drawn (the hard families) or as the family draws them (the others)."""
    from cnnkit.diagnosis import diagnose

    out: dict[str, float] = {}
    for i, (name, fn) in enumerate(FAMILIES.items()):
        labels = [diagnose(fn(np.random.default_rng([s, c, i]), c)).label.value
                  for c in (2, 10) for s in seeds]
        out[name] = labels.count(name) / len(labels)
    for i, (name, (fn, label, options)) in enumerate(HARD_FAMILIES.items()):
        labels = [diagnose(fn(np.random.default_rng([s, c, 100 + i]), c), **options).label.value
                  for c in (2, 10) for s in seeds]
        out[name] = labels.count(label) / len(labels)
    out["issue-example"] = float(diagnose(issue_example()).label.value == "overfitting")
    return out


if __name__ == "__main__":  # .venv/bin/python tests/diagnosis_curves.py
    for family, right in measure().items():
        print(f"{family:24s} {right:6.1%}")
    for seeds in (range(8, 58), range(1000, 1100)):
        hit, false = noisy_val_oracle(seeds)
        print(f"noisy-val oracle, seeds {seeds.start}-{seeds.stop - 1}: {hit:.1%} caught at "
              f"{false:.1%} false alarms (5 % test)")
