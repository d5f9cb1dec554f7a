"""One daemon per data directory: an exclusive ``flock`` on ``<data-dir>/forexbot.pid``.

The data directory holds the paper account, the embedded PostgreSQL, the kill switch's latch
and the secrets; a second daemon on it would trade the same account beside the first. The
lock is taken before anything else starts, so a second ``forexbot run --data-dir D`` stops at
once with a message naming the running one's pid (exit code 3).

The kernel releases a ``flock`` when its holder dies, however it dies (SIGKILL included), so a
stale file never blocks a restart; the pid written in it is only for the message. The file
descriptor is not inherited by child processes (the embedded PostgreSQL), which would
otherwise keep the lock after the daemon is gone.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from forexbot.errors import InstanceLockedError

LOCK_FILE = "forexbot.pid"


class DataDirLock:
    """The lock of one data directory (not re-entrant: one holder per process too)."""

    def __init__(self, data_dir: Path) -> None:
        self._path = data_dir / LOCK_FILE
        self._fd: int | None = None

    @property
    def path(self) -> Path:
        return self._path

    def acquire(self) -> None:
        """Take the lock, or raise :class:`InstanceLockedError` naming the holder."""
        if self._fd is not None:
            return
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise InstanceLockedError(
                f"the data directory {self._path.parent} is in use by another forexbot "
                f"(pid {holder}): one daemon per data directory"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        """Release the lock (the file stays: removing it would race a starting daemon)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)  # closing the descriptor releases the flock
