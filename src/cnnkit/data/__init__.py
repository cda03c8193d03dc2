"""Image data: loaders, a stratified split, float conversion and a built-in synthetic data set.

Everything here returns images as ``uint8`` tensors in NCHW layout, ``(N, 3, H, W)``, with
``int64`` labels of shape ``(N,)`` and the list of class names, bundled in an
:class:`ImageDataset` (a ``NamedTuple``, so ``X, y, classes = load_image_csv(...)`` works).

* :func:`load_image_csv` reads the case study's layout: a CSV of ``image name, label`` rows and
  an ``images/`` folder. ``load_image_csv(root)`` finds ``labels.csv``, else ``train.csv`` (the
  original data set's name), else the folder's only ``.csv`` file.
* :func:`load_image_folder` reads one sub-folder per class (``root/<class>/<image>``).
* ``lazy=True`` on either loader gives a :class:`LazyImageDataset` instead: the same files,
  labels and classes, decoded one image at a time in ``__getitem__`` (data bigger than memory).
* :func:`deduplicate` drops exact duplicate images (run it before splitting).
* :func:`train_val_split` makes the case study's stratified 90/10 split, reproducibly.
* :func:`to_float` turns ``uint8`` images into ``float32`` in ``[0, 1]``.
* :func:`synthetic_vehicles` draws the built-in data set: road vehicles where emergency vehicles
  differ by small cues (light bars, livery stripes).

Decoding uses Pillow (``pip install cnnkit[images]``), imported only when a loader runs. Images
are decoded in a thread pool: Pillow releases the GIL inside its C decoders and resampling
(roughly half of the per-file time; the Python work around them holds it), so the threads
overlap part of the work on several cores. Images go from NHWC (as decoded) to NCHW with
``permute``, never ``reshape``: reshaping NHWC memory into NCHW shape scrambles pixels into
nonsense channels (the classic bug of the original case study's code).

The submodules, one concept each: ``dataset`` (the type, ``to_float``), ``decode`` (Pillow, the
thread pool), ``cache`` (the on-disk cache), ``pipeline`` (cache-or-decode, shared by both
loaders), ``layout`` (finding the CSV and its columns, suggesting the call that works),
``csv_loader`` and ``folder_loader`` (the two layouts), ``lazy`` (the decode-on-access dataset), ``dedup``, ``split``, ``drawing`` and ``synthetic``
(the built-in data set).
"""

from __future__ import annotations

from .csv_loader import load_image_csv
from .dataset import IMAGE_EXTENSIONS, ImageDataset, OnError, SizeLike, to_float
from .dedup import deduplicate, duplicate_groups
from .folder_loader import load_image_folder
from .layout import DEFAULT_IMAGE_COLUMN, DEFAULT_LABEL_COLUMN, LABEL_CSV_NAMES
from .lazy import LazyImageDataset
from .split import train_val_split
from .synthetic import EMERGENCY_FRACTION, synthetic_vehicles

__all__ = [
    "DEFAULT_IMAGE_COLUMN",
    "DEFAULT_LABEL_COLUMN",
    "EMERGENCY_FRACTION",
    "IMAGE_EXTENSIONS",
    "LABEL_CSV_NAMES",
    "ImageDataset",
    "LazyImageDataset",
    "OnError",
    "SizeLike",
    "deduplicate",
    "duplicate_groups",
    "load_image_csv",
    "load_image_folder",
    "synthetic_vehicles",
    "to_float",
    "train_val_split",
]
