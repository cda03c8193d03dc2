"""Trainer: learning, data paths, options, input checks, progress, lr_find."""

from __future__ import annotations

import functools
import math
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from cnnkit.training import Callback, FitState, Trainer
from training_helpers import blobs, bn_model, mlp, same_weights, weights

T = functools.partial(Trainer, progress=False)


def test_learns_an_easy_problem_and_records_every_series() -> None:
    x, y = blobs(128)
    xv, yv = blobs(64, seed=1)
    model = mlp()
    h = T(max_epochs=6, batch_size=16, lr=1e-2, seed=0).fit(model, (x, y), (xv, yv))
    assert h.epochs == 6
    for key in ("train_loss", "val_loss", "train_acc", "val_acc", "lr", "epoch_time", "grad_norm"):
        assert len(getattr(h, key)) == 6, key
    assert len(h.step_loss) == 6 * 8
    assert h.train_loss[-1] < h.train_loss[0]
    assert h.val_acc[-1] >= 0.9
    assert all(0.0 <= a <= 1.0 for a in h.train_acc + h.val_acc)
    assert h.stop_reason is None
    # The epoch train loss is the sample-weighted mean of its step losses.
    assert math.isclose(h.train_loss[0], sum(h.step_loss[:8]) / 8, rel_tol=1e-6)


def test_same_seed_is_bitwise_identical_and_another_seed_differs() -> None:
    x, y = blobs(64)
    runs = []
    for seed in (3, 3, 4):
        model = mlp(dropout=0.3)
        h = T(max_epochs=2, batch_size=16, seed=seed).fit(model, (x, y))
        runs.append((model, h))
    assert same_weights(runs[0][0], runs[1][0])
    assert runs[0][1].step_loss == runs[1][1].step_loss
    assert not same_weights(runs[0][0], runs[2][0])


