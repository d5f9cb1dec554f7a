"""What every command shares: running a coroutine on the fastest loop available, and the
configured database for the length of one command.

Exit codes are here so that every command module speaks of them by name.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine

from forexbot.daemon.provision import provision_database
from forexbot.database.engine import Database

T = TypeVar("T")
EXIT_OK, EXIT_FAILURE, EXIT_CONFIG, EXIT_IN_USE, EXIT_LISTEN = 0, 1, 2, 3, 4


def run_coroutine(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion on uvloop when it is installed (Linux), else asyncio's loop."""
    try:
        import uvloop  # noqa: PLC0415  (optional speed-up, Linux only)
    except ImportError:
        return asyncio.run(coro)
    result: T = uvloop.run(coro)
    return result


@contextlib.asynccontextmanager
async def database_engine(data_dir: Path) -> AsyncIterator[AsyncEngine]:
    """The engine of the configured database (the embedded one by default, started for this
    command and stopped after it), at the latest schema."""
    provisioned = await asyncio.to_thread(provision_database, data_dir, os.environ)
    database = Database(provisioned.url)
    try:
        await database.connect()
        yield database.engine
    finally:
        await database.close()
        await asyncio.to_thread(provisioned.stop)
