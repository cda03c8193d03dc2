"""Decoding image files with Pillow, one file or many in a thread pool.

Pillow is an optional extra (``pip install cnnkit[images]``), imported only when a loader runs.
Images are decoded in a thread pool: Pillow releases the GIL inside its C decoders and
resampling (roughly half of the per-file time; the Python work around them holds it), so the
threads overlap part of the work on several cores.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from .dataset import OnError

__all__: list[str] = []


def _require_pillow() -> Any:
    """Import Pillow's ``Image`` module, or explain how to install it.

    Raises:
        ImportError: Pillow is not installed; the message names ``pip install cnnkit[images]``.
    """
    try:
        from PIL import Image
    except ImportError as exc:  # pragma: no cover - exercised through monkeypatch in tests
        raise ImportError(
            "loading image files needs Pillow, which is not installed; "
            "install it with `pip install cnnkit[images]` (or `pip install Pillow`)"
        ) from exc
    return Image


def _decode_image(path: Path, size: tuple[int, int] | None) -> np.ndarray[Any, Any]:
    """Decode one image file into an ``(H, W, 3)`` ``uint8`` RGB array.

    The EXIF orientation is applied; transparent images (RGBA, LA, palette with transparency)
    are composited onto white; everything else is converted with Pillow's ``convert("RGB")``
    (grey, CMYK, palette). When ``size`` is given the image is resized to it with Pillow's
    bilinear filter (``Image.resize(..., Image.BILINEAR)``, which antialiases when shrinking).

    Args:
        path: the image file.
        size: ``(height, width)`` to resize to, or ``None`` to keep the file's size.

    Returns:
        ``uint8`` array of shape ``(H, W, 3)``.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: Pillow cannot identify or fully decode the file (corrupt or truncated).
    """
    image_mod = _require_pillow()
    from PIL import ImageOps

    if not path.is_file():
        raise FileNotFoundError(f"image file not found: {path}")
    try:
        with image_mod.open(path) as im:
            im.load()  # force the full decode here, so truncated files fail now
            im = ImageOps.exif_transpose(im)
            has_alpha = im.mode in ("RGBA", "LA", "PA") or (
                im.mode == "P" and "transparency" in im.info
            )
            if has_alpha:
                rgba = im.convert("RGBA")
                background = image_mod.new("RGBA", rgba.size, (255, 255, 255, 255))
                im = image_mod.alpha_composite(background, rgba).convert("RGB")
            elif im.mode != "RGB":
                im = im.convert("RGB")
            if size is not None and (im.height, im.width) != size:
                im = im.resize((size[1], size[0]), image_mod.Resampling.BILINEAR)
            array = np.asarray(im, dtype=np.uint8)
    except (OSError, SyntaxError, ValueError, image_mod.DecompressionBombError) as exc:
        raise ValueError(
            f"cannot decode image {path}: {exc}; check that it is a valid image file, or pass "
            "on_error='skip' to leave it out"
        ) from exc
    return array


def _default_workers() -> int:
    """Number of cores this process may run on (at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def _decode_all(
    paths: Sequence[Path],
    size: tuple[int, int] | None,
    on_error: OnError,
    num_workers: int | None,
) -> tuple[np.ndarray[Any, Any], list[int], list[str]]:
    """Decode ``paths`` in a thread pool.

    Args:
        paths: the image files, in output order.
        size: ``(height, width)`` to resize every image to, or ``None`` (all must then agree).
        on_error: ``"raise"`` stops at the first bad file; ``"skip"`` leaves it out.
        num_workers: threads; ``None`` uses every core this process may run on.

    Returns:
        ``(array (M, H, W, 3) uint8, kept indices into paths, messages of skipped files)``.

    Raises:
        FileNotFoundError: a file is missing (with ``on_error="raise"``).
        ValueError: ``num_workers < 1``, a file cannot be decoded or has another size (with
            ``on_error="raise"``), or no image is left.
    """
    workers = _default_workers() if num_workers is None else num_workers
    if workers < 1:
        raise ValueError(f"num_workers must be at least 1, got {num_workers}")

    def job(path: Path) -> np.ndarray[Any, Any] | Exception:
        try:
            return _decode_image(path, size)
        except (FileNotFoundError, ValueError) as exc:
            if on_error == "raise":
                raise
            return exc

    if workers == 1 or len(paths) < 2:
        results = [job(p) for p in paths]
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cnnkit-decode") as pool:
            results = list(pool.map(job, paths))

    kept: list[int] = []
    arrays: list[np.ndarray[Any, Any]] = []
    skipped: list[str] = []
    for i, result in enumerate(results):
        if isinstance(result, Exception):
            skipped.append(str(result))
            continue
        if arrays and result.shape != arrays[0].shape:
            message = _size_mismatch(paths[i], result.shape, paths[kept[0]], arrays[0].shape)
            if on_error == "raise":
                raise ValueError(message)
            skipped.append(message)
            continue
        kept.append(i)
        arrays.append(result)
    if not arrays:
        raise ValueError(
            f"no image could be loaded ({len(skipped)} skipped); first problem: "
            f"{skipped[0] if skipped else 'no files'}"
        )
    return np.stack(arrays), kept, skipped


def _size_mismatch(
    path: Path, shape: tuple[int, ...], first: Path, first_shape: tuple[int, ...]
) -> str:
    """The error for an image whose ``(H, W, 3)`` shape differs from the first image's."""
    return (
        f"image {path} has size {shape[1]}x{shape[0]} but {first} has "
        f"{first_shape[1]}x{first_shape[0]}; pass size=... to resize every image to one size"
    )


def _warn_skipped(skipped: Sequence[str]) -> None:
    """One ``UserWarning`` with the count and the first three reasons, if anything was skipped."""
    if skipped:
        shown = "; ".join(skipped[:3]) + ("; ..." if len(skipped) > 3 else "")
        warnings.warn(f"skipped {len(skipped)} item(s): {shown}", UserWarning, stacklevel=3)
