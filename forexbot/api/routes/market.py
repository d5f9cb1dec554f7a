"""``/api/market/*``: what the detector sees, and the watched symbols' specifications, quotes
and bars.

Read-only, for any authenticated user. Symbols may contain spaces (synthetic indices such as
``Volatility 75 Index``) and arrive percent-encoded; aiohttp matches on the decoded path.

From the engine's :class:`StrategyPort` (:class:`MarketRoutes`): every watched symbol is
analysed, traded by a strategy or not, on every timeframe a strategy runs on. Conditions are
the latest per symbol and timeframe (``{"items": [...]}``); the analysis of a symbol is, per
timeframe, its condition, indicator values and levels (``null``/empty until enough closed bars
have come), and 404 means exactly that the symbol is not watched.

From the :class:`MarketPort` (:class:`MarketDataRoutes`, registered when the daemon gives one):

* ``GET /api/market/symbols``: every watched symbol with its trading specification, in
  watchlist order (``{"items": [...]}``); ``description``/``trade_mode`` are ``null`` until
  the terminal has told them, ``spread`` (points, of the last quote) until a quote is known.
* ``GET /api/market/quote/{symbol}``: the connector's last quote (bid, ask, spread in points,
  time to the millisecond). 404 ``not_found`` for a symbol that is not watched; 503
  ``quote_unavailable`` before the first quote, 503 ``terminal_unavailable`` while the terminal
  is disconnected (the last quote would be stale).
* ``GET /api/market/data/{symbol}``: bars opening in ``[from, to)``, oldest first, from the
  ``market_data`` table (``source=db``, the default: closed bars only) or the terminal
  (``source=terminal``, the forming bar included). ``timeframe`` is required; ``from``/``to``
  are ISO-8601 (naive means UTC; write ``Z`` or percent-encode ``+``), ``to`` defaults to now
  and ``from`` to ``4 × limit`` bar periods before ``to``; ``limit`` is 1..10000 (default
  500). When the range holds more than ``limit`` bars, the **newest** ``limit`` are returned
  and ``truncated`` is true; the page before is the same request with ``to`` = the first bar's
  time. 404 for a symbol that is not watched (before the query is looked at), 400
  ``invalid_parameter`` for a bad or unknown parameter or ``from`` not before ``to``, 503
  ``terminal_unavailable`` when the terminal does not answer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from forexbot.api.errors import ApiError
from forexbot.api.operations import operation
from forexbot.api.ports import MarketPort, StrategyPort
from forexbot.api.responses import json_response
from forexbot.api.schemas import UtcDatetime
from forexbot.api.validation import parse_query
from forexbot.domain.market import Timeframe

#: The timeframes a client may ask for (:class:`~forexbot.domain.market.Timeframe`'s names).
TimeframeName = Literal["M1", "M5", "M15", "M30", "H1", "H4", "D1"]
BarSource = Literal["db", "terminal"]
TradeMode = Literal["disabled", "long_only", "short_only", "close_only", "full"]

_NOT_WATCHED = {404: "The symbol is not watched."}


class Condition(BaseModel):
    """The market condition of a symbol and timeframe, as of its last closed bar."""

    symbol: str
    timeframe: str
    bar_time: datetime
    evaluated_at: datetime
    trend: str
    strength: float | None
    adx: float | None
    volatility: str
    atr: float | None
    atr_percentile: float | None
    liquidity: str
    spread_ratio: float | None
    volume_ratio: float | None
    sessions: list[str]
    overlaps: list[str]
    market_open: bool
    favourable: bool
    reasons: list[str]


class ConditionList(BaseModel):
    """The latest condition per watched symbol and timeframe."""

    items: list[Condition]


class Analysis(BaseModel):
    """Per timeframe analysed: the condition, indicator values and support/resistance."""

    symbol: str
    timeframes: dict[str, dict[str, Any]]


class MarketRoutes:
    """The market endpoints, answered by the engine's :class:`StrategyPort`."""

    def __init__(self, control: StrategyPort) -> None:
        self._control = control

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/api/market/conditions", self.conditions),
            web.get("/api/market/analysis/{symbol}", self.analysis),
        ]

    @operation("Market conditions", tag="market", responses={200: ConditionList})
    async def conditions(self, request: web.Request) -> web.Response:
        return json_response({"items": self._control.market_conditions()})

    @operation(
        "A symbol's indicators, levels and conditions",
        tag="market",
        responses={200: Analysis},
        errors=_NOT_WATCHED,
    )
    async def analysis(self, request: web.Request) -> web.Response:
        symbol = request.match_info["symbol"]
        analysis = self._control.market_analysis(symbol)
        if analysis is None:
            raise ApiError(404, "not_found", f"symbol {symbol!r} is not watched")
        return json_response(analysis)


