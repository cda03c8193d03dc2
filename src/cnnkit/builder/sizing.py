"""Input-size checks of the builder: the smallest input an architecture accepts, and the message."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class _Shaped(Protocol):
    def output_shape(self, input_shape: Sequence[int]) -> tuple[int, ...]: ...


def min_input_side(blocks: Sequence[_Shaped]) -> int:
    """Smallest square input side for which every block keeps at least one pixel.

    Args:
        blocks: the feature blocks in order (anything with ``output_shape((C, H, W))``), built
            with one input channel.

    Raises:
        ValueError: no side up to 65536 fits.
    """
    for side in range(1, 1 << 16):
        shape: tuple[int, ...] = (1, side, side)
        for block in blocks:
            shape = block.output_shape(shape)
            if min(shape[1:]) < 1:
                break
            shape = (1, *shape[1:])
        else:
            return side
    raise ValueError("no input size up to 65536 fits this architecture")


def too_small_message(
    index: int,
    shape: tuple[int, ...],
    out: tuple[int, ...],
    input_size: tuple[int, int],
    need: int,
) -> str:
    """The error for an ``input_size`` that block ``index`` shrinks to nothing.

    Args:
        index: 1-based number of the block that fails.
        shape: its input ``(C, H, W)``; ``out``: its output ``(C, H', W')``.
        input_size: the builder's ``(H, W)``; ``need``: the smallest square side that works.
    """
    h, w = input_size
    return (
        f"input_size {h}x{w} is too small: conv block {index} reduces the feature map from "
        f"{shape[1]}x{shape[2]} to {out[1]}x{out[2]}. This architecture needs inputs of at "
        f"least {need}x{need}: use a larger input_size, fewer conv blocks or pool=None on some"
    )
