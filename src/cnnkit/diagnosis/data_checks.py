"""Data sanity checks for image classification: :func:`check_data`.

Catches the data bugs that silently ruin a training run: channels-last images where channels-first
are expected, images scrambled by ``reshape`` instead of ``permute`` (the case study's own bug),
unnormalized 0..255 floats, constant or NaN images, class imbalance, labels outside the class range
and exact duplicates between training and validation images. Findings use the same
:class:`~cnnkit.diagnosis.findings.Finding` type as :func:`~cnnkit.diagnosis.diagnose`
(``label`` is ``None``); every threshold is a module constant with a ``#:`` rationale, tabulated
in ``docs/diagnosis.md`` from these comments. numpy only: torch tensors are accepted by duck
typing (``.detach().cpu().numpy()``), torch is never imported.

Examples:
    >>> import numpy as np
    >>> X = np.zeros((4, 224, 224, 3), dtype=np.uint8)  # channels-last by mistake
    >>> check_data(X, np.array([0, 1, 0, 1]))[0].code
    'channels-last'
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from cnnkit.diagnosis.findings import Finding, Remedy, Severity

__all__ = [
    "CORRELATION_CROP",
    "CORRELATION_SAMPLE",
    "IMAGE_CHANNELS",
    "IMBALANCE_RATIO",
    "NATURAL_MIN_CORRELATION",
    "SCRAMBLE_MIN_GAIN",
    "SMALL_DATA_PER_CLASS",
    "UNNORMALIZED_MAX",
    "check_data",
]

#: Channel counts of image tensors (grey, RGB, RGBA): `channels-last` when dim 1 is not one of
#: these but the last dim is, `unusual-channels` when neither is.
IMAGE_CHANNELS = (1, 3, 4)
#: `check_data`: images sampled for the neighbouring-pixel correlations. The mean correlation
#: over 64 images has a standard error of a few hundredths, far below the gaps the layout rules
#: look for.
CORRELATION_SAMPLE = 64
#: Side of the central crop used for those statistics. A 96x96 crop holds 9,000 neighbour pairs
#: per channel; the full 224x224 image is five times slower and no more decisive.
CORRELATION_CROP = 96
#: `no-spatial-correlation`: the lower of the across/down lag-1 neighbouring-pixel correlations
#: below this means the tensor as given is not laid out as images. Natural photos are near 0.9.
NATURAL_MIN_CORRELATION = 0.5
#: `reshape-scramble`: undoing an NHWC->NCHW reshape (`X.reshape(N, H, W, C).permute(0, 3, 1, 2)`)
#: that raises the lower correlation by at least this much, to at least `NATURAL_MIN_CORRELATION`,
#: proves the reshape-instead-of-permute bug. Scrambled photos gain about 0.7; correct photos lose
#: about 0.06.
SCRAMBLE_MIN_GAIN = 0.2
#: `unnormalized-range`: float images whose maximum exceeds this are not normalized. Standardized
#: images rarely exceed +-5 and 0..1 images never exceed 1; 0..255 floats are the usual culprit.
UNNORMALIZED_MAX = 10.0
#: `class-imbalance`: a largest/smallest class count ratio at or above this. Accuracy is then
#: misleading: chance is the majority fraction, not 1/C.
IMBALANCE_RATIO = 3.0
#: `small-training-set`: fewer training images than this per class; augmentation advised. The
#: case study (about 750 per class) overfits without it.
SMALL_DATA_PER_CLASS = 1000

Array = npt.NDArray[Any]


def _to_numpy(x: Any, name: str) -> Array:
    """Tensor or array-like -> numpy array (no copy for CPU tensors and arrays)."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # torch.Tensor, without importing torch
        t = x.detach().cpu()
        if str(t.dtype) in ("torch.bfloat16", "torch.float16"):
            t = t.float()
        return np.asarray(t.numpy())
    if isinstance(x, np.ndarray):
        return x
    if isinstance(x, (list, tuple)):
        return np.asarray(x)
    raise TypeError(f"{name} must be a torch tensor or a numpy array, got {type(x).__name__}")


