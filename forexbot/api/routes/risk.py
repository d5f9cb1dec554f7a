"""``/api/risk``: the risk manager's limits and state, the kill switch, and resuming.

Rules:

* ``GET /api/risk``: limits in force, kill switch, trading day (start equity, daily halt),
  peak equity, losing streak and cooldown, orders in flight, rejection counts. Any role.
* ``PUT /api/risk/limits`` (admin): a JSON object of limits to change, e.g.
  ``{"max_daily_loss_percent": 3}``. The engine validates the whole set (422 naming the key
  otherwise, and nothing changes), stores it (it wins over ``config/risk_config.yaml`` from
  then on, also after a restart) and applies it to the next signal.
* ``POST /api/risk/kill-switch`` (trader or admin) ``{"reason": "..."}``: closes every
  position and halts trading — the big red button.
* ``POST /api/risk/resume`` (admin): releases the kill switch; 409 when it is not on.
* Each change is audited in ``system_logs``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from forexbot.api.audit import audit
from forexbot.api.auth import claims_of, requires_role
from forexbot.api.errors import ApiError
from forexbot.api.operations import operation
from forexbot.api.ports import SystemLogStore, TradingActions
from forexbot.api.responses import json_response
from forexbot.api.roles import Role
from forexbot.api.validation import read_json
from forexbot.config.models import RiskSettings
from forexbot.partial_models import partial_model

#: Limits to change: any subset of the risk settings, with their types and ranges (the engine
#: validates the resulting whole; ``null`` is a value, e.g. ``allowed_sessions``: any time).
LimitChanges = partial_model("RiskLimitChanges", RiskSettings, strict=True)


class KillSwitchBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    reason: str = Field(min_length=1, max_length=500)


class KillSwitchState(BaseModel):
    """Whether the kill switch is on, why and since when."""

    active: bool
    code: str | None
    reason: str | None
    since: datetime | None


class TradingDay(BaseModel):
    """The broker's trading day: its first equity and whether the daily loss limit halted it."""

    day: str | None
    start_equity: float | None
    halted: bool


class RiskState(BaseModel):
    """The limits in force and the account guard's state."""

    limits: dict[str, Any]
    kill_switch: KillSwitchState
    trading_day: TradingDay
    peak_equity: float | None
    equity: float | None
    loss_streak: int
    cooldown_until: datetime | None
    blocked: str | None = Field(description="why new trades are refused now, if they are")
    in_flight: int
    approved: int
    rejections: dict[str, int]


class KillSwitchTripped(RiskState):
    """The state after the kill switch tripped, and how many positions it closed."""

    closed: int


class RiskRoutes:
    """Risk state and controls, answered by the engine's :class:`TradingActions`."""

    def __init__(self, trading: TradingActions, system_logs: SystemLogStore) -> None:
        self._trading = trading
        self._audit = system_logs

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/api/risk", self.state),
            web.put("/api/risk/limits", self.update_limits),
            web.post("/api/risk/kill-switch", self.kill_switch),
            web.post("/api/risk/resume", self.resume),
        ]

    @operation("Risk limits and account guard state", tag="risk", responses={200: RiskState})
    async def state(self, request: web.Request) -> web.Response:
        return json_response(self._trading.risk_state())

    @requires_role(Role.ADMIN)
    @operation(
        "Change risk limits (stored; they win over the config file)",
        tag="risk",
        body=LimitChanges,
        responses={200: RiskState},
        errors={422: "An unknown limit or a value out of range; nothing changed."},
    )
    async def update_limits(self, request: web.Request) -> web.Response:
        body = await read_json(request, LimitChanges, json_mode=True)
        changes = body.model_dump(mode="json", exclude_unset=True)
        if not changes:
            raise ApiError(422, "validation_error", "give at least one limit to change")
        state = await self._trading.update_risk_limits(changes, actor=claims_of(request).username)
        await audit(
            self._audit, request, "risk_limits_changed", "risk limits changed", {"changes": changes}
        )
        return json_response(state)

    @requires_role(Role.TRADER, Role.ADMIN)
    @operation(
        "Trip the kill switch: close every position and halt trading",
        tag="risk",
        body=KillSwitchBody,
        responses={200: KillSwitchTripped},
    )
    async def kill_switch(self, request: web.Request) -> web.Response:
        body = await read_json(request, KillSwitchBody)
        state = await self._trading.trip_kill_switch(body.reason, actor=claims_of(request).username)
        await audit(
            self._audit,
            request,
            "kill_switch_tripped",
            f"kill switch tripped: {body.reason}",
            {"reason": body.reason, "closed": state.get("closed")},
        )
        return json_response(state)

    @requires_role(Role.ADMIN)
    @operation(
        "Release the kill switch",
        tag="risk",
        responses={200: RiskState},
        errors={409: "The kill switch is not on."},
    )
    async def resume(self, request: web.Request) -> web.Response:
        state = await self._trading.resume_trading(actor=claims_of(request).username)
        await audit(self._audit, request, "trading_resumed", "trading resumed", {})
        return json_response(state)
