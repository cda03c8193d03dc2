"""Where a classifier's head is: the layer a new task replaces, and the part fine-tuning trains."""

from __future__ import annotations

from torch import nn

from cnnkit.builder.convnet import ConvNet

__all__ = ["classifier_name", "head_name", "replace_classifier"]


def classifier_name(model: nn.Module) -> str:
    """Qualified name of the final ``nn.Linear`` that produces the logits.

    A cnnkit :class:`~cnnkit.builder.ConvNet` answers ``"head.classifier"``; a timm model the
    module its ``get_classifier()`` returns; any other model its last ``nn.Linear`` (``"fc"``
    in a torchvision ResNet, ``"classifier.6"`` in VGG).

    Args:
        model: a classifier.

    Returns:
        A name usable with ``model.get_submodule(name)``.

    Raises:
        ValueError: the model has no ``nn.Linear`` layer.
    """
    if isinstance(model, ConvNet):
        return "head.classifier"
    get_classifier = getattr(model, "get_classifier", None)
    if callable(get_classifier):
        target = get_classifier()
        for name, module in model.named_modules():
            if module is target and name:
                return str(name)
    linears = [name for name, module in model.named_modules() if isinstance(module, nn.Linear)]
    if not linears:
        raise ValueError(
            f"{type(model).__name__} has no nn.Linear layer, so cnnkit cannot tell which layer "
            "is the classifier; replace the head yourself and pass its name explicitly"
        )
    return str(linears[-1])


def head_name(model: nn.Module) -> str:
    """Qualified name of the part that stays trainable when the body is frozen.

    The whole ``head`` of a cnnkit :class:`~cnnkit.builder.ConvNet` (pooling, hidden dense
    blocks, classifier); the classifier layer (:func:`classifier_name`) of any other model.

    Args:
        model: a classifier.

    Returns:
        A name usable with ``model.get_submodule(name)``.
    """
    return "head" if isinstance(model, ConvNet) else classifier_name(model)


def replace_classifier(model: nn.Module, num_classes: int) -> bool:
    """Give ``model`` a fresh ``nn.Linear`` classifier of ``num_classes`` outputs, in place.

    Nothing changes when the classifier already has ``num_classes`` outputs.

    Args:
        model: a classifier (see :func:`classifier_name`).
        num_classes: outputs of the new classifier.

    Returns:
        ``True`` when the classifier was replaced.

    Raises:
        ValueError: the model has no ``nn.Linear`` layer.
    """
    name = classifier_name(model)
    old = model.get_submodule(name)
    assert isinstance(old, nn.Linear)
    if old.out_features == num_classes:
        return False
    parent_name, _, attr = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    new = nn.Linear(old.in_features, num_classes, bias=old.bias is not None)
    new.to(device=old.weight.device, dtype=old.weight.dtype)
    setattr(parent, attr, new)
    if isinstance(model, ConvNet):
        model.num_classes = num_classes
        if model.spec is not None:
            model.spec = {**model.spec, "num_classes": num_classes}
    return True
