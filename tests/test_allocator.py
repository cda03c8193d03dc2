"""tune_cpu_allocator: glibc's malloc thresholds pinned, nothing computed differently."""

from __future__ import annotations

import ctypes
import platform
import subprocess
import sys

import pytest

from cnnkit.training import tune_cpu_allocator

FIT = """
import sys, torch
from cnnkit.training import Trainer, tune_cpu_allocator
applied = tune_cpu_allocator() if sys.argv[1] == "tuned" else None
torch.manual_seed(0)
X, y = torch.rand(64, 3, 16, 16), torch.randint(0, 2, (64,))
model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(8 * 14 * 14, 2))
h = Trainer(max_epochs=2, batch_size=16, seed=0, progress=False, device="cpu").fit(model, (X, y))
print(applied, repr(h.train_loss[-1]))
"""


def _fit(mode: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", FIT, mode], capture_output=True, text=True, check=True)
    return out.stdout.split()


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_tuning_applies_on_glibc_and_changes_no_result() -> None:
    applied, tuned_loss = _fit("tuned")
    _, default_loss = _fit("default")
    assert applied == "True"
    assert tuned_loss == default_loss  # the same run, bit for bit


def test_without_mallopt_nothing_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_libc(name: object) -> object:
        raise OSError("no C library here")

    monkeypatch.setattr(ctypes, "CDLL", no_libc)
    assert tune_cpu_allocator() is False


@pytest.mark.parametrize("bad", [0, -5, 2**31, 1.5, True, "1GB"])
def test_rejects_a_bad_threshold(bad: object) -> None:
    with pytest.raises(ValueError, match="threshold"):
        tune_cpu_allocator(bad)  # type: ignore[arg-type]
