"""The ``system_logs`` table: audit and operational events worth keeping in the database.

Who did what and from where (``actor``, ``source_ip``) is what the API's audit trail and the
operator reading it need; the full firehose of log lines goes to journald, not here. Levels are
structlog's names; an unknown level is refused before it reaches the ``CHECK`` constraint.

**Every text is made storable here**, once for every writer: much of what is recorded comes
from clients (a path, a username on a failed sign-in, a reason), and PostgreSQL stores
neither NUL (in ``text`` or in ``jsonb``) nor an unpaired surrogate (not UTF-8; Python makes
them from undecodable header bytes and from JSON's ``"\\ud800"``). A write must not fail —
and the event vanish — because of what a client typed, so
:func:`~forexbot.database.storable.storable_text` rewrites those characters as visible escapes
and caps the length (:data:`MAX_TEXT`), in every column and in every string of ``context``,
keys included. Writes that fail anyway (the database
down) are counted in :attr:`SystemLogRepository.failed_writes`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from forexbot.database._convert import require_aware
from forexbot.database._errors import database_errors
from forexbot.database.records import SystemLogRecord
from forexbot.database.storable import storable, storable_text
from forexbot.database.tables import LOG_LEVELS, system_logs
from forexbot.errors import DatabaseError

#: The most characters kept of one text (a column, or a string in ``context``).
MAX_TEXT = 2048


class SystemLogRepository:
    """Appends to and reads ``system_logs``."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        #: Entries that could not be written (the database failed): lost unless logged.
        self.failed_writes = 0

    async def add(
        self,
        *,
        level: str,
        component: str,
        event: str,
        message: str,
        context: Mapping[str, Any],
        actor: str | None = None,
        source_ip: str | None = None,
        time: datetime | None = None,
    ) -> int:
        """Append one entry; return its id. ``time`` defaults to the database's ``now()``.

        A batching writer passes ``time`` so entries keep the moment they happened, not the
        moment they were flushed. Every text is made storable first (see the module
        docstring); a failed write raises ``DatabaseError`` and counts in ``failed_writes``.
        """
        level = level.lower()
        if level not in LOG_LEVELS:
            raise ValueError(f"unknown log level {level!r}; allowed: {', '.join(LOG_LEVELS)}")
        values: dict[str, Any] = {
            "level": level,
            "component": storable_text(component, MAX_TEXT),
            "event": storable_text(event, MAX_TEXT),
            "message": storable_text(message, MAX_TEXT),
            "context": storable(context, MAX_TEXT),
            "actor": None if actor is None else storable_text(actor, MAX_TEXT),
            "source_ip": None if source_ip is None else storable_text(source_ip, MAX_TEXT),
        }
        if time is not None:
            values["time"] = require_aware(time, name="time")
        stmt = insert(system_logs).values(values).returning(system_logs.c.id)
        try:
            with database_errors("writing a system log entry"):
                async with self._engine.begin() as conn:
                    return int((await conn.execute(stmt)).scalar_one())
        except DatabaseError:
            self.failed_writes += 1
            raise

    async def recent(self, limit: int, component: str | None = None) -> list[SystemLogRecord]:
        """The newest ``limit`` entries (optionally of one component), newest first."""
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        stmt = select(system_logs).order_by(system_logs.c.time.desc(), system_logs.c.id.desc())
        if component is not None:
            stmt = stmt.where(system_logs.c.component == component)
        with database_errors("reading system logs"):
            async with self._engine.connect() as conn:
                rows = (await conn.execute(stmt.limit(limit))).mappings().all()
        return [SystemLogRecord.from_row(row) for row in rows]
