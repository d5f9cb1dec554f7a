"""Persistence: PostgreSQL through SQLAlchemy 2 async + asyncpg, schema owned by Alembic.

* :mod:`~forexbot.database.engine`: URL normalisation, the engine, :class:`Database` lifecycle.
* :mod:`~forexbot.database.embedded`: the embedded PostgreSQL for bare machines.
* :mod:`~forexbot.database.migrate`: Alembic upgrade/downgrade/current revision.
* :mod:`~forexbot.database.tables`: the schema as SQLAlchemy Core tables.
* Repositories: :mod:`~forexbot.database.trades`, :mod:`~forexbot.database.users`,
  :mod:`~forexbot.database.system_logs`, :mod:`~forexbot.database.market_data`, returning the
  records of :mod:`~forexbot.database.records` (trades: those of :mod:`forexbot.domain.trades`).
* :mod:`~forexbot.database.trade_store_base` and :mod:`~forexbot.database.trade_changes`: the
  writes and rules the PostgreSQL and the in-memory trade store share.

Importing this package does no work (pgserver is imported only when the embedded server starts).
"""

from forexbot.database.embedded import EmbeddedPostgres
from forexbot.database.engine import Database, create_engine, describe_url, to_async_url
from forexbot.database.market_data import MarketDataRepository
from forexbot.database.records import SystemLogRecord, UserRecord
from forexbot.database.system_logs import SystemLogRepository
from forexbot.database.trades import TradeRepository
from forexbot.database.users import DuplicateUser, UserRepository
from forexbot.domain.lifecycle import IllegalTransition
from forexbot.domain.trades import ClientOrderIdConflict

__all__ = [
    "ClientOrderIdConflict",
    "Database",
    "DuplicateUser",
    "EmbeddedPostgres",
    "IllegalTransition",
    "MarketDataRepository",
    "SystemLogRecord",
    "SystemLogRepository",
    "TradeRepository",
    "UserRecord",
    "UserRepository",
    "create_engine",
    "describe_url",
    "to_async_url",
]
