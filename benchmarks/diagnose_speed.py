"""How long does diagnose() take on long histories? (issue 4: a 1,000-epoch history well under 10 ms).

Run: ``python benchmarks/diagnose_speed.py``. Prints the median of repeated calls for several
history lengths and shapes (an overfitting run with noise, and one with NaN from the middle), plus
the time of ``diagnose_file`` on the same history written as CSV. Timings on shared machines are
noisy; the median of many calls is reported.
"""

from __future__ import annotations

import csv
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from cnnkit.diagnosis import diagnose, diagnose_file


def overfitting_history(n: int, seed: int = 0) -> dict[str, list[float]]:
    """A noisy overfitting run: falling train loss, U-shaped val loss, lr and grad norm logged."""
    rng = np.random.default_rng(seed)
    t = np.arange(1, n + 1, dtype=float)
    tl = (0.05 + 0.64 * np.exp(-t / (n / 5))) * (1 + rng.normal(0, 0.01, n))
    best = n / 3
    vl = (0.4 + 0.29 * np.exp(-t / (best / 3)) + 0.3 * np.clip((t - best) / n, 0, None)) * (
        1 + rng.normal(0, 0.03, n)
    )
    ta = np.clip(0.99 - 0.49 * np.exp(-t / (n / 5)) + rng.normal(0, 0.005, n), 0, 1)
    va = np.clip(0.75 - 0.25 * np.exp(-t / (best / 3)) + rng.normal(0, 0.01, n), 0, 1)
    return {"train_loss": tl.tolist(), "val_loss": vl.tolist(), "train_acc": ta.tolist(),
            "val_acc": va.tolist(), "lr": [1e-3] * n, "grad_norm": (1 + rng.random(n)).tolist()}


def median_ms(fn, repeats: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def main() -> None:
    print(f"{'history':<34}{'label':<18}{'median ms':>10}")
    for n in (25, 100, 1000, 10000):
        h = overfitting_history(n)
        label = diagnose(h).label.value
        reps = 200 if n <= 1000 else 20
        print(f"{f'{n} epochs, overfitting':<34}{label:<18}{median_ms(lambda h=h: diagnose(h), reps):>10.2f}")
    h = overfitting_history(1000)
    h["train_loss"][500:] = [float("nan")] * 500
    print(f"{'1000 epochs, NaN from epoch 501':<34}{diagnose(h).label.value:<18}"
          f"{median_ms(lambda: diagnose(h), 200):>10.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "history.csv"
        h = overfitting_history(1000)
        keys = ["train_loss", "val_loss", "train_acc", "val_acc", "lr"]
        with path.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["epoch", *keys])
            for i in range(1000):
                w.writerow([i + 1, *(h[k][i] for k in keys)])
        print(f"{'diagnose_file, 1000-epoch CSV':<34}{diagnose_file(path).label.value:<18}"
              f"{median_ms(lambda: diagnose_file(path), 50):>10.2f}")


if __name__ == "__main__":
    main()
