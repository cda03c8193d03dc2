"""The vehicle-classification case study, end to end: emergency vs non-emergency vehicles.

Trains the case study's CNN and its regularized variants on the same split and seeds, prints the
comparison table (train and validation accuracy per variant, with each run's diagnosis), runs the
remedy loop from the baseline, and writes learning curves, histories and the table to ``--out``.

    python examples/vehicle_classification.py                 # built-in synthetic dataset
    python examples/vehicle_classification.py --quick         # the same in under a minute
    python examples/vehicle_classification.py --data ../shared/data/emergency_vehicles
    python examples/vehicle_classification.py --data ../shared/data/vehicles_full --protocol article --seeds 3

``--protocol article`` reproduces the case study exactly (224x224, Adam 1e-4, batch 128, 25
epochs, the 90/10 stratified split, its four models) and prints cnnkit's numbers beside the
study's. Exact duplicate images are dropped before the split in every protocol (the original
data set has 68 groups of copies; left in, they put training images into validation).

``--data DIR`` accepts the case study's original layout (``train.csv`` or ``labels.csv`` +
``images/``) or one sub-folder per class.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

from cnnkit import ModelBuilder, case_study
from cnnkit.data import (
    ImageDataset,
    deduplicate,
    load_image_csv,
    load_image_folder,
    synthetic_vehicles,
    train_val_split,
)
from cnnkit.diagnosis import check_data
from cnnkit.plotting import plot_history
from cnnkit.recipes import recommended
from cnnkit.study import StudyResult, Variant, compare, improve
from cnnkit.training import Trainer


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--data", type=Path, default=None,
                   help="image directory (train.csv or labels.csv + images/, or one folder per class); "
                        "default: the built-in synthetic dataset")
    p.add_argument("--size", type=int, default=None,
                   help="image side in pixels (default 64; 32 with --quick)")
    p.add_argument("--epochs", type=int, default=None, help="epochs per run (default 25; 8 with --quick)")
    p.add_argument("--seeds", type=int, default=1, help="runs per variant, seeds 0..N-1 (default 1)")
    p.add_argument("--lr", type=float, default=None,
                   help="Adam learning rate (default 1e-3; 1e-4 with --protocol article)")
    p.add_argument("--batch-size", type=int, default=None,
                   help="batch size (default 32: the study's 128 takes too few steps on ~1500 "
                        "images; 128 with --protocol article)")
    p.add_argument("--rounds", type=int, default=None, help="remedy-loop rounds (default 3; 1 with --quick)")
    p.add_argument("--out", type=Path, default=Path("runs/vehicles"), help="output directory")
    p.add_argument("--quick", action="store_true", help="a small, fast run (under a minute)")
    p.add_argument("--protocol", choices=("cnnkit", "article"), default="cnnkit",
                   help="'article': the case study's exact settings (224x224, Adam 1e-4, batch 128, "
                        "25 epochs, its four models) with its numbers beside cnnkit's; "
                        "default 'cnnkit': 64x64, Adam 1e-3, batch 32, plus augmentation, the "
                        "recommended recipe and the remedy loop")
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (default 1: these 4- and 8-channel convs are too small "
                        "to gain from more, and extra threads slow down on a busy machine)")
    args = p.parse_args(argv)
    if args.protocol == "article":  # the case study's settings, unless given explicitly
        args.size = args.size or 224
        args.lr = args.lr if args.lr is not None else 1e-4
        args.batch_size = args.batch_size or 128
        args.rounds = 0 if args.rounds is None else args.rounds
    args.lr = args.lr if args.lr is not None else 1e-3
    args.batch_size = args.batch_size or 32
    args.size = args.size or (32 if args.quick else 64)
    args.epochs = args.epochs or (8 if args.quick else 25)
    args.rounds = args.rounds if args.rounds is not None else (1 if args.quick else 3)
    return args


def load(args: argparse.Namespace) -> ImageDataset:
    if args.data is None:
        n = 600 if args.quick else 1646
        print(f"data: built-in synthetic vehicles, {n} images at {args.size}x{args.size}")
        return synthetic_vehicles(n=n, size=args.size, seed=0)
    root = args.data
    if not root.is_dir():
        sys.exit(f"--data {root}: not a directory")
    print(f"data: {root} at {args.size}x{args.size}")
    if any(root.glob("*.csv")):  # labels.csv, the original train.csv, or a folder's only CSV
        return load_image_csv(root, size=args.size)
    return load_image_folder(root, size=args.size)


#: The case study's reported results: (train acc %, val acc %), None where it gave no figure.
ARTICLE = {
    "baseline": (87.80, 69.72),
    "+dropout": (73.56, 70.29),
    "+batch norm": (91.0, 63.0),
    "+both": (None, 73.0),
}


def article_table(result: StudyResult) -> str:
    """cnnkit's runs beside the case study's numbers (mean +- standard deviation over seeds)."""
    def pct(v: float | None) -> str:
        return "  -  " if v is None else f"{v:5.1f}"

    lines = ["| model | study train / val % | cnnkit train % | cnnkit val % |",
             "|---|---|---|---|"]
    for row in result.rows:
        study_train, study_val = ARTICLE[row.name]
        lines.append(f"| {row.name} | {pct(study_train)} / {pct(study_val)} | "
                     f"{100 * row.train_acc:.1f} +- {100 * row.train_acc_std:.1f} | "
                     f"{100 * row.val_acc:.1f} +- {100 * row.val_acc_std:.1f} |")
    base, bn = result.histories["baseline"], result.histories["+batch norm"]
    at5 = [h.train_loss[4] for h in bn if len(h.train_loss) >= 5]
    last = [h.train_loss[-1] for h in base]
    if at5 and last:
        lines.append(f"\ntraining loss: batch norm at epoch 5 {statistics.mean(at5):.4f} "
                     f"(study 0.3386) vs baseline at epoch {len(base[0].train_loss)} "
                     f"{statistics.mean(last):.4f} (study 0.3851)")
    return "\n".join(lines)


#: The Trainer options the recipe sets (its augmentation is passed separately).
RECIPE_OPTIONS = ("max_epochs", "batch_size", "optimizer", "lr", "weight_decay", "scheduler",
                  "label_smoothing", "precision", "channels_last")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    data = load(args)
    X, y, classes = data
    X, y, kept = deduplicate(X, y)
    if len(kept) < len(data.labels):
        print(f"      dropped {len(data.labels) - len(kept)} exact duplicate image(s) before the split")
    counts = torch.bincount(y, minlength=len(classes)).tolist()
    print(f"      {len(y)} images, classes {dict(zip(classes, counts, strict=True))}")
    train, val = train_val_split(X, y, val_fraction=0.1, stratify=True, seed=0)
    print(f"split: {len(train[1])} train / {len(val[1])} validation (stratified 90/10)")

    checks = check_data(train[0], train[1], val=val, num_classes=len(classes))
    for finding in checks:
        print(f"data check: {finding}")

    trainer = Trainer(max_epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, progress=False)
    size = args.size
    variants = {
        "baseline": case_study("baseline", input_size=size),
        "+dropout": case_study("dropout", input_size=size),
        "+batch norm": case_study("batchnorm", input_size=size),
        "+both": case_study("both", input_size=size),
        "+both +augment": Variant(case_study("both", input_size=size), augment="default"),
    }
    if args.protocol == "article":
        del variants["+both +augment"]  # the study trained four models
    else:  # cnnkit's recommended recipe on the same split and seeds, for comparison
        recipe_builder, recipe_trainer = recommended(len(classes), size, len(train[1]))
        settings = {name: getattr(recipe_trainer, name) for name in RECIPE_OPTIONS}
        if args.quick:
            settings["max_epochs"] = min(settings["max_epochs"], 2 * args.epochs)
        variants["recipe"] = Variant(recipe_builder, trainer=settings, augment=recipe_trainer.augment)
    print(f"\ntraining {len(variants)} variants x {args.seeds} seed(s), {args.epochs} epochs each "
          f"(Adam lr {args.lr:g}, batch {args.batch_size})")

    def progress(name: str, seed: int, history, diagnosis) -> None:  # type: ignore[no-untyped-def]
        print(f"  {name:15s} seed {seed}: train {100 * history.train_acc[-1]:5.1f}%  "
              f"val {100 * history.val_acc[-1]:5.1f}%  -> {diagnosis.label}")

    # Chance is the majority-class share, not 1/num_classes: the classes are imbalanced.
    chance = {"chance_accuracy": max(torch.bincount(train[1]).tolist()) / len(train[1])}
    result = compare(variants, train, val, trainer=trainer, seeds=range(args.seeds),
                     num_classes=len(classes), diagnose_options=chance, on_run=progress)
    print("\n" + result.to_text())

    if args.protocol == "article":
        print("\n" + article_table(result))

    print("\nDiagnoses (seed 0):")
    for name, diagnoses in result.diagnoses.items():
        print(f"\n[{name}] {diagnoses[0]}")

    loop = None
    if args.rounds > 0:
        print(f"\nRemedy loop from the baseline ({args.rounds} round(s) at most):")
        # stop_when_healthy=False: a healthy round is not the end while rounds remain; every
        # step that does not raise the score is dropped, so the loop cannot end worse.
        base = variants["baseline"]
        assert isinstance(base, ModelBuilder)
        loop = improve(base, train, val, trainer=trainer, rounds=args.rounds,
                       num_classes=len(classes), diagnose_options=chance, stop_when_healthy=False,
                       on_round=lambda r: print(f"  round {r.round}: {r.diagnosis.label}, "
                                                f"score {100 * r.score:.1f}%"))
        print(loop.to_text())
        if "recipe" in variants:
            print(f"loop's best {100 * loop.best.score:.1f}% vs the recipe's "
                  f"{100 * result['recipe'].val_acc:.1f}% validation accuracy")

    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    result.to_csv(out / "table.csv")
    (out / "table.md").write_text(result.to_markdown() + "\n")
    if loop is not None:
        (out / "improve.txt").write_text(loop.to_text() + "\n")
    diag = {name: [d.to_dict() for d in ds] for name, ds in result.diagnoses.items()}
    (out / "diagnoses.json").write_text(json.dumps(diag, indent=2))
    for name, histories in result.histories.items():
        slug = name.strip("+").replace(" +", "_").replace(" ", "_").replace("+", "")
        for seed, history in enumerate(histories):
            history.to_json(out / f"history_{slug}_seed{seed}.json")
        plot_history(histories[0], out / f"curves_{slug}.png", title=f"{name}, seed 0",
                     diagnosis=result.diagnoses[name][0])
    plot_history({name: hs[0] for name, hs in result.histories.items()}, out / "curves_all.png",
                 title="All variants (seed 0)")
    print(f"\nwrote the table, histories, diagnoses and learning curves to {out}/ "
          f"({time.perf_counter() - start:.0f} s in all)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
