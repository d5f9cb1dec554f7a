"""Database backups: ``pg_dump`` custom-format files in ``<data-dir>/backups/``, rotated.

Rules:

* A backup is ``pg_dump --format=custom --no-owner`` of the daemon's database (embedded or
  external), written to a temporary name and renamed once complete: a file named
  ``forexbot-<UTC time>.dump`` is always a whole backup. It is made by a separate process, so
  the trading loop does not wait on it.
* The ``pg_dump`` used is the one bundled with the embedded PostgreSQL (the newest, able to dump
  any older server), else the one on ``PATH``.
* After each backup only the newest ``keep`` files remain.
* Restore (with the daemon stopped): ``pg_restore --clean --if-exists --no-owner -d <URL>
  <file>`` — ``docs/operations.md`` gives the command (and where the bundled one is).
* A failing ``pg_dump`` is a :class:`~forexbot.errors.DatabaseError` with its message (the
  password is never part of it: it travels in ``PGPASSWORD``, not on the command line).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from forexbot.clock import Clock
from forexbot.errors import DatabaseError

PREFIX, SUFFIX = "forexbot-", ".dump"


@dataclass(frozen=True, slots=True)
class BackupFile:
    path: Path
    size_bytes: int
    created_at: datetime

    def to_api(self) -> dict[str, object]:
        return {
            "file": self.path.name,
            "size_bytes": self.size_bytes,
            "created_at": self.created_at.isoformat().replace("+00:00", "Z"),
        }


def pg_dump_binary() -> str:
    """The bundled ``pg_dump`` when the embedded PostgreSQL is installed, else ``PATH``'s."""
    try:
        import pgserver  # noqa: PLC0415

        bundled = Path(pgserver.__file__).parent / "pginstall" / "bin" / "pg_dump"
        if bundled.exists():
            return str(bundled)
    except ImportError:
        pass
    found = shutil.which("pg_dump")
    if found is None:
        raise DatabaseError("pg_dump is not installed: cannot back up the database")
    return found


def libpq_arguments(url: str) -> tuple[list[str], dict[str, str]]:
    """The connection of a database URL as ``pg_dump`` options and environment (the password
    goes in the environment, never on a command line other users could read)."""
    parsed = make_url(url)
    args = ["--dbname", parsed.database or "postgres"]
    host = parsed.host or str(parsed.query.get("host", "") or "")
    if host:
        args += ["--host", host]
    if parsed.port:
        args += ["--port", str(parsed.port)]
    if parsed.username:
        args += ["--username", parsed.username]
    env = {"PGPASSWORD": parsed.password} if parsed.password else {}
    return args, env


class Backups:
    """Makes, lists and rotates backups of one database (see the module docstring)."""

    def __init__(self, url: str, directory: Path, keep: int, clock: Clock) -> None:
        if keep < 1:
            raise ValueError("keep at least one backup")
        self._url = url
        self._directory = directory
        self._keep = keep
        self._clock = clock
        self._lock = asyncio.Lock()

    def list(self) -> list[BackupFile]:
        """The backups, newest first."""
        if not self._directory.exists():
            return []
        files = sorted(self._directory.glob(f"{PREFIX}*{SUFFIX}"), reverse=True)
        return [
            BackupFile(p, p.stat().st_size, datetime.fromtimestamp(p.stat().st_mtime, tz=UTC))
            for p in files
        ]

    async def create(self) -> tuple[BackupFile, float]:
        """Make a backup; returns it and how long it took (seconds). One at a time."""
        async with self._lock:
            started = time.perf_counter()
            self._directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            stamp = datetime.fromtimestamp(self._clock.time(), tz=UTC)
            final = self._directory / f"{PREFIX}{stamp:%Y%m%dT%H%M%S%fZ}{SUFFIX}"
            partial = final.with_suffix(".partial")
            args, env = libpq_arguments(self._url)
            process = await asyncio.create_subprocess_exec(
                pg_dump_binary(), "--format=custom", "--no-owner", "--file", str(partial), *args,
                env={**os.environ, **env},
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            _, errors = await process.communicate()
            if process.returncode != 0:
                partial.unlink(missing_ok=True)
                message = errors.decode(errors="replace").strip().splitlines()
                raise DatabaseError(
                    f"pg_dump failed: {message[-1] if message else process.returncode}"
                )
            partial.rename(final)
            for old in self.list()[self._keep :]:
                old.path.unlink(missing_ok=True)
            made = BackupFile(final, final.stat().st_size, stamp)
            return made, time.perf_counter() - started
