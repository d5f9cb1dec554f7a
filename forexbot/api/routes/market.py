"""``/api/market/conditions`` and ``/api/market/analysis/{symbol}``: what the detector sees.

Read-only, for any authenticated user. Conditions are the latest per symbol and timeframe
(``{"items": [...]}``); the analysis of a symbol is its indicator values, levels and condition,
404 when the symbol is not watched. Symbols may contain spaces (synthetic indices such as
``Volatility 75 Index``) and arrive percent-encoded; aiohttp matches on the decoded path.
"""

from __future__ import annotations

from aiohttp import web

from forexbot.api.errors import ApiError
from forexbot.api.responses import json_response
from forexbot.api.services import StrategyControl


class MarketRoutes:
    """The market endpoints, answered by the engine's :class:`StrategyControl`."""

    def __init__(self, control: StrategyControl) -> None:
        self._control = control

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/api/market/conditions", self.conditions),
            web.get("/api/market/analysis/{symbol}", self.analysis),
        ]

    async def conditions(self, request: web.Request) -> web.Response:
        return json_response({"items": self._control.market_conditions()})

    async def analysis(self, request: web.Request) -> web.Response:
        symbol = request.match_info["symbol"]
        analysis = self._control.market_analysis(symbol)
        if analysis is None:
            raise ApiError(404, "not_found", f"no market analysis for symbol {symbol!r}")
        return json_response(analysis)
