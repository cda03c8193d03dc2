"""Contract tests of cnnkit.backbones: backbone(), list_backbones(), weights, freezing, groups."""

from __future__ import annotations

import importlib.abc
import sys
import types
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import cnnkit
from cnnkit.backbones import (
    FAMILY,
    backbone,
    classifier_name,
    freeze,
    head_name,
    is_frozen_batch_norm,
    list_backbones,
    load_weights,
    param_groups,
    read_state_dict,
    replace_classifier,
    resnet_builder,
    unfreeze,
)
from cnnkit.builder import ModelBuilder
from cnnkit.layers import ResidualBlock

SIZE = 16  # tiny images keep every test fast on CPU


def _batch(n: int = 8, classes: int = 3, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, SIZE, SIZE, generator=gen), torch.randint(
        0, classes, (n,), generator=gen
    )


def _steps(model: nn.Module, classes: int, steps: int = 3, **opt: float) -> None:
    x, y = _batch(classes=classes)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=opt.get("lr", 0.1), momentum=0.9)
    model.train()
    for _ in range(steps):
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def test_top_level_names() -> None:
    assert cnnkit.backbone is backbone and cnnkit.list_backbones is list_backbones
    assert {"backbone", "list_backbones"} <= set(cnnkit.__all__)


def test_list_backbones_names_the_cnnkit_family() -> None:
    assert list_backbones("cnnkit") == sorted(FAMILY)
    assert set(FAMILY) <= set(list_backbones())
    with pytest.raises(ValueError, match="unknown source 'keras'"):
        list_backbones("keras")


@pytest.mark.parametrize("name", sorted(FAMILY))
def test_family_depth_and_shapes(name: str) -> None:
    model = backbone(name, 4, input_size=SIZE)
    blocks = [m for m in model.modules() if isinstance(m, ResidualBlock)]
    depth = int(name.removeprefix("cnnkit-resnet"))
    assert 2 * len(blocks) + 2 == depth  # two convs a block + stem + classifier
    assert model(torch.randn(2, 3, SIZE, SIZE)).shape == (2, 4)
    assert model(torch.randn(2, 3, 2 * SIZE, 2 * SIZE)).shape == (2, 4)  # avg head: any size
    assert isinstance(model, cnnkit.ConvNet) and model.spec is not None
    assert ModelBuilder.from_dict(model.spec) == resnet_builder(name, 4, input_size=SIZE)


def test_family_drop_path_grows_linearly() -> None:
    model = backbone("cnnkit-resnet14", 2, drop_path=0.2)
    rates = [
        getattr(b.drop_path, "p", 0.0) for b in model.modules() if isinstance(b, ResidualBlock)
    ]
    assert rates == pytest.approx([0.0, 0.04, 0.08, 0.12, 0.16, 0.2])


def test_unknown_names_and_bad_arguments() -> None:
    with pytest.raises(ValueError, match=r"unknown backbone .resnet50.*list_backbones"):
        backbone("resnet50", 2)
    with pytest.raises(ValueError, match="num_classes must be at least 2"):
        backbone("cnnkit-resnet8", 1)


# ------------------------------------------------------------------ torchvision / timm adapters
class _BrokenTorchvision(importlib.abc.MetaPathFinder):
    """Imports of torchvision fail as the PyPI wheel does against a CPU-only torch."""

    def find_spec(self, fullname: str, path: object, target: object = None) -> None:
        if fullname.split(".")[0] == "torchvision":
            raise RuntimeError("operator torchvision::nms does not exist")
        return None


@pytest.mark.parametrize("name", ["torchvision/resnet18", "timm/resnet18"])
def test_missing_library_raises_import_error_saying_what_to_install(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    library = name.split("/")[0]
    monkeypatch.setitem(sys.modules, library, None)  # "not installed", whatever this machine has
    with pytest.raises(ImportError, match=rf"need the {library} package.*pip install {library}"):
        backbone(name, 2)
    with pytest.raises(ImportError, match=f"pip install {library}"):
        list_backbones(library)
    names = list_backbones()  # the libraries that do not import are left out, cnnkit's stay
    assert set(FAMILY) <= set(names)
    assert not any(n.startswith(f"{library}/") for n in names)


def test_broken_torchvision_wheel_gets_the_same_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for mod in [m for m in sys.modules if m.split(".")[0] == "torchvision"]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setattr(sys, "meta_path", [_BrokenTorchvision(), *sys.meta_path])
    with pytest.raises(ImportError, match=r"torchvision::nms does not exist.*matches your torch"):
        backbone("torchvision/resnet18", 2)
    assert set(list_backbones()) == set(FAMILY)  # still lists cnnkit's own family


def _fake_torchvision(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stand-in torchvision whose one model has torchvision's ResNet head (``fc``)."""

    class TinyResNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten())
            self.fc = nn.Linear(4, 1000)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(self.body(x))  # type: ignore[no-any-return]

    models = types.ModuleType("torchvision.models")
    models.list_models = lambda module=None: ["tiny"]  # type: ignore[attr-defined]
    models.get_model = lambda name, weights=None: TinyResNet()  # type: ignore[attr-defined]
    tv = types.ModuleType("torchvision")
    tv.models = models  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "torchvision", tv)
    monkeypatch.setitem(sys.modules, "torchvision.models", models)


