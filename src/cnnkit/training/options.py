"""The checks of ``Trainer`` options, run when a trainer is built (and by ``replace``).

Each error names the option, the value given and the accepted forms.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Sequence
from typing import Any

from .callbacks.base import HOOKS, is_callback
from .ema import check_ema
from .metrics import check_class_weight, check_metrics
from .optim import OPTIMIZERS, SCHEDULERS, check_scheduler_options
from .precision import PRECISIONS, check_device

__all__ = [
    "ALIASES",
    "check_callbacks",
    "check_loss_options",
    "check_normalize",
    "unknown_option",
    "validate",
]

#: Other libraries' names for ``Trainer`` options, suggested when one is used by mistake.
ALIASES = {"learning_rate": "lr", "epochs": "max_epochs", "clip_grad_norm": "grad_clip"}


def validate(values: dict[str, Any]) -> dict[str, Any]:
    """Check every ``Trainer`` option; return the ones stored in a canonical form.

    Args:
        values: Option name -> value, for all options.

    Returns:
        ``device`` (checked), ``callbacks`` (a tuple), ``scheduler_options`` (a dict or
        ``None``), ``ema`` (a float or ``None``) and, when given, ``normalize`` (two tuples of
        floats).

    Raises:
        ValueError / TypeError: For the first invalid option, naming it, the value and the
            accepted forms.
    """

    def bad(name: str, why: str) -> ValueError:
        return ValueError(f"Trainer({name}={values[name]!r}): {why}")

    for name in ("max_epochs", "batch_size", "accumulate"):
        value = values[name]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise bad(name, "must be an integer >= 1")
    lr, grad_clip, seed, loss = values["lr"], values["grad_clip"], values["seed"], values["loss"]
    optimizer, scheduler = values["optimizer"], values["scheduler"]
    if values["eval_batch_size"] is not None and values["eval_batch_size"] < 1:
        raise bad("eval_batch_size", "must be >= 1 or None")
    if not (isinstance(lr, (int, float)) and lr > 0 and math.isfinite(lr)):
        raise bad("lr", "must be a finite number > 0")
    if not values["weight_decay"] >= 0:
        raise bad("weight_decay", "must be >= 0")
    backbone_lr = values.get("backbone_lr")
    if backbone_lr is not None and not (
        isinstance(backbone_lr, (int, float)) and math.isfinite(backbone_lr) and backbone_lr >= 0
    ):
        raise bad("backbone_lr", "must be a finite number >= 0 (0 freezes the body) or None")
    if not 0 <= values["label_smoothing"] < 1:
        raise bad("label_smoothing", "must be in [0, 1)")
    if grad_clip is not None and not grad_clip > 0:
        raise bad("grad_clip", "must be > 0 or None")
    if values["num_workers"] < 0:
        raise bad("num_workers", "must be >= 0")
    if isinstance(optimizer, str) and optimizer not in OPTIMIZERS:
        raise bad("optimizer", f"must be one of {OPTIMIZERS} or a factory(param_groups, lr=)")
    if isinstance(scheduler, str) and scheduler not in SCHEDULERS:
        raise bad(
            "scheduler", f"must be None, one of {SCHEDULERS} or a factory(optimizer, total_steps)"
        )
    if values["precision"] not in PRECISIONS:
        raise bad("precision", f"must be one of {PRECISIONS}")
    if isinstance(seed, bool) or not (seed is None or isinstance(seed, int)):
        raise bad("seed", "must be an integer (e.g. seed=0) or None")
    out: dict[str, Any] = {"device": check_device(values["device"])}
    if isinstance(loss, type):
        raise TypeError(
            f"Trainer(loss={loss.__name__}): pass an instance, not the class, e.g. "
            f"loss={loss.__name__}() (a loss class called on (logits, targets) builds "
            "a new loss object instead of computing the loss)"
        )
    if loss is not None and not callable(loss):
        raise bad("loss", "must be None or a callable loss(logits, targets)")
    if values["augment"] is not None and not callable(values["augment"]):
        raise bad("augment", "must be None or a callable augment(x, y) -> (x, y)")
    if values["normalize"] is not None:
        out["normalize"] = check_normalize(values["normalize"])
    out["callbacks"] = check_callbacks(values["callbacks"])
    out.update(check_loss_options(values))
    out["scheduler_options"] = check_scheduler_options(
        scheduler, values["scheduler_options"], out["metrics"]
    )
    out["ema"] = check_ema(values["ema"])
    return out


def check_loss_options(values: dict[str, Any]) -> dict[str, Any]:
    """Check ``class_weight`` and ``metrics``, and what a custom loss cannot combine with.

    Args:
        values: Option name -> value, for all options.

    Returns:
        ``class_weight`` (``None``, ``"balanced"`` or a tuple) and ``metrics`` (a dict or
        ``None``) in canonical form.

    Raises:
        ValueError: For ``label_smoothing`` or ``class_weight`` with a custom ``loss`` (it
            would be silently ignored), or a bad ``class_weight``/``metrics`` value.
    """
    loss, smoothing = values["loss"], values["label_smoothing"]
    class_weight = check_class_weight(values["class_weight"])
    if loss is not None and smoothing:
        raise ValueError(
            f"Trainer(loss={loss!r}, label_smoothing={smoothing}): label_smoothing applies "
            "to the default cross-entropy only and would be ignored; drop loss= (and pass "
            "class_weight= for a weighted loss), or smooth inside your loss, e.g. "
            f"nn.CrossEntropyLoss(label_smoothing={smoothing})"
        )
    if loss is not None and class_weight is not None:
        raise ValueError(
            f"Trainer(loss={loss!r}, class_weight={values['class_weight']!r}): class_weight "
            "applies to the default cross-entropy only; drop loss=, or weight your own loss"
        )
    metrics = check_metrics(values["metrics"]) or None
    return {"class_weight": class_weight, "metrics": metrics}


def check_normalize(value: Any) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Canonical ``((mean, ...), (std, ...))``: each part a number or one number per channel.

    Args:
        value: ``Trainer(normalize=...)``.

    Returns:
        Two tuples of floats.

    Raises:
        ValueError: For another form, mismatched lengths, or a std that is not finite and > 0.
    """
    form = (
        "must be (mean, std), each a number (same for every channel) or a sequence with one "
        "number per channel, e.g. normalize=(0.5, 0.25) or "
        "normalize=((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))"
    )
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 2:
        raise ValueError(f"Trainer(normalize={value!r}) {form}")
    parts: list[tuple[float, ...]] = []
    for part in value:
        seq = (part,) if isinstance(part, (int, float)) else part
        if (
            isinstance(seq, (str, bytes))
            or not isinstance(seq, Sequence)
            or not seq
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in seq)
        ):
            raise ValueError(f"Trainer(normalize={value!r}) {form}")
        parts.append(tuple(float(v) for v in seq))
    mean, std = parts
    if len(mean) != len(std) and 1 not in (len(mean), len(std)):
        raise ValueError(
            f"Trainer(normalize={value!r}): mean has {len(mean)} values but std has {len(std)}; "
            "give one value per channel in each (or a single number)"
        )
    if not all(v > 0 and math.isfinite(v) for v in std):
        raise ValueError(f"Trainer(normalize={value!r}): std values must be finite and > 0")
    return mean, std