def _neighbour_correlation(imgs: npt.NDArray[Any]) -> tuple[float, float]:
    """Mean lag-1 Pearson correlation across (horizontal) and down (vertical), images (S, C, H, W).

    Per image and channel over a central crop of at most CORRELATION_CROP pixels a side, then
    averaged over those with non-zero variance.
    """
    h, w = imgs.shape[2:]
    top, left = max(0, (h - CORRELATION_CROP) // 2), max(0, (w - CORRELATION_CROP) // 2)
    crop = imgs[:, :, top:top + CORRELATION_CROP, left:left + CORRELATION_CROP].astype(np.float64)
    a = crop - crop.mean(axis=(2, 3), keepdims=True)

    def corr(u: npt.NDArray[np.float64], v: npt.NDArray[np.float64]) -> float:
        num = (u * v).sum(axis=(2, 3))
        den = np.sqrt((u * u).sum(axis=(2, 3)) * (v * v).sum(axis=(2, 3)))
        ok = np.isfinite(num) & np.isfinite(den) & (den > 0)
        return float(np.mean(num[ok] / den[ok])) if ok.any() else math.nan

    # Values near the float limits overflow in the products; those channels are skipped (ok).
    with np.errstate(over="ignore", invalid="ignore"):
        return corr(a[..., :, :-1], a[..., :, 1:]), corr(a[..., :-1, :], a[..., 1:, :])


def _image_findings(X: Array, split: str, seed: int) -> list[Finding]:
    out: list[Finding] = []
    pre = "" if split == "train" else "validation "
    if X.ndim != 4:
        hint = " (add a channel axis: X.unsqueeze(1))" if X.ndim == 3 else ""
        out.append(Finding("bad-shape", None, Severity.ERROR,
                           f"{pre}images have shape {tuple(X.shape)}; expected 4-D (N, C, H, W){hint}.",
                           {"shape": list(X.shape), "split": split}))
        return out
    n, c, h, w = X.shape
    if n == 0:
        out.append(Finding("empty", None, Severity.ERROR, f"{pre}data set has no images.",
                           {"split": split}))
        return out
    layout_ok = True
    if c not in IMAGE_CHANNELS and w in IMAGE_CHANNELS:
        layout_ok = False
        out.append(Finding(
            "channels-last", None, Severity.ERROR,
            f"{pre}images have shape {tuple(X.shape)}: channels last (N, H, W, C) where channels "
            "first (N, C, H, W) are expected.",
            {"shape": list(X.shape), "split": split},
            (Remedy("Use X.permute(0, 3, 1, 2) (torch) or X.transpose(0, 3, 1, 2) (numpy); never "
                    "reshape, which scrambles the pixels.", {}),)))
    elif c not in IMAGE_CHANNELS:
        layout_ok = False
        out.append(Finding("unusual-channels", None, Severity.WARNING,
                           f"{pre}images have {c} channels; expected 1, 3 or 4 in dimension 1.",
                           {"shape": list(X.shape), "split": split}))
    flat = X.reshape(n, -1)
    is_float = X.dtype.kind in "fc"
    # One pass each for the per-image max and min: NaN propagates through both and inf shows in
    # one, so they also give the non-finite images, the constant images and the value range
    # (np.isfinite over the whole tensor is ten times slower).
    mx, mn = flat.max(axis=1), flat.min(axis=1)
    finite = np.isfinite(mx) & np.isfinite(mn) if is_float else np.ones(n, dtype=bool)
    if is_float:
        bad = int((~finite).sum())
        if bad:
            out.append(Finding("non-finite-inputs", None, Severity.ERROR,
                               f"{bad} of {n} {pre}images contain NaN or inf.",
                               {"images": bad, "first_index": int(np.flatnonzero(~finite)[0]),
                                "split": split},
                               (Remedy("Remove or repair those images before training.", {}),)))
        top = float(mx[finite].max()) if finite.any() else math.nan
        low = float(mn[finite].min()) if finite.any() else math.nan
        if math.isfinite(top) and top > UNNORMALIZED_MAX:
            out.append(Finding("unnormalized-range", None, Severity.WARNING,
                               f"{pre}float images range {low:.4g}..{top:.4g}: not normalized "
                               "(0..255 floats?).",
                               {"min": low, "max": top, "split": split},
                               (Remedy("Divide by 255 (or standardize per channel) before training.",
                                       {}),)))
    constant = finite & (mx == mn)
    nconst = int(constant.sum())
    if nconst:
        out.append(Finding("constant-images", None,
                           Severity.ERROR if nconst == n else Severity.WARNING,
                           f"{nconst} of {n} {pre}images are constant (every pixel the same).",
                           {"images": nconst, "first_index": int(np.flatnonzero(constant)[0]),
                            "split": split},
                           (Remedy("Check the loading code: blank or failed reads.", {}),)))
    if layout_ok and h >= 4 and w >= 4:
        usable = np.flatnonzero(~constant & finite)
        if usable.size:
            rng = np.random.default_rng(seed)
            pick = np.sort(rng.choice(usable, min(CORRELATION_SAMPLE, usable.size), replace=False))
            sample = np.ascontiguousarray(X[pick]).astype(np.float32)
            rh, rv = _neighbour_correlation(sample)
            if c > 1:
                fixed = sample.reshape(len(pick), h, w, c).transpose(0, 3, 1, 2)
                fh, fv = _neighbour_correlation(np.ascontiguousarray(fixed))
            else:  # one channel: reshape and permute agree, there is nothing to undo
                fh, fv = rh, rv
            given, undone = min(rh, rv), min(fh, fv)
            ev = {"corr_across": rh, "corr_down": rv, "corr_across_if_unscrambled": fh,
                  "corr_down_if_unscrambled": fv, "sampled_images": len(pick), "split": split}
            if undone >= NATURAL_MIN_CORRELATION and undone - given >= SCRAMBLE_MIN_GAIN:
                out.append(Finding(
                    "reshape-scramble", None, Severity.ERROR,
                    f"{pre}images look scrambled by reshape instead of permute: neighbouring-pixel "
                    f"correlation is {rh:.2f} across / {rv:.2f} down as given, but "
                    f"{fh:.2f} / {fv:.2f} after undoing an NHWC->NCHW reshape.", ev,
                    (Remedy("Load NHWC images with X.permute(0, 3, 1, 2), not X.reshape(N, C, H, W); "
                            f"to repair this tensor: X.reshape(N, {h}, {w}, {c}).permute(0, 3, 1, 2).",
                            {}),)))
            elif given < NATURAL_MIN_CORRELATION:
                out.append(Finding(
                    "no-spatial-correlation", None, Severity.WARNING,
                    f"{pre}neighbouring pixels are barely correlated ({rh:.2f} across, {rv:.2f} down; "
                    "natural photos are near 0.9): the tensor is noise or its axes are mixed up.",
                    ev, (Remedy("Check how the images were loaded and transposed.", {}),)))
    return out


def _label_findings(y: Array, n_images: int, num_classes: int | None, split: str,
                    ) -> tuple[list[Finding], npt.NDArray[np.int64] | None]:
    out: list[Finding] = []
    pre = "" if split == "train" else "validation "
    if y.ndim == 2 and y.shape[1] > 1:
        y = y.argmax(axis=1)
    if y.ndim != 1:
        out.append(Finding("bad-labels", None, Severity.ERROR,
                           f"{pre}labels have shape {tuple(y.shape)}; expected (N,) class indices.",
                           {"shape": list(y.shape), "split": split}))
        return out, None
    if y.shape[0] != n_images:
        out.append(Finding("length-mismatch", None, Severity.ERROR,
                           f"{n_images} {pre}images but {y.shape[0]} labels.",
                           {"images": n_images, "labels": int(y.shape[0]), "split": split}))
    if y.size == 0:
        return out, None
    if y.dtype.kind in "fc":
        if not np.isfinite(y).all() or not np.all(y == np.round(y)):
            out.append(Finding("non-integer-labels", None, Severity.ERROR,
                               f"{pre}labels are not whole numbers (e.g. {y[y != np.round(y)][:3]}).",
                               {"split": split},
                               (Remedy("Pass int64 class indices in [0, num_classes).", {}),)))
            return out, None
    elif y.dtype.kind not in "iub":
        out.append(Finding("bad-labels", None, Severity.ERROR,
                           f"{pre}labels have dtype {y.dtype}; expected integer class indices.",
                           {"dtype": str(y.dtype), "split": split}))
        return out, None
    yi = y.astype(np.int64)
    lo, hi = int(yi.min()), int(yi.max())
    bad = (yi < 0) | (yi >= num_classes) if num_classes is not None else yi < 0
    if bad.any():
        out.append(Finding("labels-out-of-range", None, Severity.ERROR,
                           f"{int(bad.sum())} {pre}labels lie outside [0, "
                           f"{num_classes if num_classes is not None else 'inf'}) "
                           f"(range found {lo}..{hi}).",
                           {"count": int(bad.sum()), "min": lo, "max": hi,
                            "num_classes": num_classes, "split": split},
                           (Remedy("Map labels to 0..num_classes-1 (or raise num_classes).", {}),)))
        return out, None
    return out, yi


def check_data(
    X: Any,
    y: Any,
    *,
    val: tuple[Any, Any] | None = None,
    num_classes: int | None = None,
    seed: int = 0,
) -> list[Finding]:
    """Check image-classification data for the bugs that silently spoil training.

    Checks: 4-D channels-first layout (channels-last and ``reshape``-scrambled images are
    detected, the latter by comparing neighbouring-pixel correlation of up to
    ``CORRELATION_SAMPLE`` images with and without undoing an NHWC->NCHW reshape), NaN/inf
    inputs, unnormalized float ranges, constant images, label shape/dtype/range, class imbalance,
    missing classes, small training sets, and (with ``val``) validation images that duplicate
    training images exactly. Statistics are sampled; exact checks (NaN, duplicates, labels) scan
    everything.

    Args:
        X: Training images, torch tensor or numpy array of shape (N, C, H, W), any dtype.
        y: Labels, shape (N,) class indices (one-hot (N, C) is accepted).
        val: Optional ``(X_val, y_val)`` checked the same way and against the training set.
        num_classes: Number of classes, when known (enables the range and missing-class checks).
        seed: Seed of the image sample used for the correlation statistics.

    Returns:
        The findings (``label=None``), errors first; empty when nothing is wrong.

    Raises:
        TypeError: ``X``/``y`` are not tensors or arrays.
        ValueError: ``num_classes`` is not a positive integer, or ``val`` is not a pair.

    Examples:
        >>> import numpy as np
        >>> X = np.random.default_rng(0).random((8, 3, 16, 16)).astype(np.float32) * 255
        >>> sorted({f.code for f in check_data(X, np.arange(8) % 2)})[:2]
        ['no-spatial-correlation', 'small-training-set']
    """
    if num_classes is not None and (not isinstance(num_classes, int) or num_classes < 1):
        raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}")
    Xa, ya = _to_numpy(X, "X"), _to_numpy(y, "y")
    findings = _image_findings(Xa, "train", seed)
    lab, yi = _label_findings(ya, int(Xa.shape[0]) if Xa.ndim else 0, num_classes, "train")
    findings += lab
    if yi is not None:
        k = num_classes if num_classes is not None else int(yi.max()) + 1
        counts = np.bincount(yi, minlength=k)
        present = counts[counts > 0]
        majority = float(counts.max() / counts.sum())
        if num_classes is not None and (counts == 0).any():
            findings.append(Finding("missing-classes", None, Severity.WARNING,
                                    f"classes {np.flatnonzero(counts == 0).tolist()} have no "
                                    "training images.",
                                    {"counts": counts.tolist()}))
        if present.size > 1 and present.max() / present.min() >= IMBALANCE_RATIO:
            findings.append(Finding(
                "class-imbalance", None, Severity.WARNING,
                f"classes are imbalanced (counts {counts.tolist()}, ratio "
                f"{present.max() / present.min():.1f}); chance accuracy is {majority:.3f}, "
                "not 1/C.",
                {"counts": counts.tolist(), "ratio": float(present.max() / present.min()),
                 "majority_fraction": majority},
                (Remedy(f"Pass chance_accuracy={majority:.3f} to diagnose(), split with "
                        "stratification and watch per-class accuracy.", {}),)))
        if 0 < yi.size / max(present.size, 1) < SMALL_DATA_PER_CLASS:
            findings.append(Finding(
                "small-training-set", None, Severity.INFO,
                f"{yi.size} training images for {present.size} classes "
                f"({yi.size / present.size:.0f} per class): expect overfitting without augmentation.",
                {"images": int(yi.size), "classes": int(present.size)},
                (Remedy("Augment the training images.", {"augment": "default"}),)))
    if val is not None:
        if not isinstance(val, (tuple, list)) or len(val) != 2:
            raise ValueError("val must be a pair (X_val, y_val)")
        Xv, yv = _to_numpy(val[0], "val[0]"), _to_numpy(val[1], "val[1]")
        findings += _image_findings(Xv, "val", seed)
        findings += _label_findings(yv, int(Xv.shape[0]) if Xv.ndim else 0, num_classes, "val")[0]
        if Xv.ndim == 4 and Xa.ndim == 4 and Xv.shape[1:] != Xa.shape[1:]:
            findings.append(Finding("val-shape-mismatch", None, Severity.ERROR,
                                    f"validation images are {tuple(Xv.shape[1:])} but training "
                                    f"images are {tuple(Xa.shape[1:])}.",
                                    {"train_shape": list(Xa.shape), "val_shape": list(Xv.shape)}))
        elif Xv.ndim == 4 and Xa.ndim == 4 and len(Xv) and len(Xa):
            findings += _duplicate_findings(Xa, Xv)
    order = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}
    return sorted(findings, key=lambda f: order[f.severity])


