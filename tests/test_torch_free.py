"""The diagnosis, the history and ``cnnkit diagnose`` work on a machine without torch.

Each check runs in a fresh interpreter in which ``import torch`` fails (``sys.modules["torch"] =
None`` makes every import of it raise ``ImportError``), as on a Keras user's machine.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

BLOCK_TORCH = "import sys\nfor _m in ('torch', 'torchvision'):\n    sys.modules[_m] = None\n"


def _run(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCK_TORCH + textwrap.dedent(code)],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )  # fmt: skip


def test_diagnosis_imports_and_runs_without_torch(tmp_path: Path) -> None:
    out = _run(
        """
        import cnnkit
        from cnnkit.diagnosis import diagnose
        from cnnkit import History, diagnose as top_level_diagnose
        assert top_level_diagnose is diagnose
        h = History(train_loss=[1.0, .5, .3, .2, .1, .05, .03, .02, .01, .008],
                    val_loss=[1.0, .6, .5, .48, .5, .56, .62, .7, .76, .8],
                    train_acc=[.5, .7, .8, .9, .95, .97, .98, .99, .99, .99],
                    val_acc=[.5, .65, .7, .72, .72, .71, .71, .7, .7, .7])
        print(diagnose(h).label.value)
        print("torch" in sys.modules and sys.modules["torch"] is not None)
        """,
        tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["overfitting", "False"]


def test_cli_diagnose_without_torch(tmp_path: Path) -> None:
    csv = tmp_path / "keras_log.csv"
    rows = ["epoch,accuracy,loss,val_accuracy,val_loss"]
    for e in range(12):
        rows.append(f"{e},{0.5 + 0.04 * e:.3f},{1.0 - 0.07 * e:.3f},{0.5 + 0.01 * e:.3f},{0.7 + 0.03 * e:.3f}")
    csv.write_text("\n".join(rows) + "\n")
    out = _run(
        f"""
        from cnnkit.cli import main
        raise SystemExit(main(["diagnose", {str(csv)!r}]))
        """,
        tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Diagnosis: "), out.stdout


def test_torch_parts_fail_with_a_clear_import_error(tmp_path: Path) -> None:
    out = _run(
        """
        import cnnkit
        try:
            cnnkit.Trainer
        except ImportError as exc:
            print("ImportError", exc.name)
        """,
        tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["ImportError", "torch"]
