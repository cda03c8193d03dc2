"""Every public name that cnnkit 0.1.0 documented still imports from where it did.

The lists are the contract (the 0.1.0 modules' ``__all__`` plus their documented public
constants), written out by hand: a restructure may move code between files, never these names.
"""

from __future__ import annotations

import importlib

import pytest

PUBLIC_0_1_0: dict[str, tuple[str, ...]] = {
    "cnnkit": (
        "CASE_STUDY_VARIANTS", "Callback", "ConvBlock", "ConvNet", "DenseBlock", "Diagnosis",
        "DropBlock2d", "EarlyStopping", "Finding", "History", "Label", "ModelBuilder",
        "ModelCheckpoint", "Remedy", "Severity", "Trainer", "__version__", "case_study",
        "check_data", "diagnose", "diagnose_file", "fuse_batchnorm",
    ),
    "cnnkit.augment": (
        "Augmentation", "ColorJitter", "Compose", "CutMix", "Mixup", "MixupOrCutMix",
        "RandomAffine", "RandomChoice", "RandomCrop", "RandomErasing", "RandomFlip",
        "RandomResizedCrop", "default",
    ),
    "cnnkit.builder": (
        "CASE_STUDY_VARIANTS", "ConvNet", "ModelBuilder", "case_study", "CONV_OVERRIDES",
        "DEFAULTS", "DENSE_OVERRIDES", "HEADS", "SPEC_VERSION",
    ),
    "cnnkit.checks": (
        "check_data", "CORRELATION_CROP", "CORRELATION_SAMPLE", "IMAGE_CHANNELS",
        "IMBALANCE_RATIO", "NATURAL_MIN_CORRELATION", "SCRAMBLE_MIN_GAIN",
        "SMALL_DATA_PER_CLASS", "UNNORMALIZED_MAX",
    ),
    "cnnkit.cli": ("main",),
    "cnnkit.data": (
        "IMAGE_EXTENSIONS", "ImageDataset", "load_image_csv", "load_image_folder",
        "synthetic_vehicles", "to_float", "train_val_split", "EMERGENCY_FRACTION",
    ),
    "cnnkit.diagnosis": (
        "PRIORITY", "Diagnosis", "Finding", "Label", "Remedy", "Severity", "canonical_name",
        "check_data", "diagnose", "diagnose_file", "AT_CHANCE_SKILL", "DIVERGE_ERRATIC_FRACTION",
        "DIVERGE_LOSS_RATIO", "DIVERGE_LOSS_RATIO_NO_ACC", "DIVERGE_RISE_FRACTION",
        "DIVERGE_SPIKE_RATIO", "GAP_LARGE_ACC", "GAP_LARGE_LOSS_RATIO", "GRAD_EXPLODE_RATIO",
        "INFER_MAX_CLASSES", "LR_STEP_FACTOR", "MAX_WINDOW", "MIN_EPOCHS",
        "MIN_PROJECTED_ACC_GAIN", "MIN_WINDOW", "NOISE_FLOOR_REL", "OVERFIT_ACC_DROP_SIGMAS",
        "OVERFIT_MIN_ACC_DROP", "OVERFIT_MIN_EPOCHS_AFTER_BEST", "OVERFIT_MIN_REL_RISE",
        "OVERFIT_MIN_TRAIN_DROP", "OVERFIT_RISE_SIGMAS", "OVERFIT_TRAIN_DROP_SIGMAS",
        "REPORT_REMEDIES", "SLOW_MIN_PROJECTED_GAIN", "SLOW_RATE_RATIO", "SLOW_TARGET_FACTOR",
        "SMOOTH_WIDTH", "TREND_ALPHA", "TREND_MIN_SIGMAS", "TREND_WINDOW_FRACTION",
        "UNDERFIT_LOSS_FRACTION", "UNDERFIT_MAX_SKILL", "UNDERFIT_TARGET_MARGIN",
    ),
    "cnnkit.fuse": ("fuse_batchnorm",),
    "cnnkit.layers": (
        "ACTIVATIONS", "DROPOUT_KINDS", "ORDERS", "POOLS", "ConvBlock", "DenseBlock",
        "DropBlock2d", "get_activation", "get_dropout", "get_pool",
    ),
    "cnnkit.plotting": ("plot_history",),
    "cnnkit.study": (
        "ImproveResult", "ImproveRound", "StudyResult", "StudyRow", "Variant", "apply_change",
        "compare", "improve", "resolve_augment",
    ),
    "cnnkit.training": (
        "Callback", "EarlyStopping", "FitState", "History", "LRFindResult", "ModelCheckpoint",
        "Trainer", "callback_from_dict", "load_checkpoint", "save_checkpoint", "seed_everything",
    ),
    "cnnkit.training.callbacks": (
        "Callback", "EarlyStopping", "FitState", "ModelCheckpoint", "callback_from_dict",
    ),
    "cnnkit.training.checkpoint": (
        "CHECKPOINT_FORMAT", "get_rng_state", "load_checkpoint", "save_checkpoint",
        "set_rng_state",
    ),
    "cnnkit.training.distributed": (
        "DistInfo", "all_reduce_sum", "broadcast_int", "detect", "setup",
    ),
    "cnnkit.training.history": ("EPOCH_KEYS", "History"),
    "cnnkit.training.trainer": ("LRFindResult", "Trainer", "seed_everything"),
}  # fmt: skip


@pytest.mark.parametrize("module", sorted(PUBLIC_0_1_0))
def test_public_names_still_import(module: str) -> None:
    mod = importlib.import_module(module)
    missing = [name for name in PUBLIC_0_1_0[module] if not hasattr(mod, name)]
    assert not missing, f"{module} lost {missing}"


@pytest.mark.parametrize("module", sorted(PUBLIC_0_1_0))
def test_all_lists_the_public_names(module: str) -> None:
    """``from module import *`` and the API docs (which follow ``__all__``) still see them."""
    mod = importlib.import_module(module)
    listed = set(getattr(mod, "__all__", ()))
    constants = {n for n in PUBLIC_0_1_0[module] if n.isupper() and n not in listed}
    missing = set(PUBLIC_0_1_0[module]) - listed - constants
    assert not missing, f"{module}.__all__ lacks {sorted(missing)}"


def test_moved_names_are_the_same_objects() -> None:
    """A name reachable from two places is one object, not a copy that could drift."""
    import cnnkit
    import cnnkit.diagnosis
    import cnnkit.history
    import cnnkit.training

    assert cnnkit.History is cnnkit.training.History is cnnkit.history.History
    assert cnnkit.check_data is cnnkit.diagnosis.check_data
    assert importlib.import_module("cnnkit.checks").check_data is cnnkit.check_data
    assert cnnkit.diagnosis.canonical_name is importlib.import_module("cnnkit.metric_names").canonical_name


def test_unknown_attribute_is_an_attribute_error() -> None:
    import cnnkit

    with pytest.raises(AttributeError, match="no attribute 'Trainerr'"):
        cnnkit.Trainerr  # noqa: B018
    assert "Trainer" in dir(cnnkit) and "augment" in dir(cnnkit)


def test_lazy_exports_match_all() -> None:
    import cnnkit

    assert set(cnnkit.__all__) == {*cnnkit._EXPORTS, "__version__"}
