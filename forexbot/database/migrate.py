"""Schema migrations: Alembic driven from Python, no ``alembic.ini``.

The migration scripts live in the top-level ``migrations/`` directory. It is found as
``<repository>/migrations`` next to the ``forexbot`` package, or at
``$FOREXBOT_MIGRATIONS_DIR`` when set (an installed wheel does not carry it).

The functions are **blocking**: Alembic's ``env.py`` runs its own event loop for asyncpg. Call
them from a thread (``await asyncio.to_thread(upgrade, url)``); called on a thread that is
running an event loop they raise :class:`DatabaseError` instead of deadlocking it.

Every failure (unreachable server, unknown revision, a migration's SQL error) surfaces as a
:class:`DatabaseError` naming the database as ``user@host:port/db`` (never the password).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from forexbot.database.engine import describe_url, error_reason, scrub_password, to_async_url
from forexbot.errors import DatabaseError

MIGRATIONS_DIR_ENV = "FOREXBOT_MIGRATIONS_DIR"

T = TypeVar("T")


def migrations_dir() -> Path:
    """The directory holding ``env.py`` and ``versions/``; :class:`DatabaseError` if missing."""
    override = os.environ.get(MIGRATIONS_DIR_ENV)
    path = (
        Path(override).expanduser()
        if override
        # <repo>/forexbot/database/migrate.py → <repo>/migrations. (The same directory as
        # Path(forexbot.__file__).parent.parent, but this module always has a __file__, while
        # forexbot may be imported as a namespace package by a stale editable install.)
        else Path(__file__).resolve().parents[2] / "migrations"
    )
    if not (path / "env.py").is_file() or not (path / "versions").is_dir():
        origin = f"${MIGRATIONS_DIR_ENV}" if override else "the repository next to the package"
        raise DatabaseError(
            f"Alembic migrations not found at {path} (from {origin}): expected env.py and "
            f"versions/; set {MIGRATIONS_DIR_ENV} to the migrations directory"
        )
    return path


def alembic_config(url: str | None = None) -> Config:
    """An Alembic ``Config`` for our migrations (``url`` may be omitted for offline commands).

    Useful for maintenance too, e.g. ``alembic.command.revision(alembic_config(url),
    message="add x", autogenerate=True, rev_id="0002")``.
    """
    config = Config()
    # configparser interpolates '%': escape it in the path; the URL never goes through it.
    config.set_main_option("script_location", str(migrations_dir()).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    if url is not None:
        config.attributes["url"] = to_async_url(url)
    return config


def _refuse_running_loop(operation: str) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise DatabaseError(
        f"migrate.{operation}() is blocking and runs its own event loop: call it from a thread "
        f"(await asyncio.to_thread(...)), not from the event loop"
    )


def _guarded(operation: str, url: str, action: Callable[[], T]) -> T:
    _refuse_running_loop(operation)
    try:
        return action()
    except DatabaseError:
        raise
    except (CommandError, SQLAlchemyError, OSError, TimeoutError) as exc:
        reason = scrub_password(error_reason(exc), url)
        raise DatabaseError(
            f"migration {operation} failed on {describe_url(url)}: {reason}"
        ) from None


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` up to ``revision`` (default: the newest)."""
    config = alembic_config(url)
    _guarded("upgrade", url, lambda: command.upgrade(config, revision))


def downgrade(url: str, revision: str) -> None:
    """Migrate the database at ``url`` down to ``revision`` (``"base"`` removes everything)."""
    config = alembic_config(url)
    _guarded("downgrade", url, lambda: command.downgrade(config, revision))


def head_revision() -> str | None:
    """The newest revision the migration scripts define (what ``upgrade()`` goes to)."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(url: str) -> str | None:
    """The revision the database at ``url`` is at; ``None`` if it was never migrated."""

    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async def run() -> str | None:
        engine = create_async_engine(to_async_url(url), poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(read)
        finally:
            await engine.dispose()

    return _guarded("current_revision", url, lambda: asyncio.run(run()))