def test_uint8_normalize_numpy_dataset_and_dataloader_paths_agree() -> None:
    g = torch.Generator().manual_seed(0)
    xu8 = torch.randint(0, 256, (48, 3, 6, 6), dtype=torch.uint8, generator=g)
    y = torch.arange(48) % 2
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)
    xf = (xu8.float() / 255 - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(
        1, 3, 1, 1
    )
    models = [mlp() for _ in range(5)]
    T(max_epochs=2, batch_size=16, seed=0, normalize=(mean, std)).fit(models[0], (xu8, y))
    T(max_epochs=2, batch_size=16, seed=0).fit(models[1], (xf, y))
    T(max_epochs=2, batch_size=16, seed=0).fit(models[2], (xf.numpy(), y.numpy()))
    T(max_epochs=2, batch_size=16, seed=0).fit(models[3], TensorDataset(xf, y))
    loader = DataLoader(
        TensorDataset(xf, y),
        batch_size=16,
        shuffle=True,
        generator=torch.Generator().manual_seed(5),
    )
    h = T(max_epochs=2, batch_size=16, seed=0).fit(models[4], loader)
    ref = weights(models[1])
    for m in models[:4]:
        for k, v in weights(m).items():
            torch.testing.assert_close(v, ref[k], rtol=1e-5, atol=1e-6)
    assert len(h.step_loss) == 6 and not same_weights(models[4], mlp())


def test_soft_one_hot_targets_train_like_class_indices_and_mixup_hook_works() -> None:
    x, y = blobs(32)
    a, b = mlp(), mlp()
    T(max_epochs=2, batch_size=8, seed=0).fit(a, (x, y))
    T(max_epochs=2, batch_size=8, seed=0).fit(b, (x, F.one_hot(y, 2).float()))
    for k, v in weights(a).items():
        torch.testing.assert_close(v, weights(b)[k], rtol=1e-5, atol=1e-6)

    seen = []

    def mixup(xb: torch.Tensor, yb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        seen.append((xb.dtype, yb.dtype, xb.shape[0]))
        soft = F.one_hot(yb, 2).float()
        perm = torch.arange(xb.shape[0] - 1, -1, -1)
        return 0.7 * xb + 0.3 * xb[perm], 0.7 * soft + 0.3 * soft[perm]

    h = T(max_epochs=1, batch_size=8, seed=0, augment=mixup).fit(mlp(), (x, y), (x, y))
    assert seen == [(torch.float32, torch.int64, 8)] * 4  # training batches only, not val
    assert math.isfinite(h.val_loss[0])


def test_weight_decay_skips_biases_and_norm_weights() -> None:
    groups = {}

    class Grab(Callback):
        def on_fit_start(self, state: FitState) -> None:
            for g in state.optimizer.param_groups:
                groups[g["weight_decay"]] = {tuple(p.shape) for p in g["params"]}

    x, y = blobs(16)
    T(max_epochs=1, batch_size=8, weight_decay=0.1, callbacks=[Grab()]).fit(bn_model(), (x, y))
    assert groups[0.1] == {(4, 3, 3, 3), (2, 144)}
    assert groups[0.0] == {(4,), (2,)}  # batch-norm weight and bias, linear bias


def test_grad_norm_is_the_pre_clip_global_norm_and_clipping_bounds_the_step() -> None:
    x, y = blobs(16)
    model = mlp()
    ref = mlp()
    F.cross_entropy(ref(x), y).backward()
    expected = torch.sqrt(sum((p.grad**2).sum() for p in ref.parameters())).item()
    before = torch.cat([p.detach().flatten() for p in model.parameters()])
    sgd = functools.partial(torch.optim.SGD)  # plain SGD: step = lr * clipped gradient
    h = T(max_epochs=1, batch_size=16, optimizer=sgd, lr=1.0, grad_clip=0.05).fit(model, (x, y))
    after = torch.cat([p.detach().flatten() for p in model.parameters()])
    assert h.grad_norm[0] == pytest.approx(expected, rel=1e-5)
    assert expected > 0.05
    assert (after - before).norm().item() == pytest.approx(0.05, rel=1e-4)


def test_accumulate_two_half_batches_equals_one_full_batch() -> None:
    x, y = blobs(64)
    a, b = mlp(), mlp()
    opt = functools.partial(torch.optim.SGD)
    T(max_epochs=2, batch_size=16, seed=0, optimizer=opt, lr=0.1).fit(a, (x, y))
    T(max_epochs=2, batch_size=8, accumulate=2, seed=0, optimizer=opt, lr=0.1).fit(b, (x, y))
    for k, v in weights(a).items():
        torch.testing.assert_close(v, weights(b)[k], rtol=1e-5, atol=1e-6)


def test_schedulers() -> None:
    x, y = blobs(32)
    h = T(max_epochs=4, batch_size=8, scheduler="cosine", lr=0.1).fit(mlp(), (x, y))
    assert h.lr[0] == pytest.approx(0.1) and h.lr == sorted(h.lr, reverse=True) and h.lr[-1] < 0.02
    h = T(max_epochs=4, batch_size=8, scheduler="onecycle", lr=0.1).fit(mlp(), (x, y))
    assert max(h.lr) > h.lr[0] and max(h.lr) <= 0.1 + 1e-12
    calls = []

    def factory(opt: torch.optim.Optimizer, total: int) -> torch.optim.lr_scheduler.LRScheduler:
        calls.append(total)
        return torch.optim.lr_scheduler.StepLR(opt, step_size=4, gamma=0.5)

    h = T(max_epochs=3, batch_size=8, scheduler=factory, lr=0.1).fit(mlp(), (x, y))
    assert calls == [12] and h.lr == pytest.approx([0.1, 0.05, 0.025])
    plateau = functools.partial(
        lambda opt, total: torch.optim.lr_scheduler.ReduceLROnPlateau(
            opt, patience=0, factor=0.5, threshold=10.0
        )
    )
    h = T(max_epochs=3, batch_size=8, scheduler=plateau, lr=0.1).fit(mlp(), (x, y))
    assert h.lr == pytest.approx([0.1, 0.05, 0.025])  # never "improves" by 10x, halves each epoch


def test_evaluate_and_predict_match_a_hand_computation() -> None:
    x, y = blobs(40)
    model = mlp(dropout=0.5)
    trainer = T(max_epochs=1, batch_size=16, label_smoothing=0.1, eval_batch_size=7)
    trainer.fit(model, (x, y))
    model.train()
    logits = trainer.predict(model, x)
    assert model.training  # mode restored
    assert logits.shape == (40, 2) and logits.dtype == torch.float32
    model.eval()
    with torch.no_grad():
        ref = model(x)
    torch.testing.assert_close(logits, ref)
    res = trainer.evaluate(model, (x, y))
    assert res["loss"] == pytest.approx(
        F.cross_entropy(ref, y, label_smoothing=0.1).item(), rel=1e-5
    )
    assert res["accuracy"] == pytest.approx((ref.argmax(1) == y).float().mean().item())
    torch.testing.assert_close(trainer.predict(model, TensorDataset(x)), ref)


def test_bf16_mixed_on_cpu_autocasts_and_16_mixed_on_cpu_is_refused() -> None:
    x, y = blobs(16)
    model = mlp()
    dtypes = set()
    model[-1].register_forward_hook(lambda m, i, o: dtypes.add(o.dtype) if m.training else None)
    h = T(max_epochs=1, batch_size=8, precision="bf16-mixed").fit(model, (x, y))
    assert dtypes == {torch.bfloat16} and math.isfinite(h.train_loss[0])
    assert model[-1].weight.dtype == torch.float32  # master weights stay fp32
    with pytest.raises(ValueError, match=r"16-mixed.*bf16-mixed"):
        T(max_epochs=1, precision="16-mixed", device="cpu").fit(mlp(), (x, y))
    with pytest.raises(ValueError, match="precision"):
        T(max_epochs=1, precision="fp16")


def test_channels_last_matches_default_layout() -> None:
    x, y = blobs(32)
    a, b = mlp(), mlp()
    T(max_epochs=2, batch_size=8, seed=0).fit(a, (x, y))
    T(max_epochs=2, batch_size=8, seed=0, channels_last=True).fit(b, (x, y))
    assert b[0].weight.is_contiguous(memory_format=torch.channels_last)
    for k, v in weights(a).items():
        torch.testing.assert_close(v, weights(b)[k], rtol=1e-4, atol=1e-5)


def test_compile_wiring_with_the_eager_backend() -> None:
    # The inductor backend needs a C compiler and ~1 min on CPU; "eager" exercises the wiring
    # (dynamo tracing, state-dict keys of the uncompiled model) in seconds.
    x, y = blobs(32)
    a, b = mlp(), mlp()
    T(max_epochs=1, batch_size=16, seed=0).fit(a, (x, y))
    T(max_epochs=1, batch_size=16, seed=0, compile="eager").fit(b, (x, y))
    assert list(weights(b)) == list(weights(a))
    for k, v in weights(a).items():
        torch.testing.assert_close(v, weights(b)[k])


def test_non_finite_loss_stops_training_and_is_recorded() -> None:
    x, y = blobs(32)
    calls = [0]

    def loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        out = F.cross_entropy(logits, target)
        if not logits.requires_grad:  # validation
            return out
        calls[0] += 1
        return out * math.inf if calls[0] == 6 else out

    with pytest.warns(RuntimeWarning, match="non-finite training loss"):
        h = T(max_epochs=5, batch_size=8, loss=loss).fit(mlp(), (x, y), (x, y))
    assert h.epochs == 2 and calls[0] == 6  # stopped at the bad step (epoch 2, batch 2)
    assert math.isinf(h.step_loss[-1]) and len(h.step_loss) == 6
    assert not math.isfinite(h.train_loss[-1]) and math.isnan(h.val_loss[-1])
    assert "epoch 2, batch 2" in (h.stop_reason or "")
    assert h.to_dict()["train_loss"][0] == h.train_loss[0]


class _Counting(nn.Module):
    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.train_calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.train_calls += int(self.training)
        return self.inner(x)  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("train", "val", "match"),
    [
        (
            (blobs(8)[0], torch.tensor([0, 1, 2, 0, 1, 0, 1, 0])),
            None,
            r"labels span \[0, 2\].*2 logits",
        ),
        ((blobs(8)[0], torch.tensor([0, 1, -1, 0, 1, 0, 1, 0])), None, r"\[-1, 1\]"),
        ((blobs(8)[0], blobs(8)[1]), (blobs(4)[0], torch.tensor([0, 1, 5, 0])), "val labels"),
        ((blobs(8)[0][:0], blobs(8)[1][:0]), None, "empty"),
        ((blobs(8)[0], blobs(7)[1]), None, "8 samples but y has 7"),
        (
            (blobs(8)[0].permute(0, 2, 3, 1).contiguous(), blobs(8)[1]),
            None,
            r"NHWC.*permute\(0, 3, 1, 2\)",
        ),
        ((blobs(8)[0], blobs(8)[1]), blobs(4)[0], "without labels"),
        ((blobs(8)[0], blobs(8)[1]), (blobs(4)[0], None), "without labels"),
        ((blobs(8)[0], blobs(8)[1].float()), None, "integers"),
        ((blobs(8)[0] * math.nan, blobs(8)[1]), None, "NaN"),
        ((blobs(8)[0], F.one_hot(blobs(8)[1], 3).float()), None, "3 columns"),
        ("not data", None, "must be"),
    ],
)
def test_bad_inputs_fail_before_any_training_step(train: object, val: object, match: str) -> None:
    model = _Counting(mlp())
    before = weights(model)
    with pytest.raises((ValueError, TypeError), match=match):
        T(max_epochs=1, batch_size=4).fit(model, train, val)
    assert (
        model.train_calls == 0
        and same_weights(model, model)
        and all(torch.equal(v, weights(model)[k]) for k, v in before.items())
    )


def test_model_output_width_mismatch_and_nhwc_dataset() -> None:
    x, y = blobs(8)
    with pytest.raises(ValueError, match="3 logits"):
        T(max_epochs=1).fit(mlp(classes=3), (x, torch.arange(8) % 4))
    with pytest.raises(ValueError, match="1 value per sample"):
        T(max_epochs=1).fit(mlp(classes=1), (x, y * 0))
    with pytest.raises(ValueError, match="NHWC"):
        T(max_epochs=1).fit(mlp(), TensorDataset(x.permute(0, 2, 3, 1), y))
    with pytest.raises(ValueError, match=r"labels in \[0, 7\]"):
        ds = TensorDataset(x, torch.tensor([0, 1, 0, 1, 0, 1, 0, 7]))
        T(max_epochs=1, batch_size=4).fit(mlp(), ds)


def test_options_are_validated_and_replace_copies() -> None:
    base = Trainer(max_epochs=3)
    assert (base.lr, base.batch_size, base.optimizer) == (1e-3, 128, "adam")
    new = base.replace(lr=3e-4, max_epochs=10)
    assert (new.lr, new.max_epochs, base.lr, base.max_epochs) == (3e-4, 10, 1e-3, 3)
    with pytest.raises(TypeError, match="did you mean weight_decay"):
        base.replace(weight_decy=0.1)
    for bad in (
        {"lr": 0},
        {"batch_size": 0},
        {"optimizer": "lamb"},
        {"scheduler": "step"},
        {"label_smoothing": 1.0},
        {"grad_clip": -1.0},
        {"accumulate": 0},
    ):
        with pytest.raises(ValueError, match=next(iter(bad))):
            base.replace(**bad)
    with pytest.raises(TypeError, match="protocol"):
        Trainer(max_epochs=1, callbacks=[object()])


def test_progress_lines_bar_and_silence(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    x, y = blobs(16)
    Trainer(max_epochs=2, batch_size=8, progress=False).fit(mlp(), (x, y))
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""
    Trainer(max_epochs=2, batch_size=8).fit(mlp(), (x, y), (x, y))
    lines = capsys.readouterr().out.splitlines()
    assert (
        len(lines) == 2 and lines[0].startswith("epoch 1/2  train_loss") and "val_acc" in lines[1]
    )
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    Trainer(max_epochs=2, batch_size=8).fit(mlp(), (x, y))
    out = capsys.readouterr()
    assert out.out == "" and "epoch 2/2" in out.err and "2/2" in out.err and "train_loss" in out.err


def test_lr_find_restores_the_model_and_suggests_a_rate() -> None:
    x, y = blobs(64)
    model = mlp(dropout=0.2)
    before = weights(model)
    rng = torch.get_rng_state()
    res = T(max_epochs=1, batch_size=16).lr_find(
        model, (x, y), start_lr=1e-5, end_lr=10.0, num_iter=40
    )
    assert all(torch.equal(v, weights(model)[k]) for k, v in before.items())
    assert torch.equal(torch.get_rng_state(), rng)
    assert res.lrs[0] == pytest.approx(1e-5)
    assert all(b > a for a, b in zip(res.lrs, res.lrs[1:], strict=False))
    assert len(res.losses) == len(res.lrs) == len(res.smoothed) <= 40
    assert res.suggestion is not None and 1e-5 < res.suggestion < 10.0
    # A huge range diverges early and stops.
    res = T(max_epochs=1, batch_size=16, optimizer=torch.optim.SGD).lr_find(
        model, (x, y), start_lr=1e-3, end_lr=1e6, num_iter=60
    )
    assert len(res.lrs) < 60
    with pytest.raises(ValueError, match="start_lr"):
        T(max_epochs=1).lr_find(model, (x, y), start_lr=1.0, end_lr=0.1)


def test_numpy_float64_inputs_are_cast_per_batch() -> None:
    x, y = blobs(16)
    h = T(max_epochs=1, batch_size=8).fit(mlp(), (x.double().numpy(), y.numpy().astype(np.int32)))
    assert math.isfinite(h.train_loss[0])


@settings(max_examples=12)
@given(n=st.integers(1, 40), batch=st.integers(1, 16), accumulate=st.integers(1, 3))
def test_history_bookkeeping_for_any_sizes(n: int, batch: int, accumulate: int) -> None:
    x, y = blobs(max(n, 2))
    x, y = x[:n], y[:n]
    h = T(max_epochs=2, batch_size=batch, accumulate=accumulate, seed=0).fit(mlp(), (x, y))
    steps = math.ceil(n / batch)
    assert len(h.step_loss) == 2 * steps
    sizes = [min(batch, n - i) for i in range(0, n, batch)]
    for e in range(2):
        chunk = h.step_loss[e * steps : (e + 1) * steps]
        assert h.train_loss[e] == pytest.approx(
            sum(s * v for s, v in zip(sizes, chunk, strict=True)) / n
        )
        assert h.train_acc[e] * n == pytest.approx(round(h.train_acc[e] * n))
    assert len(h.grad_norm) == 2 and all(g > 0 for g in h.grad_norm)


# ---------------------------------------------------------------- new-user review fixes
def test_device_typos_fail_at_construction_listing_valid_forms() -> None:
    with pytest.raises(ValueError, match=r"device='gpu'.*'cuda'.*'cuda:N'"):
        Trainer(max_epochs=1, device="gpu")
    with pytest.raises(TypeError, match=r"device=3"):
        Trainer(max_epochs=1, device=3)  # type: ignore[arg-type]
    assert Trainer(max_epochs=1, device=torch.device("cpu")).device == torch.device("cpu")
    assert Trainer(max_epochs=1, device="cuda:1").device == "cuda:1"  # valid even without CUDA


def test_a_loss_class_is_refused_with_how_to_instantiate_it() -> None:
    with pytest.raises(TypeError, match=r"loss=CrossEntropyLoss\(\)"):
        Trainer(max_epochs=1, loss=nn.CrossEntropyLoss)  # type: ignore[arg-type]


def test_a_non_integer_seed_is_refused_clearly() -> None:
    with pytest.raises(ValueError, match=r"seed='a'\): must be an integer"):
        Trainer(max_epochs=1, seed="a")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"seed=True"):
        Trainer(max_epochs=1, seed=True)


def test_unknown_option_message_is_punctuated_and_knows_common_aliases() -> None:
    with pytest.raises(TypeError, match=r"'learning_rate'; did you mean lr\? Valid options: "):
        Trainer(max_epochs=1).replace(learning_rate=1e-3)
    with pytest.raises(TypeError, match=r"'zzz'\. Valid options: max_epochs"):
        Trainer(max_epochs=1).replace(zzz=1)


def test_normalize_accepts_numbers_or_sequences_and_checks_channels() -> None:
    x, y = blobs(32)
    t = T(max_epochs=1, batch_size=8, seed=0, normalize=(0.5, 0.2))
    assert t.normalize == ((0.5,), (0.2,))
    a, b = mlp(), mlp()
    t.fit(a, (x, y))
    T(max_epochs=1, batch_size=8, seed=0).fit(b, ((x - 0.5) / 0.2, y))
    assert same_weights(a, b)  # a scalar applies to every channel
    for bad in ((0.5,), (0.5, 0.2, 0.1), ((0.5, 0.5), (0.2,) * 3), (0.5, 0.0), "ab", ("a", 1)):
        with pytest.raises(ValueError, match=r"normalize="):
            Trainer(max_epochs=1, normalize=bad)  # type: ignore[arg-type]
    two = T(max_epochs=1, normalize=((0.5, 0.5), (0.2, 0.2)))
    with pytest.raises(ValueError, match=r"2 values per channel.*3 channels.*one mean and one std"):
        two.fit(mlp(), (x, y))


def test_a_single_callback_is_accepted_and_a_non_callback_explained() -> None:
    cb = EarlyStoppingLike()
    assert T(max_epochs=1, callbacks=cb).callbacks == (cb,)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"callbacks=3\): pass a list"):
        T(max_epochs=1, callbacks=3)  # type: ignore[arg-type]


