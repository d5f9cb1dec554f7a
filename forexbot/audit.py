"""The audit trail as its writers see it: one ``add`` per event worth keeping.

``forexbot.database.system_logs.SystemLogRepository`` implements it (rows of ``system_logs``);
the risk manager records its rejections and limit trips, reconciliation its corrections and
the API every state-changing request through this one interface. Writers pass text as they
have it, client-sent included: the implementation stores NUL and unpaired surrogates escaped
and caps long text (``forexbot.database.storable.storable_text``), so no event is lost to
what a client typed.
"""

from __future__ import annotations

from typing import Any, Protocol


class AuditLog(Protocol):
    """Appends an event (``level`` a log level name; ``actor``/``source_ip``: who, from where)."""

    async def add(
        self,
        *,
        level: str,
        component: str,
        event: str,
        message: str,
        context: dict[str, Any],
        actor: str | None = None,
        source_ip: str | None = None,
    ) -> object: ...
