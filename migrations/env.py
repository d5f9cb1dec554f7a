"""Alembic environment for forexbot, configured programmatically (there is no alembic.ini).

:mod:`forexbot.database.migrate` builds the Alembic ``Config`` and passes the database URL in
``config.attributes["url"]`` (not through the ini parser, which would mangle a ``%`` in an
URL-encoded password). A caller that already holds a synchronous connection (for example an
``AsyncConnection.run_sync`` callback) may pass it as ``config.attributes["connection"]``
instead.

asyncpg is the only PostgreSQL driver installed, so online migrations run on an async engine
through ``connection.run_sync``; this is why the functions of ``migrate`` are blocking and must
be called from a thread without a running event loop.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from forexbot.database.engine import to_async_url
from forexbot.database.tables import metadata


def _url() -> str:
    url = context.config.attributes.get("url") or context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError(
            "no database URL: use forexbot.database.migrate, which passes it to Alembic"
        )
    return to_async_url(str(url))


def _configure_and_run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        compare_type=True,
        compare_server_default=True,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_async_engine(_url(), poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_configure_and_run)
    finally:
        await engine.dispose()


def _run_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    if context.is_offline_mode():
        _run_offline()
        return
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _configure_and_run(connection)
    else:
        asyncio.run(_run_async())


_main()
