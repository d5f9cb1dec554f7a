"""The audit trail of state-changing requests: who did what, when, from where.

Every route that changes trading (a trade, a position, a strategy, a risk limit, the kill
switch) records one ``system_logs`` row through :func:`audit` after the change succeeded,
with the user from the access token and the client's address, and logs the same line
(:func:`log_and_record`, which the sign-in routes call directly: they name the user themselves).
Beyond those, :func:`request_audit_middleware` records every state-changing request
(``api_request``: method, path, status, user, address), refused ones included.

Rules:

* **Refused requests are recorded too**: unknown paths (404), wrong methods (405), missing or
  bad tokens (401), roles and the admin allow-list (403), invalid bodies — whatever the path
  holds (a NUL, an undecodable byte, 8 KB of it: the repository stores it escaped and capped,
  :func:`forexbot.database.storable.storable_text`). Requests refused before this
  middleware are not: the per-address rate limit (429, so a flood is not a flood of writes)
  and what aiohttp's parser refuses (:mod:`forexbot.api.server` logs those).
* The recorded status is the one the client gets: the middleware turns the exceptions below
  it into their error answer itself (:func:`~forexbot.api.errors.error_middleware`), so a
  ``NotFoundError`` is recorded 404, not 500.
* Bodies are never recorded: they may hold passwords, codes and keys. The path is recorded
  without the query string (it may hold a WebSocket token).
* **An audit write never fails the request** — after a change succeeded, a 503 would invite
  the client to do it again — **and is never lost silently**: a failed write is logged at
  error level with the whole record (``audit record lost``, so the journal keeps it), and the
  repository counts it (``SystemLogRepository.failed_writes``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from forexbot.api.auth import CLAIMS_KEY, claims_of
from forexbot.api.errors import error_middleware
from forexbot.api.ports import SystemLogStore

_log = structlog.get_logger("forexbot.api")

#: What a failed audit write logs (with the record), for journald searches and alerts.
RECORD_LOST = "audit record lost"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One ``system_logs`` row from the API (component ``api``): ``level`` a log level name,
    ``actor``/``source_ip`` who did it and from where (``None`` when unknown)."""

    level: str
    event: str
    message: str
    context: dict[str, Any]
    actor: str | None
    source_ip: str | None


async def audit(
    store: SystemLogStore,
    request: web.Request,
    event: str,
    message: str,
    context: dict[str, Any],
) -> None:
    """Record ``event`` done by the request's user from the request's address."""
    actor = claims_of(request).username
    await log_and_record(store, AuditEntry("info", event, message, context, actor, request.remote))


async def log_and_record(store: SystemLogStore, entry: AuditEntry) -> None:
    """Log ``entry`` (at warning level for ``"warning"``, else info) and record it as
    :func:`record_event` does: what an operator reads in the journal and in ``system_logs``
    is the same event, with the same fields."""
    log = _log.warning if entry.level == "warning" else _log.info
    log(
        entry.message,
        audit_event=entry.event,
        actor=entry.actor,
        source_ip=entry.source_ip,
        **entry.context,
    )
    await record_event(store, entry)


async def record_event(store: SystemLogStore, entry: AuditEntry) -> None:
    """Write ``entry`` to ``system_logs``; a failure is logged with the entry (``audit record
    lost``), never raised: what the request did stands, and the client must not be invited
    to do it again."""
    try:
        await store.add(
            level=entry.level,
            component="api",
            event=entry.event,
            message=entry.message,
            context=entry.context,
            actor=entry.actor,
            source_ip=entry.source_ip,
        )
    except Exception:
        _log.exception(
            RECORD_LOST,
            audit_event=entry.event,
            audit_message=entry.message,
            audit_context=entry.context,
            actor=entry.actor,
            source_ip=entry.source_ip,
        )


#: Methods that change something: every such request is in the audit trail.
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def request_audit_middleware(store: SystemLogStore) -> Middleware:
    """Record every state-changing request in ``system_logs`` (event ``api_request``): who
    (the token's user, or nobody), what (method, path, status), when, and from where —
    refused ones too (see the module docstring for the rules)."""

    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method not in STATE_CHANGING:
            return await handler(request)
        status = 500
        try:
            # The answer the client gets, errors included, so its status is the one recorded.
            response = await error_middleware(request, handler)
            status = response.status
            return response
        except web.HTTPException as exc:  # below 400 (a redirect): not an error
            status = exc.status
            raise
        except asyncio.CancelledError:
            status = 499  # the client went away or the server is stopping (nginx's code)
            raise
        finally:
            claims = request.get(CLAIMS_KEY)
            entry = AuditEntry(
                level="info" if status < 400 else "warning",
                event="api_request",
                message=f"{request.method} {request.path} {status}",
                context={"method": request.method, "path": request.path, "status": status},
                actor=None if claims is None else claims.username,
                source_ip=request.remote,
            )
            await record_event(store, entry)

    return record
