"""An embedded PostgreSQL server, so ``forexbot run`` works on a bare machine
(``docs/operations.md``, "The database").

The server is the ``pgserver`` package's PostgreSQL binaries, run in ``<data_dir>/pgdata`` and
reachable only through a unix socket (no TCP port to collide with or to expose).

Rules enforced here:

* **A crash leaves nothing that blocks the next start.** Before handing over to pgserver,
  :meth:`EmbeddedPostgres.start` checks ``postmaster.pid``: if the process it names is not a
  PostgreSQL server running in this data directory (it died, or the pid now belongs to an
  unrelated process after a reboot), the leftover backends of that server are waited for (then
  killed) and the stale file is removed. Otherwise pgserver would either try to start on top of
  orphaned shared memory, or believe the unrelated process is the server and hand out a dead
  socket. Dead processes are also pruned from pgserver's handle list (``.handle_pids.json``),
  without which :meth:`~EmbeddedPostgres.stop` would never stop a server once its owner had
  crashed.
* **A second start in the same directory attaches** to the running server (another process,
  or the same one), and the server stops when the last live holder stops it.
* **Starts in one directory are serialised** by a lock file, across processes.
* **Long paths work**: unix socket paths are limited to ~107 bytes; pgserver then puts the
  socket in a short runtime directory, and the URL points there.
* Every failure is a :class:`~forexbot.errors.DatabaseError` saying what to look at, with the
  tail of the server log when the server itself refused to start.

Limitations: one :class:`EmbeddedPostgres` per data directory per process (pgserver keeps one
handle per directory and process, so stopping one object stops the server for the others), and
the server runs as the system user ``pgserver`` when started by root (pgserver's rule;
PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

# psutil comes with pgserver; it ships no type stubs.
import psutil
import structlog
from sqlalchemy.engine import URL

from forexbot.errors import DatabaseError

_log = structlog.get_logger("forexbot.database.embedded")

_DATABASE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_SUPERUSER = "postgres"


def _import_pgserver() -> ModuleType:
    """Import pgserver lazily: its import creates runtime directories and a lock file.

    It also warns that ``XDG_RUNTIME_DIR`` is unset (normal under systemd and in containers),
    which is noise for us: the fallback directory is what we want.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            import pgserver  # noqa: PLC0415  (deliberately lazy, see docstring)
        except ImportError as exc:  # pragma: no cover - it is a declared dependency
            raise DatabaseError(
                f"the embedded PostgreSQL needs the 'pgserver' package: {exc}"
            ) from exc
    return pgserver


