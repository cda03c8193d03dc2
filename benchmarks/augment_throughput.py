"""Augmentation throughput: cnnkit.augment versus Kornia, and the cost in a training step.

Part 1 runs the same pipeline (horizontal flip p=0.5; affine: rotation +-15 deg, translation
10%, scale 0.9-1.1, shear +-10 deg, reflection padding, p=0.8; colour jitter 0.2/0.2/0.2 clamped
to [0, 1], p=0.8; random erasing p=0.25, area 2-15%) in cnnkit and in Kornia on float batches
on the CPU, in one process, alternating which goes first, and prints the median images/second
of each and the ratio. Kornia runs twice: with its defaults (a random colour-jitter order per
call, as torchvision) and with ``order=(0, 1, 2)`` (the fixed brightness -> contrast ->
saturation order cnnkit uses), so that the comparison is like for like.

Part 2 times one training step (forward, cross-entropy, backward, Adam) of the case study's
combined model (conv 3->4 + BN + ReLU + max-pool + dropout 0.5, conv 4->8 + BN + ReLU +
max-pool + dropout 0.5, linear) with and without ``cnnkit.augment.default()`` on the batch.

Kornia is an optional benchmark dependency (``pip install kornia``); without it part 1 times
cnnkit only.

    python benchmarks/augment_throughput.py                    # 128x3x224x224, 5 repeats, 2 threads
    python benchmarks/augment_throughput.py --quick            # 32x3x112x112, 3 repeats (smoke run)
    python benchmarks/augment_throughput.py --no-train-step --repeats 9
    python benchmarks/augment_throughput.py --per-step --no-throughput --no-train-step
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cnnkit.augment import ColorJitter, Compose, RandomAffine, RandomErasing, RandomFlip, default
from cnnkit.builder import case_study


def cnnkit_steps() -> list[nn.Module]:
    """The benchmark pipeline's steps in cnnkit (``default(1.0)``, colours clamped to [0, 1])."""
    return [
        RandomFlip("horizontal", p=0.5),
        RandomAffine(
            degrees=15.0,
            translate=(0.1, 0.1),
            scale=(0.9, 1.1),
            shear=10.0,
            padding_mode="reflection",
            p=0.8,
        ),
        ColorJitter(0.2, 0.2, 0.2, value_range=(0.0, 1.0), p=0.8),
        RandomErasing(p=0.25, scale=(0.02, 0.15)),
    ]


def cnnkit_pipeline() -> nn.Module:
    """The benchmark pipeline in cnnkit."""
    return Compose(cnnkit_steps())


def kornia_steps(fixed_order: bool) -> list[nn.Module] | None:
    """The same steps in Kornia, or ``None`` when Kornia is not installed."""
    try:
        import kornia.augmentation as K
    except ImportError:
        return None
    jitter_kwargs = {"order": (0, 1, 2)} if fixed_order else {}
    return [
        K.RandomHorizontalFlip(p=0.5),
        K.RandomAffine(
            degrees=15.0,
            translate=(0.1, 0.1),
            scale=(0.9, 1.1),
            shear=10.0,
            padding_mode="reflection",
            p=0.8,
        ),
        K.ColorJitter(0.2, 0.2, 0.2, p=0.8, **jitter_kwargs),
        K.RandomErasing(p=0.25, scale=(0.02, 0.15)),
    ]


