"""``/api/health`` and ``/api/system/status``.

Health is public (load balancers, systemd and monitoring poll it without credentials): 200
``{"status": "ok", ...}`` when the daemon is healthy, 503 ``{"status": "unhealthy", ...}``
otherwise, with the provider's details alongside. A failing health check is reported as
unhealthy (503), not as a server error. Status requires a token.
"""

from __future__ import annotations

import structlog
from aiohttp import web

from forexbot.api.auth import public
from forexbot.api.responses import json_response
from forexbot.api.services import StatusProvider

_log = structlog.get_logger("forexbot.api")


class SystemRoutes:
    """Health and status, answered by the engine's :class:`StatusProvider`."""

    def __init__(self, status: StatusProvider) -> None:
        self._status = status

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/api/health", self.health),
            web.get("/api/system/status", self.system_status),
        ]

    @public
    async def health(self, request: web.Request) -> web.Response:
        try:
            healthy, details = self._status.is_healthy()
        except Exception:
            _log.exception("health check failed")
            healthy, details = False, {"error": "health check failed"}
        body = {**details, "status": "ok" if healthy else "unhealthy"}
        return json_response(body, status=200 if healthy else 503)

    async def system_status(self, request: web.Request) -> web.Response:
        return json_response(await self._status.status())