class EarlyStoppingLike(Callback):
    def on_epoch_end(self, state: FitState) -> None:
        state.should_stop = True


def test_float_images_in_0_255_warn_once_per_fit() -> None:
    x, y = blobs(32)
    with pytest.warns(UserWarning, match=r"values up to 2\d\d.*Divide by 255.*uint8") as rec:
        T(max_epochs=2, batch_size=8).fit(mlp(), (x * 255, y))
    assert len([w for w in rec if "Divide by 255" in str(w.message)]) == 1
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        T(max_epochs=1, batch_size=8).fit(mlp(), (x, y))  # 0..1
        T(max_epochs=1, batch_size=8).fit(mlp(), ((x - 0.5) / 0.1, y))  # standardized
        T(max_epochs=1, batch_size=8, normalize=(127.0, 64.0)).fit(mlp(), (x * 255, y))


def test_sync_batchnorm_single_process_says_it_does_nothing() -> None:
    x, y = blobs(16)
    with pytest.warns(UserWarning, match=r"sync_batchnorm=True has no effect"):
        T(max_epochs=1, sync_batchnorm=True).fit(bn_model(), (x, y))


def test_label_shape_and_string_labels_are_explained() -> None:
    x, y = blobs(16)
    with pytest.raises(ValueError, match=r"shape \(16, 1\).*y\.squeeze\(1\) or y\.reshape\(-1\)"):
        T(max_epochs=1).fit(mlp(), (x, y[:, None]))
    names = np.array(["car", "ambulance"] * 8)
    for labels in (names, list(names)):
        with pytest.raises(TypeError, match=r"integer class indices.*np\.unique\(y, return_inverse=True\)"):
            T(max_epochs=1).fit(mlp(), (x, labels))


