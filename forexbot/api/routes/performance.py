"""``GET /api/system/performance``: the strategies' figures for the day, week, month or ever.

``?period=daily|weekly|monthly|all`` (default ``daily``): win rate, profit factor,
expectancy, net profit, max drawdown % and Sharpe, overall (``strategy`` and ``symbol``
null), per strategy, per symbol and per both, computed from the closed trades of the period
so far with the backtester's statistics and stored in ``performance_metrics``. Any role may
read it; before the account was first read it is 503.
"""

from __future__ import annotations

from aiohttp import web

from forexbot.api.errors import ApiError
from forexbot.api.responses import json_response
from forexbot.api.services import PerformanceSource

PERIODS = ("daily", "weekly", "monthly", "all")


class PerformanceRoutes:
    def __init__(self, book: PerformanceSource) -> None:
        self._book = book

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/api/system/performance", self.performance)]

    async def performance(self, request: web.Request) -> web.Response:
        period = request.query.get("period", "daily")
        if period not in PERIODS:
            raise ApiError(422, "validation_error", f"period must be one of {', '.join(PERIODS)}")
        return json_response(await self._book.compute(period))
