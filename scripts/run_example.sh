#!/usr/bin/env bash
# Set everything up and run the main job. Extra arguments go to the example script.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh images,plot
exec .venv/bin/python examples/vehicle_classification.py "$@"
