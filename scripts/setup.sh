#!/usr/bin/env bash
# Set up (or refresh) the project's virtual environment in .venv.
#
# - Uses $PYTHON (default: python3), which must be 3.10 or newer.
# - The venv sees system site-packages, so a torch that is already installed (for example a CUDA
#   build on a GPU machine) is reused and never reinstalled.
# - When no torch is importable, installs the pinned CPU wheel torch==2.13.0 first: an unpinned
#   `torch` would pull a multi-GB CUDA build.
# - Then installs cnnkit in editable mode with the extras given as arguments (default: images,plot).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
EXTRAS="${1:-images,plot}"

"$PYTHON" - <<'PY'
import sys
if sys.version_info < (3, 10):
    sys.exit(f"cnnkit needs Python 3.10 or newer; {sys.executable} is {sys.version.split()[0]}. "
             "Set PYTHON=/path/to/python3.10+ and run again.")
PY

if [ ! -x .venv/bin/python ]; then
    echo "[setup] creating .venv with $("$PYTHON" --version)"
    "$PYTHON" -m venv --system-site-packages .venv
fi
PIP=(.venv/bin/python -m pip --disable-pip-version-check -q)
if .venv/bin/python -c "import torch" >/dev/null 2>&1; then
    echo "[setup] using installed torch $(.venv/bin/python -c 'import torch; print(torch.__version__)')"
else
    echo "[setup] no torch found: installing the pinned CPU wheel torch==2.13.0"
    "${PIP[@]}" install "torch==2.13.0"
fi
echo "[setup] installing cnnkit[$EXTRAS] (editable)"
"${PIP[@]}" install -e ".[$EXTRAS]"
