"""Record real training runs with induced conditions and label their prefixes by their future.

The real-run test set of issue 13 (``tests/fixtures/real_runs/``, read by
``tests/test_diagnosis_real_runs.py``). Every run is a real ``cnnkit.training.Trainer`` fit on the
shared real photos, with a condition induced (large unregularized nets, tiny nets, a linear model
on downsampled pixels, rates from 1e-5 to divergent, heavy dropout, schedules that end converged,
short and long runs, binary and 6-class). Each run is trained well past the prefixes that get a
label, and each prefix is labelled by what the same run did afterwards (:func:`label_prefix`, the
rules are written there and in docs/diagnosis.md); prefixes the future leaves ambiguous are left
out (and listed, with the reason, in the run's file).

Run from the repository root (about 20-30 minutes on one shared CPU core)::

    nice -n 10 .venv/bin/python benchmarks/record_real_runs.py            # every run
    nice -n 10 .venv/bin/python benchmarks/record_real_runs.py --only tiny # names containing "tiny"

Each run writes ``tests/fixtures/real_runs/<name>.json``: the run's full history (floats rounded
to 5 significant digits), its dataset, condition, seed, configuration, ``num_classes`` and
``chance_accuracy`` (the majority fraction of its training labels), and the labelled prefixes.
The labels depend only on the recorded history, so ``--relabel`` re-derives them from the
committed files without training.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from cnnkit import augment
from cnnkit.data import load_image_csv, load_image_folder
from cnnkit.training import Trainer

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
OUT = ROOT / "tests" / "fixtures" / "real_runs"

#: fractions of a run whose prefixes get a label (each at least MIN_PREFIX epochs)
PREFIX_FRACTIONS = (0.25, 0.4, 0.6, 0.8)
#: the shortest labelled prefix
MIN_PREFIX = 8
#: the future must be at least this many epochs long to say anything about a prefix
MIN_FUTURE = 10

# ---------------------------------------------------------------------------------------------
# Labelling rules (docs/diagnosis.md, "The real-run set").  All on the same run's full history.
#   sigma_l: noise of the validation loss, 1.4826 x MAD of its second differences / sqrt(6)
#            over the whole run (floored at 0.5 % of its median), sigma_a the same for val acc.
#   end:     the prefix's end, the mean of its last 3 epochs; smoothed = 3-epoch running median.
#   skill:   (acc - chance) / (1 - chance), chance = the majority fraction of the training labels.
# diverging     a non-finite loss in the prefix; or the prefix's last-half median training or
#               validation loss above EXPLODE x ln C, or any loss in the prefix above BLOWUP x
#               ln C (a blow-up), and the future never brings the validation accuracy skill
#               above 0.2 (a blow-up the run recovers from is left out).
# overfitting   the end of the prefix's validation loss lies above the prefix's smoothed minimum
#               (at least 3 epochs before the end) by RISE_CLEAR = max(4 sigma_l, 5 %), the
#               training loss fell since that minimum, and the future's smoothed validation loss
#               never comes back below minimum + half that margin.
# slow          the future's best smoothed validation loss lies GAIN_CLEAR = max(4 sigma_l, 5 %)
#               below the prefix's end, or its best smoothed validation accuracy ACC_CLEAR =
#               max(0.04, 4 sigma_a) above it (validation skill must rise too: a future that only
#               overfits is not "slow"), the future's validation loss at least not worse than
#               the end (an accuracy gain on a worsening loss is noise on a small set); and the
#               prefix is not overfitting.
# underfitting  training accuracy skill at the end of the prefix below UNDER_SKILL, and the future
#               gains little: best future smoothed training and validation accuracy at most
#               ACC_LITTLE = 0.03 above the prefix's end, validation loss at most 2 % lower.
# healthy       training skill at least UNDER_SKILL + 0.1, the prefix's end within half of
#               RISE_CLEAR of its minimum, a train-minus-validation accuracy gap under GAP_MAX at
#               its end (a 10-point gap is overfitting by cnnkit's own definition, which the
#               future of the validation loss cannot settle), and the future changes nothing:
#               validation loss at most half of GAIN_CLEAR lower (and never RISE_CLEAR above
#               the end), accuracy at most ACC_LITTLE higher.
# underfitting and healthy claim that nothing changes: they also need a future at least half
# as long as the prefix (a short future shows a change, not the absence of one).
# Anything else (between the margins, or several at once) is ambiguous and left out.
# ---------------------------------------------------------------------------------------------
EXPLODE = 5.0
BLOWUP = 100.0
GAP_MAX = 0.10
UNDER_SKILL = 0.5
ACC_LITTLE = 0.03


def _noise(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    if len(x) < 5:
        return 0.0
    d2 = np.diff(x, 2)
    s = 1.4826 * float(np.median(np.abs(d2 - np.median(d2)))) / math.sqrt(6)
    return max(s, 0.005 * float(np.median(np.abs(x))))


def _smooth(x: np.ndarray) -> np.ndarray:
    if len(x) < 3:
        return x.copy()
    pad = np.concatenate([x[:1], x, x[-1:]])
    return np.median(np.stack([pad[:-2], pad[1:-1], pad[2:]]), axis=0)


def label_prefix(h: dict[str, list[float]], p: int, chance: float,
                 num_classes: int) -> tuple[str | None, str]:
    """The label of the first ``p`` epochs of run ``h`` by the rules above, and why.

    Returns ``(label, evidence)``; ``label`` is ``None`` when the future leaves it ambiguous.
    """
    tl, vl = np.asarray(h["train_loss"], float), np.asarray(h["val_loss"], float)
    ta, va = np.asarray(h["train_acc"], float), np.asarray(h["val_acc"], float)
    n = len(tl)
    ln_c = math.log(num_classes)

    def skill(a: Any) -> Any:
        return (a - chance) / (1 - chance)
    if not (np.all(np.isfinite(tl[:p])) and np.all(np.isfinite(vl[:p]))):
        return "diverging", "non-finite loss in the prefix"
    half = slice(p // 2, p)
    future = slice(p, n)
    if n - p < MIN_FUTURE:
        return None, "future too short"
    fut_va = _smooth(va[future])
    exploded = max(float(np.median(tl[half])), float(np.median(vl[half]))) > EXPLODE * ln_c
    blown_up = max(float(np.max(tl[:p])), float(np.max(vl[:p]))) > BLOWUP * ln_c
    if exploded or blown_up:
        if np.nanmax(skill(fut_va)) < 0.2:
            return "diverging", (f"last-half median loss {np.median(tl[half]):.3g}/"
                                 f"{np.median(vl[half]):.3g}, peak {np.max(tl[:p]):.3g} "
                                 f"(ln C = {ln_c:.3g}); the future never leaves chance")
        return None, "exploded loss but the future recovers"
    sig_l, sig_a = _noise(vl), _noise(va)
    s_vl, s_ta = _smooth(vl), _smooth(ta)
    end_vl, end_va, end_ta = (float(np.mean(x[p - 3:p])) for x in (vl, va, ta))
    m = int(np.argmin(s_vl[:p]))
    min_vl = float(s_vl[m])
    rise_clear = max(4 * sig_l, 0.05 * min_vl)
    gain_clear = max(4 * sig_l, 0.05 * end_vl)
    acc_clear = max(0.04, 4 * sig_a)
    fut_vl = s_vl[future]
    fut_ta = s_ta[future]
    rise = end_vl - min_vl
    ev = (f"val loss end {end_vl:.4g}, prefix min {min_vl:.4g} @ {m + 1}, future min "
          f"{fut_vl.min():.4g}; val acc end {end_va:.3f}, future max {fut_va.max():.3f}; train "
          f"acc end {end_ta:.3f} (skill {skill(end_ta):.2f}); sigma_l {sig_l:.3g}")
    overfit = (m <= p - 4 and rise >= rise_clear and tl[p - 1] < tl[m]
               and fut_vl.min() >= min_vl + rise_clear / 2)
    slow = ((fut_vl.min() <= end_vl - gain_clear or fut_va.max() >= end_va + acc_clear)
            and fut_va.max() >= end_va + ACC_LITTLE / 2 and fut_vl.min() <= end_vl
            and rise < rise_clear / 2)
    little = (fut_ta.max() <= end_ta + ACC_LITTLE and fut_va.max() <= end_va + ACC_LITTLE
              and fut_vl.min() >= end_vl * 0.98)
    # "Nothing changes" needs a future long enough to show it: at least half the prefix.
    long_future = n - p >= p / 2
    under = skill(end_ta) < UNDER_SKILL and little and rise < rise_clear and long_future
    healthy = (long_future and skill(end_ta) >= UNDER_SKILL + 0.1 and rise <= rise_clear / 2
               and end_ta - end_va < GAP_MAX
               and fut_vl.min() >= end_vl - gain_clear / 2 and fut_vl.max() < end_vl + rise_clear
               and fut_va.max() <= end_va + ACC_LITTLE)
    hits = [name for name, ok in (("overfitting", overfit), ("slow-converging", slow),
                                  ("underfitting", under), ("healthy", healthy)) if ok]
    if len(hits) == 1:
        return hits[0], ev
    return None, ("ambiguous: " + (" and ".join(hits) if hits else "no rule clearly") + "; " + ev)


# ---------------------------------------------------------------------------------------------
# Data: each set loaded once, small.
# ---------------------------------------------------------------------------------------------
_CACHE: dict[tuple[str, int], tuple[torch.Tensor, torch.Tensor, int]] = {}


def dataset(name: str, size: int) -> tuple[torch.Tensor, torch.Tensor, int]:
    """``(images uint8 (N, 3, size, size), labels int64 (N,), num_classes)`` of a shared set."""
    key = (name, size)
    if key not in _CACHE:
        if name == "vehicles":
            d = load_image_csv(DATA / "vehicles_full", size=size, num_workers=1)
        elif name == "intel":
            d = load_image_folder(DATA / "intel_scenes", size=size, num_workers=1)
        elif name == "emergency201":
            d = load_image_csv(DATA / "emergency_vehicles", size=size, num_workers=1)
        else:
            raise ValueError(f"unknown dataset {name!r}")
        _CACHE[key] = (d.images, d.labels, len(d.class_names))
    return _CACHE[key]


def split(name: str, size: int, n_train: int, n_val: int) -> tuple[Any, Any, int, float]:
    """A fixed (seed 0) split: train, val, num_classes, chance (majority fraction of train)."""
    X, y, c = dataset(name, size)
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    val_idx, train_idx = perm[:n_val], perm[n_val:n_val + n_train]
    yt = y[train_idx]
    chance = float(torch.bincount(yt, minlength=c).max()) / len(yt)
    return (X[train_idx], yt), (X[val_idx], y[val_idx]), c, chance


# ---------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------
def tiny_cnn(c: int, k: int = 2) -> nn.Module:
    """k 3x3 stride-2 filters, global average pooling, a linear head: tens of parameters."""
    return nn.Sequential(nn.Conv2d(3, k, 3, stride=2), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(k, c))


def linear_pixels(c: int, size: int, pool: int = 4) -> nn.Module:
    """A linear model on pixels average-pooled by ``pool``."""
    side = size // pool
    return nn.Sequential(nn.AvgPool2d(pool), nn.Flatten(), nn.Linear(3 * side * side, c))


def small_cnn(c: int, size: int, w: int = 16, dropout: float = 0.0, bn: bool = False) -> nn.Module:
    """Two conv blocks (w, 2w channels) and a linear head on the flattened maps."""
    def block(i: int, o: int) -> list[nn.Module]:
        layers: list[nn.Module] = [nn.Conv2d(i, o, 3, padding=1)]
        if bn:
            layers.append(nn.BatchNorm2d(o))
        layers += [nn.ReLU(), nn.MaxPool2d(2)]
        if dropout:
            layers.append(nn.Dropout(dropout))
        return layers
    side = size // 4
    return nn.Sequential(*block(3, w), *block(w, 2 * w), nn.Flatten(),
                         nn.Linear(2 * w * side * side, c))


def big_mlp(c: int, size: int, width: int = 1024) -> nn.Module:
    """An unregularized two-hidden-layer MLP on raw pixels (millions of parameters)."""
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * size * size, width), nn.ReLU(),
                         nn.Linear(width, width), nn.ReLU(), nn.Linear(width, c))


def anneal_then_hold(frac: float = 0.6, floor: float = 0.01) -> Callable[[Any, int], Any]:
    """Cosine from the rate to ``floor`` x the rate over ``frac`` of the steps, then held."""
    def factory(optimizer: Any, total_steps: int) -> Any:
        t_end = max(1, int(frac * total_steps))

        def f(step: int) -> float:
            if step >= t_end:
                return floor
            return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * step / t_end))
        return torch.optim.lr_scheduler.LambdaLR(optimizer, f)
    return factory


# ---------------------------------------------------------------------------------------------
# The runs
# ---------------------------------------------------------------------------------------------
@dataclass
class Run:
    name: str
    condition: str
    data: str
    size: int
    n_train: int
    n_val: int
    model: str
    epochs: int
    seed: int = 0
    optimizer: str = "adam"
    lr: float = 1e-3
    batch_size: int = 64
    scheduler: str | None = None
    model_kw: dict[str, Any] = field(default_factory=dict)
    weight_decay: float = 0.0
    augment: bool = False

    def build(self, c: int) -> nn.Module:
        if self.model == "tiny_cnn":
            return tiny_cnn(c, **self.model_kw)
        if self.model == "linear":
            return linear_pixels(c, self.size, **self.model_kw)
        if self.model == "small_cnn":
            return small_cnn(c, self.size, **self.model_kw)
        if self.model == "big_mlp":
            return big_mlp(c, self.size, **self.model_kw)
        raise ValueError(self.model)


VEH, INT, EMG = "vehicles", "intel", "emergency201"
RUNS: list[Run] = [
    # large unregularized nets on small training sets: overfit
    Run("overfit_mlp_vehicles_s0", "big MLP, 300 images", VEH, 24, 300, 400, "big_mlp", 60, 0),
    Run("overfit_mlp_vehicles_s1", "big MLP, 300 images", VEH, 24, 300, 400, "big_mlp", 60, 1,
        lr=3e-4),
    Run("overfit_mlp_intel_s0", "big MLP, 600 images", INT, 24, 600, 600, "big_mlp", 60, 0),
    Run("overfit_cnn_vehicles_s0", "wide CNN, 400 images", VEH, 24, 400, 400, "small_cnn", 60, 0,
        model_kw={"w": 32}),
    Run("overfit_cnn_intel_s0", "wide CNN, 600 images", INT, 24, 600, 600, "small_cnn", 50, 0,
        model_kw={"w": 32}),
    Run("overfit_cnn_emergency_s0", "wide CNN, 140 photos", EMG, 32, 140, 61, "small_cnn", 60, 0,
        model_kw={"w": 32}),
    Run("overfit_mlp_emergency_s1", "big MLP, 140 photos", EMG, 32, 140, 61, "big_mlp", 50, 1,
        lr=3e-4),
    # tiny nets / linear models: underfit
    Run("tiny_cnn_vehicles_s0", "2-filter CNN (tens of params)", VEH, 24, 1000, 400, "tiny_cnn",
        100, 0, lr=1e-2),
    Run("tiny_cnn_vehicles_s1", "2-filter CNN (tens of params)", VEH, 24, 1000, 400, "tiny_cnn",
        100, 1, lr=3e-3),
    Run("tiny_cnn_intel_s0", "3-filter CNN (tens of params)", INT, 24, 1200, 600, "tiny_cnn", 80,
        0, lr=1e-2, model_kw={"k": 3}),
    Run("linear_vehicles_s0", "linear on 6x6 pixels", VEH, 24, 1000, 400, "linear", 100, 0,
        lr=1e-2),
    Run("linear_vehicles_s1", "linear on 3x3 pixels", VEH, 24, 1000, 400, "linear", 80, 1,
        lr=3e-3, model_kw={"pool": 8}),
    Run("linear_intel_s0", "linear on 3x3 pixels", INT, 24, 1200, 600, "linear", 80, 0, lr=1e-2,
        model_kw={"pool": 8}),
    Run("linear_emergency_s0", "linear on 4x4 pixels", EMG, 32, 140, 61, "linear", 100, 0,
        lr=1e-2, model_kw={"pool": 8}),
    # low rates: slow
    Run("slow_adam1e-5_vehicles_s0", "Adam 1e-5", VEH, 24, 1000, 400, "small_cnn", 100, 0,
        lr=1e-5),
    Run("slow_adam1e-5_intel_s0", "Adam 1e-5", INT, 24, 1200, 600, "small_cnn", 80, 0, lr=1e-5),
    Run("slow_adam3e-5_vehicles_s1", "Adam 3e-5", VEH, 24, 1000, 400, "small_cnn", 100, 1,
        lr=3e-5),
    Run("slow_sgd1e-3_intel_s1", "SGD 1e-3", INT, 24, 1200, 600, "small_cnn", 80, 1, "sgd",
        lr=1e-3),
    Run("slow_adam1e-5_emergency_s0", "Adam 1e-5", EMG, 32, 140, 61, "small_cnn", 120, 0,
        lr=1e-5),
    # divergent rates
    Run("diverge_adam1_vehicles_s0", "Adam lr 1", VEH, 24, 1000, 400, "small_cnn", 40, 0, lr=1.0),
    Run("diverge_adam3_intel_s0", "Adam lr 3", INT, 24, 1200, 600, "small_cnn", 40, 0, lr=3.0),
    Run("diverge_adam2_emergency_s1", "Adam lr 2", EMG, 32, 140, 61, "big_mlp", 40, 1, lr=2.0),
    Run("diverge_sgd20_vehicles_s0", "SGD lr 20", VEH, 24, 1000, 400, "small_cnn", 40, 0, "sgd",
        lr=20.0),
    Run("diverge_sgd20_intel_s1", "SGD lr 20", INT, 24, 1200, 600, "small_cnn", 40, 1, "sgd",
        lr=20.0),
    # heavy dropout
    Run("dropout07_vehicles_s0", "dropout 0.7", VEH, 24, 1000, 400, "small_cnn", 80, 0,
        model_kw={"dropout": 0.7}),
    Run("dropout07_intel_s0", "dropout 0.7", INT, 24, 1200, 600, "small_cnn", 60, 0,
        model_kw={"dropout": 0.7}),
    # schedules that end converged (History.lr recorded)
    Run("anneal_hold_vehicles_s0", "BN CNN, cosine over 60 % then held at 1 %", VEH, 24, 1000,
        400, "small_cnn", 60, 0, lr=3e-3, scheduler="anneal_hold", model_kw={"bn": True}),
    Run("anneal_hold_intel_s0", "BN CNN, cosine over 60 % then held at 1 %", INT, 24, 1200, 600,
        "small_cnn", 60, 0, lr=3e-3, scheduler="anneal_hold", model_kw={"bn": True}),
    Run("onecycle_vehicles_s1", "BN CNN + dropout 0.3, onecycle", VEH, 24, 1000, 400, "small_cnn",
        50, 1, lr=3e-3, scheduler="onecycle", model_kw={"bn": True, "dropout": 0.3}),
    Run("cosine_intel_s1", "BN CNN + dropout 0.3, cosine", INT, 24, 1200, 600, "small_cnn", 50, 1,
        lr=3e-3, scheduler="cosine", model_kw={"bn": True, "dropout": 0.3}),
    Run("anneal_hold_emergency_s0", "CNN + dropout 0.3, cosine over 60 % then held", EMG, 32, 140,
        61, "small_cnn", 80, 0, lr=1e-3, scheduler="anneal_hold", model_kw={"dropout": 0.3}),
    # ordinary runs, short and long
    Run("plain_cnn_vehicles_s2", "small CNN, Adam 1e-3", VEH, 24, 1000, 400, "small_cnn", 40, 2,
        model_kw={"w": 8}),
    Run("plain_cnn_intel_s2", "small CNN, Adam 1e-3", INT, 24, 1200, 600, "small_cnn", 40, 2,
        model_kw={"w": 8}),
    Run("plain_bn_vehicles_long_s3", "BN CNN + dropout 0.5, Adam 3e-4, long", VEH, 24, 1000, 400,
        "small_cnn", 120, 3, lr=3e-4, model_kw={"w": 8, "bn": True, "dropout": 0.5}),
    # regularized runs meant to converge and stay there
    Run("reg_onecycle_vehicles_s4", "BN CNN + dropout 0.3, onecycle", VEH, 24, 1000, 400,
        "small_cnn", 50, 4, lr=3e-3, scheduler="onecycle", model_kw={"bn": True, "dropout": 0.3}),
    Run("reg_onecycle_vehicles_s5", "BN CNN + dropout 0.3, onecycle", VEH, 24, 1000, 400,
        "small_cnn", 50, 5, lr=3e-3, scheduler="onecycle", model_kw={"bn": True, "dropout": 0.3}),
    Run("reg_anneal40_intel_s4", "narrow CNN + dropout 0.3, cosine over 40 % then held", INT, 24,
        1200, 600, "small_cnn", 50, 4, lr=3e-3, scheduler="anneal_hold:0.4",
        model_kw={"w": 8, "dropout": 0.3}),
    Run("reg_anneal40_intel_s5", "narrow CNN + dropout 0.3, cosine over 40 % then held", INT, 24,
        1200, 600, "small_cnn", 50, 5, lr=3e-3, scheduler="anneal_hold:0.4",
        model_kw={"w": 8, "dropout": 0.3}),
    Run("reg_aug_vehicles_s4", "BN CNN + dropout 0.3 + augment + wd, cosine over 50 % then held",
        VEH, 24, 1000, 400, "small_cnn", 60, 4, lr=3e-3, scheduler="anneal_hold:0.5",
        model_kw={"w": 8, "bn": True, "dropout": 0.3}, weight_decay=5e-4, augment=True),
    Run("reg_aug_intel_s4", "BN CNN + dropout 0.3 + augment + wd, cosine over 50 % then held",
        INT, 24, 1200, 600, "small_cnn", 60, 4, lr=3e-3, scheduler="anneal_hold:0.5",
        model_kw={"w": 8, "bn": True, "dropout": 0.3}, weight_decay=5e-4, augment=True),
    Run("plain_cnn_intel_s5", "small CNN, Adam 1e-3", INT, 24, 1200, 600, "small_cnn", 40, 5,
        model_kw={"w": 8}),
    Run("reg_anneal40_intel_s6", "narrow CNN + dropout 0.3, cosine over 40 % then held", INT,
        24, 1200, 600, "small_cnn", 50, 6, lr=3e-3, scheduler="anneal_hold:0.4",
        model_kw={"w": 8, "dropout": 0.3}),
    Run("reg_anneal40_vehicles_s6", "narrow CNN + dropout 0.3, cosine over 40 % then held", VEH,
        24, 1000, 400, "small_cnn", 50, 6, lr=3e-3, scheduler="anneal_hold:0.4",
        model_kw={"w": 8, "dropout": 0.3}),
    Run("reg_anneal40_vehicles_s7", "narrow CNN + dropout 0.3, cosine over 40 % then held", VEH,
        24, 1000, 400, "small_cnn", 50, 7, lr=3e-3, scheduler="anneal_hold:0.4",
        model_kw={"w": 8, "dropout": 0.3}),
    Run("plain_cnn_intel_s6", "small CNN, Adam 1e-3", INT, 24, 1200, 600, "small_cnn", 40, 6,
        model_kw={"w": 8}),
    Run("reg_onecycle_intel_s6", "BN CNN + dropout 0.3, onecycle", INT, 24, 1200, 600,
        "small_cnn", 50, 6, lr=3e-3, scheduler="onecycle", model_kw={"bn": True, "dropout": 0.3}),
]


def _round(x: float) -> float | None:
    if not math.isfinite(x):
        return None if math.isnan(x) else (math.inf if x > 0 else -math.inf)
    return float(f"{x:.5g}")


def prefixes(n: int) -> list[int]:
    """The prefix lengths labelled for a run of ``n`` epochs."""
    out = sorted({max(MIN_PREFIX, round(f * n)) for f in PREFIX_FRACTIONS})
    return [p for p in out if p <= n - MIN_FUTURE]


def label_run(rec: dict[str, Any]) -> None:
    """Fill ``rec["prefixes"]`` and ``rec["left_out"]`` from ``rec["history"]``."""
    h = {k: [math.nan if v is None else v for v in vals] for k, vals in rec["history"].items()}
    n = len(h["train_loss"])
    rec["prefixes"], rec["left_out"] = [], []
    stopped = not all(math.isfinite(v) for v in h["train_loss"] + h["val_loss"])
    if stopped and n < MIN_PREFIX:
        rec["left_out"].append({"epochs": n, "why": f"stopped (non-finite) before {MIN_PREFIX}"})
        return
    lengths = [n] if stopped and n < MIN_PREFIX + MIN_FUTURE else prefixes(n)
    for p in lengths:
        lab, why = label_prefix(h, p, rec["chance_accuracy"], rec["num_classes"])
        if lab is None:
            rec["left_out"].append({"epochs": p, "why": why})
        else:
            rec["prefixes"].append({"epochs": p, "label": lab, "evidence": why})


def record(run: Run) -> dict[str, Any]:
    """Train one run and return its JSON record (unlabelled)."""
    train, val, c, chance = split(run.data, run.size, run.n_train, run.n_val)
    torch.manual_seed(run.seed)
    model = run.build(c)
    sched: Any = run.scheduler
    if run.scheduler is not None and run.scheduler.startswith("anneal_hold"):
        frac = float(run.scheduler.partition(":")[2] or 0.6)
        sched = anneal_then_hold(frac)
    X = train[0].float() / 255
    mean = X.mean((0, 2, 3)).tolist()
    std = X.std((0, 2, 3)).tolist()
    trainer = Trainer(max_epochs=run.epochs, batch_size=run.batch_size, optimizer=run.optimizer,
                      lr=run.lr, scheduler=sched, device="cpu", seed=run.seed, progress=False,
                      normalize=(tuple(mean), tuple(std)), weight_decay=run.weight_decay,
                      augment=augment.default() if run.augment else None)
    t0 = time.perf_counter()
    hist = trainer.fit(model, train, val=val)
    d = hist.to_dict()
    keep = ("train_loss", "val_loss", "train_acc", "val_acc", "lr", "grad_norm")
    history = {k: [_round(float(v)) for v in d[k]] for k in keep if d.get(k)}
    params = sum(p.numel() for p in model.parameters())
    return {"name": run.name, "dataset": run.data, "condition": run.condition, "seed": run.seed,
            "num_classes": c, "chance_accuracy": round(chance, 4),
            "config": {"model": run.model, "params": params, "image_size": run.size,
                       "n_train": run.n_train, "n_val": run.n_val, "optimizer": run.optimizer,
                       "lr": run.lr, "batch_size": run.batch_size, "scheduler": run.scheduler,
                       "max_epochs": run.epochs, "weight_decay": run.weight_decay,
                       "augment": "default" if run.augment else None, **run.model_kw},
            "stop_reason": hist.stop_reason,
            "seconds": round(time.perf_counter() - t0, 1), "history": history}


def _write(rec: dict[str, Any]) -> None:
    path = OUT / f"{rec['name']}.json"
    path.write_text(json.dumps(rec, separators=(",", ":"), allow_nan=True) + "\n")


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", default="", help="record only runs whose name contains this")
    ap.add_argument("--relabel", action="store_true",
                    help="re-derive the labels of the committed files; no training")
    args = ap.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    if args.relabel:
        for path in sorted(OUT.glob("*.json")):
            rec = json.loads(path.read_text())
            label_run(rec)
            _write(rec)
            print(path.name, [(q["epochs"], q["label"]) for q in rec["prefixes"]])
        return
    torch.set_num_threads(1)
    for run in RUNS:
        if args.only not in run.name:
            continue
        rec = record(run)
        label_run(rec)
        _write(rec)
        print(f"{run.name}: {rec['seconds']} s, {len(rec['history']['train_loss'])} epochs, "
              f"{[(q['epochs'], q['label']) for q in rec['prefixes']]}, "
              f"left out {[q['epochs'] for q in rec['left_out']]}", flush=True)


if __name__ == "__main__":
    main()
