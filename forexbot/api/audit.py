"""The audit trail of state-changing requests: who did what, when, from where.

Every route that changes trading (a trade, a position, a strategy, a risk limit, the kill
switch) records one ``system_logs`` row through :func:`audit` after the change succeeded,
with the user from the access token and the client's address, and logs the same line.
Beyond those, :func:`request_audit_middleware` records every state-changing request
(``api_request``: method, path, status, user, address), refused ones included.
"""

from __future__ import annotations

from typing import Any

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from forexbot.api.auth import CLAIMS_KEY, claims_of
from forexbot.api.errors import ApiError
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


#: Methods that change something: every such request is in the audit trail.
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def request_audit_middleware(store: SystemLogStore) -> Middleware:
    """Record every state-changing request in ``system_logs`` (event ``api_request``): who
    (the token's user, or nobody), what (method, path, status), when, and from where —
    refused ones too (a run of 403s is worth seeing). Bodies are never recorded: they may hold
    passwords, codes and keys. A failing audit write is logged, not the request's failure."""

    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method not in STATE_CHANGING:
            return await handler(request)
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        except ApiError as exc:
            status = exc.status
            raise
        finally:
            claims = request.get(CLAIMS_KEY)
            try:
                await store.add(
                    level="info" if status < 400 else "warning",
                    component="api",
                    event="api_request",
                    message=f"{request.method} {request.path} {status}",
                    context={"method": request.method, "path": request.path, "status": status},
                    actor=None if claims is None else claims.username,
                    source_ip=request.remote,
                )
            except Exception:
                _log.exception("the request could not be audited", path=request.path)

    return record
