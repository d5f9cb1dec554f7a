"""``GET /api/system/performance``: the strategies' figures for the day, week, month or ever.

``?period=daily|weekly|monthly|all`` (default ``daily``): win rate, profit factor,
expectancy, net profit, max drawdown % and Sharpe, overall (``strategy`` and ``symbol``
null), per strategy, per symbol and per both, computed from the closed trades of the period
so far with the backtester's statistics and stored in ``performance_metrics``. Periods follow
the broker's calendar (the day from the trading server's midnight, as the daily loss limit
counts it; the week from its Monday, the month from its 1st). Any role may
read it; before the account was first read it is 503.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict

from forexbot.api.operations import operation
from forexbot.api.ports import PerformanceSource
from forexbot.api.responses import json_response
from forexbot.api.validation import parse_query

Period = Literal["daily", "weekly", "monthly", "all"]


class PerformanceQuery(BaseModel):
    """The query string of ``GET /api/system/performance``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    period: Period = "daily"


class PerformanceRow(BaseModel):
    """The figures of one group of closed trades (null strategy/symbol: all of them)."""

    strategy: str | None
    symbol: str | None
    trades_count: int
    wins: int
    losses: int
    win_rate: float | None
    profit_factor: float | None
    expectancy: float | None
    net_profit: float
    max_drawdown_pct: float | None
    sharpe: float | None


class Performance(BaseModel):
    """Performance over the period so far: overall, per strategy, per symbol, per both."""

    period: Period
    start: datetime
    end: datetime
    items: list[PerformanceRow]


class PerformanceRoutes:
    def __init__(self, book: PerformanceSource) -> None:
        self._book = book

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/api/system/performance", self.performance)]

    @operation(
        "Win rate, profit factor, expectancy, drawdown, Sharpe per strategy and symbol",
        tag="system",
        query=PerformanceQuery,
        responses={200: Performance},
        errors={503: "The account has not been read yet."},
    )
    async def performance(self, request: web.Request) -> web.Response:
        query = parse_query(request, PerformanceQuery)
        return json_response(await self._book.compute(query.period))