class EmbeddedPostgres:
    """A PostgreSQL server living in ``data_dir / "pgdata"``.

    ``start()`` is blocking (initdb on first use takes a second or two): call it from a thread
    when an event loop is running. ``stop()`` stops the server unless another live process
    still holds it.
    """

    def __init__(
        self, data_dir: Path, *, database: str = "forexbot", start_timeout: float = 60.0
    ) -> None:
        if not _DATABASE_NAME.match(database):
            raise ValueError(
                f"database name {database!r} must be lower-case letters, digits and underscores"
            )
        self._data_dir = Path(data_dir)
        self._database = database
        self._start_timeout = start_timeout
        self._server: Any = None
        self._url: str | None = None

    @property
    def pgdata(self) -> Path:
        """The PostgreSQL data directory (``data_dir / "pgdata"``)."""
        return self._data_dir / "pgdata"

    @property
    def url(self) -> str | None:
        """The URL :meth:`start` returned, while the server is held by this object."""
        return self._url

    def start(self) -> str:
        """Start (or attach to) the server; return ``postgresql+asyncpg://`` for ``database``.

        Idempotent: a second call returns the same URL.
        """
        if self._url is not None:
            return self._url
        try:
            self._data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseError(
                f"cannot create the embedded PostgreSQL data directory {self._data_dir}: {exc}"
            ) from None
        pgdata = self.pgdata.resolve()
        with _directory_lock(self._data_dir / ".embedded-postgres.lock"):
            pgserver = _import_pgserver()
            _clear_stale_state(pgdata, timeout=self._start_timeout)
            # pgserver caches one handle per directory and, once that handle's cleanup has run
            # while another process still held the server, hands it out again without
            # registering the new holder: stop() would then never stop the server. A fresh
            # handle per start registers this process properly.
            _evict_instance(pgserver, pgdata)
            server = self._get_server(pgserver, pgdata)
            info = server.get_postmaster_info()
            self._server = server
            try:
                self._ensure_database(pgserver, info)
            except DatabaseError:
                self.stop()
                raise
        self._url = _build_url(info, self._database)
        _log.info(
            "embedded postgresql ready",
            pgdata=str(pgdata),
            pid=info.pid,
            socket_dir=str(info.socket_dir),
            database=self._database,
        )
        return self._url

    def stop(self) -> None:
        """Release the server; it shuts down if no other live process holds it. Idempotent."""
        server, self._server, self._url = self._server, None, None
        if server is None:
            return
        try:
            server.cleanup()
        except (OSError, subprocess.SubprocessError, KeyError) as exc:
            raise DatabaseError(
                f"could not stop the embedded PostgreSQL in {self.pgdata}: {exc!r}"
            ) from None
        _log.info("embedded postgresql released", pgdata=str(self.pgdata))

    def _get_server(self, pgserver: ModuleType, pgdata: Path) -> Any:
        deadline = time.monotonic() + self._start_timeout
        while True:
            try:
                return pgserver.get_server(pgdata, cleanup_mode="stop")
            except (OSError, subprocess.SubprocessError, AssertionError, RuntimeError) as exc:
                # pgserver registers the instance before starting it: drop the broken one or
                # every later get_server() in this process would return it.
                _evict_instance(pgserver, pgdata)
                # A slow start (crash recovery replaying WAL) outlives pg_ctl's 10 s timeout in
                # pgserver; the server keeps starting, so wait for it and attach.
                if _wait_ready(pgdata, deadline) and time.monotonic() < deadline:
                    continue
                raise DatabaseError(
                    f"the embedded PostgreSQL in {pgdata} did not start "
                    f"({type(exc).__name__}: {exc}). Server log {pgdata / 'log'}:\n"
                    f"{_log_tail(pgdata)}"
                ) from None

    def _ensure_database(self, pgserver: ModuleType, info: Any) -> None:
        """Create ``database`` if missing, with the bundled psql (no event loop needed)."""
        exists = _psql(
            pgserver,
            info,
            f"SELECT 1 FROM pg_database WHERE datname = '{self._database}'",
        )
        if exists.strip() == "1":
            return
        _psql(pgserver, info, f'CREATE DATABASE "{self._database}"')
        _log.info("embedded postgresql database created", database=self._database)


def _psql(pgserver: ModuleType, info: Any, sql: str) -> str:
    if info.socket_dir is not None:
        target = ["-h", str(info.socket_dir), "-p", str(info.port or 5432)]
    else:  # Windows: pgserver listens on loopback TCP
        target = ["-h", str(info.hostname), "-p", str(info.port)]
    args = [
        "-X",
        "-q",
        "-t",
        "-A",
        "-v",
        "ON_ERROR_STOP=1",
        *target,
        "-U",
        _SUPERUSER,
        "-d",
        "postgres",
        "-c",
        sql,
    ]
    # A clean environment: PGSSLMODE, PGOPTIONS… from the operator's shell must not leak in.
    env = {"PATH": os.environ.get("PATH", ""), "LC_ALL": "C"}
    try:
        return str(pgserver.psql(args, env=env, timeout=30))
    except (OSError, subprocess.SubprocessError) as exc:
        raise DatabaseError(f"embedded PostgreSQL: {sql!r} failed: {exc}") from None


def _build_url(info: Any, database: str) -> str:
    if info.socket_dir is not None:
        query = {"host": str(info.socket_dir)}
        if info.port and info.port != 5432:
            query["port"] = str(info.port)
        url = URL.create("postgresql+asyncpg", username=_SUPERUSER, database=database, query=query)
    else:
        url = URL.create(
            "postgresql+asyncpg",
            username=_SUPERUSER,
            host=info.hostname,
            port=info.port,
            database=database,
        )
    return url.render_as_string(hide_password=False)


