"""A map-style ``Dataset`` that decodes each image when it is indexed: data bigger than memory.

``load_image_csv(..., lazy=True)`` and ``load_image_folder(..., lazy=True)`` run the same
discovery step as the eager loaders (the same files, labels and class list, in the same order)
and hand the result to :class:`LazyImageDataset` instead of decoding everything at once. Each
``dataset[i]`` decodes one file with the eager path's decoder (:func:`decode._decode_image`),
so the pixels are identical for the same ``size``.

The dataset holds its file names in one numpy string array and its labels in one ``int64``
array, not in Python lists: DataLoader workers forked from the main process then share those
pages instead of copying them as reference counts change (the copy-on-read growth of lists of
Python objects in forked workers). It pickles, so it works with every worker start method.
"""

from __future__ import annotations

import operator
import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from cnnkit._validate import size_pair

from .dataset import OnError, _to_nchw
from .decode import _decode_image, _require_pillow, _size_mismatch, _warn_skipped

__all__ = ["LazyImageDataset", "Transform"]

#: A per-image hook of :class:`LazyImageDataset`: ``uint8`` ``(3, H, W)`` tensor in, anything out.
Transform = Callable[[Tensor], Any]


class LazyImageDataset(Dataset[tuple[Any, int]]):
    """Image files with labels, decoded one at a time in ``__getitem__``.

    Usually made by ``load_image_csv(root, lazy=True)`` or ``load_image_folder(root,
    lazy=True)``; the constructor takes any list of files. Items are ``(image, label)``:
    ``image`` a ``uint8`` tensor of shape ``(3, H, W)`` (RGB, NCHW order, the same pixels as
    the eager loader's ``images[i]``), or whatever ``transform`` returns for it; ``label`` an
    ``int``. A ``DataLoader`` (or ``cnnkit.Trainer``, which accepts any ``Dataset``) batches
    them into ``(B, 3, H, W)`` and ``(B,)``.

    Errors (``on_error``):

    * When the dataset is made: every file is checked to exist (one ``stat`` each, no decoding).
      A missing file is the eager loader's ``FileNotFoundError`` with ``"raise"``; with
      ``"skip"`` it is left out, and one ``UserWarning`` counts it with the rows the loader left
      out, as the eager path's warning does. With ``size=None`` the first image is decoded to
      fix the size the others must have.
    * When an item is decoded: a file that exists but cannot be decoded (corrupt, truncated), or
      has another size with ``size=None``, raises the eager loader's ``ValueError`` with
      ``"raise"``. With ``"skip"`` the item is replaced by the next index whose file decodes
      (wrapping around), with one ``UserWarning`` naming the bad file; the index is remembered
      (in this process) so it is not decoded again. ``len()`` does not change, so such a file
      shifts which items an epoch sees: for exactly the eager path's items, load eagerly once.

    Args:
        files: the image files, in item order.
        labels: ``labels[i]`` is the class index of ``files[i]``, in ``[0, len(classes))``.
        classes: the class names; label ``k`` is ``classes[k]``.
        size: ``(height, width)`` or an int (square) to resize to with the eager path's
            bilinear filter; ``None`` keeps each file's size, which must then be the same for
            all of them.
        on_error: ``"raise"`` or ``"skip"``, as above.
        transform: called on each decoded ``uint8`` ``(3, H, W)`` tensor; its result is the
            item's image. It must pickle (a module-level function or class, not a lambda) for
            DataLoader workers started with ``spawn``.
        skipped: messages of items the caller already left out (a loader's bad CSV rows),
            reported in the same warning as the missing files.

    Attributes:
        class_names: the class names (``classes`` is the same list, torchvision's name).
        size: ``(height, width)`` or ``None``.
        on_error: ``"raise"`` or ``"skip"``.
        transform: the per-image hook or ``None``.
        skipped: messages of everything left out when the dataset was made.

    Raises:
        ImportError: Pillow is not installed (``pip install cnnkit[images]``).
        FileNotFoundError: a file does not exist (with ``on_error="raise"``).
        ValueError: ``files`` and ``labels`` differ in length, a label is outside
            ``[0, len(classes))``, ``on_error`` is unknown, or no file is left.

    Example:
        >>> ds = load_image_folder("../shared/data/intel_scenes", size=64, lazy=True)  # doctest: +SKIP
        >>> x, y = ds[0]; x.shape, x.dtype, ds.classes[y]                           # doctest: +SKIP
        (torch.Size([3, 64, 64]), torch.uint8, 'buildings')
    """

    def __init__(
        self,
        files: Sequence[str | os.PathLike[str]],
        labels: Sequence[int],
        classes: Sequence[str],
        *,
        size: int | tuple[int, int] | None = 224,
        on_error: OnError = "raise",
        transform: Transform | None = None,
        skipped: Sequence[str] = (),
    ) -> None:
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
        if len(files) != len(labels):
            raise ValueError(
                f"{len(files)} files but {len(labels)} labels; pass one label per file"
            )
        if transform is not None and not callable(transform):
            raise TypeError(f"transform must be callable, got {type(transform).__name__}")
        _require_pillow()
        self.class_names = [str(c) for c in classes]
        label_array = np.asarray(list(labels), dtype=np.int64).reshape(-1)
        bad = label_array[(label_array < 0) | (label_array >= len(self.class_names))]
        if bad.size:
            raise ValueError(
                f"label {int(bad[0])} is outside [0, {len(self.class_names)}) for the classes "
                f"{self.class_names}; labels must index classes"
            )
        self.size = None if size is None else size_pair(size, "size")
        self.on_error: OnError = on_error
        self.transform = transform
        kept: list[str] = []
        keep_labels: list[int] = []
        left_out = list(skipped)
        for path, label in zip(files, label_array.tolist(), strict=True):
            if not os.path.isfile(path):
                message = f"image file not found: {Path(path)}"
                if on_error == "raise":
                    raise FileNotFoundError(message)
                left_out.append(message)
                continue
            kept.append(os.fspath(path))
            keep_labels.append(label)
        if not kept:
            raise ValueError(
                f"no image could be loaded ({len(left_out)} skipped); first problem: "
                f"{left_out[0] if left_out else 'no files'}"
            )
        self._paths = np.array(kept, dtype=np.str_)
        self._labels = np.asarray(keep_labels, dtype=np.int64)
        self.skipped = left_out
        self._bad: set[int] = set()
        self._first_shape: tuple[int, ...] | None = None
        self._first_index = 0
        if self.size is None:
            self._fix_first_shape()
        _warn_skipped(left_out)

    @property
    def classes(self) -> list[str]:
        """The class names, as :attr:`class_names` (the name torchvision's datasets use)."""
        return self.class_names

    @property
    def files(self) -> list[Path]:
        """The image files, in item order."""
        return [Path(p) for p in self._paths.tolist()]

    @property
    def labels(self) -> Tensor:
        """``int64`` tensor ``(N,)`` of every item's label, without decoding anything."""
        return torch.from_numpy(self._labels.copy())

    def __len__(self) -> int:
        return int(self._paths.shape[0])

    def __repr__(self) -> str:
        return (
            f"LazyImageDataset({len(self)} images, classes={self.class_names}, size={self.size}, "
            f"on_error={self.on_error!r})"
        )

    def _fix_first_shape(self) -> None:
        """With ``size=None``: decode the first file that decodes, whose size all must have."""
        for i in range(len(self)):
            try:
                self._first_shape = _decode_image(Path(self._paths[i]), None).shape
            except (FileNotFoundError, ValueError) as exc:
                if self.on_error == "raise":
                    raise
                self._bad.add(i)
                warnings.warn(f"skipped 1 item(s): {exc}", UserWarning, stacklevel=3)
                continue
            self._first_index = i
            return
        raise ValueError(f"no image of {len(self)} could be decoded; see the warnings")

    def _decode(self, i: int) -> np.ndarray[Any, Any]:
        """Decode item ``i`` as ``(H, W, 3)`` ``uint8``; raises as the eager decoder does."""
        path = Path(self._paths[i])
        array = _decode_image(path, self.size)
        if self._first_shape is not None and array.shape != self._first_shape:
            first = Path(self._paths[self._first_index])
            raise ValueError(_size_mismatch(path, array.shape, first, self._first_shape))
        return array

    def __getitem__(self, index: int) -> tuple[Any, int]:
        """Decode item ``index`` (negative counts from the end).

        Returns:
            ``(image, label)``: ``uint8`` ``(3, H, W)`` (or ``transform``'s result) and an int.

        Raises:
            IndexError: ``index`` is out of range.
            FileNotFoundError / ValueError: the file is gone or cannot be decoded (with
                ``on_error="raise"``; with ``"skip"`` the next decodable item is returned).
        """
        n = len(self)
        i = operator.index(index)
        if not -n <= i < n:
            raise IndexError(f"index {index} is out of range for {n} images")
        i %= n
        for step in range(n):
            j = (i + step) % n
            if j in self._bad:
                continue
            try:
                array = self._decode(j)
            except (FileNotFoundError, ValueError) as exc:
                if self.on_error == "raise":
                    raise
                self._bad.add(j)
                warnings.warn(
                    f"skipped 1 item(s): {exc}; item {j} is replaced by the next one that decodes",
                    UserWarning,
                    stacklevel=2,
                )
                continue
            # Pillow's arrays are read-only; torch wants a writable one (then permutes it).
            image = _to_nchw(np.require(array[np.newaxis], requirements="W"))[0]
            out = image if self.transform is None else self.transform(image)
            return out, int(self._labels[j])
        raise ValueError(f"none of the {n} images could be decoded; see the warnings")
