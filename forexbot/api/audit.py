"""The audit trail of state-changing requests: who did what, when, from where.

Every route that changes trading (a trade, a position, a strategy, a risk limit, the kill
switch) records one ``system_logs`` row through :func:`audit` after the change succeeded,
with the user from the access token and the client's address, and logs the same line.
"""

from __future__ import annotations

from typing import Any

import structlog
from aiohttp import web

from forexbot.api.auth import claims_of
from forexbot.api.services import SystemLogStore

_log = structlog.get_logger("forexbot.api")


async def audit(
    store: SystemLogStore,
    request: web.Request,
    event: str,
    message: str,
    context: dict[str, Any],
) -> None:
    """Record ``event`` done by the request's user from the request's address."""
    actor = claims_of(request).username
    source_ip = request.remote
    _log.info(message, audit_event=event, actor=actor, source_ip=source_ip, **context)
    await store.add(
        level="info",
        component="api",
        event=event,
        message=message,
        context=context,
        actor=actor,
        source_ip=source_ip,
    )
