"""``/api/health`` and ``/api/system/status``.

Health is public (load balancers, systemd and monitoring poll it without credentials): 200
``{"status": "ok", ...}`` when the daemon is healthy, 200 ``{"status": "degraded",
"problems": [...]}`` when it runs but something needs a person (the risk state could not be
persisted), 503 ``{"status": "unhealthy", ...}`` otherwise, with the provider's details
alongside. A failing health check is reported as
unhealthy (503), not as a server error. Status requires a token.
"""

from __future__ import annotations

from typing import Any, Literal

import structlog
from aiohttp import web
from pydantic import BaseModel, Field

from forexbot.api.auth import public
from forexbot.api.operations import operation
from forexbot.api.ports import StatusProvider
from forexbot.api.responses import json_response

_log = structlog.get_logger("forexbot.api")


class Health(BaseModel):
    """Whether the daemon can trade (200) or not (503), and the details that decided it."""

    status: Literal["ok", "degraded", "unhealthy"]
    terminal: str | None = Field(default=None, description="the terminal connection's state")
    stopping: bool | None = None
    version: str | None = None
    problems: list[str] | None = Field(
        default=None,
        description="codes of what needs a person although the daemon runs (degraded), "
        "e.g. risk_state_not_saved; the words are in /api/system/status",
    )


class Account(BaseModel):
    """The trading account, as last read from the terminal."""

    currency: str
    balance: float
    equity: float
    margin: float
    margin_free: float
    leverage: int


class TerminalStatus(BaseModel):
    """The terminal connection and what it has delivered."""

    state: str
    server_offset_seconds: float | None
    symbols: list[str]
    ticks: int
    bars: int
    reconnects: int


class SystemStatus(BaseModel):
    """The daemon: mode, uptime, terminal, account, risk, strategies, event bus."""

    version: str
    mode: str
    uptime_seconds: float
    time: str
    sim_speed: float
    database: str
    terminal: TerminalStatus
    account: Account | None
    open_positions: int
    risk: dict[str, Any] | None
    strategies: Any
    event_bus: list[dict[str, Any]]


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
    @operation(
        "Health: 200 when the daemon can trade (ok or degraded), 503 otherwise",
        tag="system",
        responses={200: Health, 503: Health},
    )
    async def health(self, request: web.Request) -> web.Response:
        try:
            healthy, details = self._status.is_healthy()
        except Exception:
            _log.exception("health check failed")
            healthy, details = False, {"error": "health check failed"}
        verdict = "degraded" if details.get("problems") else "ok"
        body = {**details, "status": verdict if healthy else "unhealthy"}
        return json_response(body, status=200 if healthy else 503)

    @operation("The daemon's status", tag="system", responses={200: SystemStatus})
    async def system_status(self, request: web.Request) -> web.Response:
        return json_response(await self._status.status())
