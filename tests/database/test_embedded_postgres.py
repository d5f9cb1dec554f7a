"""The embedded PostgreSQL: start, stop, restart, attach, and recovery from crashes.

Each test runs its own server in its own temporary directory (about a second each), separate
from the session's test server.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import psutil  # type: ignore[import-untyped]
import pytest
from polling import eventually_sync
from sqlalchemy.engine import make_url

from forexbot.database.embedded import EmbeddedPostgres
from forexbot.errors import DatabaseError

from ._support import on_connection, run_blocking, scalar

pytestmark = pytest.mark.db


def postmaster_pid(pgdata: Path) -> int:
    return int((pgdata / "postmaster.pid").read_text().splitlines()[0])


def running(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A data directory outside pytest's ``tmp_path`` (see ``server_directory`` in conftest)."""
    path = Path(tempfile.mkdtemp(prefix="forexbot-embedded-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def servers(data_dir: Path) -> Iterator[list[EmbeddedPostgres]]:
    """Servers a test started; whatever is still held is released afterwards."""
    started: list[EmbeddedPostgres] = []
    yield started
    for server in reversed(started):
        server.stop()


def start(servers: list[EmbeddedPostgres], data_dir: Path) -> tuple[EmbeddedPostgres, str]:
    server = EmbeddedPostgres(data_dir)
    servers.append(server)
    return server, run_blocking(server.start)


def execute(url: str, *statements: str) -> None:
    def run(conn: object) -> None:
        for statement in statements:
            conn.exec_driver_sql(statement)  # type: ignore[attr-defined]

    on_connection(url, run)


def test_start_returns_an_asyncpg_unix_socket_url_to_the_forexbot_database(
    data_dir: Path, servers: list[EmbeddedPostgres]
) -> None:
    server, url = start(servers, data_dir)
    parsed = make_url(url)
    assert parsed.drivername == "postgresql+asyncpg"
    assert parsed.database == "forexbot"
    assert parsed.password is None
    socket_dir = Path(str(parsed.query["host"]))
    assert (socket_dir / ".s.PGSQL.5432").is_socket()
    assert scalar(url, "SELECT current_database()") == "forexbot"
    assert server.url == url
    assert run_blocking(server.start) == url  # idempotent


def test_stop_stops_the_server_and_data_survives_a_restart(
    data_dir: Path, servers: list[EmbeddedPostgres]
) -> None:
    first, url = start(servers, data_dir)
    execute(url, "CREATE TABLE kept (v int)", "INSERT INTO kept VALUES (7)")
    pid = postmaster_pid(first.pgdata)
    first.stop()
    eventually_sync(lambda: not running(pid), timeout=10.0, what="the postmaster to exit")
    assert first.url is None

    _, url_again = start(servers, data_dir)
    assert url_again == url
    assert scalar(url_again, "SELECT v FROM kept") == 7


def test_restart_after_the_postmaster_was_killed(
    data_dir: Path, servers: list[EmbeddedPostgres]
) -> None:
    first, url = start(servers, data_dir)
    execute(url, "CREATE TABLE kept (v int)", "INSERT INTO kept VALUES (8)")
    pid = postmaster_pid(first.pgdata)
    os.kill(pid, signal.SIGKILL)
    eventually_sync(lambda: not running(pid), timeout=10.0, what="the postmaster to exit")
    assert (first.pgdata / "postmaster.pid").exists()  # the crash left its pid file

    second, url_again = start(servers, data_dir)
    assert postmaster_pid(second.pgdata) != pid
    assert scalar(url_again, "SELECT v FROM kept") == 8  # committed data survived recovery


def test_start_ignores_a_pid_file_naming_an_unrelated_live_process(
    data_dir: Path, servers: list[EmbeddedPostgres]
) -> None:
    first, _ = start(servers, data_dir)
    pid_file = first.pgdata / "postmaster.pid"
    lines = pid_file.read_text().splitlines()
    first.stop()
    # After a reboot the old pid may belong to anything: here, this test process.
    lines[0] = str(os.getpid())
    pid_file.write_text("\n".join(lines) + "\n")

    second, url_again = start(servers, data_dir)
    assert postmaster_pid(second.pgdata) != os.getpid()
    assert scalar(url_again, "SELECT 1") == 1


HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from forexbot.database.embedded import EmbeddedPostgres
    print("URL=" + EmbeddedPostgres(Path(sys.argv[1])).start(), flush=True)
    time.sleep(600)
    """
)


@pytest.fixture
def holder(data_dir: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """Another process that started the server in ``data_dir`` and keeps it."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = ""
        for line in process.stdout:  # structlog also writes to stdout
            if line.startswith("URL="):
                url = line.removeprefix("URL=").strip()
                break
        assert url.startswith("postgresql+asyncpg://"), process.poll()
        yield process, url
    finally:
        process.kill()
        process.wait()
    # Stop the server the holder left behind (its handle is stale now, so this stop is the last).
    last = EmbeddedPostgres(data_dir)
    run_blocking(last.start)
    last.stop()


def test_second_start_attaches_and_leaves_the_server_to_its_other_holder(
    data_dir: Path, holder: tuple[subprocess.Popen[str], str]
) -> None:
    process, holder_url = holder
    pid = postmaster_pid(data_dir / "pgdata")
    server = EmbeddedPostgres(data_dir)
    url = run_blocking(server.start)
    assert url == holder_url
    assert postmaster_pid(data_dir / "pgdata") == pid  # attached, not restarted
    server.stop()
    assert running(pid)  # the holder still uses it
    assert scalar(url, "SELECT 1") == 1

    # Once the holder is gone, a later start/stop in this process is the last and stops it.
    process.kill()
    process.wait()
    again = EmbeddedPostgres(data_dir)
    run_blocking(again.start)
    again.stop()
    eventually_sync(lambda: not running(pid), timeout=10.0, what="the postmaster to exit")


def test_stop_works_after_the_previous_owner_crashed(
    data_dir: Path, holder: tuple[subprocess.Popen[str], str]
) -> None:
    process, _url = holder
    pid = postmaster_pid(data_dir / "pgdata")
    process.kill()  # kill -9: no atexit, the server keeps running, its handle is stale
    process.wait()
    assert running(pid)

    server = EmbeddedPostgres(data_dir)
    run_blocking(server.start)
    assert postmaster_pid(data_dir / "pgdata") == pid
    server.stop()
    eventually_sync(lambda: not running(pid), timeout=10.0, what="the postmaster to exit")


def test_a_data_dir_too_deep_for_a_unix_socket_works(
    data_dir: Path, servers: list[EmbeddedPostgres]
) -> None:
    deep = data_dir / ("d" * 60) / ("e" * 60)
    assert len(str(deep / "pgdata" / ".s.PGSQL.5432")) > 108
    _, url = start(servers, deep)
    socket_dir = Path(str(make_url(url).query["host"]))
    assert len(str(socket_dir / ".s.PGSQL.5432")) <= 107
    assert scalar(url, "SELECT current_database()") == "forexbot"


def test_a_server_that_cannot_start_is_a_database_error_with_its_log(
    data_dir: Path, servers: list[EmbeddedPostgres]
) -> None:
    first, _ = start(servers, data_dir)
    first.stop()
    (first.pgdata / "PG_VERSION").write_text("9\n")  # data files "from another version"
    with pytest.raises(DatabaseError, match="did not start") as caught:
        run_blocking(EmbeddedPostgres(data_dir).start)
    assert "incompatible" in str(caught.value)  # the tail of PostgreSQL's own log


def test_an_unusable_data_dir_is_a_database_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(DatabaseError, match="cannot create the embedded PostgreSQL data dir"):
        EmbeddedPostgres(blocker / "data").start()


def test_database_name_is_validated(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="lower-case"):
        EmbeddedPostgres(tmp_path, database='x"; DROP')
