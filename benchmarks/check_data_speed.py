"""How long does check_data() take on a case-study-sized data set?

Run: ``python benchmarks/check_data_speed.py [DATA_DIR]`` (default ``../shared/data/emergency_vehicles``).
Builds 1,650 training images of 3x224x224 by resampling the real photos (uint8, NCHW, as cnnkit's
loaders return them) plus a 165-image validation set, then reports the median time of
``check_data`` for uint8 tensors, float32 tensors in [0, 1], and float32 in 0..255 (which adds a
finding). The duplicate check compares every validation image with every training image (the
resampled set has many duplicates, the worst case for confirmation). Timings on shared machines
are noisy; the median of several calls is reported.
"""

from __future__ import annotations

import csv
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from cnnkit.diagnosis import check_data


def load(data_dir: Path) -> np.ndarray:
    with (data_dir / "labels.csv").open() as f:
        names = [r["image_names"] for r in csv.DictReader(f)]
    out = []
    for name in names:
        with Image.open(data_dir / "images" / name) as im:
            out.append(np.asarray(im.convert("RGB").resize((224, 224))))
    return np.stack(out).transpose(0, 3, 1, 2)


def main() -> None:
    default = Path(__file__).resolve().parents[2] / "shared" / "data" / "emergency_vehicles"
    data_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else default
    photos = load(data_dir)
    rng = np.random.default_rng(0)
    X = torch.from_numpy(np.ascontiguousarray(photos[rng.integers(0, len(photos), 1650)]))
    y = torch.from_numpy(rng.integers(0, 2, 1650))
    Xv = torch.from_numpy(np.ascontiguousarray(photos[rng.integers(0, len(photos), 165)]))
    yv = torch.from_numpy(rng.integers(0, 2, 165))
    torch.set_num_threads(1)
    cases = {
        "uint8": (X, Xv),
        "float32 in [0, 1]": (X.float() / 255, Xv.float() / 255),
        "float32 in 0..255": (X.float(), Xv.float()),
    }
    print(f"{'input (1650 + 165 images, 3x224x224)':<40}{'median s':>10}  findings")
    for name, (a, b) in cases.items():
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            findings = check_data(a, y, val=(b, yv), num_classes=2)
            times.append(time.perf_counter() - t0)
        codes = sorted({f.code for f in findings})
        print(f"{name:<40}{statistics.median(times):>10.3f}  {', '.join(codes)}")


if __name__ == "__main__":
    main()