@contextlib.contextmanager
def _directory_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock held for the whole start sequence (POSIX only)."""
    if sys.platform == "win32":  # pragma: no cover
        yield
        return
    import fcntl  # noqa: PLC0415

    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _read_pid_file(pgdata: Path) -> list[str] | None:
    try:
        return (pgdata / "postmaster.pid").read_text().splitlines()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise DatabaseError(f"cannot read {pgdata / 'postmaster.pid'}: {exc}") from None


def _postgres_processes(pgdata: Path) -> list[psutil.Process]:
    """Live ``postgres`` processes whose working directory is ``pgdata`` (they chdir there)."""
    found = []
    for proc in psutil.process_iter(["name"]):
        try:
            if proc.info["name"] == "postgres" and Path(proc.cwd()) == pgdata:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def _postmaster_alive(pgdata: Path, lines: list[str]) -> bool:
    """Whether the pid in ``postmaster.pid`` is a live PostgreSQL serving ``pgdata``."""
    try:
        pid = int(lines[0])
    except (IndexError, ValueError):
        return False
    return any(proc.pid == pid for proc in _postgres_processes(pgdata))


def _clear_stale_state(pgdata: Path, *, timeout: float) -> None:
    """Remove what a crashed server or a crashed owner left behind (see the module docstring)."""
    _prune_handle_pids(pgdata)
    lines = _read_pid_file(pgdata)
    if lines is None or _postmaster_alive(pgdata, lines):
        return
    orphans = _postgres_processes(pgdata)
    if orphans:
        _log.warning(
            "embedded postgresql: waiting for backends of a dead server",
            pids=[proc.pid for proc in orphans],
        )
        _gone, alive = psutil.wait_procs(orphans, timeout=min(timeout, 10.0))
        for proc in alive:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.send_signal(signal.SIGKILL)
        psutil.wait_procs(alive, timeout=5.0)
    _remove_stale_socket(pgdata, lines)
    with contextlib.suppress(FileNotFoundError):
        (pgdata / "postmaster.pid").unlink()
    _log.warning("embedded postgresql: removed a stale postmaster.pid", pgdata=str(pgdata))


def _remove_stale_socket(pgdata: Path, lines: list[str]) -> None:
    """Remove the dead server's socket and its ``.lock`` if no live server owns them.

    PostgreSQL removes a stale socket lock itself only if its pid is gone; a crashed postmaster
    that nobody reaped (a zombie, common in containers without an init) still "exists" and
    would block every start with "lock file .s.PGSQL.5432.lock already exists".
    """
    if len(lines) < 5 or not lines[4].strip():
        return
    port = lines[3].strip() or "5432"
    socket = Path(lines[4].strip()) / f".s.PGSQL.{port}"
    lock = socket.with_name(socket.name + ".lock")
    try:
        owner = int(lock.read_text().splitlines()[0])
    except (OSError, IndexError, ValueError):
        owner = None
    if owner is not None and any(proc.pid == owner for proc in _postgres_processes(pgdata)):
        return
    for path in (lock, socket):
        path.unlink(missing_ok=True)


def _prune_handle_pids(pgdata: Path) -> None:
    """Drop dead processes from pgserver's list of processes holding the server."""
    path = pgdata / ".handle_pids.json"
    try:
        pids = json.loads(path.read_text())
    except FileNotFoundError:
        return
    except (OSError, ValueError):
        pids = None
    if not isinstance(pids, list):
        path.unlink(missing_ok=True)  # unreadable: pgserver would crash on it
        return
    alive = [pid for pid in pids if isinstance(pid, int) and _alive(pid)]
    if alive != pids:
        path.write_text(json.dumps(alive))


def _alive(pid: int) -> bool:
    """Whether ``pid`` is a running process (a zombie is dead, whatever ``kill -0`` says)."""
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True  # someone else's live process: not ours to declare dead


def _evict_instance(pgserver: ModuleType, pgdata: Path) -> None:
    """Forget pgserver's cached handle for ``pgdata`` (it points at a dead or failed server)."""
    instances = getattr(pgserver.PostgresServer, "_instances", None)
    if not isinstance(instances, dict):  # pragma: no cover - pgserver internals changed
        return
    stale = instances.pop(pgdata, None)
    if stale is not None:
        atexit.unregister(stale._cleanup)


def _wait_ready(pgdata: Path, deadline: float) -> bool:
    """Wait until a live server in ``pgdata`` reports ``ready``; False if none is starting."""
    while time.monotonic() < deadline:
        lines = _read_pid_file(pgdata)
        if lines is None or not _postmaster_alive(pgdata, lines):
            return False
        if len(lines) >= 8 and lines[7].strip() == "ready":
            return True
        time.sleep(0.2)
    return False


def _log_tail(pgdata: Path, lines: int = 20) -> str:
    try:
        text = (pgdata / "log").read_text(errors="replace")
    except OSError as exc:
        return f"(unreadable: {exc})"
    return "\n".join(text.splitlines()[-lines:])
