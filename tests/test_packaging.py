"""The wheel builds, carries py.typed, installs on its own and imports."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import cnnkit

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_builds_with_py_typed_and_imports(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("cnnkit-*.whl")
    assert wheel.name.startswith(f"cnnkit-{cnnkit.__version__}-")
    names = zipfile.ZipFile(wheel).namelist()
    assert "cnnkit/py.typed" in names and "cnnkit/diagnosis/__init__.py" in names
    assert not any(n.startswith(("tests/", "benchmarks/")) for n in names)
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
    )
    code = (
        "import cnnkit, sys; "
        f"assert cnnkit.__file__.startswith({str(target)!r}), cnnkit.__file__; "
        "print(cnnkit.case_study('baseline').num_parameters())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True,
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"}, cwd=tmp_path,
    )  # fmt: skip
    assert out.stdout.strip() == "50586"