def test_torchvision_adapter_replaces_the_head(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _fake_torchvision(monkeypatch)
    assert "torchvision/tiny" in list_backbones()
    published = sys.modules["torchvision.models"].get_model("tiny")  # 1000 ImageNet classes
    torch.save(published.state_dict(), tmp_path / "tiny.pt")
    model = backbone("torchvision/tiny", 5, weights=tmp_path / "tiny.pt", freeze=True)
    assert classifier_name(model) == head_name(model) == "fc"
    assert model.fc.out_features == 5
    assert torch.equal(model.body[0].weight, published.body[0].weight)
    assert [n for n, p in model.named_parameters() if p.requires_grad] == ["fc.weight", "fc.bias"]
    with pytest.raises(ValueError, match="torchvision has no classification model 'vgg99'"):
        backbone("torchvision/vgg99", 2)
    with pytest.raises(ValueError, match="3-channel images"):
        backbone("torchvision/tiny", 2, in_channels=1)


def test_timm_adapter_builds_with_the_new_head(monkeypatch: pytest.MonkeyPatch) -> None:
    class TinyTimm(nn.Module):
        def __init__(self, num_classes: int, in_chans: int) -> None:
            super().__init__()
            self.stem = nn.Conv2d(in_chans, 4, 3)
            self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
            self.head = nn.Linear(4, num_classes)
            self.aux = nn.Linear(4, 4)  # not the classifier, though it comes last

        def get_classifier(self) -> nn.Module:
            return self.head

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.pool(self.stem(x)))  # type: ignore[no-any-return]

    timm = types.ModuleType("timm")
    timm.list_models = lambda: ["tiny"]  # type: ignore[attr-defined]
    timm.create_model = lambda name, pretrained, num_classes, in_chans: TinyTimm(  # type: ignore[attr-defined]
        num_classes, in_chans
    )
    monkeypatch.setitem(sys.modules, "timm", timm)
    assert "timm/tiny" in list_backbones("timm")
    model = backbone("timm/tiny", 4, in_channels=1, freeze=True)
    assert classifier_name(model) == "head"
    assert model(torch.randn(2, 1, 8, 8)).shape == (2, 4)
    assert {n for n, p in model.named_parameters() if p.requires_grad} == {
        "head.weight",
        "head.bias",
    }
    with pytest.raises(ValueError, match="timm has no model 'huge'"):
        backbone("timm/huge", 2)


def test_replace_classifier_in_a_sequential_head() -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 8), nn.ReLU(), nn.Linear(8, 3))
    assert classifier_name(model) == "3"
    assert replace_classifier(model, 7) and model[3].out_features == 7
    assert not replace_classifier(model, 7)
    with pytest.raises(ValueError, match=r"no nn\.Linear layer"):
        classifier_name(nn.Sequential(nn.ReLU()))


# ------------------------------------------------------------------ weights files
def test_weights_round_trip_same_classes(tmp_path: Path) -> None:
    model = backbone("cnnkit-resnet8", 3, input_size=SIZE)
    _steps(model, 3)
    torch.save(model.state_dict(), tmp_path / "w.pt")
    again = backbone("cnnkit-resnet8", 3, input_size=SIZE, weights=tmp_path / "w.pt")
    x, _ = _batch()
    torch.testing.assert_close(again.eval()(x), model.eval()(x))


@pytest.mark.parametrize("key", ["model", "state_dict"])  # a checkpoint, a cnnkit saved model
def test_weights_inside_a_saved_dict_and_with_ddp_prefixes(key: str, tmp_path: Path) -> None:
    model = backbone("cnnkit-resnet8", 2)
    state = {f"module._orig_mod.{k}": v for k, v in model.state_dict().items()}
    payload = {key: state, "spec": model.spec, "epoch": 3, "classes": ["a", "b"]}
    torch.save(payload, tmp_path / "saved.pt")
    assert read_state_dict(tmp_path / "saved.pt").keys() == model.state_dict().keys()
    assert load_weights(backbone("cnnkit-resnet8", 2), tmp_path / "saved.pt")
    assert not load_weights(backbone("cnnkit-resnet8", 4), tmp_path / "saved.pt")  # new head


def test_weights_of_another_architecture_name_the_keys(tmp_path: Path) -> None:
    torch.save(backbone("cnnkit-resnet14", 2).state_dict(), tmp_path / "r14.pt")
    with pytest.raises(ValueError, match=r"does not fit backbone 'cnnkit-resnet8': .*42 unexpected "
                       r"keys \(features\.block5.*list_backbones"):  # fmt: skip
        backbone("cnnkit-resnet8", 2, weights=tmp_path / "r14.pt")
    torch.save(backbone("cnnkit-resnet8", 2, width=2.0).state_dict(), tmp_path / "wide.pt")
    with pytest.raises(ValueError, match=r"shape mismatches \(features\.block1\.conv\.weight: "
                       r"file \(32, 3, 3, 3\) vs model \(16, 3, 3, 3\)"):  # fmt: skip
        backbone("cnnkit-resnet8", 2, weights=tmp_path / "wide.pt")
    small = {
        k: v for k, v in backbone("cnnkit-resnet8", 2).state_dict().items() if "block4" not in k
    }
    with pytest.raises(ValueError, match=r"missing keys \(features\.block4"):
        backbone("cnnkit-resnet8", 2, weights=small)


