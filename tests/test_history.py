"""History: the dict/JSON/CSV contract that diagnose() and users rely on."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cnnkit.training.history import EPOCH_KEYS, History

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
anyfloat = st.floats(allow_nan=True, allow_infinity=True, width=64)


def _same(a: list[float], b: list[float]) -> bool:
    return len(a) == len(b) and all(
        (math.isnan(x) and math.isnan(y)) or x == y for x, y in zip(a, b, strict=False)
    )


@st.composite
def histories(draw: st.DrawFn, values: st.SearchStrategy[float] = anyfloat) -> History:
    n = draw(st.integers(0, 6))
    kw = {}
    for key in EPOCH_KEYS:
        kw[key] = (
            draw(st.lists(values, min_size=n, max_size=n))
            if draw(st.booleans()) or key == "train_loss"
            else []
        )
    kw["step_loss"] = draw(st.lists(values, max_size=10))
    names = draw(st.lists(st.sampled_from(["train_f1", "val_f1", "val_top5_acc"]), unique=True))
    kw["metrics"] = {name: draw(st.lists(values, min_size=n, max_size=n)) for name in names}
    return History(**kw)


def test_to_dict_has_the_contract_keys_and_epoch_numbers() -> None:
    h = History(train_loss=[1.0, 0.5, 0.25], train_acc=[0.5, 0.6, 0.7], lr=[0.1] * 3)
    d = h.to_dict()
    assert list(d) == ["epoch", *EPOCH_KEYS, "step_loss"]
    assert d["epoch"] == [1, 2, 3]
    assert d["val_loss"] == [] and d["grad_norm"] == []
    json.dumps(d)  # plain JSON-serializable


@given(histories())
def test_json_round_trip_keeps_every_value_including_nan(
    tmp_path_factory: pytest.TempPathFactory, h: History
) -> None:
    path = tmp_path_factory.mktemp("h") / "h.json"
    h.to_json(path)
    back = History.from_json(path)
    for key in (*EPOCH_KEYS, "step_loss"):
        assert _same(getattr(back, key), getattr(h, key)), key
    assert back.metrics.keys() == h.metrics.keys()
    for key, values in h.metrics.items():
        assert _same(back.metrics[key], values), key
    raw = json.loads(path.read_text())
    assert raw["best_epoch"] == h.best_epoch


@given(histories(finite))
def test_csv_round_trip(tmp_path_factory: pytest.TempPathFactory, h: History) -> None:
    path = tmp_path_factory.mktemp("h") / "h.csv"
    h.to_csv(path)
    back = History.from_csv(path)
    for key in EPOCH_KEYS:
        assert getattr(back, key) == getattr(h, key), key
    assert back.step_loss == []
    assert back.metrics == (h.metrics if h.epochs else {})  # no rows: no columns to read


def test_csv_header_and_empty_cells(tmp_path) -> None:  # type: ignore[no-untyped-def]
    h = History(train_loss=[0.5, 0.25], train_acc=[0.75, 1.0])
    h.to_csv(tmp_path / "h.csv")
    lines = (tmp_path / "h.csv").read_text().splitlines()
    assert lines[0] == "epoch,train_loss,val_loss,train_acc,val_acc,lr,epoch_time,grad_norm"
    assert lines[1] == "1,0.5,,0.75,,,,"


def test_best_epoch_prefers_val_loss_and_skips_non_finite() -> None:
    assert History(train_loss=[3, 2, 1], val_loss=[0.9, 0.4, 0.6]).best_epoch == 2
    assert History(train_loss=[3, 2, 1]).best_epoch == 3
    assert History(train_loss=[1, math.nan], val_loss=[math.nan, 0.5]).best_epoch == 2
    assert History(train_loss=[math.nan]).best_epoch is None
    assert History().best_epoch is None


def test_from_dict_rejects_ragged_series_and_ignores_extra_keys() -> None:
    with pytest.raises(ValueError, match="val_loss"):
        History.from_dict({"train_loss": [1.0, 2.0], "val_loss": [1.0]})
    h = History.from_dict({"train_loss": [1.0], "meta": {"x": 1}, "best_epoch": 1})
    assert h.train_loss == [1.0]
    with pytest.raises(TypeError):
        History.from_dict({"train_loss": "1.0"})


def test_repr_is_a_short_summary_not_every_step() -> None:
    h = History(
        train_loss=[0.9, 0.5, 0.6], val_loss=[1.0, 0.7, 0.8], train_acc=[0.5, 0.7, 0.75],
        val_acc=[0.4, 0.6, 0.55], step_loss=[0.123456789] * 1000,
    )
    text = repr(h)
    assert text == (
        "History(epochs=3, train_loss=0.6, val_loss=0.8, train_acc=0.75, val_acc=0.55, "
        "best_epoch=2)"
    )
    assert repr(History()) == "History(epochs=0, best_epoch=None)"
    h.stop_reason = "early stop"
    assert repr(h).endswith("best_epoch=2, stop_reason='early stop')")


def test_extra_metrics_round_trip_through_dict_json_csv(tmp_path) -> None:  # type: ignore[no-untyped-def]
    h = History(train_loss=[0.9, 0.5], val_loss=[1.0, 0.7],
                metrics={"train_f1": [0.4, 0.6], "val_f1": [0.3, math.nan]})  # fmt: skip
    d = h.to_dict()
    assert list(d)[: 2 + len(EPOCH_KEYS)] == ["epoch", *EPOCH_KEYS, "step_loss"]
    assert d["val_f1"] == h.metrics["val_f1"]
    assert History.from_dict(d).metrics.keys() == h.metrics.keys()
    h.to_json(tmp_path / "h.json")
    h.to_csv(tmp_path / "h.csv")
    for back in (History.from_json(tmp_path / "h.json"), History.from_csv(tmp_path / "h.csv")):
        assert _same(back.metrics["train_f1"], [0.4, 0.6])
        assert _same(back.metrics["val_f1"], [0.3, math.nan])
        assert back.val_loss == [1.0, 0.7]
    header = (tmp_path / "h.csv").read_text().splitlines()[0]
    assert header == "epoch," + ",".join(EPOCH_KEYS) + ",train_f1,val_f1"
    assert h.series("val_f1") is h.metrics["val_f1"] and h.series("val_loss") == [1.0, 0.7]
    with pytest.raises(KeyError, match=r"recorded: train_loss.*val_f1"):
        h.series("val_f2")


def test_extra_metric_of_the_wrong_length_and_non_metric_keys() -> None:
    with pytest.raises(ValueError, match="'val_f1' has 1 values but train_loss has 2"):
        History.from_dict({"train_loss": [1.0, 0.5], "val_f1": [0.3]})
    h = History.from_dict({"train_loss": [1.0], "meta": [1], "val_split": 0.1, "test_f1": [1]})
    assert h.metrics == {}  # only train_*/val_* lists are metrics
