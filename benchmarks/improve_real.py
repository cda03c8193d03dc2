"""The remedy loop on real photos: improve() from the case study's baseline, beside the recipe.

On the same data, split and seed as ``benchmarks/recipe_ablation.py`` (duplicates dropped, a 20 %
held-out test split, 10 % of the rest for validation), ``improve()`` starts from the case study's
baseline CNN (two conv blocks of 4 and 8 channels, a flatten head; Adam 1e-3, batch 32, 25 epochs)
and runs without a human for ``--rounds`` rounds or ``--minutes`` minutes. Every round is printed
with its diagnosis, its score (mean validation accuracy of the last epochs), the step applied and
whether it was kept; at the end the best round is evaluated on the held-out test split.

    python benchmarks/improve_real.py --set vehicles --rounds 6 --minutes 30
    python benchmarks/improve_real.py --set scenes --rounds 6 --minutes 30

Compare with the recipe's row of ``python benchmarks/recipe_ablation.py --report``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from recipe_ablation import SETS, load, splits

from cnnkit import case_study
from cnnkit.study import ImproveRound, improve
from cnnkit.training import Trainer, tune_cpu_allocator


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--set", choices=sorted(SETS), default="vehicles")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--size", type=int, default=96)
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--minutes", type=float, default=30.0)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--default-malloc", action="store_true", help="leave glibc's malloc thresholds alone")
    p.add_argument("--out", type=Path, default=Path("runs/improve_real"))
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if not args.default_malloc:
        tune_cpu_allocator()  # 1.6x faster CPU epochs, the same results (docs/benchmarks.md)
    x, y, classes = load(args.set, args.size)
    data = splits(x, y, args.seed)
    train, val, test = data["train"], data["val"], data["test"]
    print(f"{args.set}: {len(train[1])} train / {len(val[1])} val / {len(test[1])} test, "
          f"{len(classes)} classes, {args.size}x{args.size}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads", flush=True)
    builder = case_study("baseline", input_size=args.size, num_classes=len(classes))
    trainer = Trainer(max_epochs=25, batch_size=32, lr=1e-3, progress=False)

    def show(r: ImproveRound) -> None:
        print(f"  round {r.round}: {r.diagnosis.label}, score {100 * r.score:.1f}%, "
              f"{r.seconds / 60:.1f} min, {'kept' if r.kept else 'dropped'}", flush=True)

    t0 = time.perf_counter()
    result = improve(builder, train, val, trainer=trainer, rounds=args.rounds, max_minutes=args.minutes,
                     num_classes=len(classes), seed=args.seed, stop_when_healthy=False, on_round=show)
    minutes = (time.perf_counter() - t0) / 60
    best = result.best
    assert best.model is not None
    test_acc = best.trainer.evaluate(best.model, test)["accuracy"]
    print(result.to_text())
    print(f"best round {best.round}: val score {100 * best.score:.1f}%, held-out test {100 * test_acc:.1f}%, "
          f"loop {minutes:.1f} min")
    print(f"best model: {best.builder!r}")
    args.out.mkdir(parents=True, exist_ok=True)
    row = {"set": args.set, "seed": args.seed, "size": args.size, "rounds": len(result.rounds),
           "stopped": result.stopped, "best_round": best.round, "best_score": best.score,
           "test_acc": float(test_acc), "minutes": minutes, "report": result.to_text(),
           "best_builder": repr(best.builder)}
    with open(args.out / "runs.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
