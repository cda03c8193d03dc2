"""Shared test configuration.

Each pytest-xdist worker uses one torch thread so that two workers share the two CI cores
without oversubscription.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, settings

torch.set_num_threads(1)

settings.register_profile(
    "cnnkit", deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
settings.load_profile("cnnkit")

@pytest.fixture(autouse=True)
def _seed_global_rngs() -> None:
    """Seed torch's, numpy's and Python's global RNGs before every test.

    Tests that draw from the global generators are then deterministic whatever the order in
    which pytest-xdist hands them to its workers.
    """
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)


#: The real vehicle photos shipped beside the repository (never copied into it).
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "emergency_vehicles"


@pytest.fixture(scope="session")
def vehicles_dir() -> Path:
    """Path of ``../shared/data/emergency_vehicles`` (CSV + images layout)."""
    if not (SHARED_DATA / "labels.csv").is_file():
        raise FileNotFoundError(
            f"the shared vehicle images are missing at {SHARED_DATA}; the repository expects "
            "../shared beside it, as in CI"
        )
    return SHARED_DATA
