"""CPU inference speed-up of fuse_batchnorm on the case study's combined model.

Runs the unfused (eval-mode) and fused models side by side in one process, alternating, and
prints the median time per batch of each and the ratio.

    python benchmarks/fuse_batchnorm.py --batch 64 --size 224 --repeats 30 --threads 2 [--width 8]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from cnnkit import case_study, fuse_batchnorm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=30, help="timed batches per model")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--width", type=float, default=1.0,
                        help="channel multiplier (1: the case study's 4 and 8 channels)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    model = case_study("both", input_size=args.size).replace(width=args.width).build()
    model.train()
    with torch.no_grad():  # give the norms real running statistics
        for _ in range(5):
            model(torch.rand(16, 3, args.size, args.size))
    model.eval()
    fused = fuse_batchnorm(model)
    x = torch.rand(args.batch, 3, args.size, args.size)
    with torch.no_grad():
        err = (model(x) - fused(x)).abs().max().item()
        times: dict[str, list[float]] = {"unfused": [], "fused": []}
        for _ in range(3):  # warm-up
            model(x), fused(x)
        for _ in range(args.repeats):
            for name, m in (("unfused", model), ("fused", fused)):
                t0 = time.perf_counter()
                m(x)
                times[name].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"torch {torch.__version__}, {args.threads} threads, batch {args.batch}x3x{args.size}x{args.size}, "
          f"width {args.width:g} ({model.features.block1.out_channels} and {model.features.block2.out_channels} channels)")
    print(f"max |unfused - fused| = {err:.2e}")
    for name in ("unfused", "fused"):
        print(f"{name:8s} median {med[name] * 1e3:8.2f} ms/batch  ({args.batch / med[name]:8.0f} images/s)")
    print(f"speed-up (unfused / fused): {med['unfused'] / med['fused']:.3f}x")


if __name__ == "__main__":
    main()
