"""Shared fixtures: a real PostgreSQL for every test that needs a database (design §5, §8).

The server is ``$FOREXBOT_TEST_DATABASE_URL`` (or ``$DATABASE_URL``) when set, else an embedded
PostgreSQL started once per test session in a temporary directory and stopped at the end, so
the suite runs on a bare machine and in CI alike.

Databases are created on that server as ``fxt_<random>`` and dropped afterwards (connections
terminated first). :func:`migrated_database_url` is one migrated database per test module;
:func:`db_engine` empties its tables before each test, so tests never see each other's rows and
need no cleanup code. :func:`empty_database_url` is a fresh unmigrated database per test, for
migration tests.

Event loops: pytest-asyncio runs each test in its own loop, and an ``AsyncEngine``'s
connections belong to the loop that opened them. So :func:`db_engine` is function-scoped and
runs in the test's loop, and the blocking set-up work (creating databases, Alembic, which runs
its own loop) happens in a worker thread, never in a pytest-asyncio loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest
import pytest_asyncio
import structlog
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool
from structlog.testing import LogCapture

from forexbot.api.passwords import hash_password
from forexbot.api.routes import login as login_routes
from forexbot.database.embedded import EmbeddedPostgres
from forexbot.database.engine import create_engine, to_async_url
from forexbot.database.migrate import upgrade
from forexbot.database.tables import metadata

TEST_DATABASE_URL_ENV = ("FOREXBOT_TEST_DATABASE_URL", "DATABASE_URL")

# The suite's subprocesses (daemons, CLI commands, bridge servers, scripts: dozens a run) each
# import forexbot's ~270 modules. With PYTHONDONTWRITEBYTECODE set, none kept the bytecode it
# compiled, so every start compiled them all again (~0.5 s of CPU); they write and read the
# usual __pycache__ directories (ignored by git) instead. Tests get the environment as it was
# otherwise.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

T = TypeVar("T")


def run_blocking(function: Callable[[], T]) -> T:
    """Run ``function`` in a fresh worker thread (no event loop there) and return its result."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(function).result()


def with_database(url: str, database: str) -> str:
    """``url`` pointing at another database on the same server."""
    return make_url(url).set(database=database).render_as_string(hide_password=False)


def execute_autocommit(url: str, *statements: str) -> None:
    """Run statements outside a transaction (``CREATE/DROP DATABASE`` need that). Blocking."""

    async def run() -> None:
        engine = create_async_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        try:
            async with engine.connect() as conn:
                for statement in statements:
                    await conn.execute(text(statement))
        finally:
            await engine.dispose()

    run_blocking(lambda: asyncio.run(run()))


@pytest.fixture
def autocommit() -> Callable[..., None]:
    """:func:`execute_autocommit` for a test (a conftest module is not reliably importable)."""
    return execute_autocommit


def _external_server_url() -> str | None:
    for name in TEST_DATABASE_URL_ENV:
        if os.environ.get(name):
            return os.environ[name]
    return None


@contextlib.contextmanager
def server_directory(prefix: str) -> Iterator[Path]:
    """A temporary directory for an embedded server, removed afterwards.

    Not under pytest's ``tmp_path``: when tests run as root, PostgreSQL runs as the ``pgserver``
    user and needs to traverse the path to its data directory, but every new pytest session of
    the same user resets ``/tmp/pytest-of-<user>`` to mode 0700, which would lock a running
    test server (or one starting in a concurrent session) out of its own files.
    """
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


#: The embedded test server's settings: a throwaway server need not survive a power cut, and
#: without a flush to disk at each commit a test's database set-up (a TRUNCATE of every table)
#: takes ~20 ms instead of ~60 (so do the tests' own commits). Crash-recovery behaviour is
#: tested on the daemons' own servers (tests/e2e), which keep PostgreSQL's defaults.
NOT_DURABLE = (
    "ALTER SYSTEM SET fsync = off",
    "ALTER SYSTEM SET synchronous_commit = off",
    "ALTER SYSTEM SET full_page_writes = off",
    "SELECT pg_reload_conf()",
)


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """``postgresql+asyncpg://`` URL of the test server's maintenance database."""
    external = _external_server_url()
    if external is not None:
        yield to_async_url(external)
        return
    with server_directory("forexbot-test-pg-") as data_dir:
        server = EmbeddedPostgres(data_dir)
        url = run_blocking(server.start)
        try:
            execute_autocommit(with_database(url, "postgres"), *NOT_DURABLE)
            yield with_database(url, "postgres")
        finally:
            run_blocking(server.stop)


@contextlib.contextmanager
def scratch_database(server_url: str) -> Iterator[str]:
    """Create ``fxt_<random>`` on the server, yield its URL, then drop it (kicking out clients)."""
    name = f"fxt_{secrets.token_hex(6)}"
    execute_autocommit(server_url, f'CREATE DATABASE "{name}"')
    try:
        yield with_database(server_url, name)
    finally:
        execute_autocommit(
            server_url,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{name}' AND pid <> pg_backend_pid()",
            f'DROP DATABASE IF EXISTS "{name}"',
        )


@pytest.fixture
def empty_database_url(pg_server_url: str) -> Iterator[str]:
    """A fresh, unmigrated database, dropped after the test."""
    with scratch_database(pg_server_url) as url:
        yield url


@pytest.fixture(scope="module")
def migrated_database_url(pg_server_url: str) -> Iterator[str]:
    """A database migrated to ``head``, shared by the tests of one module, dropped afterwards.

    Module-scoped because creating a database costs ~0.2 s on PostgreSQL 16; :func:`db_engine`
    empties the tables before each test, so tests still start from a clean database. A test
    that changes the *schema* (downgrades, DDL) must use :func:`empty_database_url` instead.
    """
    with scratch_database(pg_server_url) as url:
        run_blocking(lambda: upgrade(url))
        yield url


@pytest_asyncio.fixture(loop_scope="function")
async def db_engine(migrated_database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine (our :func:`create_engine`) on the migrated database, emptied for this test.

    Function-scoped and in the test's own event loop: an engine's connections belong to the
    loop that opened them.
    """
    engine = create_engine(migrated_database_url, pool_size=2)
    tables = ", ".join(table.name for table in metadata.sorted_tables)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY"))
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Logging as it was before each test: a test that runs the CLI in-process configures the
    root logger with pytest's captured stderr, which is closed once that test ends."""
    root = logging.getLogger()
    handlers, level, config = root.handlers[:], root.level, structlog.get_config()
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.configure(**config)


@pytest.fixture
def logs() -> Iterator[LogCapture]:
    """What structlog logs during the test, as event dicts (the previous set-up restored)."""
    capture = LogCapture()
    saved = structlog.get_config()
    structlog.configure(processors=[capture])
    yield capture
    structlog.configure(**saved)


@functools.cache
def _session_dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


@pytest.fixture(autouse=True)
def _one_dummy_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every in-process API server of the session gets the same dummy hash (the Argon2id hash
    of a random password that unknown users' logins are verified against, for equal timing),
    made once: made at each server's start-up it cost ~0.1 s a test, ~80 s a run. The hash and
    its verification are the product's; ``test_passwords`` covers hashing."""
    monkeypatch.setattr(login_routes, "hash_password", lambda _password: _session_dummy_hash())
