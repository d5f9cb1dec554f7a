"""Database URLs, the async engine and its lifecycle.

Rules enforced here:

* **One driver.** Every URL is normalised to ``postgresql+asyncpg://`` (database access is
  async: the loop never blocks, ``docs/architecture.md``). ``postgres://`` and ``postgresql://``
  (what ops people and hosting providers write in ``DATABASE_URL``) are accepted; any other
  scheme or driver is refused with a :class:`~forexbot.errors.DatabaseError` instead of failing
  later inside SQLAlchemy.
* **libpq's ``sslmode`` is translated** to asyncpg's ``ssl`` parameter, so a provider URL ending
  in ``?sslmode=require`` works instead of raising ``TypeError`` at the first connection.
* **The password never leaves this module in text**: errors and log lines describe a database
  as ``user@host:port/database`` (:func:`describe_url`), and a failure message is scrubbed of
  the password even if a driver were to echo it.
* **Connections are checked before use** (``pool_pre_ping``): a pooled connection killed by a
  server restart is replaced transparently instead of failing the next order-intent write.
"""

from __future__ import annotations

from urllib.parse import quote

import structlog
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from forexbot.database._convert import json_dumps, json_loads
from forexbot.errors import DatabaseError

_log = structlog.get_logger("forexbot.database")

_ACCEPTED_DRIVERS = {"postgresql", "postgres", "postgresql+asyncpg"}
_ASYNC_DRIVER = "postgresql+asyncpg"


def _parse(url: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError:
        # SQLAlchemy's message does not echo the string; neither do we (it may hold a password).
        raise DatabaseError(
            "invalid database URL: expected postgresql://user:password@host:port/database"
        ) from None
    if parsed.drivername not in _ACCEPTED_DRIVERS:
        raise DatabaseError(
            f"unsupported database URL scheme {parsed.drivername!r}: use postgresql:// "
            "(or postgres://, postgresql+asyncpg://); asyncpg is the only driver installed"
        )
    query = dict(parsed.query)
    if "sslmode" in query:
        sslmode = query.pop("sslmode")
        query.setdefault("ssl", sslmode)
    return parsed.set(drivername=_ASYNC_DRIVER, query=query)


def to_async_url(url: str) -> str:
    """Normalise a PostgreSQL URL to ``postgresql+asyncpg://…`` (password kept, for connecting).

    Raises :class:`DatabaseError` for anything that is not a PostgreSQL URL.
    """
    return _parse(url).render_as_string(hide_password=False)


def describe_url(url: str) -> str:
    """``user@host:port/database`` for messages: never the password.

    A unix-socket URL (``?host=/run/postgresql``) is described by its socket directory.
    """
    try:
        parsed = _parse(url)
    except DatabaseError:
        return "<invalid database URL>"
    host = parsed.host or str(parsed.query.get("host", "")) or "localhost"
    port = f":{parsed.port}" if parsed.port else ""
    user = f"{parsed.username}@" if parsed.username else ""
    return f"{user}{host}{port}/{parsed.database or ''}"


def scrub_password(message: str, url: str) -> str:
    """``message`` with the URL's password (raw and URL-encoded) replaced by ``***``."""
    try:
        parsed = _parse(url)
    except DatabaseError:
        return message
    password = parsed.password
    if not password:
        return message
    for secret in {str(password), quote(str(password), safe="")}:
        message = message.replace(secret, "***")
    return message


def error_reason(exc: BaseException) -> str:
    """The driver's own words for a failure, without SQLAlchemy's boilerplate and SQL."""
    orig = getattr(exc, "orig", None)
    if orig is not None:
        exc = orig
    cause = exc.__cause__
    if cause is not None and type(exc).__module__.startswith("sqlalchemy"):
        exc = cause
    text_ = str(exc).strip() or type(exc).__name__
    return f"{type(exc).__name__}: {text_}" if type(exc).__name__ not in text_ else text_


def create_engine(url: str, *, pool_size: int = 5, connect_timeout: float = 10.0) -> AsyncEngine:
    """An :class:`AsyncEngine` on ``url`` (asyncpg), with pre-ping and our JSON codec.

    ``connect_timeout`` bounds each connection attempt (asyncpg's default is 60 s, far too long
    for a trading daemon to stay blind). ``jsonb`` columns are (de)serialised with orjson and
    accept Decimal, datetime, enums and numpy scalars (see :mod:`forexbot.database._convert`).
    Statement parameters are hidden from SQLAlchemy's error messages and logs
    (``hide_parameters``): a parameter may be a password hash or an account detail.
    Creating the engine does not connect; :class:`Database` does and checks the result.
    """
    if pool_size < 1:
        raise ValueError(f"pool_size must be at least 1, got {pool_size}")
    return create_async_engine(
        _parse(url),
        pool_size=pool_size,
        pool_pre_ping=True,
        connect_args={"timeout": connect_timeout},
        json_serializer=json_dumps,
        hide_parameters=True,
        json_deserializer=json_loads,
    )


class Database:
    """Owns the engine's lifecycle: ``connect()`` at start-up, ``close()`` at shutdown.

    ``connect()`` runs ``SELECT 1`` so a wrong host, a missing database or bad credentials stop
    start-up with a message naming the target (without the password), rather than surfacing at
    the first trade.
    """

    def __init__(self, url: str, *, pool_size: int = 5, connect_timeout: float = 10.0) -> None:
        self._url = to_async_url(url)
        self._pool_size = pool_size
        self._connect_timeout = connect_timeout
        self._engine: AsyncEngine | None = None

    @property
    def description(self) -> str:
        """Where this database is, for logs: ``user@host:port/database``."""
        return describe_url(self._url)

    @property
    def engine(self) -> AsyncEngine:
        """The connected engine; :class:`DatabaseError` before :meth:`connect`."""
        if self._engine is None:
            raise DatabaseError("the database is not connected: call Database.connect() first")
        return self._engine

    @property
    def connected(self) -> bool:
        return self._engine is not None

    async def connect(self) -> None:
        """Create the engine and prove the database answers; idempotent."""
        if self._engine is not None:
            return
        engine = create_engine(
            self._url, pool_size=self._pool_size, connect_timeout=self._connect_timeout
        )
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            await engine.dispose()
            reason = scrub_password(error_reason(exc), self._url)
            raise DatabaseError(
                f"cannot connect to PostgreSQL at {self.description}: {reason}"
            ) from None
        self._engine = engine
        _log.info("database connected", database=self.description)

    async def close(self) -> None:
        """Close every pooled connection; idempotent."""
        engine, self._engine = self._engine, None
        if engine is not None:
            await engine.dispose()
            _log.info("database closed", database=self.description)
