"""URL normalisation and the Database lifecycle (connect, check, close, clear failures)."""

from __future__ import annotations

import socket

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from forexbot.database.engine import Database, describe_url, scrub_password, to_async_url
from forexbot.errors import DatabaseError


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:pw@db.example:5433/app", "postgresql+asyncpg://u:pw@db.example:5433/app"),
        ("postgres://u:pw@db.example/app", "postgresql+asyncpg://u:pw@db.example/app"),
        ("postgresql+asyncpg://u@h/app", "postgresql+asyncpg://u@h/app"),
        (
            "postgresql://postgres@/forexbot?host=/tmp/pg%20dir",
            "postgresql+asyncpg://postgres@/forexbot?host=%2Ftmp%2Fpg+dir",
        ),
    ],
)
def test_to_async_url_accepts_postgres_schemes(given: str, expected: str) -> None:
    assert to_async_url(given) == expected


def test_to_async_url_translates_libpq_sslmode_for_asyncpg() -> None:
    assert to_async_url("postgres://u:pw@h/app?sslmode=require") == (
        "postgresql+asyncpg://u:pw@h/app?ssl=require"
    )


def test_to_async_url_keeps_url_encoded_password() -> None:
    assert (
        to_async_url("postgresql://u:p%40ss%25w@h/app") == "postgresql+asyncpg://u:p%40ss%25w@h/app"
    )


@pytest.mark.parametrize(
    "url",
    ["mysql://u:hunter2@h/app", "postgresql+psycopg2://u:hunter2@h/app", "sqlite:///x.db"],
)
def test_to_async_url_refuses_other_schemes_without_echoing_the_password(url: str) -> None:
    with pytest.raises(DatabaseError, match="unsupported database URL scheme") as caught:
        to_async_url(url)
    assert "hunter2" not in str(caught.value)


def test_to_async_url_refuses_garbage_without_echoing_it() -> None:
    with pytest.raises(DatabaseError, match="invalid database URL") as caught:
        to_async_url("hunter2 is not a url")
    assert "hunter2" not in str(caught.value)


def test_describe_url_names_user_host_port_database_but_not_password() -> None:
    assert describe_url("postgresql://trader:hunter2@db.example:5433/fx") == (
        "trader@db.example:5433/fx"
    )


def test_describe_url_of_a_unix_socket_names_the_socket_directory() -> None:
    assert describe_url("postgresql+asyncpg://postgres@/forexbot?host=/run/pg") == (
        "postgres@/run/pg/forexbot"
    )


def test_scrub_password_removes_raw_and_encoded_forms() -> None:
    url = "postgresql://u:p%40ss@h/db"
    assert scrub_password("failed for p@ss and p%40ss", url) == "failed for *** and ***"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_connect_failure_names_the_target_without_the_password() -> None:
    port = _closed_port()
    database = Database(f"postgresql://trader:hunter2@127.0.0.1:{port}/fx", connect_timeout=5)
    with pytest.raises(DatabaseError) as caught:
        await database.connect()
    message = str(caught.value)
    assert f"trader@127.0.0.1:{port}/fx" in message
    assert "hunter2" not in message
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__
    assert not database.connected


@pytest.mark.db
async def test_connect_to_a_missing_database_says_so(pg_server_url: str) -> None:
    url = make_url(pg_server_url).set(database="fxt_missing")
    database = Database(url.render_as_string(hide_password=False))
    with pytest.raises(DatabaseError, match=r"fxt_missing.*does not exist"):
        await database.connect()


@pytest.mark.db
async def test_connect_checks_then_close_releases(migrated_database_url: str) -> None:
    database = Database(migrated_database_url, pool_size=1)
    await database.connect()
    await database.connect()  # idempotent
    async with database.engine.connect() as conn:
        assert (await conn.execute(text("SELECT 41 + 1"))).scalar_one() == 42
    await database.close()
    await database.close()
    with pytest.raises(DatabaseError, match="not connected"):
        _ = database.engine


def test_engine_before_connect_is_refused() -> None:
    with pytest.raises(DatabaseError, match=r"call Database\.connect"):
        _ = Database("postgresql://u@h/db").engine
