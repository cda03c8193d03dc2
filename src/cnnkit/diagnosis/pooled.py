"""Pooled evidence of a rise that holds: the statistic behind ``val-loss-held-up``.

An end-point rule compares the last few epochs with the minimum, so a rise of 2-4 noise units on a
noisy validation set is lost in the noise of those few epochs. :func:`held_rise` pools instead:
it compares the *mean* of every epoch after the lowest window (of ``POOL_REF_FRACTION`` of the
run) with the *mean* of that window, the last ``POOL_TAIL_FRACTION`` of the run holding the rise,
and measures the difference in standard errors of that difference, so that evidence adds up over
the tail's epochs (the standard error shrinks as 1/sqrt(epochs)). The window is the minimum the
held rise is measured from, so its middle epoch must lie before that last ``POOL_TAIL_FRACTION``:
a "minimum" inside the window that is to hold the rise would make a short tail (a few epochs,
whose noise is estimated from a few more) and one more place to look for a low window. Two
corrections keep noise from passing for a rise:

* **Autocorrelation.** A validation set is the same images every epoch, so its noise is
  correlated from epoch to epoch and a mean of k epochs is worth fewer than k. The lag-1
  autocorrelation phi of the tail (about its Theil-Sen line) inflates the variance of each mean
  by (1 + phi) / (1 - phi).
* **Look-elsewhere.** The reference window is the lowest of many, so it is biased low. The
  expected bias of the lowest of N independent window means, sqrt(2 ln N) of their standard
  errors, is subtracted, with N counted from the data: the windows whose mean lies within two
  standard errors of the lowest, divided by the window width (overlapping windows are not
  independent). A sharp minimum before a rise has N = 1 (no correction); a flat curve whose
  minimum is a dip among many has a large N.

numpy only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cnnkit.diagnosis.stats import FloatArray, noise, theil_sen
from cnnkit.diagnosis.thresholds import (
    POOL_MAX_PHI,
    POOL_MIN_EPOCHS,
    POOL_REF_FRACTION,
    POOL_TAIL_FRACTION,
)

__all__ = ["HeldRise", "held_rise", "normal_cdf"]


def normal_cdf(z: float) -> float:
    """The standard normal distribution function Phi(z) (``math.erfc``; no scipy)."""
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


@dataclass(frozen=True)
class HeldRise:
    """How far the tail of a series sits above its lowest earlier window, pooled.

    Attributes:
        ref_start: 0-based first epoch of the reference (lowest) window.
        width: Epochs in the reference window.
        ref: Mean of the reference window.
        tail: Epochs in the tail (every epoch after the reference window).
        tail_mean: Mean of the tail.
        rise: ``tail_mean - ref``.
        sigma: Per-epoch noise (:func:`~cnnkit.diagnosis.stats.noise` of the series from the
            reference window on).
        phi: Lag-1 autocorrelation of the tail's noise, clipped to [0, ``POOL_MAX_PHI``].
        bias: The look-elsewhere correction subtracted from ``rise``.
        z: ``(rise - bias)`` in standard errors of the difference of the two means; ``rise`` is
            capped at twice the rise of the last ``POOL_TAIL_FRACTION`` of the run, so a rise that
            came back down does not count as held.
    """

    ref_start: int
    width: int
    ref: float
    tail: int
    tail_mean: float
    rise: float
    sigma: float
    phi: float
    bias: float
    z: float

    @property
    def ref_epoch(self) -> int:
        """1-based middle epoch of the reference window."""
        return self.ref_start + self.width // 2 + 1

    def epochs_for(self, z: float, n: int) -> int | None:
        """Total epochs at which the same rise would reach ``z`` (the tail grows with the run),
        or ``None`` when more epochs cannot get there (the reference window's own noise)."""
        if self.rise - self.bias <= 0:
            return None
        vif = (1 + self.phi) / (1 - self.phi)
        inv_k = ((self.rise - self.bias) / (z * self.sigma)) ** 2 / vif - 1 / self.width
        if inv_k <= 0:
            return None
        return max(n, self.ref_start + self.width + math.ceil(1 / inv_k))


def held_rise(x: FloatArray) -> HeldRise | None:
    """The pooled rise of the tail of ``x`` above its lowest earlier window.

    Args:
        x: The series (a validation loss), shape ``(epochs,)``.

    Returns:
        A :class:`HeldRise`, or ``None`` when ``x`` has non-finite values or fewer than
        ``POOL_MIN_EPOCHS`` epochs.
    """
    n = x.size
    if n < POOL_MIN_EPOCHS or not np.isfinite(x).all():
        return None
    m = int(min(max(round(n * POOL_REF_FRACTION), 3), 8))
    last = max(3, math.ceil(POOL_TAIL_FRACTION * n))
    # Candidate reference windows have their middle epoch before the last POOL_TAIL_FRACTION of
    # the run, which must hold the rise; the tail is every epoch after the chosen window.
    means = np.convolve(x[: n - last - m // 2 + m - 1], np.ones(m) / m, mode="valid")
    if means.size == 0:
        return None
    j = int(np.argmin(means))
    ref = float(means[j])
    tail = x[j + m:]
    k = tail.size
    seg = x[j:] if n - j >= 8 else x[-8:]
    res = tail - theil_sen(tail) * np.arange(k)
    res = res - res.mean()
    denom = float((res * res).sum())
    # The MAD of second differences is robust but erratic on a dozen epochs (it read a third of
    # the true noise on some flat runs); the spread of the tail about its own line is efficient.
    # The larger of the two is the noise.
    sigma = max(noise(seg), math.sqrt(denom / (k - 2)) if k > 2 else 0.0)
    r1 = float((res[1:] * res[:-1]).sum() / denom) if denom > 0 and k >= 4 else 0.0
    phi = min(max(r1, 0.0), POOL_MAX_PHI)
    vif = (1 + phi) / (1 - phi)
    se_ref = sigma * math.sqrt(vif / m)
    near = int((means <= ref + 2 * se_ref).sum())
    bias = se_ref * math.sqrt(2 * math.log(max(near / m, 1.0)))
    rise = float(tail.mean()) - ref
    held = float(x[-last:].mean()) - ref
    z = (min(rise, 2 * held) - bias) / (sigma * math.sqrt(vif * (1 / m + 1 / k)))
    return HeldRise(j, m, ref, k, float(tail.mean()), rise, sigma, phi, bias, z)
