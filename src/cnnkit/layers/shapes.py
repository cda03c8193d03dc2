"""Shape arithmetic and input checks of the blocks: padding, spatial output sizes, image batches.

Output sizes are computed with PyTorch's formulas (floor mode), never by a dummy forward pass,
except for a user-supplied layer of unknown type, which runs once on the ``meta`` device (no
memory, no compute).
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from cnnkit.layers.dropblock import DropBlock2d

#: Layers that keep the spatial size (so :func:`_spatial_out` needs no formula for them).
_SHAPE_PRESERVING = (
    nn.BatchNorm2d,
    nn.Dropout,
    nn.Dropout2d,
    DropBlock2d,
    nn.Identity,
    nn.ReLU,
    nn.LeakyReLU,
    nn.ELU,
    nn.GELU,
    nn.SiLU,
    nn.Tanh,
    nn.Sigmoid,
)


def _conv_padding(padding: int | str, kernel_size: int, dilation: int) -> int:
    """The per-side padding of a convolution given as ``"same"``, ``"valid"`` or an int.

    ``"same"`` is ``dilation * (kernel_size - 1) // 2`` (the map keeps its size at stride 1) and
    needs an odd ``kernel_size``.

    Raises:
        ValueError: an unknown string, a negative or non-int padding, or ``"same"`` with an even
            kernel.
    """
    if isinstance(padding, str):
        if padding == "valid":
            return 0
        if padding != "same":
            raise ValueError(f"padding must be 'same', 'valid' or an int >= 0, got {padding!r}")
        if kernel_size % 2 == 0:
            raise ValueError(
                f"padding='same' needs an odd kernel_size, got {kernel_size}; use an odd kernel "
                "or an explicit int padding"
            )
        return dilation * (kernel_size - 1) // 2
    if isinstance(padding, bool) or not isinstance(padding, int) or padding < 0:
        raise ValueError(f"padding must be 'same', 'valid' or an int >= 0, got {padding!r}")
    return padding


def _pair(v: int | tuple[int, ...]) -> tuple[int, int]:
    """A module's int-or-tuple size attribute as ``(h, w)``."""
    if isinstance(v, int):
        return v, v
    return int(v[0]), int(v[-1])


def _spatial_out(module: nn.Module, h: int, w: int) -> tuple[int, int]:
    """Spatial size ``(H', W')`` after ``module`` for an ``(H, W)`` input (PyTorch's formulas).

    Raises:
        ValueError: a pooling layer in ``ceil_mode`` (not supported).
    """
    if isinstance(module, nn.Conv2d):
        (kh, kw), (sh, sw) = _pair(module.kernel_size), _pair(module.stride)
        (dh, dw) = _pair(module.dilation)
        ph, pw = _pair(module.padding)  # type: ignore[arg-type]
        return (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1, (
            w + 2 * pw - dw * (kw - 1) - 1
        ) // sw + 1
    if isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
        (kh, kw) = _pair(module.kernel_size)
        (sh, sw) = _pair(module.stride or module.kernel_size)
        ph, pw = _pair(module.padding)
        dil = _pair(module.dilation) if isinstance(module, nn.MaxPool2d) else (1, 1)
        if module.ceil_mode:
            raise ValueError("output_shape does not support ceil_mode pooling")
        return (
            (h + 2 * ph - dil[0] * (kh - 1) - 1) // sh + 1,
            (w + 2 * pw - dil[1] * (kw - 1) - 1) // sw + 1,
        )
    if isinstance(module, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        oh, ow = _pair(module.output_size)  # type: ignore[arg-type]
        return (h if oh is None else oh), (w if ow is None else ow)
    if isinstance(module, _SHAPE_PRESERVING):
        return h, w
    # A user-supplied pool or activation: run a copy on the meta device (no memory, no compute).
    out = copy.deepcopy(module).to("meta")(torch.empty(1, 1, h, w, device="meta"))
    return int(out.shape[-2]), int(out.shape[-1])


def _check_image_input(x: Tensor, in_channels: int, who: str) -> None:
    """Raise with a fix when ``x`` is not a floating-point ``(N, in_channels, H, W)`` batch.

    Args:
        x: the input batch.
        in_channels: the channel count the module expects.
        who: the module's name, used in the messages.

    Raises:
        TypeError: ``x`` is not a tensor.
        ValueError: a rank other than 4, an integer dtype, or the wrong channel count (with a
            ``permute`` hint when ``x`` looks channels-last).
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"{who} expects a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 4:
        hint = " (add a batch dimension with x.unsqueeze(0))" if x.dim() == 3 else ""
        raise ValueError(
            f"{who} expects a 4-D (N, C, H, W) tensor, got {x.dim()}-D shape {tuple(x.shape)}{hint}"
        )
    if not x.is_floating_point():
        raise ValueError(
            f"{who} expects floating-point images, got dtype {x.dtype}; convert uint8 images "
            "with x.float() / 255 (cnnkit.data.to_float), or let cnnkit.Trainer do it per batch"
        )
    if x.shape[1] != in_channels:
        if x.shape[-1] == in_channels:
            raise ValueError(
                f"{who} got shape {tuple(x.shape)}, which looks channels-last (N, H, W, C); "
                f"expected (N, {in_channels}, H, W). Convert with x.permute(0, 3, 1, 2) "
                "(never reshape, which scrambles the pixels)"
            )
        raise ValueError(
            f"{who} expects {in_channels} input channels, got shape {tuple(x.shape)} with "
            f"{x.shape[1]} channels"
        )
