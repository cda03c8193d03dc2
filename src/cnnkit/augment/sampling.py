"""Seeded random draws for whole batches: uniform, normal, Beta and random boxes.

Every draw takes an optional :class:`torch.Generator`, which may live on another device than the
images: the numbers are drawn on the generator's device and moved to the images' device, so a
CPU generator reproduces the same parameters whatever device the batch is on. The draws are
made once per batch, one value (or one row of candidates) per image.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

#: Candidate boxes drawn per image by RandomResizedCrop / RandomErasing (torchvision tries 10
#: times in a loop; here the 10 tries are drawn at once and the first valid one is kept).
_BOX_TRIES = 10


def _rand(
    shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device
) -> Tensor:
    """Uniform [0, 1) float32 numbers drawn on the generator's device, returned on ``device``."""
    source = generator.device if generator is not None else device
    return torch.rand(shape, generator=generator, device=source).to(device)


def _randn(
    shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device
) -> Tensor:
    """Standard normal float32 numbers drawn on the generator's device, returned on ``device``."""
    source = generator.device if generator is not None else device
    return torch.randn(shape, generator=generator, device=source).to(device)


def _log_gamma_sample(
    alpha: float, n: int, generator: torch.Generator | None, device: torch.device
) -> Tensor:
    """Logarithm of ``n`` Gamma(alpha, 1) samples, shape ``(n,)`` float32.

    Hand-written (Marsaglia & Tsang, 2000, with the ``U**(1/alpha)`` boost for ``alpha < 1``)
    because torch's Gamma/Beta samplers do not accept a ``torch.Generator``, and Mixup/CutMix
    must be reproducible with one. Each round accepts more than 95% of the candidates, so the
    loop (over rounds, not images) runs only a few times. Works in log space so that tiny
    ``alpha`` does not underflow to 0.
    """
    a = alpha + 1.0 if alpha < 1.0 else alpha
    d = a - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    out = torch.zeros(n, device=device)
    done = torch.zeros(n, dtype=torch.bool, device=device)
    while not bool(done.all()):
        z = _randn((n,), generator, device)
        u = _rand((n,), generator, device)
        v = (1.0 + c * z) ** 3
        positive = v > 0
        log_v = torch.log(torch.where(positive, v, torch.ones_like(v)))
        accept = positive & (torch.log(u) < 0.5 * z * z + d - d * v + d * log_v)
        new = accept & ~done
        out = torch.where(new, math.log(d) + log_v, out)
        done = done | accept
    if alpha < 1.0:
        u = _rand((n,), generator, device).clamp_min(torch.finfo(torch.float32).tiny)
        out = out + torch.log(u) / alpha
    return out


def _sample_beta(
    alpha: float, n: int, generator: torch.Generator | None, device: torch.device
) -> Tensor:
    """``n`` samples of Beta(alpha, alpha), shape ``(n,)`` float32.

    Drawn as ``X / (X + Y)`` with ``X, Y ~ Gamma(alpha)``, i.e. ``sigmoid(log X - log Y)``.
    """
    log_x = _log_gamma_sample(alpha, n, generator, device)
    log_y = _log_gamma_sample(alpha, n, generator, device)
    return torch.sigmoid(log_x - log_y)


def _sample_boxes(
    u: Tensor,
    height: int,
    width: int,
    scale: tuple[float, float],
    ratio: tuple[float, float],
) -> tuple[Tensor, Tensor, Tensor]:
    """Box sizes for RandomResizedCrop / RandomErasing, ``_BOX_TRIES`` candidates per image.

    Args:
        u: uniform numbers of shape ``(2 * _BOX_TRIES, N)``: the first ``_BOX_TRIES`` rows draw
            the candidates' areas, the others their aspect ratios.
        height, width: image size.
        scale: range of the box area as a fraction of the image area.
        ratio: range of the box's aspect ratio ``width / height`` (drawn log-uniformly).

    Returns:
        ``(h, w, found)``: box height and width ``(N,)`` (int64) of the first candidate per image
        that fits in the image, and whether one did.
    """
    tries = u.view(2, _BOX_TRIES, u.shape[1]).transpose(1, 2)  # (2, N, _BOX_TRIES)
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    area = height * width * (scale[0] + (scale[1] - scale[0]) * tries[0])
    aspect = torch.exp(log_ratio[0] + (log_ratio[1] - log_ratio[0]) * tries[1])
    w = torch.round(torch.sqrt(area * aspect)).long()
    h = torch.round(torch.sqrt(area / aspect)).long()
    valid = (w > 0) & (w <= width) & (h > 0) & (h <= height)
    first = valid.int().argmax(dim=1, keepdim=True)  # index of the first valid candidate
    found = valid.any(dim=1)
    return h.gather(1, first).squeeze(1), w.gather(1, first).squeeze(1), found
