"""predict(probabilities=True) and test-time augmentation (tta=True) in predict and evaluate."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnkit.training import Trainer
from training_helpers import blobs, mlp


def _setup() -> tuple[Trainer, nn.Module, torch.Tensor, torch.Tensor]:
    x, y = blobs(24)
    return Trainer(max_epochs=1, batch_size=8, progress=False), mlp().eval(), x, y


def test_probabilities_are_the_softmax_of_the_logits() -> None:
    trainer, model, x, _ = _setup()
    logits = trainer.predict(model, x)
    probs = trainer.predict(model, x, probabilities=True)
    torch.testing.assert_close(probs, logits.softmax(1))
    torch.testing.assert_close(probs.sum(1), torch.ones(len(x)))


def test_tta_averages_the_softmax_of_the_image_and_its_flip() -> None:
    trainer, model, x, y = _setup()
    with torch.no_grad():
        want = (model(x).softmax(1) + model(x.flip(-1)).softmax(1)) / 2
    rng = torch.get_rng_state()
    got = trainer.predict(model, x, probabilities=True, tta=True)
    assert torch.equal(torch.get_rng_state(), rng)  # no random number drawn
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(trainer.predict(model, x, tta=True).exp(), want)
    both = trainer.predict(model, x, probabilities=True, tta=["identity", "vertical"])
    with torch.no_grad():
        torch.testing.assert_close(both, (model(x).softmax(1) + model(x.flip(-2)).softmax(1)) / 2)
    result = trainer.evaluate(model, (x, y), tta=True)
    assert result["loss"] == pytest.approx(F.nll_loss(want.log(), y).item(), rel=1e-5)
    assert result["accuracy"] == pytest.approx((want.argmax(1) == y).float().mean().item())
    assert model.training is False


def test_tta_on_inputs_that_are_not_images_says_what_to_do() -> None:
    trainer = Trainer(max_epochs=1, progress=False)
    model = nn.Linear(5, 2)
    with pytest.raises(ValueError, match=r"needs a batch of images \(N, C, H, W\).*tta=False"):
        trainer.predict(model, torch.rand(4, 5), tta=True)
    with pytest.raises(ValueError, match="tta view 'diagonal' is unknown"):
        trainer.predict(model, torch.rand(4, 5), tta=["diagonal"])
    with pytest.raises(ValueError, match="pass True"):
        trainer.predict(model, torch.rand(4, 5), tta="horizontal")