def check_callbacks(value: Any) -> tuple[Any, ...]:
    """The callbacks as a tuple; a single callback (a common slip) is accepted too.

    Args:
        value: ``Trainer(callbacks=...)``.

    Returns:
        The callbacks.

    Raises:
        TypeError: For a non-iterable, or an item with none of the protocol's hooks.
    """
    cbs: Any = value
    if is_callback(cbs):
        cbs = (cbs,)  # a single callback: the common slip of forgetting the list
    elif isinstance(cbs, (str, bytes)) or not isinstance(cbs, Iterable):
        raise TypeError(
            f"Trainer(callbacks={cbs!r}): pass a list of callbacks, e.g. "
            "callbacks=[EarlyStopping(patience=5), ModelCheckpoint('runs/x')]"
        )
    out = tuple(cbs)
    for cb in out:
        if not is_callback(cb):
            raise TypeError(
                f"callback {cb!r} has none of {'/'.join(HOOKS)}; "
                "see cnnkit.training.callbacks for the protocol"
            )
    return out


def unknown_option(key: str, names: list[str]) -> TypeError:
    """The error for ``Trainer.replace(key=...)`` with a name that is not an option.

    Args:
        key: The unknown name.
        names: The valid option names.

    Returns:
        A TypeError suggesting the closest names (or the option another library's name means).
    """
    close = difflib.get_close_matches(key, names, n=2)
    if key in ALIASES:  # other libraries' names for the same option
        close = [ALIASES[key]]
    hint = f"; did you mean {' or '.join(close)}?" if close else ""
    return TypeError(
        f"Trainer has no option {key!r}{hint or '.'} Valid options: {', '.join(names)}"
    )
