"""Inference-time fusion: fold batch norm into the preceding convolution.

In eval mode a batch norm is a fixed per-channel affine map, ``y = gamma * (x - mean) /
sqrt(var + eps) + beta``. When it directly follows a convolution, the two compose into one
convolution with rescaled weights and a new bias, so the model does one pass over the feature map
instead of two. Only the conv -> batch norm order can be folded this way; a batch norm after an
activation (``order="conv-act-bn"``) cannot, and is left as it is.
"""

from __future__ import annotations

import copy
import itertools
import warnings

import torch
from torch import nn

__all__ = ["fuse_batchnorm"]


def fuse_batchnorm(model: nn.Module) -> nn.Module:
    """Return an eval-mode copy of ``model`` with every conv -> batch norm pair folded together.

    Inside every ``nn.Sequential`` (so every :class:`~cnnkit.layers.ConvBlock` in the
    ``conv-bn-act`` order), a ``BatchNorm2d`` that directly follows a ``Conv2d`` is folded into the
    conv's weight and bias and replaced by ``nn.Identity``. The original model is not modified.
    Batch norms that cannot be folded (after an activation, without running statistics, or the
    ``BatchNorm1d`` of a :class:`~cnnkit.layers.DenseBlock`) are kept, and a ``UserWarning`` names
    them.

    Args:
        model: any module; typically a trained :class:`~cnnkit.builder.ConvNet`.

    Returns:
        The fused copy, in eval mode. Its outputs match ``model.eval()`` to float rounding
        (about 1e-6 relative in float32). It is for inference only: do not train it.

    Raises:
        TypeError: ``model`` is not an ``nn.Module``.

    Example:
        >>> from cnnkit import ModelBuilder, fuse_batchnorm
        >>> model = ModelBuilder(3, 2, 32, batch_norm=True).conv(8).build().eval()
        >>> fused = fuse_batchnorm(model)
        >>> x = torch.randn(4, 3, 32, 32)
        >>> torch.allclose(model(x), fused(x), atol=1e-5)
        True
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"fuse_batchnorm expects an nn.Module, got {type(model).__name__}")
    fused = copy.deepcopy(model).eval()
    folded: set[int] = set()
    for parent in fused.modules():
        if not isinstance(parent, nn.Sequential):
            continue
        names = list(parent._modules)
        for prev_name, name in itertools.pairwise(names):
            conv, bn = parent._modules[prev_name], parent._modules[name]
            if (
                isinstance(conv, nn.Conv2d)
                and isinstance(bn, nn.BatchNorm2d)
                and bn.running_mean is not None
                and bn.running_var is not None
                and conv.out_channels == bn.num_features
            ):
                _fold(conv, bn)
                folded.add(id(bn))
                parent._modules[name] = nn.Identity()
    left = [
        name
        for name, m in fused.named_modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and id(m) not in folded
    ]
    if left:
        warnings.warn(
            f"fuse_batchnorm left {len(left)} batch norm layer(s) unfused because they do not "
            f"directly follow a Conv2d with running statistics: {', '.join(left)}",
            UserWarning,
            stacklevel=2,
        )
    return fused


@torch.no_grad()
def _fold(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> None:
    assert bn.running_mean is not None and bn.running_var is not None
    scale = torch.rsqrt(bn.running_var + bn.eps)
    if bn.affine:
        scale = scale * bn.weight
    shift = -bn.running_mean * scale
    if bn.affine:
        shift = shift + bn.bias
    conv.weight.mul_(scale.reshape(-1, 1, 1, 1).to(conv.weight.dtype))
    if conv.bias is None:
        conv.bias = nn.Parameter(shift.to(conv.weight.dtype))
    else:
        conv.bias.copy_(conv.bias * scale + shift)
