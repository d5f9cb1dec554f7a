"""One asyncpg connection beside the engine's pool, for the order path's write.

The order intent must be durably written before ``order_send`` (``docs/architecture.md``),
so its write is on the path from a tick to the order. Through SQLAlchemy it costs a pool
checkout with a pre-ping round trip, greenlet switches and statement compilation and result
processing: about 1 ms of the ~1.4 ms such a write takes here, against ~0.35 ms for the
statement itself on a prepared asyncpg connection. This module keeps that one connection.

Rules it enforces:

* **One statement at a time.** An asyncpg connection runs one query at a time; callers wait
  their turn (orders are written by a single execution path: one intent, or the intents that
  queued meanwhile in one transaction).
* **Prepared once.** asyncpg's statement cache prepares each SQL text once per connection.
* **A lost connection is replaced once per call.** A server restart kills it; the call
  reconnects and runs the statement again, which is only safe for statements that are
  idempotent (the caller's promise: the intent insert does nothing when its client order id
  exists, and the caller takes an existing row that is its own as written). A second
  failure, a connection that cannot be opened, and a statement that does not answer within
  the command timeout (10 s; its outcome is unknown) are raised.
* **Same codecs and limits as the engine**: ``json``/``jsonb`` through
  :func:`~forexbot.database._convert.json_dumps`/``json_loads``, the engine's connection
  arguments (host, socket, TLS) and a bounded connect timeout.
* **Closed with the engine**: disposing the engine closes it (SQLAlchemy's
  ``engine_disposed`` event), so no owner has to remember a second close.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import asyncpg
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import await_only

from forexbot.database._convert import json_dumps, json_loads

_T = TypeVar("_T")

#: Failures that mean the connection is gone, not that the statement is wrong.
_CONNECTION_LOST = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    ConnectionError,
    OSError,
)
#: Options of SQLAlchemy's asyncpg dialect that asyncpg.connect does not take.
_DIALECT_ONLY = ("prepared_statement_cache_size", "prepared_statement_name_func", "async_fallback")


class DirectConnection:
    """A lazily opened asyncpg connection to the engine's database (see the module docstring)."""

    def __init__(
        self, engine: AsyncEngine, *, connect_timeout: float = 10.0, command_timeout: float = 10.0
    ) -> None:
        self._engine = engine
        self._connect_timeout = connect_timeout
        self._command_timeout = command_timeout
        self._conn: asyncpg.Connection | None = None
        self._lock = asyncio.Lock()
        event.listen(engine.sync_engine, "engine_disposed", self._on_dispose)

    async def fetchmany(
        self, sql: str, args: Sequence[Sequence[Any]]
    ) -> tuple[list[asyncpg.Record], bool]:
        """Run ``sql`` (an idempotent statement) once per argument sequence, all in one
        transaction (one commit: asyncpg runs them atomically): every row they return, in
        order, and whether they were run again.

        A connection that cannot be opened fails at once; one lost during the statements is
        replaced and they are run again — the first run may have committed, which the caller
        learns from the second value and must recognise its own writes. Statements that do
        not answer within the command timeout fail with ``TimeoutError`` (their outcome is
        unknown: they are not run again)."""
        return await self._run(
            lambda conn: conn.fetchmany(sql, args, timeout=self._command_timeout)
        )

    async def _run(self, call: Callable[[asyncpg.Connection], Awaitable[_T]]) -> tuple[_T, bool]:
        async with self._lock:
            conn = await self._connection()
            try:
                return await call(conn), False
            except TimeoutError:
                raise
            except _CONNECTION_LOST:
                self._forget()
            conn = await self._connection()
            return await call(conn), True

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            await conn.close(timeout=self._connect_timeout)

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            self._conn = await self._open()
        return self._conn

    async def _open(self) -> asyncpg.Connection:
        _args, options = self._engine.dialect.create_connect_args(self._engine.url)
        for name in _DIALECT_ONLY:
            options.pop(name, None)
        conn = await asyncpg.connect(**options, timeout=self._connect_timeout)
        for name in ("json", "jsonb"):
            await conn.set_type_codec(
                name, encoder=json_dumps, decoder=json_loads, schema="pg_catalog"
            )
        return conn

    def _forget(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.terminate()

    def _on_dispose(self, _engine: Any) -> None:
        """``Engine.dispose`` runs in a greenlet under ``AsyncEngine.dispose``: close there."""
        conn, self._conn = self._conn, None
        if conn is None or conn.is_closed():
            return
        closing = conn.close(timeout=self._connect_timeout)
        try:
            await_only(closing)
        except Exception:  # not in a greenlet, a loop gone: drop it without the goodbye
            closing.close()
            conn.terminate()