def test_hints_are_valid_code_for_the_type_passed() -> None:
    x, y = blobs(16)
    with pytest.raises(TypeError, match=r'y\.astype\("int64"\)'):
        T(max_epochs=1).fit(mlp(), (x.numpy(), y.numpy().astype("float32")))
    with pytest.raises(TypeError, match=r"y\.long\(\)"):
        T(max_epochs=1).fit(mlp(), (x, y.float()))
    nhwc = x.permute(0, 2, 3, 1)
    with pytest.raises(ValueError, match=r"Convert with X\.transpose\(0, 3, 1, 2\)"):
        T(max_epochs=1).fit(mlp(), (nhwc.numpy(), y))
    with pytest.raises(ValueError, match=r"Convert with X\.permute\(0, 3, 1, 2\)"):
        T(max_epochs=1).fit(mlp(), (nhwc, y))


def test_an_image_dataset_namedtuple_is_taken_as_images_and_labels() -> None:
    from typing import NamedTuple

    class ImageDataset(NamedTuple):  # the shape of cnnkit.data.ImageDataset, duck-typed
        images: torch.Tensor
        labels: torch.Tensor
        class_names: list[str]

    x, y = blobs(16)
    xu8 = (x * 255).to(torch.uint8)
    ds = ImageDataset(xu8, y, ["a", "b"])
    a, b = mlp(), mlp()
    h = T(max_epochs=1, batch_size=8, seed=0).fit(a, ds, val=ds)
    T(max_epochs=1, batch_size=8, seed=0).fit(b, (xu8, y), val=(xu8, y))
    assert h.val_loss and same_weights(a, b)
    assert T(max_epochs=1).predict(a, ds).shape == (16, 2)
