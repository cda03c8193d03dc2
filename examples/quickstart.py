"""Quickstart: build the case study's four CNNs with cnnkit and print their summaries.

The case study classifies vehicle photos (224x224 RGB) as emergency / non-emergency with a small
two-conv-layer CNN, then adds dropout, batch norm, or both. Each variant is one line:

    python examples/quickstart.py [--size 224]
"""

from __future__ import annotations

import argparse

import torch

from cnnkit import CASE_STUDY_VARIANTS, ModelBuilder, case_study


def main() -> None:
    parser = argparse.ArgumentParser(description="Build and summarize the case study's CNNs.")
    parser.add_argument("--size", type=int, default=224, help="input image side (default 224)")
    args = parser.parse_args()

    for variant in CASE_STUDY_VARIANTS:
        builder = case_study(variant, input_size=args.size)
        print(f"\n== {variant}: {builder!r}")
        print(builder.summary())

    # The same baseline, written out with the builder (50,586 parameters at 224x224):
    baseline = ModelBuilder(3, 2, args.size, batch_norm=False, dropout=0.0).conv(4).conv(8)
    model = baseline.build().eval()
    logits = model(torch.rand(2, 3, args.size, args.size))
    print(f"\nbaseline: {baseline.num_parameters():,} parameters; logits shape {tuple(logits.shape)}")
    # A regularized copy, as a diagnosis remedy would make it:
    print(f"regularized copy: {baseline.replace(batch_norm=True, dropout=0.25)!r}")


if __name__ == "__main__":
    main()