def _duplicates(Xa: Array, Xv: Array) -> list[int]:
    """Indices of validation images equal to some training image, compared exactly.

    A key of about 256 evenly spaced values per image groups candidates (cheap, and collisions
    are harmless); each candidate is then confirmed with a full ``np.array_equal``. Hashing every
    image instead costs about 3x more on 1650 images of 224x224.
    """
    fa, fv = Xa.reshape(len(Xa), -1), Xv.reshape(len(Xv), -1)
    step = max(1, fa.shape[1] // 256)
    ka = np.ascontiguousarray(fa[:, ::step])
    kv = np.ascontiguousarray(fv[:, ::step])
    index: dict[bytes, list[int]] = {}
    for i in range(len(ka)):
        index.setdefault(ka[i].tobytes(), []).append(i)
    return [j for j in range(len(kv))
            if any(np.array_equal(fv[j], fa[i]) for i in index.get(kv[j].tobytes(), ()))]


def _duplicate_findings(Xa: Array, Xv: Array) -> list[Finding]:
    out: list[Finding] = []
    if Xa.dtype != Xv.dtype:
        out.append(Finding("val-dtype-mismatch", None, Severity.WARNING,
                           f"training images are {Xa.dtype} but validation images are {Xv.dtype}.",
                           {"train_dtype": str(Xa.dtype), "val_dtype": str(Xv.dtype)}))
        return out
    dup = _duplicates(Xa, Xv)
    if dup:
        out.append(Finding(
            "train-val-duplicates", None, Severity.ERROR,
            f"{len(dup)} of {len(Xv)} validation images also appear in the training set: validation "
            "accuracy is inflated.",
            {"count": len(dup), "val_indices": dup[:20]},
            (Remedy("Deduplicate before splitting (cnnkit.data.train_val_split on unique images).",
                    {}),)))
    return out
