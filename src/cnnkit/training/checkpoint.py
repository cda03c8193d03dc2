"""Checkpoints: the payload, its atomic save, loading it safely, and resuming a fit from it.

A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts, so it loads with
``torch.load(path, weights_only=True)`` (no arbitrary pickled code runs). It is written with
:func:`cnnkit._atomic.atomic_write` (temporary file, fsync, ``os.replace``), so a crash (even
``SIGKILL``) leaves either the old file or the new one, never a truncated one. It carries every
random stream (:func:`get_rng_state`) so a resumed run is bitwise identical to an uninterrupted
one on CPU, and the number of steps its learning-rate schedule was built for, so a resume with
another planned length is refused (:func:`check_schedule`).
"""

from __future__ import annotations

import os
import random
import warnings
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from cnnkit._atomic import atomic_write
from cnnkit.history import History
from cnnkit.saving.safe_load import safe_torch_load

from .ema import ema_state, load_ema_state

__all__ = [
    "CHECKPOINT_FORMAT",
    "TrainingState",
    "build_checkpoint",
    "callback_keys",
    "callback_states",
    "check_schedule",
    "get_rng_state",
    "load_checkpoint",
    "restore",
    "save_checkpoint",
    "set_rng_state",
]

#: Version tag stored under the key ``"cnnkit_checkpoint"``.
CHECKPOINT_FORMAT = 1


class TrainingState(Protocol):
    """The part of a running fit a checkpoint captures and restores (``FitState`` has it all)."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: Any
    history: History
    epoch: int
    max_epochs: int
    callbacks: list[Any]
    shuffle_generator: torch.Generator | None
    should_stop: bool
    stop_reason: str | None
    schedule_steps: int | None
    ema: Any
    ema_decay: float | None


# ---------------------------------------------------------------------- save and load
def save_checkpoint(payload: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write ``payload`` with :func:`torch.save` atomically (temporary file + ``os.replace``).

    Args:
        payload: Dict of tensors, numbers, strings, lists and dicts.
        path: Destination; parent directories are created.

    Returns:
        The destination path.
    """
    return atomic_write(path, lambda fh: torch.save(payload, fh))


