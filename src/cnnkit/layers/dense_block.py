"""DenseBlock: linear -> [batch norm] -> activation -> [dropout], for classifier heads."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from torch import Tensor, nn

from cnnkit._validate import check_positive_int
from cnnkit.layers.factories import LayerSpec, _check_order, _ordered, get_activation, get_dropout

__all__ = ["DenseBlock"]


class DenseBlock(nn.Sequential):
    """Linear -> [BatchNorm1d] -> activation -> [Dropout], the fully connected twin of ConvBlock.

    Args:
        in_features: size of each input sample.
        out_features: size of each output sample.
        bias: linear bias; ``None`` (default) means "only when no batch norm directly follows".
        batch_norm: add ``nn.BatchNorm1d(out_features)``.
        activation: see :func:`get_activation`; ``None`` for none.
        dropout: element-wise drop probability in ``[0, 1)``; 0 adds no layer.
        order: ``"conv-bn-act"`` (default; linear, norm, activation) or ``"conv-act-bn"``.

    Raises:
        ValueError: a non-positive size, an unknown name or a dropout outside ``[0, 1)``.

    Input shape:
        ``(N, in_features)``.

    Output shape:
        ``(N, out_features)``.

    Example:
        >>> DenseBlock(128, 64, dropout=0.5)(torch.randn(4, 128)).shape
        torch.Size([4, 64])
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        bias: bool | None = None,
        batch_norm: bool = False,
        activation: LayerSpec = "relu",
        dropout: float = 0.0,
        order: str = "conv-bn-act",
    ) -> None:
        check_positive_int(in_features, "in_features")
        check_positive_int(out_features, "out_features")
        _check_order(order)
        if bias is None:
            bias = not (batch_norm and order == "conv-bn-act")
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        layers["linear"] = nn.Linear(in_features, out_features, bias=bias)
        bn = nn.BatchNorm1d(out_features) if batch_norm else None
        for name, layer in _ordered(order, bn, get_activation(activation)):
            layers[name] = layer
        drop = get_dropout(dropout, "element")
        if drop is not None:
            layers["drop"] = drop
        super().__init__(layers)
        self.in_features = in_features
        self.out_features = out_features
        self.order = order

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 2 or x.shape[1] != self.in_features:
            raise ValueError(
                f"DenseBlock expects input of shape (N, {self.in_features}), got {tuple(x.shape)}; "
                "flatten image features first (e.g. x.flatten(1))"
            )
        for layer in self:
            x = layer(x)
        return x

    def output_shape(self, input_shape: Sequence[int]) -> tuple[int, ...]:
        """Shape produced for ``input_shape`` (``(F,)`` or ``(N, F)``), by arithmetic.

        Args:
            input_shape: ``(in_features,)`` or ``(N, in_features)``.

        Returns:
            ``(out_features,)`` or ``(N, out_features)``.

        Raises:
            ValueError: another rank or feature count.
        """
        shape = tuple(int(s) for s in input_shape)
        if len(shape) not in (1, 2) or shape[-1] != self.in_features:
            raise ValueError(
                f"input_shape must be ({self.in_features},) or (N, {self.in_features}), got {shape}"
            )
        return (*shape[:-1], self.out_features)
