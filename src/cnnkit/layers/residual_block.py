"""ResidualBlock: the basic block of ResNet (two 3x3 convs and a shortcut), with stochastic depth."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from torch import Tensor, nn

from cnnkit._validate import check_positive_int, check_probability
from cnnkit.layers.factories import LayerSpec, get_activation, get_dropout
from cnnkit.layers.shapes import _check_image_input, _conv_padding, _spatial_out
from cnnkit.layers.stochastic_depth import DropPath

__all__ = ["ResidualBlock"]


class ResidualBlock(nn.Module):
    """The basic ResNet block (He et al., 2016): ``act(branch(x) + shortcut(x))``.

    The branch (``branch``, an ``nn.Sequential`` of ``conv1``, ``bn1``, ``act1``, ``drop``,
    ``conv2``, ``bn2``; absent layers left out) is conv 3x3 (``stride``) -> [batch norm] ->
    activation -> [dropout] -> conv 3x3 -> [batch norm], followed by [drop path]. The shortcut is the identity when the shape is kept (same
    channels, stride 1) and a 1x1 projection (conv with ``stride``, then batch norm) otherwise, so
    the two can be added. Stochastic depth (``drop_path > 0``) skips the branch for a random
    fraction of the samples while training, one more regularizer for deep stacks; it is the
    identity in eval mode. Convolutions have no bias when batch norm follows them.

    Args:
        in_channels: channels of the input (``C_in``).
        out_channels: channels of the output (``C_out``).
        stride: stride of the first conv and of the projection (2 halves ``H`` and ``W``).
        kernel_size: odd side of both convs' square kernels (``"same"`` padding).
        batch_norm: batch norm after each conv and in the projection shortcut.
        activation: see :func:`~cnnkit.layers.get_activation` (used after the first conv and
            after the addition); ``None`` for none.
        dropout: drop probability in ``[0, 1)`` between the two convs (as in Wide ResNets).
        dropout_kind: ``"channel"`` (default), ``"element"`` or ``"block"``; see
            :func:`~cnnkit.layers.get_dropout`.
        block_size: square size for ``dropout_kind="block"``.
        drop_path: stochastic-depth probability in ``[0, 1)``: the chance that a sample skips
            the branch while training (see :func:`~cnnkit.layers.drop_path`).
        projection: force (``True``) or forbid (``False``) the 1x1 projection shortcut; ``None``
            (default) uses one exactly when the shape changes.
        zero_init: start the last batch norm's scale at 0, so the block begins as the identity
            (helps deep stacks train; Goyal et al., 2017).

    Raises:
        ValueError: a non-positive size or channel count, an even ``kernel_size``, a dropout or
            drop path outside ``[0, 1)``, an unknown name, or ``projection=False`` when the
            shape changes (an identity shortcut cannot be added to a different shape).
        TypeError: a layer factory that does not return a new ``nn.Module``.

    Input shape:
        ``(N, in_channels, H, W)``.

    Output shape:
        ``(N, out_channels, H', W')`` with ``H' = (H - 1) // stride + 1`` (and the same for
        ``W'``); :meth:`output_shape` computes it.

    Example:
        >>> block = ResidualBlock(16, 32, stride=2, drop_path=0.1)
        >>> block(torch.randn(2, 16, 32, 32)).shape
        torch.Size([2, 32, 16, 16])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        stride: int = 1,
        kernel_size: int = 3,
        batch_norm: bool = True,
        activation: LayerSpec = "relu",
        dropout: float = 0.0,
        dropout_kind: str = "channel",
        block_size: int = 7,
        drop_path: float = 0.0,
        projection: bool | None = None,
        zero_init: bool = False,
    ) -> None:
        super().__init__()
        for value, name in (
            (in_channels, "in_channels"),
            (out_channels, "out_channels"),
            (stride, "stride"),
            (kernel_size, "kernel_size"),
        ):
            check_positive_int(value, name)
        pad = _conv_padding("same", kernel_size, 1)
        rate = check_probability(drop_path, "drop_path", allow_one=False)
        changes_shape = stride != 1 or in_channels != out_channels
        if projection is False and changes_shape:
            raise ValueError(
                f"projection=False needs the shape kept, but in_channels={in_channels}, "
                f"out_channels={out_channels}, stride={stride} change it; use projection=None "
                "(a 1x1 projection shortcut when needed)"
            )
        bias = not batch_norm
        layers: OrderedDict[str, nn.Module | None] = OrderedDict(
            conv1=nn.Conv2d(in_channels, out_channels, kernel_size, stride, pad, bias=bias),
            bn1=nn.BatchNorm2d(out_channels) if batch_norm else None,
            act1=get_activation(activation),
            drop=get_dropout(dropout, dropout_kind, block_size=block_size),
            conv2=nn.Conv2d(out_channels, out_channels, kernel_size, 1, pad, bias=bias),
            bn2=nn.BatchNorm2d(out_channels) if batch_norm else None,
        )
        # One nn.Sequential, so fuse_batchnorm folds each batch norm into the conv before it.
        self.branch = nn.Sequential(OrderedDict((k, v) for k, v in layers.items() if v is not None))
        self.drop_path = DropPath(rate) if rate > 0 else nn.Identity()
        self.shortcut: nn.Module
        if projection or (projection is None and changes_shape):
            proj = nn.Sequential()
            proj.add_module("conv", nn.Conv2d(in_channels, out_channels, 1, stride, bias=bias))
            if batch_norm:
                proj.add_module("bn", nn.BatchNorm2d(out_channels))
            self.shortcut = proj
        else:
            self.shortcut = nn.Identity()
        self.act = get_activation(activation) or nn.Identity()
        last_bn = layers["bn2"]
        if zero_init and isinstance(last_bn, nn.BatchNorm2d):
            nn.init.zeros_(last_bn.weight)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        _check_image_input(x, self.in_channels, type(self).__name__)
        result: Tensor = self.act(self.drop_path(self.branch(x)) + self.shortcut(x))
        return result

    @property
    def has_projection(self) -> bool:
        """Whether the shortcut is a 1x1 projection (``False``: the identity)."""
        return not isinstance(self.shortcut, nn.Identity)

    def output_shape(self, input_shape: Sequence[int]) -> tuple[int, ...]:
        """Shape this block produces for ``input_shape``, by arithmetic (no forward pass).

        Args:
            input_shape: ``(C, H, W)`` or ``(N, C, H, W)``.

        Returns:
            The output shape with the same rank as ``input_shape``.

        Raises:
            ValueError: a rank other than 3 or 4, or a channel count other than ``in_channels``.
        """
        shape = tuple(int(s) for s in input_shape)
        if len(shape) not in (3, 4):
            raise ValueError(f"input_shape must be (C, H, W) or (N, C, H, W), got {shape}")
        c, h, w = shape[-3:]
        if c != self.in_channels:
            raise ValueError(f"input_shape has {c} channels, this block expects {self.in_channels}")
        for module in self.branch:
            h, w = _spatial_out(module, h, w)
        return (*shape[:-3], self.out_channels, h, w)
