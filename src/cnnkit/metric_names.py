"""Metric names as cnnkit, Keras, Lightning and hand-written loops log them, mapped to one set.

cnnkit's own series are ``train_loss``, ``val_loss``, ``train_acc``, ``val_acc``, ``lr``,
``grad_norm`` and ``epoch_time``. :func:`canonical_name` maps any logged name (``loss``,
``val_accuracy``, ``train_loss_epoch``, ``valid/acc``, ``learning_rate``) to one of them; the
diagnosis, the plots and the file readers all use it, so a name one of them understands, the
others do too. Standard library only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["CANONICAL_NAMES", "canonical_name", "pick_series"]

#: The per-epoch series every cnnkit reader maps logged names onto.
CANONICAL_NAMES: tuple[str, ...] = (
    "train_loss", "val_loss", "train_acc", "val_acc", "lr", "grad_norm", "epoch_time",
)

_VAL_TOKENS = {"val", "valid", "validation", "dev", "eval"}
_TRAIN_TOKENS = {"train", "training", "trn"}
_ACC_TOKENS = {"acc", "accuracy", "acc1", "top1"}


def _tokens(name: str) -> tuple[list[str], str]:
    """Split a metric name into lowercase tokens; return (tokens, suffix) with suffix in
    {"", "epoch", "step"} taken off (Lightning appends ``_epoch`` / ``_step``)."""
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name.strip())
    toks = [t for t in re.split(r"[^a-zA-Z0-9]+", s.lower()) if t]
    suffix = ""
    if len(toks) > 1 and toks[-1] in ("epoch", "step"):
        suffix = toks.pop()
    return toks, suffix


def canonical_name(name: str) -> tuple[str, int] | None:
    """Map a logged metric name to a canonical series and a preference rank (lower is better).

    Canonical names: ``train_loss``, ``val_loss``, ``train_acc``, ``val_acc``, ``lr``,
    ``grad_norm``, ``epoch_time``. The split is ``val`` when a token is one of val, valid,
    validation, dev, eval; otherwise ``train`` (Keras logs training metrics unprefixed). The
    metric is ``loss`` when a token is "loss", ``acc`` when one is acc, accuracy, acc1 or top1
    (so ``categorical_accuracy`` counts). Separators and camelCase split names into tokens, and a
    trailing ``_epoch``/``_step`` (Lightning) is removed: epoch-level names rank before plain ones,
    ``_step`` ones last; names with extra tokens (``train_kl_loss``) rank after exact ones.
    ``step_loss``, ``test_*`` and names with ``top5``-like tokens are not per-epoch curves.

    Args:
        name: The column or key name as logged.

    Returns:
        ``(canonical, rank)`` or ``None`` when the name is not one of the curves diagnose uses.

    Example:
        >>> canonical_name("val_accuracy"), canonical_name("train_loss_epoch")
        (('val_acc', 1), ('train_loss', 0))
    """
    toks, suffix = _tokens(name)
    if not toks or toks[0] in ("step", "test") or any(t.startswith("top") and t != "top1" for t in toks):
        return None
    rank_suffix = {"epoch": 0, "": 1, "step": 20}[suffix]
    if toks[0] == "lr" or toks[:2] == ["learning", "rate"]:
        return "lr", rank_suffix + len(toks) - 1
    if "grad" in toks and "norm" in toks:
        return "grad_norm", rank_suffix
    if toks in (["epoch", "time"], ["time"], ["duration"]):
        return "epoch_time", rank_suffix
    split = "val" if _VAL_TOKENS & set(toks) else "train"
    if "loss" in toks:
        metric = "loss"
    elif _ACC_TOKENS & set(toks):
        metric = "acc"
    else:
        return None
    known = _VAL_TOKENS | _TRAIN_TOKENS | _ACC_TOKENS | {"loss"}
    extra = sum(t not in known for t in toks)
    return f"{split}_{metric}", rank_suffix + 2 * extra


def pick_series(history: Mapping[Any, Any]) -> dict[str, Any]:
    """The best-named non-empty value for each canonical series in ``history``.

    Args:
        history: A mapping of logged names to per-epoch sequences.

    Returns:
        ``{canonical_name: value}`` with, for each canonical name, the value of the best-ranked
        logged name whose value is non-empty (an empty list means "not recorded"). Values are
        returned as given, not converted.

    Example:
        >>> pick_series({"loss": [0.9, 0.5], "val_accuracy": [0.6, 0.7], "val_loss": []})
        {'train_loss': [0.9, 0.5], 'val_acc': [0.6, 0.7]}
    """
    candidates: dict[str, list[tuple[int, str]]] = {}
    keys = {str(k): k for k in history}
    for raw in keys:
        c = canonical_name(raw)
        if c is not None:
            candidates.setdefault(c[0], []).append((c[1], raw))
    out: dict[str, Any] = {}
    for canon in CANONICAL_NAMES:
        for _, raw in sorted(candidates.get(canon, ())):
            value = history[keys[raw]]
            if value is not None and len(value) > 0:
                out[canon] = value
                break
    return out
