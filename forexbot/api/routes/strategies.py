"""``/api/strategies``: read and tune the strategy instances at run time, without a restart.

Rules:

* Anyone authenticated may read; changing a strategy needs the ``trader`` or ``admin`` role
  (a viewer gets 403), since it changes what the bot trades.
* A strategy id is ``"<strategy>:<symbol>:<timeframe>"``. Symbols may contain spaces, so
  clients percent-encode the id in the URL (``ma_rsi:Volatility%2075%20Index:M15``); aiohttp
  matches on the decoded path. An unknown id is 404.
* ``PUT /api/strategies/{id}`` takes ``{"params": {...}, "risk_multiplier": x, "enabled": b,
  "management": {...}}``, each optional but at least one present (``management``: the
  break-even and trailing-stop settings, validated by the engine like ``params``); unknown
  fields and ``risk_multiplier`` outside ``(0, 10]`` are 422 before the engine is asked. The
  engine validates ``params`` itself (only it knows each strategy's parameters): an
  :class:`~forexbot.errors.InvalidInputError` from it is 422 with its message (the error
  middleware answers it), and the strategy is left as it was.
* An instance carries ``parameter_schema``, the JSON Schema of its ``params`` (type, bounds,
  default of each), so a client can build the form and refuse an out-of-range value itself;
  rules across parameters (``fast_period`` below ``slow_period``) stay the engine's to say.
  ``management_schema`` and ``risk_multiplier_schema`` say the same of ``management`` and
  ``risk_multiplier``; neither has a rule across fields, so the schema is the whole check.
* ``PUT /api/strategies/{id}/toggle`` flips ``enabled`` (no body).
* Every accepted change is audited in ``system_logs`` (events ``strategy_updated`` and
  ``strategy_toggled``, with the user and source IP), as a change to live trading must be
  traceable to a person.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, model_validator

from forexbot.api.audit import audit
from forexbot.api.auth import claims_of, requires_role
from forexbot.api.errors import ApiError
from forexbot.api.operations import operation
from forexbot.api.ports import StrategyPort, SystemLogStore
from forexbot.api.responses import json_response
from forexbot.api.roles import Role
from forexbot.api.validation import read_json
from forexbot.errors import NotFoundError

MAX_RISK_MULTIPLIER = 10.0


class StrategyUpdate(BaseModel):
    """The body of ``PUT /api/strategies/{id}``: the fields to change, at least one."""

    # Strict: "2" is not a risk multiplier and "yes" is not a boolean (an int is a float).
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)

    params: dict[str, Any] | None = Field(default=None, max_length=100)
    risk_multiplier: float | None = Field(default=None, gt=0, le=MAX_RISK_MULTIPLIER)
    enabled: bool | None = None
    management: dict[str, Any] | None = Field(default=None, max_length=10)

    @model_validator(mode="after")
    def _something_to_change(self) -> StrategyUpdate:
        if (
            self.params is None
            and self.risk_multiplier is None
            and self.enabled is None
            and self.management is None
        ):
            raise ValueError("give at least one of params, risk_multiplier, enabled, management")
        return self

    def changes(self) -> dict[str, Any]:
        """The fields given, for the audit trail."""
        fields = {
            "params": self.params,
            "risk_multiplier": self.risk_multiplier,
            "enabled": self.enabled,
            "management": self.management,
        }
        return {name: value for name, value in fields.items() if value is not None}


class Strategy(BaseModel):
    """A strategy instance: its settings, the regime it trades in, and its counters."""

    id: str
    strategy: str
    symbol: str
    timeframe: str
    enabled: bool
    params: dict[str, Any]
    parameter_schema: dict[str, Any] = Field(
        description="JSON Schema of params: each parameter's type, bounds and default"
    )
    risk_multiplier: float
    risk_multiplier_schema: dict[str, Any] = Field(
        description="JSON Schema of risk_multiplier: a number above 0, at most 10"
    )
    volume: float | None
    management: dict[str, Any]
    management_schema: dict[str, Any] = Field(
        description="JSON Schema of management: each setting's type, bounds and default"
    )
    regime: dict[str, Any]
    bars_seen: int
    signals: int
    suppressed: int
    suppressed_by: dict[str, int]
    errors: int


class StrategyList(BaseModel):
    """The strategy instances."""

    items: list[Strategy]


_UNKNOWN = {404: "No such strategy instance."}


def _not_found(strategy_id: str) -> ApiError:
    return ApiError(404, "not_found", f"strategy {strategy_id!r} does not exist")


class StrategyRoutes:
    """The strategy endpoints, answered by the engine's :class:`StrategyPort`."""

    def __init__(self, control: StrategyPort, system_logs: SystemLogStore) -> None:
        self._control = control
        self._audit = system_logs

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/api/strategies", self.list_strategies),
            web.get("/api/strategies/{strategy_id}", self.get_strategy),
            web.put("/api/strategies/{strategy_id}", self.update_strategy),
            web.put("/api/strategies/{strategy_id}/toggle", self.toggle_strategy),
        ]

    @operation("List the strategy instances", tag="strategies", responses={200: StrategyList})
    async def list_strategies(self, request: web.Request) -> web.Response:
        return json_response({"items": self._control.list_strategies()})

    @operation(
        "One strategy instance", tag="strategies", responses={200: Strategy}, errors=_UNKNOWN
    )
    async def get_strategy(self, request: web.Request) -> web.Response:
        strategy_id = request.match_info["strategy_id"]
        strategy = self._control.get_strategy(strategy_id)
        if strategy is None:
            raise _not_found(strategy_id)
        return json_response(strategy)

    @requires_role(Role.TRADER, Role.ADMIN)
    @operation(
        "Change a strategy's parameters, risk multiplier, management or enabled flag",
        tag="strategies",
        body=StrategyUpdate,
        responses={200: Strategy},
        errors=_UNKNOWN | {422: "A value the strategy refuses; nothing changed."},
    )
    async def update_strategy(self, request: web.Request) -> web.Response:
        strategy_id = request.match_info["strategy_id"]
        update = await read_json(request, StrategyUpdate)
        actor = claims_of(request).username
        try:
            strategy = await self._control.update_strategy(
                strategy_id,
                params=update.params,
                risk_multiplier=update.risk_multiplier,
                enabled=update.enabled,
                actor=actor,
                management=update.management,
            )
        except NotFoundError:
            raise _not_found(strategy_id) from None
        await audit(
            self._audit,
            request,
            "strategy_updated",
            "strategy updated",
            {"strategy_id": strategy_id, "changes": update.changes()},
        )
        return json_response(strategy)

    @requires_role(Role.TRADER, Role.ADMIN)
    @operation(
        "Enable a disabled strategy or disable an enabled one",
        tag="strategies",
        responses={200: Strategy},
        errors=_UNKNOWN,
    )
    async def toggle_strategy(self, request: web.Request) -> web.Response:
        strategy_id = request.match_info["strategy_id"]
        actor = claims_of(request).username
        try:
            strategy = await self._control.toggle_strategy(strategy_id, actor=actor)
        except NotFoundError:
            raise _not_found(strategy_id) from None
        await audit(
            self._audit,
            request,
            "strategy_toggled",
            "strategy enabled" if strategy.get("enabled") else "strategy disabled",
            {"strategy_id": strategy_id, "enabled": strategy.get("enabled")},
        )
        return json_response(strategy)
