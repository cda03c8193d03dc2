#!/usr/bin/env bash
# Set everything up and run the whole test suite, plus the linters and type checker.
# Fails on any error, including pytest's exit code 5 (no tests collected).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh images,plot,dev,docs
PY=.venv/bin/python
echo "[test] ruff";  $PY -m ruff check src tests examples benchmarks
echo "[test] mypy";  $PY -m mypy src
echo "[test] docs"
# No -q: it lowers the log level so far that strict mode no longer sees (or fails on) warnings.
site=$(mktemp -d)
if ! NO_MKDOCS_2_WARNING=1 $PY -m mkdocs build --strict --site-dir "$site" >"$site.log" 2>&1 \
        || grep -q "WARNING" "$site.log"; then
    cat "$site.log"; echo "[test] docs: the strict build failed (warnings above)"; exit 1
fi
# The reference pages must really hold the API (an empty mkdocstrings page builds without warning).
for page_name in reference/augment:RandomFlip reference/data:load_image_csv \
        reference/training:Trainer reference/diagnosis:diagnose_file reference/layers:ConvBlock \
        reference/builder:ModelBuilder reference/study:improve reference/recipes:recommended \
        diagnosis:OVERFIT_RISE_SIGMAS; do
    page=${page_name%%:*} name=${page_name#*:}
    grep -q "$name" "$site/$page/index.html" || { echo "[test] docs: $page lacks $name"; exit 1; }
done
echo "[test] docs: $(find "$site" -name '*.html' | wc -l) pages, no warnings"
echo "[test] pytest"
# Two worker processes for the two CI cores; each worker uses one torch thread (tests/conftest.py).
$PY -m pytest -n 2 -q "$@"
echo "[test] package: sdist + wheel, installed into a fresh venv, smoke test"
bash scripts/smoke_wheel.sh
