"""``GET /api/account/equity``: the equity curve of the trading day or of the last 30 days,
and today's P/L.

``?range=day|month`` (default ``day``). Any role. ``day`` runs from the start of the broker's
trading day (the daily loss limit's day) with one point per minute; ``month`` covers the last
30 days with one point per hour (the last sample of each). The current account is always the
last point, so the curve ends now. ``today_pnl`` is the current equity minus
``day_start_equity``, the risk manager's start equity of the day — what the daily loss limit
measures; both are null until known (rules: :mod:`forexbot.monitoring.equity_history`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from forexbot.api.operations import operation
from forexbot.api.ports import EquitySource
from forexbot.api.responses import json_response
from forexbot.api.validation import parse_query


class EquityQuery(BaseModel):
    """The query string of ``GET /api/account/equity``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    range: Literal["day", "month"] = "day"


class EquityPoint(BaseModel):
    """The account at one time."""

    time: datetime
    equity: float
    balance: float


class EquityCurve(BaseModel):
    """An equity curve, oldest point first, and today's P/L."""

    range: Literal["day", "month"]
    currency: str | None = Field(description="the account currency; null before it was read")
    start: datetime
    end: datetime
    day_start_equity: float | None = Field(
        description="equity at the start of the trading day, as the daily loss limit uses it"
    )
    today_pnl: float | None = Field(description="equity now minus day_start_equity")
    points: list[EquityPoint]


class AccountRoutes:
    def __init__(self, equity: EquitySource) -> None:
        self._equity = equity

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/api/account/equity", self.equity)]

    @operation(
        "Equity curve of the trading day (per minute) or the last 30 days (per hour), "
        "and today's P/L",
        tag="system",
        query=EquityQuery,
        responses={200: EquityCurve},
    )
    async def equity(self, request: web.Request) -> web.Response:
        query = parse_query(request, EquityQuery)
        return json_response(await self._equity.curve(query.range))
