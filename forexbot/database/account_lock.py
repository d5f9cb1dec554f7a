"""One trading daemon per account: a PostgreSQL advisory lock held for the daemon's life.

Two daemons sending orders for one account (and one magic number) would fight: each would
reconcile the other's trades away and double every limit. The data-directory lock
(:mod:`forexbot.instance_lock`) stops a second daemon on the same machine and directory; this
lock stops it wherever it runs, as long as it uses the same database — on another port,
another data directory, another machine.

Rules:

* The lock is a session-level ``pg_try_advisory_lock`` on a connection of its own, keyed by
  the account (``terminal.server``, ``terminal.login``) and ``terminal.magic``. Advisory locks
  belong to one database, so several accounts can share a PostgreSQL server, each with its own
  database.
* Taking it never waits: a lock held by another daemon refuses the start at once with
  :class:`~forexbot.errors.InstanceLockedError`, naming the holder (its ``application_name``
  says host and pid, its address and since when).
* The lock dies with its connection: a SIGKILLed or crashed holder's connection closes and
  PostgreSQL releases it at once, so a restart is never refused by a dead daemon.
* While running, :meth:`AccountLock.check` proves the lock is still held. If the database
  dropped the connection (a restart of PostgreSQL), the lock is taken again on a new one; if
  another daemon took it meanwhile, the check reports the loss and the daemon stops trading.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket

import structlog
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from forexbot.database.engine import error_reason, scrub_password, to_async_url
from forexbot.errors import DatabaseError, InstanceLockedError

_log = structlog.get_logger("forexbot.database")

_HOLDER = text(
    "SELECT a.application_name, a.client_addr::text AS address, a.backend_start "
    "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
    "WHERE l.locktype = 'advisory' AND l.granted AND l.database = "
    "(SELECT oid FROM pg_database WHERE datname = current_database()) "
    "AND l.classid = :high AND l.objid = :low AND l.objsubid = 1"
)

_HELD = text(
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
    "AND pid = pg_backend_pid() AND classid = :high AND objid = :low AND objsubid = 1"
)


def account_name(server: str | None, login: int | None, magic: int) -> str:
    """The account a daemon trades, as the lock names it (``-`` where the config leaves it
    to the terminal: the terminal's current account)."""
    return f"{server or '-'}:{login if login is not None else '-'}:magic {magic}"


def lock_key(account: str) -> int:
    """A stable signed 64-bit key for ``account`` (PostgreSQL's ``bigint``)."""
    digest = hashlib.blake2b(f"forexbot:{account}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class AccountLock:
    """The advisory lock of one account on the daemon's database."""

    def __init__(self, url: str, account: str, *, connect_timeout: float = 10.0) -> None:
        self._url = to_async_url(url)
        self._account = account
        self._key = lock_key(account)
        self._connect_timeout = connect_timeout
        self._engine: AsyncEngine | None = None
        self._conn: AsyncConnection | None = None

    @property
    def account(self) -> str:
        return self._account

    @property
    def held(self) -> bool:
        return self._conn is not None

    async def acquire(self) -> None:
        """Take the lock or raise :class:`InstanceLockedError` (held by another daemon) or
        :class:`DatabaseError` (the database cannot be reached)."""
        if self._conn is not None:
            return
        engine = create_async_engine(
            self._url,
            poolclass=NullPool,
            isolation_level="AUTOCOMMIT",
            connect_args={
                "timeout": self._connect_timeout,
                "server_settings": {
                    "application_name": f"forexbot pid {os.getpid()} on {socket.gethostname()}"
                },
            },
        )
        try:
            conn = await engine.connect()
            try:
                got = await conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": self._key})
                holder = None if got else await self._holder(conn)
            except BaseException:
                await conn.close()
                raise
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            await engine.dispose()
            reason = scrub_password(error_reason(exc), self._url)
            raise DatabaseError(f"cannot take the account lock: {reason}") from None
        if not got:
            await conn.close()
            await engine.dispose()
            raise InstanceLockedError(
                f"account {self._account} is already traded by another forexbot ({holder}): "
                "one account, one trading daemon — stop the other one first"
            )
        self._engine, self._conn = engine, conn
        _log.info("account lock taken", account=self._account)

    def _halves(self) -> dict[str, int]:
        """The key as ``pg_locks`` shows it: high and low 32 bits in ``classid``/``objid``."""
        unsigned = self._key & 0xFFFF_FFFF_FFFF_FFFF
        return {"high": unsigned >> 32, "low": unsigned & 0xFFFF_FFFF}

    async def _holder(self, conn: AsyncConnection) -> str:
        row = (await conn.execute(_HOLDER, self._halves())).first()
        if row is None:
            return "holder unknown"
        where = row.address or "a local socket"
        since = row.backend_start.isoformat(timespec="seconds") if row.backend_start else "?"
        return f"{row.application_name or 'unnamed'}, from {where}, connected since {since}"

    async def check(self) -> bool:
        """``True`` while the lock is held (taken again on a new connection if the old one
        died); ``False`` when another daemon holds it now. Raises :class:`DatabaseError`
        when the database cannot tell (then nobody else can take the lock either)."""
        conn = self._conn
        if conn is not None:
            try:
                held = await conn.scalar(_HELD, self._halves())
                if held:
                    return True
            except (SQLAlchemyError, OSError, TimeoutError):
                _log.warning("the account lock's connection was lost; taking the lock again")
        await self.release()
        try:
            await self.acquire()
        except InstanceLockedError as exc:
            _log.critical("the account lock was lost to another daemon", error=str(exc))
            return False
        return True

    async def release(self) -> None:
        """Release the lock (closing its connection does); idempotent."""
        conn, engine = self._conn, self._engine
        self._conn = self._engine = None
        if conn is not None:
            # A dead connection holds no lock: failing to close it is no failure.
            with contextlib.suppress(SQLAlchemyError, OSError, TimeoutError):
                await conn.close()
        if engine is not None:
            await engine.dispose()
