#!/usr/bin/env bash
# Set everything up and run the whole test suite, plus the linters and type checker.
# Fails on any error, including pytest's exit code 5 (no tests collected).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh images,plot,dev,docs
PY=.venv/bin/python
echo "[test] ruff";  $PY -m ruff check src tests examples benchmarks
echo "[test] mypy";  $PY -m mypy src
echo "[test] docs";  NO_MKDOCS_2_WARNING=1 $PY -m mkdocs build --strict -q --site-dir "$(mktemp -d)"
echo "[test] pytest"
# Two worker processes for the two CI cores; each worker uses one torch thread (tests/conftest.py).
$PY -m pytest -n 2 -q "$@"
echo "[test] package: sdist + wheel, installed into a fresh venv, smoke test"
bash scripts/smoke_wheel.sh
