"""Writing a small file so that a crash or a power cut leaves either the old or the new one.

The paper account and the kill switch's latch are such files. The rule: write a uniquely
named temporary file beside the target, ``fsync`` it, rename it over the target (atomic on
POSIX), then ``fsync`` the directory so the rename itself is on disk. Removing such a file
syncs the directory too. Blocking: callers on the event loop use :func:`asyncio.to_thread`.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_durably(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``, durably (mode 0600 for a new file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    sync_directory(path.parent)


def remove_durably(path: Path) -> None:
    """Remove ``path`` (gone already is fine), durably."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    sync_directory(path.parent)


def sync_directory(directory: Path) -> None:
    """``fsync`` a directory, so the names created, renamed or removed in it are on disk."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
