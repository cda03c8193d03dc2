"""One atomic file write for everything cnnkit saves (checkpoints, histories, caches, models).

A file is written to a temporary sibling, flushed and ``fsync``-ed, then moved over the
destination with ``os.replace`` (atomic on POSIX and Windows), and the folder is ``fsync``-ed so
the rename itself survives a power cut. A crash at any point leaves either the old file or the
new one, never half of one, and no temporary file behind on an ordinary exception.
"""

from __future__ import annotations

import os
import stat
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_write", "atomic_write_text"]


def atomic_write(path: str | os.PathLike[str], write: Callable[[IO[bytes]], Any]) -> Path:
    """Call ``write(fh)`` on a temporary binary file, then move it to ``path`` atomically.

    Args:
        path: Destination; missing parent folders are created.
        write: Writes the whole content to the open binary file it is given.

    Returns:
        The destination as a ``Path``.
    """
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    try:
        # mkstemp makes the file private (0600); give it the mode a plain open() would: the
        # old file's mode when replacing one, else 0666 less the umask.
        os.chmod(tmp, _mode_for(dest))
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(dest.parent)
    return dest


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8, newlines as given) to ``path`` atomically; see :func:`atomic_write`."""
    data = text.encode("utf-8")
    return atomic_write(path, lambda fh: fh.write(data))


def _mode_for(dest: Path) -> int:
    try:
        return stat.S_IMODE(dest.stat().st_mode)
    except OSError:
        return 0o666 & ~_umask()


def _umask() -> int:
    """The process umask. Reading it means setting it; a lock keeps two threads from racing."""
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


_UMASK_LOCK = threading.Lock()


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable; a no-op where folders cannot be opened (Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - Windows, or a folder we may not open
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse fsync on folders
        pass
    finally:
        os.close(fd)
