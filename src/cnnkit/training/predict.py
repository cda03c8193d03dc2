"""Prediction: the model's outputs for every sample, in order (``Trainer.predict``)."""

from __future__ import annotations

import torch

from .loop import Run, prepare
from .precision import autocast
from .sources import Source

__all__ = ["outputs"]


@torch.no_grad()
def outputs(run: Run, src: Source, batch_size: int, *, probabilities: bool) -> torch.Tensor:
    """``run.net``'s outputs for every sample of ``src`` (model in eval mode, no grad).

    Args:
        run: The run (its ``net`` may be a :class:`~cnnkit.training.tta.TTA` wrapper).
        src: The inputs (labels, if any, ignored).
        batch_size: Samples per forward pass.
        probabilities: Return ``softmax(dim=1)`` of the outputs.

    Returns:
        Float32 CPU tensor ``(N, num_classes)``; the model's training mode is restored.
    """
    was_training = run.model.training
    run.model.eval()
    outs = []
    try:
        for xb, _, _ in src.eval_batches(batch_size, 0, 1):
            xb, _ = prepare(run, xb, None, train=False)
            with autocast(run.opts.precision, run.device):
                outs.append(run.net(xb).float().cpu())
    finally:
        run.model.train(was_training)
    out = torch.cat(outs)
    return out.softmax(dim=1) if probabilities else out
