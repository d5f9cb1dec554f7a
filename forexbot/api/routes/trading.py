"""``/api/trades``, ``/api/trades/{id}`` and ``/api/positions``: read-only trading data.

Rules: trades are listed newest first with the total for the filter, ``limit`` 1..500
(default 50), ``offset`` ≥ 0, optional exact filters ``symbol``, ``status`` (one of the trade
statuses) and ``strategy``, and ``from``/``to`` (ISO-8601; without a zone, UTC): trades opened
in ``[from, to)`` — for one that never opened, the time its order was written. ``from`` must
be before ``to``. The symbol filter takes any symbol, not only watched ones: a symbol taken
off the watchlist keeps its history. Anything else in the query string is refused (400, naming
the parameter). A trade id that is not a positive 63-bit integer, or that does not exist, is 404.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, model_validator

from forexbot.api.errors import ApiError
from forexbot.api.operations import operation
from forexbot.api.ports import PositionQuery, TradeHistory
from forexbot.api.responses import json_response
from forexbot.api.schemas import Id, PositionList, Trade, TradePage, UtcDatetime
from forexbot.api.validation import parse_query
from forexbot.domain.trading import TradeStatus

_MAX_BIGINT = 2**63 - 1


class TradeListQuery(BaseModel):
    """The query string of ``GET /api/trades``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0, le=_MAX_BIGINT)
    symbol: str | None = Field(
        default=None,
        min_length=1,
        max_length=32,
        description="Any symbol, watched or not: trades of a symbol since taken off the "
        "watchlist stay findable.",
    )
    status: TradeStatus | None = None
    strategy: str | None = Field(default=None, min_length=1, max_length=64)
    opened_from: UtcDatetime | None = Field(default=None, alias="from")
    opened_to: UtcDatetime | None = Field(default=None, alias="to")

    @model_validator(mode="after")
    def _ordered(self) -> TradeListQuery:
        if (
            self.opened_from is not None
            and self.opened_to is not None
            and self.opened_from >= self.opened_to
        ):
            raise ValueError("from must be before to")
        return self


class TradingRoutes:
    """Trades from the database, open positions from the engine."""

    def __init__(self, trades: TradeHistory, positions: PositionQuery) -> None:
        self._trades = trades
        self._positions = positions

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/api/trades", self.list_trades),
            web.get(r"/api/trades/{trade_id:\d{1,19}}", self.get_trade),
            web.get("/api/positions", self.list_positions),
        ]

    @operation(
        "List trades, newest first", tag="trading", query=TradeListQuery, responses={200: TradePage}
    )
    async def list_trades(self, request: web.Request) -> web.Response:
        query = parse_query(request, TradeListQuery)
        records, total = await self._trades.list(
            limit=query.limit,
            offset=query.offset,
            symbol=query.symbol,
            status=query.status.value if query.status is not None else None,
            strategy=query.strategy,
            opened_from=query.opened_from,
            opened_to=query.opened_to,
        )
        return json_response(
            {
                "items": [record.to_api() for record in records],
                "total": total,
                "limit": query.limit,
                "offset": query.offset,
            }
        )

    @operation(
        "One trade",
        tag="trading",
        responses={200: Trade},
        errors={404: "No such trade."},
        path={"trade_id": Id},
    )
    async def get_trade(self, request: web.Request) -> web.Response:
        trade_id = int(request.match_info["trade_id"])
        record = await self._trades.get(trade_id) if 0 < trade_id <= _MAX_BIGINT else None
        if record is None:
            raise ApiError(404, "not_found", f"trade {trade_id} does not exist")
        return json_response(record.to_api())

    @operation("Open positions", tag="trading", responses={200: PositionList})
    async def list_positions(self, request: web.Request) -> web.Response:
        return json_response({"items": await self._positions.open_positions()})
