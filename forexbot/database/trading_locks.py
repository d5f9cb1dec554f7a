"""One trading daemon per database and per account: PostgreSQL advisory locks held for the
daemon's life.

Two daemons sending orders for one account, or sharing one database's trade book, would fight:
each would reconcile the other's trades away and double every limit. The data-directory
lock (:mod:`forexbot.daemon.instance_lock`) stops a second daemon on the same machine and
directory; these stop it wherever it runs — another port, another data directory, another machine:

* the **database lock**, in the daemon's own database, keyed by ``terminal.magic``: one
  trading daemon per database and magic number (:func:`database_lock_name`). Taken before the
  terminal is touched.
* the **account lock**, keyed by the account the terminal reports (server and login) and the
  magic number (:func:`account_lock_name`), in the server's ``postgres`` database
  (:func:`maintenance_url`): advisory locks belong to one database, so this scope covers
  every database of the PostgreSQL server — two daemons on one account through two
  databases are refused too. Taken once the terminal is connected, before reconciliation or
  any strategy runs. (Where the role may not connect to ``postgres``, the daemon's own
  database is the scope, with a warning.) The simulator's paper account lives in the data
  directory, which its ``flock`` already guards.

Rules, for both:

* A session-level ``pg_try_advisory_lock`` on a connection of its own. Taking it never waits:
  a lock held by another daemon refuses the start at once with
  :class:`~forexbot.errors.InstanceLockedError`, naming the holder (its ``application_name``
  says host and pid, its address and since when).
* The lock dies with its connection: a SIGKILLed or crashed holder's connection closes and
  PostgreSQL releases it at once, so a restart is never refused by a dead daemon (TCP
  keepalives bound how long a vanished machine's connection lingers).
* While running, :meth:`AdvisoryLock.check` proves the lock is still held. If the database
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
from sqlalchemy.engine import make_url
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


def database_lock_name(magic: int) -> str:
    """The database lock's name: the trade book of one magic number."""
    return f"the trade book of magic {magic}"


def account_lock_name(server: str, login: int, magic: int) -> str:
    """The account lock's name: the account as the terminal reports it, and the magic."""
    return f"account {login} on {server or 'an unnamed server'} (magic {magic})"


def maintenance_url(url: str) -> str:
    """``url`` pointing at the server's ``postgres`` database (the account lock's scope)."""
    return (
        make_url(to_async_url(url)).set(database="postgres").render_as_string(hide_password=False)
    )


def lock_key(account: str) -> int:
    """A stable signed 64-bit key for ``account`` (PostgreSQL's ``bigint``)."""
    digest = hashlib.blake2b(f"forexbot:{account}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class AdvisoryLock:
    """One named advisory lock on the database at ``url``."""

    def __init__(self, url: str, name: str, *, connect_timeout: float = 10.0) -> None:
        self._url = to_async_url(url)
        self._name = name
        self._key = lock_key(name)
        self._connect_timeout = connect_timeout
        self._engine: AsyncEngine | None = None
        self._conn: AsyncConnection | None = None

    @property
    def name(self) -> str:
        return self._name

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
                "command_timeout": self._connect_timeout,
                "server_settings": {
                    "application_name": f"forexbot pid {os.getpid()} on {socket.gethostname()}",
                    # The server notices a vanished holder within ~25 s and frees the lock.
                    "tcp_keepalives_idle": "10",
                    "tcp_keepalives_interval": "5",
                    "tcp_keepalives_count": "3",
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
            raise DatabaseError(f"cannot take the lock on {self._name}: {reason}") from None
        if not got:
            await conn.close()
            await engine.dispose()
            raise InstanceLockedError(
                f"{self._name} is in use by another forexbot ({holder}): "
                "one trading daemon each — stop the other one first"
            )
        self._engine, self._conn = engine, conn
        _log.info("trading lock taken", lock=self._name)

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
                _log.warning(
                    "a trading lock's connection was lost: taking it again", lock=self.name
                )
        await self.release()
        try:
            await self.acquire()
        except InstanceLockedError as exc:
            _log.critical("a trading lock was lost to another daemon", error=str(exc))
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