# -- market data: request and response models ---------------------------------------------------


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class BarQuery(BaseModel):
    """The query string of ``GET /api/market/data/{symbol}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timeframe: TimeframeName = Field(description="The bars' period.")
    start: UtcDatetime | None = Field(
        default=None,
        alias="from",
        description="Oldest bar open time (inclusive), ISO-8601; default: 4 × limit periods "
        "before `to`.",
    )
    end: UtcDatetime | None = Field(
        default=None,
        alias="to",
        description="Bar open times before this (exclusive), ISO-8601; default: now.",
    )
    limit: int = Field(
        default=500,
        ge=1,
        le=10_000,
        description="At most this many bars: the newest of the range.",
    )
    source: BarSource = Field(
        default="db", description="`db`: the stored closed bars; `terminal`: the terminal's."
    )

    @field_validator("end")
    @classmethod
    def _after_start(cls, end: datetime | None, info: ValidationInfo) -> datetime | None:
        start = info.data.get("start")
        if end is not None and start is not None and _utc(start) >= _utc(end):
            raise ValueError("must be after 'from'")
        return end


class _Schema(BaseModel):
    model_config = ConfigDict(frozen=True)


class WatchedSymbol(_Schema):
    """A watched symbol and its trading specification."""

    name: str
    description: str | None
    digits: int
    point: float
    tick_size: float
    tick_value: float = Field(description="Account-currency value of one tick for one lot.")
    contract_size: float
    volume_min: float
    volume_max: float
    volume_step: float
    stops_level: int = Field(description="Minimum SL/TP distance from the price, in points.")
    freeze_level: int
    trade_mode: TradeMode | None
    currency_base: str
    currency_profit: str
    currency_margin: str
    spread: int | None = Field(description="Spread of the last quote, in points.")
    timeframes: list[TimeframeName] = Field(description="The timeframes built and stored.")


class WatchedSymbolList(_Schema):
    """The watched symbols, in watchlist order."""

    items: list[WatchedSymbol]


class Quote(_Schema):
    """The last quote of a symbol."""

    symbol: str
    bid: float
    ask: float
    spread: int = Field(description="In points.")
    time: datetime


class BarItem(_Schema):
    """One OHLC bar of bid prices; ``time`` is its open time."""

    time: datetime
    open: float
    high: float
    low: float
    close: float
    tick_volume: int
    spread: int = Field(description="In points.")
    real_volume: int


class BarPage(_Schema):
    """Bars of a symbol and timeframe, oldest first."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    symbol: str
    timeframe: TimeframeName
    source: BarSource
    start: datetime = Field(alias="from", description="The range's start (inclusive).")
    end: datetime = Field(alias="to", description="The range's end (exclusive).")
    limit: int
    truncated: bool = Field(description="Older bars of the range were left out.")
    items: list[BarItem]


# -- market data: handlers -------------------------------------------------------------------


class MarketDataRoutes:
    """Symbols, quotes and bars, answered by a :class:`MarketPort`."""

    def __init__(self, market: MarketPort) -> None:
        self._market = market

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/api/market/symbols", self.symbols),
            web.get("/api/market/quote/{symbol}", self.quote),
            web.get("/api/market/data/{symbol}", self.data),
        ]

    @operation(
        "The watched symbols and their specifications",
        tag="market",
        responses={200: WatchedSymbolList},
    )
    async def symbols(self, request: web.Request) -> web.Response:
        return json_response({"items": await self._market.symbols()})

    @operation(
        "The last quote of a watched symbol",
        tag="market",
        responses={200: Quote},
        errors=_NOT_WATCHED
        | {503: "No quote yet (`quote_unavailable`), or the terminal is disconnected."},
        path={"symbol": str},
    )
    async def quote(self, request: web.Request) -> web.Response:
        symbol = self._watched(request)
        quote = self._market.quote(symbol)
        if quote is None:
            raise ApiError(503, "quote_unavailable", f"no quote of {symbol!r} has come yet")
        return json_response(quote)

    @operation(
        "OHLC bars of a watched symbol, oldest first",
        tag="market",
        query=BarQuery,
        responses={200: BarPage},
        errors=_NOT_WATCHED | {503: "`source=terminal` and the terminal did not answer."},
        path={"symbol": str},
    )
    async def data(self, request: web.Request) -> web.Response:
        """The newest ``limit`` bars opening in ``[from, to)``, returned oldest first;
        ``truncated`` says the range holds older ones (ask again with ``to`` = the first
        bar's time)."""
        symbol = self._watched(request)
        query = parse_query(request, BarQuery)
        read = (
            self._market.terminal_bars if query.source == "terminal" else self._market.stored_bars
        )
        page = await read(
            symbol,
            Timeframe[query.timeframe],
            start=query.start,
            end=query.end,
            limit=query.limit,
        )
        return json_response(
            {
                "symbol": symbol,
                "timeframe": query.timeframe,
                "source": query.source,
                "limit": query.limit,
                **page,
            }
        )

    def _watched(self, request: web.Request) -> str:
        symbol = request.match_info["symbol"]
        if not self._market.watches(symbol):
            raise ApiError(404, "not_found", f"symbol {symbol!r} is not watched")
        return symbol