def test_unreadable_weights_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        backbone("cnnkit-resnet8", 2, weights=tmp_path / "nope.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match=r"not a file written by torch.save.*torch.save\(model"):
        read_state_dict(tmp_path / "junk.pt")
    torch.save({"epoch": 3}, tmp_path / "meta.pt")
    with pytest.raises(ValueError, match="holds no state dict"):
        read_state_dict(tmp_path / "meta.pt")
    torch.save({"model": nn.Linear(2, 2)}, tmp_path / "pickled.pt")  # a whole module, not weights
    with pytest.raises(ValueError, match="pickled objects other than tensors") as err:
        read_state_dict(tmp_path / "pickled.pt")
    assert "weights_only=False" not in str(err.value)  # never advise the unsafe loading


# ------------------------------------------------------------------ freezing and groups
def test_freeze_keeps_the_head_trainable_and_batch_norm_statistics_fixed() -> None:
    model = freeze(backbone("cnnkit-resnet8", 3, input_size=SIZE))
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"head.classifier.weight", "head.classifier.bias"}
    bns = [m for m in model.features.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bns and all(is_frozen_batch_norm(m) for m in bns)
    before = {k: v.clone() for k, v in model.features.state_dict().items()}
    model.train()
    model(torch.randn(4, 3, SIZE, SIZE) * 3 + 1)
    for k, v in model.features.state_dict().items():
        assert torch.equal(v, before[k]), k  # running statistics did not move
    unfreeze(model.train())
    assert all(p.requires_grad for p in model.parameters())
    assert not any(is_frozen_batch_norm(m) for m in bns) and all(m.training for m in bns)
    model(torch.randn(4, 3, SIZE, SIZE) * 3 + 1)
    assert not torch.equal(bns[0].running_mean, before["block1.bn.running_mean"])


def test_freeze_keep_names_and_errors() -> None:
    model = backbone("cnnkit-resnet8", 2)
    freeze(model, keep=("features.block4", "head"))
    assert {n.split(".")[1] for n, p in model.named_parameters() if p.requires_grad} == {
        "block4", "classifier"}  # fmt: skip
    freeze(model, keep=())
    assert not any(p.requires_grad for p in model.parameters())
    with pytest.raises(AttributeError, match="nope"):
        freeze(model, keep=("nope",))


def test_param_groups_split_body_and_head() -> None:
    model = backbone("cnnkit-resnet8", 2)
    groups = param_groups(model, backbone_lr=1e-4, head_lr=1e-2)
    assert [g["lr"] for g in groups] == [1e-4, 1e-2]
    head = {id(p) for p in model.head.parameters()}
    assert {id(p) for p in groups[1]["params"]} == head
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))
    optimizer = torch.optim.AdamW(param_groups(model, backbone_lr=1e-4), lr=1e-3)
    assert [g["lr"] for g in optimizer.param_groups] == [1e-4, 1e-3]
    with pytest.raises(ValueError, match="backbone_lr must be >= 0"):
        param_groups(model, backbone_lr=-1.0)
    with pytest.raises(ValueError, match="head_lr must be a finite number"):
        param_groups(model, backbone_lr=1e-4, head_lr=float("nan"))


# ------------------------------------------------------------------ end to end
def test_pretrain_save_reload_with_new_head_and_fine_tune_frozen(tmp_path: Path) -> None:
    """Train a tiny backbone, save it, reload it for another task, fine-tune only the head."""
    pre = backbone("cnnkit-resnet8", 3, input_size=SIZE, drop_path=0.1)
    _steps(pre, 3)
    path = tmp_path / "pretrained.pt"
    torch.save(pre.state_dict(), path)

    model = backbone("cnnkit-resnet8", 5, input_size=SIZE, weights=path, freeze=True)
    assert model.head.classifier.out_features == 5 and model.num_classes == 5
    assert model.spec is not None and model.spec["num_classes"] == 5
    body = {k: v.clone() for k, v in model.features.state_dict().items()}
    for k, v in body.items():
        assert torch.equal(v, pre.features.state_dict()[k]), k  # the body came from the file
    head_before = model.head.classifier.weight.detach().clone()

    _steps(model, 5, steps=4)
    for k, v in model.features.state_dict().items():
        assert torch.equal(v, body[k]), f"frozen {k} changed"
    assert not torch.equal(model.head.classifier.weight, head_before)  # the head learned

    unfreeze(model)  # then fine-tune everything at a lower rate for the body
    optimizer = torch.optim.SGD(param_groups(model, backbone_lr=1e-3, head_lr=1e-2), lr=0.1)
    x, y = _batch(classes=5)
    F.cross_entropy(model.train()(x), y).backward()
    optimizer.step()
    assert not torch.equal(model.features.block1.conv.weight, body["block1.conv.weight"])
