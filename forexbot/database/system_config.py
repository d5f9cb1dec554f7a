"""The ``system_config`` table: settings and engine state that must outlive a restart.

One JSON document per key. The risk manager keeps its run-time limits (``risk.limits``) and
its guard state (``risk.state``: trading-day start equity, peak equity, kill switch) here, so a
kill switch tripped before a crash is still tripped after the restart, and a limit changed from
a phone is not undone by the configuration file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from forexbot.database._errors import database_errors
from forexbot.database.storable import storable
from forexbot.database.tables import system_config


class SystemConfigRepository:
    """Reads and upserts ``system_config`` documents by key."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def get(self, key: str) -> dict[str, Any] | None:
        """The document stored under ``key``, or ``None``."""
        stmt = select(system_config.c.value).where(system_config.c.key == key)
        with database_errors(f"reading system setting {key!r}"):
            async with self._engine.connect() as conn:
                value = (await conn.execute(stmt)).scalar_one_or_none()
        return None if value is None else dict(value)

    async def put(self, key: str, value: Mapping[str, Any], *, updated_by: str | None) -> None:
        """Store ``value`` under ``key``, replacing what was there. Text PostgreSQL cannot
        hold (NUL, unpaired surrogates) is escaped (:mod:`~forexbot.database.storable`):
        the engine's state must be written whatever text reached it."""
        document = storable(dict(value))
        stmt = (
            insert(system_config)
            .values(key=key, value=document, updated_by=updated_by)
            .on_conflict_do_update(
                index_elements=[system_config.c.key],
                set_={"value": document, "updated_by": updated_by, "updated_at": func.now()},
            )
        )
        with database_errors(f"writing system setting {key!r}"):
            async with self._engine.begin() as conn:
                await conn.execute(stmt)
