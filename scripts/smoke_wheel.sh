#!/usr/bin/env bash
# Release check: build the sdist and wheel, install the wheel into a fresh virtual environment
# (reusing the already installed torch, numpy, tqdm and typing-extensions rather than downloading
# them again), and run a smoke test there: import, build, train one epoch, diagnose, CLI.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$PY" -m build --no-isolation --sdist --wheel --outdir "$tmp/dist" . >/dev/null
ls "$tmp"/dist/cnnkit-*.tar.gz "$tmp"/dist/cnnkit-*.whl >/dev/null
"$PY" -m venv "$tmp/venv"
# Point the fresh environment at the site directories that hold the core dependencies.
"$PY" - "$tmp/venv" <<'PY'
import importlib.util, os, subprocess, sys
dirs = set()
for name in ("torch", "numpy", "tqdm", "typing_extensions"):
    spec = importlib.util.find_spec(name)
    origin = spec.submodule_search_locations[0] if spec.submodule_search_locations else spec.origin
    dirs.add(os.path.dirname(origin))
venv_py = os.path.join(sys.argv[1], "bin", "python")
site = subprocess.check_output([venv_py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True).strip()
with open(os.path.join(site, "_cnnkit_reuse_deps.pth"), "w") as f:
    f.write("\n".join(sorted(dirs)) + "\n")
PY
"$tmp/venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps --no-index "$tmp"/dist/cnnkit-*.whl
cd "$tmp"
"$tmp/venv/bin/python" - <<'PY'
import torch
import cnnkit
from cnnkit import ModelBuilder, Trainer, diagnose
assert cnnkit.__file__.startswith(__import__("sys").prefix), cnnkit.__file__
assert cnnkit.case_study("baseline").num_parameters() == 50_586
g = torch.Generator().manual_seed(0)
X, y = torch.rand(64, 3, 16, 16, generator=g), torch.randint(0, 2, (64,), generator=g)
model = ModelBuilder(3, 2, 16, batch_norm=True).conv(4).build()
history = Trainer(max_epochs=2, batch_size=16, progress=False, seed=0).fit(model, (X, y), (X, y))
print("smoke:", cnnkit.__version__, diagnose(history).label, f"{len(history.train_loss)} epochs")
PY
"$tmp/venv/bin/cnnkit" --version
