"""Mixing images of a batch: Mixup, CutMix and the per-image choice between them.

These transforms need the targets: they return the mixed images and soft float targets
``(N, num_classes)``, mixed with the same weights as the images.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from cnnkit._validate import check_finite, check_positive_int, check_probability

from .base import _BatchTransform, _compute_dtype, _from_compute, _to_compute
from .checks import _check_generator, _check_images, _check_targets
from .sampling import _rand, _sample_beta


def _soft_targets(y: Tensor, num_classes: int, who: str) -> Tensor:
    """Class indices ``(N,)`` -> one-hot float ``(N, C)``; soft ``(N, C)`` checked and cast."""
    if y.dim() == 1:
        if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
            raise TypeError(
                f"{who} expects class indices as an integer tensor (N,), got dtype {y.dtype}; "
                "use y.long()"
            )
        if y.numel() and (int(y.min()) < 0 or int(y.max()) >= num_classes):
            raise ValueError(
                f"{who} got labels outside [0, {num_classes}): min {int(y.min())}, max "
                f"{int(y.max())}; check num_classes"
            )
        return F.one_hot(y.long(), num_classes).float()
    if y.dim() == 2:
        if y.shape[1] != num_classes:
            raise ValueError(
                f"{who} got soft targets with {y.shape[1]} columns but num_classes={num_classes}"
            )
        if not y.is_floating_point():
            raise TypeError(f"{who} expects soft targets (N, C) to be float, got {y.dtype}")
        return y if y.dtype == torch.float64 else y.float()
    raise ValueError(
        f"{who} expects targets of shape (N,) (class indices) or (N, num_classes), got "
        f"{tuple(y.shape)}"
    )


class MixupOrCutMix(_BatchTransform):
    """Mix each image with another image of the batch by Mixup or CutMix, chosen per image.

    For image ``i``, a partner ``j = perm[i]`` (another image of the batch, at random) and a
    weight ``lam ~ Beta(alpha, alpha)`` are drawn. Mixup: ``x_i <- lam*x_i + (1-lam)*x_j``.
    CutMix: a box covering about ``1 - lam`` of the image is pasted from ``x_j`` and ``lam`` is
    corrected to the box's exact area. Targets become ``lam*y_i + (1-lam)*y_j`` (soft, summing
    to 1). Both cases are computed together as one ``torch.lerp(x, x[perm], w)`` with a
    per-pixel weight ``w``. Images not selected (probability ``1 - p``) keep ``lam = 1``.

    Args:
        num_classes: number of classes ``C`` of the soft targets.
        mixup_alpha: Beta parameter of Mixup (> 0).
        cutmix_alpha: Beta parameter of CutMix (> 0).
        switch_prob: probability that an image uses CutMix rather than Mixup.
        p: probability that an image is mixed at all.
        generator: optional random generator for reproducibility.

    Shapes:
        ``x``: ``(N, C_img, H, W)`` float or uint8 (uint8 mixed values are rounded).
        ``y``: ``(N,)`` int class indices or ``(N, num_classes)`` soft float targets.
        Returns ``(x_mixed, y_soft)`` with ``y_soft`` float ``(N, num_classes)``.

    Raises:
        ValueError: invalid arguments; ``y`` missing, of the wrong shape, or with labels outside
            ``[0, num_classes)``.

    Example:
        >>> mix = MixupOrCutMix(num_classes=2, generator=torch.Generator().manual_seed(0))
        >>> x, y = mix(torch.rand(4, 3, 8, 8), torch.tensor([0, 1, 0, 1]))
        >>> y.shape, bool(torch.allclose(y.sum(1), torch.ones(4)))
        (torch.Size([4, 2]), True)
    """

    def __init__(
        self,
        num_classes: int,
        mixup_alpha: float = 0.8,
        cutmix_alpha: float = 1.0,
        switch_prob: float = 0.5,
        p: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.num_classes = check_positive_int(num_classes, "num_classes")
        self.mixup_alpha = self._check_alpha(mixup_alpha, "mixup_alpha")
        self.cutmix_alpha = self._check_alpha(cutmix_alpha, "cutmix_alpha")
        self.switch_prob = check_probability(switch_prob, "switch_prob")
        self.p = check_probability(p)
        self.generator = _check_generator(generator)

    @staticmethod
    def _check_alpha(alpha: object, name: str) -> float:
        value = check_finite(alpha, name)
        if value <= 0:
            raise ValueError(f"{name} must be > 0 (the Beta distribution parameter), got {alpha!r}")
        return value

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor | tuple[Tensor, Tensor]:
        """Mix a batch and its targets.

        Args:
            x: images ``(N, C, H, W)``, float or uint8.
            y: class indices ``(N,)`` or soft targets ``(N, num_classes)``; required.

        Returns:
            ``(x_mixed, y_soft)``: images of the same shape/dtype and float targets
            ``(N, num_classes)`` whose rows sum to 1 (if the input rows did).

        Raises:
            ValueError: ``y`` is None or inconsistent with ``x``.
        """
        who = type(self).__name__
        x = _check_images(x, who)
        if y is None:
            raise ValueError(
                f"{who} mixes targets too: call it as {who.lower()}(x, y) with class indices "
                "or soft targets"
            )
        _check_targets(y, x.shape[0], who)
        soft = _soft_targets(y, self.num_classes, who)
        n, _, height, width = x.shape
        if n == 0:
            return x, soft
        device, g = x.device, self.generator
        # Partners: a random cyclic order of the batch, each image paired with the next one in
        # it, so that no image is paired with itself (when N > 1) and partners are random.
        order = torch.randperm(n, generator=g, device=g.device if g is not None else device)
        perm = torch.empty_like(order)
        perm[order] = order.roll(-1)
        perm = perm.to(device)
        lam_mix = _sample_beta(self.mixup_alpha, n, g, device)
        lam_cut = _sample_beta(self.cutmix_alpha, n, g, device)
        u = _rand((4, n), g, device)
        apply = u[0] < self.p
        use_cut = u[1] < self.switch_prob
        # CutMix box (as in the CutMix paper): side ratio sqrt(1 - lam), centre uniform, clipped.
        cut = torch.sqrt(1.0 - lam_cut)
        cut_h, cut_w = (height * cut).long(), (width * cut).long()
        cy, cx = (u[2] * height).long(), (u[3] * width).long()
        y0, y1 = (cy - cut_h // 2).clamp(0, height), (cy + cut_h // 2).clamp(0, height)
        x0, x1 = (cx - cut_w // 2).clamp(0, width), (cx + cut_w // 2).clamp(0, width)
        box_lam = 1.0 - ((y1 - y0) * (x1 - x0)).float() / (height * width)
        lam = torch.where(use_cut, box_lam, lam_mix)
        lam = torch.where(apply, lam, torch.ones_like(lam))
        # Per-pixel weight of the partner image: (1 - lam) for Mixup, the box mask for CutMix.
        dtype = _compute_dtype(x)
        rows = torch.arange(height, device=device)
        cols = torch.arange(width, device=device)
        in_box = ((rows >= y0[:, None]) & (rows < y1[:, None]))[:, None, :, None] & (
            (cols >= x0[:, None]) & (cols < x1[:, None])
        )[:, None, None, :]
        cut_weight = (in_box & (use_cut & apply)[:, None, None, None]).to(dtype)
        mix_weight = torch.where(use_cut | ~apply, 0.0, 1.0 - lam).to(dtype).view(n, 1, 1, 1)
        weight = cut_weight + mix_weight  # (N, 1, H, W)
        xf = _to_compute(x)
        mixed = torch.lerp(xf, xf[perm], weight)
        lam_t = lam.to(soft.dtype)[:, None]
        y_out = lam_t * soft + (1.0 - lam_t) * soft[perm]
        return _from_compute(mixed, x), y_out

    def extra_repr(self) -> str:
        g = ", generator=<torch.Generator>" if self.generator is not None else ""
        return (
            f"num_classes={self.num_classes}, mixup_alpha={self.mixup_alpha}, "
            f"cutmix_alpha={self.cutmix_alpha}, switch_prob={self.switch_prob}, p={self.p}{g}"
        )


class Mixup(MixupOrCutMix):
    """Mixup (Zhang et al., 2018): ``x_i <- lam*x_i + (1-lam)*x_j``, targets mixed alike.

    ``lam ~ Beta(alpha, alpha)`` is drawn per image and ``j`` is another image of the
    batch. See :class:`MixupOrCutMix` for shapes and errors.

    Args:
        num_classes: number of classes of the soft targets.
        alpha: Beta parameter (> 0); small values keep images close to the originals.
        p: probability that an image is mixed.
        generator: optional random generator for reproducibility.

    Example:
        >>> mix = Mixup(num_classes=3, alpha=0.4)
        >>> x, y = mix(torch.rand(4, 3, 8, 8), torch.tensor([0, 1, 2, 1]))
        >>> y.shape
        torch.Size([4, 3])
    """

    def __init__(
        self,
        num_classes: int,
        alpha: float = 0.2,
        p: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(num_classes, alpha, 1.0, switch_prob=0.0, p=p, generator=generator)

    def extra_repr(self) -> str:
        return f"num_classes={self.num_classes}, alpha={self.mixup_alpha}, p={self.p}"


class CutMix(MixupOrCutMix):
    """CutMix (Yun et al., 2019): paste a random box from another image of the batch.

    The box covers about ``1 - lam`` of the image, ``lam ~ Beta(alpha, alpha)`` per image;
    targets are mixed by the exact pasted area. See :class:`MixupOrCutMix` for shapes/errors.

    Args:
        num_classes: number of classes of the soft targets.
        alpha: Beta parameter (> 0).
        p: probability that an image is mixed.
        generator: optional random generator for reproducibility.

    Example:
        >>> cutmix = CutMix(num_classes=2)
        >>> x, y = cutmix(torch.rand(4, 3, 8, 8), torch.tensor([0, 1, 0, 1]))
        >>> x.shape, y.shape
        (torch.Size([4, 3, 8, 8]), torch.Size([4, 2]))
    """

    def __init__(
        self,
        num_classes: int,
        alpha: float = 1.0,
        p: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(num_classes, 1.0, alpha, switch_prob=1.0, p=p, generator=generator)

    def extra_repr(self) -> str:
        return f"num_classes={self.num_classes}, alpha={self.cutmix_alpha}, p={self.p}"
