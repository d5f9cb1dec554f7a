"""One trading daemon per database and per account: the advisory locks on the real
PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from forexbot.database.trading_locks import (
    AdvisoryLock,
    account_lock_name,
    database_lock_name,
    lock_key,
    maintenance_url,
)
from forexbot.errors import InstanceLockedError

pytestmark = pytest.mark.db

ACCOUNT = account_lock_name("Deriv-Demo", 5_123_456, 2_026_001)


def test_lock_names_say_what_is_locked() -> None:
    assert ACCOUNT == "account 5123456 on Deriv-Demo (magic 2026001)"
    assert database_lock_name(7) == "the trade book of magic 7"


def test_lock_keys_are_stable_signed_bigints_that_differ_by_account() -> None:
    key = lock_key(ACCOUNT)
    assert key == lock_key(ACCOUNT)
    assert -(2**63) <= key < 2**63
    assert key != lock_key(account_lock_name("Deriv-Demo", 5_123_456, 2_026_002))


async def test_a_second_holder_of_the_same_account_is_refused_naming_the_first(
    empty_database_url: str,
) -> None:
    first = AdvisoryLock(empty_database_url, ACCOUNT)
    await first.acquire()
    try:
        second = AdvisoryLock(empty_database_url, ACCOUNT)
        with pytest.raises(InstanceLockedError) as refused:
            await second.acquire()
        message = str(refused.value)
        assert message.startswith(f"{ACCOUNT} is in use by another forexbot")
        assert "forexbot pid " in message
        assert not second.held
    finally:
        await first.release()


async def test_another_account_on_the_same_database_is_not_refused(
    empty_database_url: str,
) -> None:
    first = AdvisoryLock(empty_database_url, ACCOUNT)
    other = AdvisoryLock(empty_database_url, account_lock_name("Deriv-Demo", 5_123_456, 99))
    await first.acquire()
    try:
        await other.acquire()
        assert other.held
    finally:
        await other.release()
        await first.release()


async def test_a_released_lock_can_be_taken_by_the_next_daemon(empty_database_url: str) -> None:
    first = AdvisoryLock(empty_database_url, ACCOUNT)
    await first.acquire()
    await first.release()
    second = AdvisoryLock(empty_database_url, ACCOUNT)
    await second.acquire()
    assert second.held
    await second.release()


async def test_a_holder_whose_connection_dies_loses_the_lock_at_once(
    empty_database_url: str,
) -> None:
    """What a SIGKILL does: the holder's connection goes, and PostgreSQL frees the lock."""
    first = AdvisoryLock(empty_database_url, ACCOUNT)
    await first.acquire()
    await _terminate_lock_connections(empty_database_url)
    second = AdvisoryLock(empty_database_url, ACCOUNT)
    await second.acquire()
    assert second.held
    assert await first.check() is False  # taken over meanwhile: the first must stop trading
    await second.release()
    await first.release()


async def test_check_takes_the_lock_again_after_the_database_dropped_the_connection(
    empty_database_url: str,
) -> None:
    lock = AdvisoryLock(empty_database_url, ACCOUNT)
    await lock.acquire()
    assert await lock.check() is True
    await _terminate_lock_connections(empty_database_url)
    assert await lock.check() is True
    with pytest.raises(InstanceLockedError):
        await AdvisoryLock(empty_database_url, ACCOUNT).acquire()
    await lock.release()


async def _terminate_lock_connections(url: str) -> None:
    engine = create_async_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            ended = await conn.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name LIKE 'forexbot pid %' AND pid <> pg_backend_pid()"
                )
            )
        assert ended >= 1
    finally:
        await engine.dispose()


async def test_the_account_lock_in_the_maintenance_database_spans_every_database_of_the_server(
    empty_database_url: str, migrated_database_url: str
) -> None:
    """Two daemons on one account through two databases of one server are still refused."""
    first = AdvisoryLock(maintenance_url(empty_database_url), ACCOUNT)
    await first.acquire()
    try:
        with pytest.raises(InstanceLockedError):
            await AdvisoryLock(maintenance_url(migrated_database_url), ACCOUNT).acquire()
    finally:
        await first.release()


def test_the_maintenance_url_is_the_same_server_s_postgres_database() -> None:
    url = "postgresql://bot:secret@db.example:5433/forexbot_acct1?ssl=require"
    assert maintenance_url(url) == (
        "postgresql+asyncpg://bot:secret@db.example:5433/postgres?ssl=require"
    )
