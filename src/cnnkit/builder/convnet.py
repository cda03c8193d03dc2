"""ConvNet: the model a :class:`~cnnkit.builder.ModelBuilder` builds (``features`` then ``head``)."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from torch import Tensor, nn

from cnnkit.layers.shapes import _check_image_input

__all__ = ["ConvNet"]


class ConvNet(nn.Sequential):
    """The model :meth:`ModelBuilder.build` returns: ``features`` then ``head``.

    A plain ``nn.Sequential`` with two named children, so ``state_dict``, ``torch.compile``,
    ``DistributedDataParallel`` and :func:`cnnkit.fuse_batchnorm` handle it like any module.

    Attributes:
        features: ``nn.Sequential`` of :class:`~cnnkit.layers.ConvBlock` (``block1``, ...).
        head: ``nn.Sequential``: ``flatten`` (or ``pool`` + ``flatten``), optional
            :class:`~cnnkit.layers.DenseBlock` (``dense1``, ...), then ``classifier`` (``nn.Linear``).
        input_shape: ``(C, H, W)`` the model was built for.
        num_classes: width of the output.
        spec: the builder's :meth:`ModelBuilder.to_dict` when it was serializable, else ``None``.

    Input shape:
        ``(N, C, H, W)`` with ``(C, H, W) == input_shape``.

    Output shape:
        ``(N, num_classes)`` logits.
    """

    features: nn.Sequential
    head: nn.Sequential

    def __init__(
        self,
        features: nn.Sequential,
        head: nn.Sequential,
        *,
        input_shape: tuple[int, int, int],
        num_classes: int,
        spec: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(OrderedDict(features=features, head=head))
        self.input_shape = input_shape
        self.num_classes = num_classes
        self.spec = spec

    def forward(self, x: Tensor) -> Tensor:
        _check_image_input(x, self.input_shape[0], type(self).__name__)
        # A flatten head fixes the input size; global average pooling ("avg") accepts any.
        if "pool" not in self.head._modules and tuple(x.shape[-2:]) != self.input_shape[1:]:
            h, w = self.input_shape[1:]
            raise ValueError(
                f"this model was built for {h}x{w} images (input_size={self.input_shape[1:]}) but "
                f"got {x.shape[-2]}x{x.shape[-1]}; resize the images, rebuild with "
                f"input_size=({x.shape[-2]}, {x.shape[-1]}), or use head='avg' (any input size)"
            )
        for part in self:
            x = part(x)
        return x