def load_checkpoint(
    path: str | os.PathLike[str],
    model: nn.Module | None = None,
    *,
    map_location: str | torch.device = "cpu",
    ema: bool = False,
) -> dict[str, Any]:
    """Load a cnnkit checkpoint with ``weights_only=True``, optionally into ``model``.

    Args:
        path: A file written by :class:`~cnnkit.training.ModelCheckpoint` (``last.pt``/``best.pt``).
        model: If given, ``model.load_state_dict(checkpoint["model"])`` is called.
        map_location: Where tensors are loaded (default CPU).
        ema: Load the moving average of the weights (``Trainer(ema=...)``, the weights
            validation ran on) into ``model`` instead of the trained weights.

    Returns:
        The checkpoint dict: ``model``, ``optimizer``, ``scheduler``, ``scaler``, ``rng``,
        ``epoch`` (completed epochs), ``history`` (a :meth:`History.to_dict`), ``callbacks``,
        ``ema`` (``None`` without ``Trainer(ema=...)``; older checkpoints lack the key).

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If the file is not a cnnkit checkpoint, or is damaged (truncated, not
            written by ``torch.save``, or holding pickled objects other than tensors and plain
            values, which are never loaded).

    Example:
        >>> # load_checkpoint("runs/best.pt", model)
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"no checkpoint at {p}; pass the path of last.pt or best.pt")
    # One safe load for every file cnnkit reads: torch's own error advises weights_only=False.
    ckpt = safe_torch_load(
        p,
        what="a cnnkit checkpoint",
        hint="Pass the last.pt or best.pt that ModelCheckpoint wrote (a copy cut short in "
        "transfer is damaged too)",
        map_location=map_location,
    )
    if not isinstance(ckpt, dict) or "cnnkit_checkpoint" not in ckpt:
        raise ValueError(
            f"{p} is not a cnnkit checkpoint (no 'cnnkit_checkpoint' key); for a bare state_dict "
            "use model.load_state_dict(torch.load(path, weights_only=True))"
        )
    if ema and ckpt.get("ema") is None:
        raise ValueError(
            f"{p} holds no moving average of the weights (it was written without "
            "Trainer(ema=...)); load it with ema=False"
        )
    if model is not None:
        model.load_state_dict(ckpt["ema"]["weights"] if ema else ckpt["model"])
    return ckpt


# ---------------------------------------------------------------------- payload
def callback_keys(callbacks: list[Any]) -> list[str]:
    """Stable keys for callback states: class name plus its index among callbacks of that class.

    Keys (not positions) let a resumed fit add or drop unrelated callbacks.

    Args:
        callbacks: The fit's callbacks in calling order.

    Returns:
        One key per callback, e.g. ``["EarlyStopping:0", "ModelCheckpoint:0"]``.
    """
    seen: dict[str, int] = {}
    keys = []
    for cb in callbacks:
        name = type(cb).__qualname__
        keys.append(f"{name}:{seen.get(name, 0)}")
        seen[name] = seen.get(name, 0) + 1
    return keys


def callback_states(callbacks: list[Any]) -> dict[str, Any]:
    """``{key: cb.state_dict()}`` for every callback that has a ``state_dict`` method."""
    out = {}
    for key, cb in zip(callback_keys(callbacks), callbacks, strict=False):
        fn = getattr(cb, "state_dict", None)
        if callable(fn):
            out[key] = fn()
    return out


def build_checkpoint(state: TrainingState) -> dict[str, Any]:
    """The full training state of a fit as a ``weights_only``-loadable dict.

    Args:
        state: The running fit (a ``FitState``).

    Returns:
        Dict with ``cnnkit_checkpoint`` (format version), ``epoch``, ``model``, ``optimizer``,
        ``scheduler``, ``scaler``, ``rng``, ``history``, ``callbacks``, ``should_stop``,
        ``stop_reason``, ``max_epochs``, ``schedule_steps`` and ``ema`` (``None``, or the
        moving average of ``Trainer(ema=...)``: ``{"decay", "n_averaged", "weights"}``, its
        ``weights`` a plain ``state_dict`` of the model).
    """
    ema = getattr(state, "ema", None)
    return {
        "cnnkit_checkpoint": CHECKPOINT_FORMAT,
        "epoch": state.epoch,
        "model": state.model.state_dict(),
        "optimizer": state.optimizer.state_dict(),
        "scheduler": None if state.scheduler is None else state.scheduler.state_dict(),
        "scaler": None if state.scaler is None else state.scaler.state_dict(),
        "rng": get_rng_state(state.shuffle_generator),
        "history": {**state.history.to_dict(), "stop_reason": state.stop_reason},
        "callbacks": callback_states(state.callbacks),
        "should_stop": state.should_stop,
        "stop_reason": state.stop_reason,
        "max_epochs": state.max_epochs,
        "schedule_steps": state.schedule_steps,
        "ema": None if ema is None else ema_state(ema, float(state.ema_decay or 0.0)),
    }


# ---------------------------------------------------------------------- resume
def restore(state: TrainingState, path: str | os.PathLike[str], device: torch.device) -> None:
    """Resume ``state`` from the checkpoint at ``path``: weights, optimizer, schedule, RNG, ...

    Call it directly from ``Trainer.fit`` (its warning points at the caller of ``fit``).

    Args:
        state: The fit being set up; its model, optimizer, scheduler, scaler, callbacks and
            data-order generator are loaded in place, its history and epoch replaced.
        path: A checkpoint written by ``ModelCheckpoint``.
        device: Where tensors are loaded.

    Raises:
        FileNotFoundError / ValueError: As :func:`load_checkpoint`; ValueError also for a
            checkpoint of another architecture, optimizer setup or planned schedule length.
    """
    ckpt = load_checkpoint(path, map_location=device)
    check_schedule(ckpt, state, path)
    try:
        state.model.load_state_dict(ckpt["model"])
    except RuntimeError as err:
        raise ValueError(
            f"the weights in checkpoint {path} do not fit this model ({_brief(err)}); "
            "resume with a model built exactly like the one that wrote the checkpoint (e.g. "
            "from the same ModelBuilder spec / constructor arguments)"
        ) from err
    try:
        state.optimizer.load_state_dict(ckpt["optimizer"])
    except ValueError as err:
        raise ValueError(
            f"the optimizer state in checkpoint {path} does not fit this run ({err}); resume "
            "with the same optimizer, weight_decay (which sets the parameter groups) and "
            "trainable parameters as the run that wrote it"
        ) from err
    if state.scheduler is not None and ckpt.get("scheduler") is not None:
        state.scheduler.load_state_dict(ckpt["scheduler"])
    _restore_ema(state, ckpt, path)
    if state.scaler is not None and ckpt.get("scaler") is not None:
        state.scaler.load_state_dict(ckpt["scaler"])
    states = ckpt.get("callbacks") or {}
    for key, cb in zip(callback_keys(state.callbacks), state.callbacks, strict=False):
        if key in states:
            if hasattr(cb, "load_state_dict"):
                cb.load_state_dict(states[key])
        elif getattr(cb, "state_dict", lambda: None)() is not None:
            warnings.warn(
                f"checkpoint {path} holds no state for callback {key} (it has "
                f"{sorted(states)}); {key} starts afresh",
                RuntimeWarning,
                stacklevel=3,
            )
    state.history = History.from_dict(ckpt["history"])
    state.epoch = int(ckpt["epoch"])
    state.should_stop = bool(ckpt.get("should_stop", False))
    state.stop_reason = ckpt.get("stop_reason")
    set_rng_state(ckpt["rng"], state.shuffle_generator)


def _restore_ema(state: TrainingState, ckpt: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Load the checkpoint's moving average into ``state.ema`` (older checkpoints have none)."""
    ema, saved = getattr(state, "ema", None), ckpt.get("ema")
    if ema is None:
        return
    if saved is None:
        # A checkpoint of a run without ema (or of cnnkit before it): start the average here.
        ema.module.load_state_dict(state.model.state_dict())
        warnings.warn(
            f"checkpoint {path} holds no moving average of the weights (it was written without "
            "Trainer(ema=...)); the average starts from its weights",
            RuntimeWarning,
            stacklevel=4,
        )
        return
    load_ema_state(ema, saved)


