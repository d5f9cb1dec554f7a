"""``GET /api/signals``: the signals the strategies emitted lately, newest first.

``?limit=N`` (1..200, default 50). Any role. Each item is the ``data`` of a ``/ws/signals``
message plus ``risk``, the risk manager's decision (see :mod:`forexbot.api.recent_signals`).
The list is kept in memory only: **it starts empty after a restart** and holds at most the
last 200 signals; ``/ws/signals`` streams every new one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from forexbot.api.operations import operation
from forexbot.api.recent_signals import RING_SIZE, RecentSignals
from forexbot.api.responses import json_response
from forexbot.api.schemas import Side
from forexbot.api.validation import parse_query
from forexbot.events.bus import EventBus


class SignalListQuery(BaseModel):
    """The query string of ``GET /api/signals``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    limit: int = Field(default=50, ge=1, le=RING_SIZE)


class RiskDecision(BaseModel):
    """What the risk manager decided: approved (the order's client id and volume) or rejected
    (the rule's code and why)."""

    decision: Literal["approved", "rejected"]
    client_order_id: str | None = None
    volume: float | None = None
    code: str | None = None
    message: str | None = None


class SignalItem(BaseModel):
    """A signal as ``/ws/signals`` sends it, and the risk manager's decision (null until
    made)."""

    strategy: str
    symbol: str
    timeframe: str
    side: Side
    entry: float
    sl: float
    tp: float
    confidence: float
    reason: str
    bar_time: datetime = Field(description="the open time of the signal's bar")
    time: datetime = Field(
        description="when the strategy emitted it: the close of its bar (trading clock)"
    )
    market_condition: dict[str, Any]
    risk: RiskDecision | None


class SignalList(BaseModel):
    """The latest signals, newest first (empty after a restart)."""

    items: list[SignalItem]


class SignalRoutes:
    """The route and the ring behind it; the ring listens to the bus while the API runs."""

    def __init__(self, bus: EventBus) -> None:
        self.recent = RecentSignals(bus)

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/api/signals", self.list_signals)]

    async def on_startup(self, _: web.Application) -> None:
        self.recent.start()

    async def on_shutdown(self, _: web.Application) -> None:
        self.recent.stop()

    @operation(
        "The latest strategy signals, newest first, with the risk decision (kept in memory)",
        tag="strategies",
        query=SignalListQuery,
        responses={200: SignalList},
    )
    async def list_signals(self, request: web.Request) -> web.Response:
        query = parse_query(request, SignalListQuery)
        return json_response({"items": self.recent.latest(query.limit)})
