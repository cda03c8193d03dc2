"""Freeze a backbone's body for fine-tuning, unfreeze it, and split it into optimizer groups."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import nn

from cnnkit._validate import check_finite
from cnnkit.backbones.head import head_name

__all__ = ["freeze", "is_frozen_batch_norm", "param_groups", "unfreeze"]

_BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)


def _eval_mode_hook(module: nn.Module, args: Any) -> None:
    """Forward pre-hook of a frozen batch norm: normalize with (and keep) its running statistics."""
    module.training = False


def _keep_names(model: nn.Module, keep: Sequence[str] | None) -> tuple[str, ...]:
    names = (head_name(model),) if keep is None else tuple(keep)
    for name in names:
        model.get_submodule(name)  # raises AttributeError naming a missing submodule
    return names


def _inside(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def freeze(model: nn.Module, *, keep: Sequence[str] | None = None) -> nn.Module:
    """Freeze every parameter except those of ``keep`` (default: the head), in place.

    Frozen parameters get ``requires_grad=False``, and every batch norm outside ``keep`` runs in
    eval mode even while the model trains (it normalizes with its running statistics and no
    longer updates them), as Keras does for a layer with ``trainable=False``: fine-tuning on a
    small data set leaves the pretrained body exactly as it was. :func:`unfreeze` undoes it.

    Args:
        model: the model to freeze.
        keep: names of submodules that stay trainable (``model.get_submodule(name)``); ``None``
            means the head (:func:`~cnnkit.backbones.head_name`), ``()`` freezes everything.

    Returns:
        ``model`` itself.

    Raises:
        AttributeError: a name in ``keep`` is not a submodule of ``model``.

    Example:
        >>> model = backbone("cnnkit-resnet8", 3)
        >>> _ = freeze(model)  # only model.head trains
        >>> sum(p.numel() for p in model.parameters() if p.requires_grad)
        195
    """
    prefixes = _keep_names(model, keep)
    for name, param in model.named_parameters():
        param.requires_grad_(_inside(name, prefixes))
    for name, module in model.named_modules():
        frozen = isinstance(module, _BATCH_NORMS) and not _inside(name, prefixes)
        if frozen and not is_frozen_batch_norm(module):
            module.register_forward_pre_hook(_eval_mode_hook)
    return model


def unfreeze(model: nn.Module) -> nn.Module:
    """Make every parameter trainable again and let batch norms follow ``model.train()``.

    Args:
        model: a model, frozen by :func:`freeze` or not.

    Returns:
        ``model`` itself.
    """
    for param in model.parameters():
        param.requires_grad_(True)
    for module in model.modules():
        hooks = module._forward_pre_hooks
        for key in [k for k, hook in hooks.items() if hook is _eval_mode_hook]:
            del hooks[key]
        if isinstance(module, _BATCH_NORMS):
            module.train(model.training)
    return model


def is_frozen_batch_norm(module: nn.Module) -> bool:
    """Whether :func:`freeze` has fixed this batch norm in eval mode."""
    return any(hook is _eval_mode_hook for hook in module._forward_pre_hooks.values())


def param_groups(
    model: nn.Module,
    *,
    backbone_lr: float,
    head_lr: float | None = None,
    head: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Optimizer parameter groups: the body at ``backbone_lr``, the head at ``head_lr``.

    The usual fine-tuning recipe trains the new head at the normal rate and the pretrained body
    10 to 100 times slower. Every parameter is listed, frozen or not (optimizers skip those
    without a gradient), so an :func:`unfreeze` later needs no new optimizer.

    Args:
        model: the model to optimize.
        backbone_lr: learning rate of every parameter outside the head (``>= 0``).
        head_lr: learning rate of the head; ``None`` leaves the group without ``"lr"``, so the
            optimizer's own ``lr`` applies.
        head: names of the head's submodules; ``None`` means :func:`~cnnkit.backbones.head_name`.

    Returns:
        ``[{"params": body, "lr": backbone_lr}, {"params": head}]`` (``"lr": head_lr`` in the
        second when given); a group with no parameters is left out.

    Raises:
        ValueError: a negative or non-finite learning rate. AttributeError: an unknown ``head``.

    Example:
        >>> model = backbone("cnnkit-resnet8", 3)
        >>> opt = torch.optim.AdamW(param_groups(model, backbone_lr=1e-4), lr=1e-3)
    """
    rates = {"backbone_lr": backbone_lr} if head_lr is None else {"backbone_lr": backbone_lr,
                                                                   "head_lr": head_lr}  # fmt: skip
    for name, value in rates.items():
        if check_finite(value, name) < 0:
            raise ValueError(f"{name} must be >= 0, got {value!r}")
    prefixes = _keep_names(model, head)
    body = [p for n, p in model.named_parameters() if not _inside(n, prefixes)]
    top = [p for n, p in model.named_parameters() if _inside(n, prefixes)]
    groups: list[dict[str, Any]] = []
    if body:
        groups.append({"params": body, "lr": float(backbone_lr)})
    if top:
        groups.append({"params": top} if head_lr is None else {"params": top, "lr": float(head_lr)})
    return groups
