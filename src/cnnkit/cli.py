"""The ``cnnkit`` command line (also ``python -m cnnkit``).

    cnnkit diagnose FILE [--json] [--num-classes N] [--chance-accuracy A]
                         [--target-accuracy A] [--planned-epochs E]
    cnnkit summary SPEC.json
    cnnkit --version

``diagnose`` reads a cnnkit history (CSV or JSON), a Keras ``CSVLogger`` file or a Lightning
``CSVLogger`` ``metrics.csv`` and prints the diagnosis (``--json`` for machines). ``summary``
prints the per-layer table of a :meth:`ModelBuilder.to_dict <cnnkit.ModelBuilder.to_dict>` spec.
Unreadable or malformed files exit with status 2 and a message on standard error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cnnkit import __version__
from cnnkit.diagnosis import diagnose_file

__all__ = ["main"]


class _UsageError(Exception):
    """A bad file or argument: reported on stderr with exit status 2."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cnnkit",
        description="cnnkit: diagnose training runs and summarize CNN specs.",
    )
    parser.add_argument("--version", action="version", version=f"cnnkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    d = sub.add_parser(
        "diagnose",
        help="diagnose a training history file",
        description="Label a training run as overfitting, underfitting, slow-converging, healthy, "
        "diverging or inconclusive, with the evidence and remedies. FILE is a cnnkit history "
        "(CSV/JSON), a Keras CSVLogger file or a Lightning CSVLogger metrics.csv.",
    )
    d.add_argument("file", type=Path, help="history file (.csv or .json)")
    d.add_argument("--json", action="store_true", help="print the diagnosis as JSON")
    d.add_argument("--num-classes", type=int, default=None, help="number of classes (chance = 1/N)")
    d.add_argument("--chance-accuracy", type=float, default=None,
                   help="chance accuracy, e.g. the majority-class share")  # fmt: skip
    d.add_argument("--target-accuracy", type=float, default=None,
                   help="accuracy the run should reach, in [0, 1]")  # fmt: skip
    d.add_argument("--planned-epochs", type=int, default=None, help="epochs the run was meant to take")

    s = sub.add_parser(
        "summary",
        help="print a model summary from a builder spec",
        description="Print the per-layer table (output shapes, parameters) of a ModelBuilder spec "
        "saved with json.dump(builder.to_dict(), f).",
    )
    s.add_argument("spec", type=Path, help="JSON file written from ModelBuilder.to_dict()")
    return parser


def _diagnose(args: argparse.Namespace) -> str:
    options: dict[str, Any] = {
        key: getattr(args, key)
        for key in ("num_classes", "chance_accuracy", "target_accuracy", "planned_epochs")
        if getattr(args, key) is not None
    }
    try:
        diagnosis = diagnose_file(args.file, **options)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise _UsageError(f"cannot diagnose {args.file}: {exc}") from exc
    if args.json:
        return json.dumps(diagnosis.to_dict(), indent=2)
    return str(diagnosis)


def _summary(args: argparse.Namespace) -> str:
    # Imported here so that ``cnnkit diagnose`` runs on a machine without torch.
    from cnnkit.builder import ModelBuilder

    try:
        spec = json.loads(Path(args.spec).read_text(encoding="utf-8"))
    except OSError as exc:
        raise _UsageError(f"cannot read {args.spec}: {exc.strerror or exc}") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _UsageError(f"{args.spec} is not valid JSON: {exc}") from exc
    try:
        builder = ModelBuilder.from_dict(spec)
        return f"{builder!r}\n{builder.summary()}"
    except (TypeError, ValueError) as exc:
        raise _UsageError(f"{args.spec} is not a valid ModelBuilder spec: {exc}") from exc


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (0 success, 2 bad input or usage).

    Args:
        argv: arguments without the program name; ``None`` reads ``sys.argv[1:]``.
    """
    args = _parser().parse_args(argv)
    try:
        out = _diagnose(args) if args.command == "diagnose" else _summary(args)
    except _UsageError as exc:
        print(f"cnnkit: error: {exc}", file=sys.stderr)
        return 2
    print(out)
    return 0
