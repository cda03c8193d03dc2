"""The one atomic write: whole files only, no temporary left behind, ordinary permissions."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from cnnkit._atomic import atomic_write, atomic_write_text


def test_writes_and_replaces(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "f.txt"
    atomic_write_text(path, "one\n")
    atomic_write_text(path, "two\n")
    assert path.read_text() == "two\n"
    assert sorted(p.name for p in path.parent.iterdir()) == ["f.txt"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    atomic_write(path, lambda fh: fh.write(b"old"))

    def boom(fh: object) -> None:
        fh.write(b"half")  # type: ignore[attr-defined]
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(path, boom)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]


def test_new_files_get_the_umask_mode_not_mkstemp_0600(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = atomic_write_text(tmp_path / "new.txt", "x")
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
        os.umask(0o077)
        assert stat.S_IMODE(atomic_write_text(tmp_path / "private.txt", "x").stat().st_mode) == 0o600
    finally:
        os.umask(old)


def test_replacing_keeps_the_existing_mode(tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    path.write_text("a")
    path.chmod(0o640)
    atomic_write_text(path, "b")
    assert stat.S_IMODE(path.stat().st_mode) == 0o640 and path.read_text() == "b"
