"""Helpers for the database tests (fixtures live in ``tests/conftest.py``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

T = TypeVar("T")


def run_blocking(function: Callable[[], T]) -> T:
    """Run ``function`` in a fresh worker thread, where no event loop is running."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(function).result()


def on_connection(url: str, function: Callable[[Connection], T]) -> T:
    """Run ``function`` on a synchronous view of a new connection to ``url`` (blocking)."""

    async def run() -> T:
        engine = create_async_engine(url, poolclass=NullPool)
        try:
            async with engine.connect() as conn:
                result = await conn.run_sync(function)
                await conn.commit()
                return result
        finally:
            await engine.dispose()

    return run_blocking(lambda: asyncio.run(run()))


def scalar(url: str, sql: str) -> object:
    """The single value ``sql`` returns on ``url`` (blocking)."""
    return on_connection(url, lambda conn: conn.execute(text(sql)).scalar_one())