def kornia_pipeline(fixed_order: bool) -> nn.Module | None:
    """The same pipeline in Kornia, or ``None`` when Kornia is not installed."""
    steps = kornia_steps(fixed_order)
    return None if steps is None else nn.Sequential(*steps)


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def throughput(args: argparse.Namespace) -> None:
    x = torch.rand(args.batch, 3, args.size, args.size)
    candidates: dict[str, nn.Module] = {"cnnkit": cnnkit_pipeline()}
    for name, fixed in (("kornia", False), ("kornia order=(0,1,2)", True)):
        pipeline = kornia_pipeline(fixed)
        if pipeline is None:
            print("kornia is not installed: timing cnnkit only (pip install kornia)")
            break
        candidates[name] = pipeline
    if len(candidates) > 1:
        import kornia

        print(f"kornia {kornia.__version__}")
    for pipeline in candidates.values():  # warm-up (allocations, lazy initialisation)
        pipeline(x)
    times: dict[str, list[float]] = {name: [] for name in candidates}
    names = list(candidates)
    for r in range(args.repeats):
        order = names if r % 2 == 0 else names[::-1]  # alternate who runs first
        for name in order:
            times[name].append(timed(lambda n=name: candidates[n](x)))
    print(
        f"\nPart 1: {args.batch}x3x{args.size}x{args.size} float32 batches, median of {args.repeats}"
    )
    base = statistics.median(times["cnnkit"])
    for name in names:
        med = statistics.median(times[name])
        spread = f"{min(times[name]) * 1e3:.0f}-{max(times[name]) * 1e3:.0f} ms"
        ratio = "" if name == "cnnkit" else f"  cnnkit is {med / base:.2f}x faster"
        print(
            f"  {name:22s} {med * 1e3:8.1f} ms/batch ({spread})  "
            f"{args.batch / med:8.1f} images/s{ratio}"
        )


def per_step(args: argparse.Namespace) -> None:
    """Time each step of the pipeline separately (cnnkit vs Kornia defaults), alternating."""
    theirs = kornia_steps(False)
    if theirs is None:
        print("kornia is not installed: skipping the per-step comparison")
        return
    x = torch.rand(args.batch, 3, args.size, args.size)
    print(f"\nPer step: {args.batch}x3x{args.size}x{args.size}, median of {args.repeats}")
    names = ("flip", "affine", "colour jitter", "erasing")
    for name, ours, other in zip(names, cnnkit_steps(), theirs, strict=True):
        ours(x)
        other(x)
        t_ours: list[float] = []
        t_other: list[float] = []
        for r in range(args.repeats):
            pair = ((ours, t_ours), (other, t_other))
            for module, sink in pair if r % 2 == 0 else pair[::-1]:
                sink.append(timed(lambda m=module: m(x)))
        a, b = statistics.median(t_ours), statistics.median(t_other)
        print(f"  {name:14s} cnnkit {a * 1e3:7.1f} ms  kornia {b * 1e3:7.1f} ms  ratio {b / a:.2f}")


def train_step_cost(args: argparse.Namespace) -> None:
    model = case_study("both", input_size=args.size).build()
    source = "cnnkit.builder.case_study('both')"
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    aug = default(1.0)
    x = torch.rand(args.batch, 3, args.size, args.size)
    y = torch.randint(0, 2, (args.batch,))

    def step(images: Tensor) -> None:
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(images), y)
        loss.backward()
        optimizer.step()

    step(x)
    step(aug(x))
    plain: list[float] = []
    augmented: list[float] = []
    aug_only: list[float] = []
    for r in range(args.repeats):
        for kind in ("plain", "aug") if r % 2 == 0 else ("aug", "plain"):
            if kind == "plain":
                plain.append(timed(lambda: step(x)))
            else:
                start = time.perf_counter()
                xa = aug(x)
                aug_only.append(time.perf_counter() - start)
                step(xa)
                augmented.append(time.perf_counter() - start)
    p, a, o = (statistics.median(v) for v in (plain, augmented, aug_only))
    print(f"\nPart 2: one training step, case study 'both' model ({source}), batch {args.batch}")
    print(f"  step without augmentation {p * 1e3:8.1f} ms")
    print(f"  step with default()       {a * 1e3:8.1f} ms  (augmentation alone {o * 1e3:.1f} ms)")
    print(
        f"  augmentation alone is {100 * o / p:.0f}% of a plain step; the measured difference of "
        f"the two steps is {(a - p) * 1e3:.1f} ms ({100 * (a - p) / p:.0f}%; noisier, it subtracts "
        "two step times)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=5, help="timed batches per pipeline")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="batch 32, 112x112, 3 repeats")
    parser.add_argument("--no-train-step", action="store_true", help="skip part 2")
    parser.add_argument("--no-throughput", action="store_true", help="skip part 1")
    parser.add_argument("--per-step", action="store_true", help="also time each step alone")
    args = parser.parse_args()
    if args.quick:
        args.batch, args.size, args.repeats = 32, 112, 3
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    if not args.no_throughput:
        throughput(args)
    if args.per_step:
        per_step(args)
    if not args.no_train_step:
        train_step_cost(args)


if __name__ == "__main__":
    main()
