"""Turning driver failures into :class:`~forexbot.errors.DatabaseError` at the repository edge.

Callers on the trading path catch one exception type: if the order-intent write raises
``DatabaseError``, the order is not sent. The message carries the driver's reason, never the
statement's parameters (engines from :func:`~forexbot.database.engine.create_engine` also hide
them from SQLAlchemy's own messages, since a parameter may be a password hash).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import asyncpg
from sqlalchemy.exc import SQLAlchemyError

from forexbot.database.engine import error_reason
from forexbot.errors import DatabaseError


@contextlib.contextmanager
def database_errors(operation: str) -> Iterator[None]:
    """Re-raise SQLAlchemy, asyncpg (:mod:`forexbot.database.direct`) and socket failures
    inside the block as ``DatabaseError``."""
    try:
        yield
    except (
        SQLAlchemyError,
        asyncpg.PostgresError,
        asyncpg.InterfaceError,
        OSError,
        TimeoutError,
    ) as exc:
        raise DatabaseError(f"{operation} failed: {error_reason(exc)}") from exc


def sqlstate(exc: BaseException) -> str | None:
    """The PostgreSQL SQLSTATE of a driver error (``"23505"`` = unique violation), if any."""
    orig = getattr(exc, "orig", exc)
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return str(code) if code else None