def _planned_steps(ckpt: dict[str, Any]) -> int | None:
    """Total steps the checkpoint's schedule was built for (older checkpoints: from its state)."""
    if ckpt.get("schedule_steps") is not None:
        return int(ckpt["schedule_steps"])
    sched = ckpt.get("scheduler")
    if isinstance(sched, dict):
        for key in ("total_steps", "T_max"):  # OneCycleLR, CosineAnnealingLR
            if isinstance(sched.get(key), int):
                return int(sched[key])
    return None


def check_schedule(
    ckpt: dict[str, Any], state: TrainingState, path: str | os.PathLike[str]
) -> None:
    """A schedule is built for a fixed number of steps: refuse to resume it with another.

    Args:
        ckpt: The loaded checkpoint.
        state: The fit being resumed (its ``schedule_steps`` is what this run plans).
        path: The checkpoint's path (for the message).

    Raises:
        ValueError: If both plan a step-based schedule and the lengths differ.
    """
    if state.schedule_steps is None:
        return
    saved = _planned_steps(ckpt)
    if saved is None or saved == state.schedule_steps:
        return
    done = int(ckpt.get("epoch", 0))
    raise ValueError(
        f"checkpoint {path} was written by a run whose learning-rate schedule spans {saved} "
        f"steps, but this fit plans {state.schedule_steps} (max_epochs={state.max_epochs}); a "
        "scheduled run can only be resumed with the same max_epochs, batch_size, accumulate and "
        "training data. Resume with the original max_epochs, or start a new run from the "
        f"checkpoint's weights (load_checkpoint(path, model), then fit without resume_from; it "
        f"completed {done} epochs) so the schedule is built for the new length"
    )


def _brief(err: BaseException, limit: int = 300) -> str:
    """The error's text on one line, cut to ``limit`` characters (state_dict errors run long)."""
    text = " ".join(line.strip() for line in str(err).strip().splitlines())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ---------------------------------------------------------------------- random streams
def get_rng_state(shuffle: torch.Generator | None = None) -> dict[str, Any]:
    """Capture every random stream training may draw from, in a ``weights_only``-safe form.

    Args:
        shuffle: The trainer's data-order generator, if any.

    Returns:
        Dict with ``torch`` (CPU), ``cuda`` (list, one per device), ``numpy``, ``python`` and
        ``shuffle`` states.
    """
    np_state: Any = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        # numpy's legacy state tuple holds an ndarray, which weights_only refuses: store a tensor.
        "numpy": {
            "keys": torch.from_numpy(np.asarray(np_state[1], dtype=np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "python": _python_state_to_list(random.getstate()),
        "shuffle": shuffle.get_state() if shuffle is not None else None,
    }
    return state


def set_rng_state(state: dict[str, Any], shuffle: torch.Generator | None = None) -> None:
    """Restore the streams captured by :func:`get_rng_state`.

    Args:
        state: Output of :func:`get_rng_state` (possibly after a save/load round trip).
        shuffle: The trainer's data-order generator to restore, if any.
    """
    torch.set_rng_state(state["torch"].cpu())
    if state.get("cuda") and torch.cuda.is_available():
        cuda_states = [s.cpu() for s in state["cuda"]]
        if len(cuda_states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda_states)
    npd = state["numpy"]
    keys = npd["keys"].cpu().numpy().astype(np.uint32)
    np.random.set_state(("MT19937", keys, npd["pos"], npd["has_gauss"], npd["cached_gaussian"]))
    random.setstate(_python_state_from_list(state["python"]))
    if shuffle is not None and state.get("shuffle") is not None:
        shuffle.set_state(state["shuffle"].cpu())


def _python_state_to_list(st: tuple[Any, ...]) -> list[Any]:
    version, internal, gauss = st
    return [int(version), [int(v) for v in internal], gauss]


def _python_state_from_list(st: list[Any]) -> tuple[Any, ...]:
    version, internal, gauss = st
    return (int(version), tuple(int(v) for v in internal), gauss)
