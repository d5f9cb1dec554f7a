"""The trading locks a daemon holds while it trades, and the watch that proves them held.

Two daemons must never trade one book: the trade-book lock (one per database and magic) is
taken before the components start, the account lock (one per broker account and magic, over
the whole PostgreSQL server when it can) once the terminal says which account it is logged
into, before reconciliation or any strategy (see :mod:`~forexbot.database.trading_locks`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog

from forexbot.connectors.connector import MT5Connector
from forexbot.database.trading_locks import AdvisoryLock, account_lock_name, maintenance_url
from forexbot.errors import DatabaseError

_log = structlog.get_logger("forexbot.daemon.app")

#: How often the trading locks are proven held (seconds).
ACCOUNT_LOCK_CHECK = 5.0


async def lock_account(url: str, connector: MT5Connector, magic: int) -> AdvisoryLock:
    """Take the lock of the account the terminal is logged into, server-wide; only this
    database's when the maintenance database cannot be reached (said in the log)."""
    server, login = await connector.account_identity()
    name = account_lock_name(server, login, magic)
    lock = AdvisoryLock(maintenance_url(url), name)
    try:
        await lock.acquire()
    except DatabaseError as exc:
        _log.warning(
            "the account lock cannot cover the whole PostgreSQL server: only this database",
            error=str(exc),
        )
        lock = AdvisoryLock(url, name)
        await lock.acquire()
    return lock


async def watch_locks(locks: list[AdvisoryLock], on_lost: Callable[[], None]) -> None:
    """Every ``ACCOUNT_LOCK_CHECK`` seconds, prove each lock still held; a lock lost to another
    daemon calls ``on_lost`` once and ends the watch. A check that cannot tell (the database
    away, a stuck connection) is logged and tried again: without the database no order can be
    sent anyway (its intent is written first)."""
    while True:
        await asyncio.sleep(ACCOUNT_LOCK_CHECK)
        for lock in locks:
            try:
                held = await asyncio.wait_for(lock.check(), ACCOUNT_LOCK_CHECK)
            except (DatabaseError, TimeoutError) as exc:
                _log.warning("a trading lock cannot be checked", lock=lock.name, error=str(exc))
                continue
            except Exception:
                _log.exception("a trading lock check failed", lock=lock.name)
                continue
            if not held:
                on_lost()
                return
