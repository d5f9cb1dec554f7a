"""Subscribing to quotes on ``/ws/quotes`` is checked against the daemon's watchlist, not a
symbol pattern: synthetic indices such as ``Volatility 75 Index`` have spaces in their names.

A real server and WebSocket client; behind the server the real :class:`MarketQuery` over a
connector on the simulated terminal watching EURUSD and Volatility 75 Index.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from polling import eventually
from sqlalchemy.ext.asyncio import AsyncEngine
from trading_rig import START

from forexbot.clock import ManualClock
from forexbot.connectors.connector import MT5Connector
from forexbot.connectors.market_query import MarketQuery
from forexbot.connectors.mt5sim.terminal import SimulatedTerminal
from forexbot.connectors.worker import TerminalWorker
from forexbot.database.market_data import MarketDataRepository
from forexbot.domain.market import Tick, Timeframe
from forexbot.events.bus import EventBus
from forexbot.events.types import TickEvent

from ._support import Api, MakeApi

pytestmark = pytest.mark.db

V75 = "Volatility 75 Index"


@pytest_asyncio.fixture(loop_scope="function")
async def api(make_api: MakeApi, db_engine: AsyncEngine) -> AsyncIterator[Api]:
    clock = ManualClock(START)
    terminal = SimulatedTerminal(seed=7, clock=clock)
    bus = EventBus()
    worker = TerminalWorker(default_timeout=10.0)
    worker.start()
    connector = MT5Connector(
        terminal, worker, bus, clock, ["EURUSD", V75], [Timeframe.M1], poll_interval=3600.0
    )
    bus.start()
    await connector.start()
    try:
        market = MarketQuery(
            connector, worker, terminal, MarketDataRepository(db_engine), clock, [Timeframe.M1]
        )
        yield await make_api(market=market)
    finally:
        await connector.close()
        await bus.close(timeout=1.0)
        await worker.stop()


async def quotes(api: Api) -> aiohttp.ClientWebSocketResponse:
    ws = await api.session.ws_connect(api.url(f"/ws/quotes?token={api.token()}"))
    await eventually(
        lambda: api.broadcaster.client_count == 1,
        timeout=5.0,
        what="the socket's registration",
    )
    return ws


async def receive(ws: aiohttp.ClientWebSocketResponse) -> Any:
    async with asyncio.timeout(5):
        return await ws.receive_json()


def tick(symbol: str, bid: float) -> TickEvent:
    return TickEvent(Tick(symbol, START, bid, bid + 0.5))


async def test_a_synthetic_index_with_spaces_in_its_name_can_be_subscribed_to(api: Api) -> None:
    ws = await quotes(api)
    await ws.send_json({"action": "subscribe", "symbols": [V75]})
    assert await receive(ws) == {"channel": "quotes", "event": "subscribed", "symbols": [V75]}
    api.bus.publish(tick("EURUSD", 1.1))
    api.bus.publish(tick(V75, 412_345.25))
    assert (await receive(ws))["data"] == {
        "symbol": V75,
        "bid": 412_345.25,
        "ask": 412_345.75,
        "time": "2026-03-10T10:00:00.000Z",
    }


async def test_a_symbol_not_watched_is_refused_naming_it_and_the_watchlist(api: Api) -> None:
    ws = await quotes(api)
    await ws.send_json({"action": "subscribe", "symbols": ["EURUSD", "GBPUSD"]})
    assert await receive(ws) == {
        "channel": "quotes",
        "error": {
            "code": "unknown_symbol",
            "message": "not watched: 'GBPUSD'; the watchlist is 'EURUSD', 'Volatility 75 Index'",
            "details": {"unknown": ["GBPUSD"], "watchlist": ["EURUSD", V75]},
        },
    }


async def test_a_refused_subscription_keeps_the_previous_filter_and_the_socket(api: Api) -> None:
    ws = await quotes(api)
    await ws.send_json({"action": "subscribe", "symbols": [V75]})
    await receive(ws)
    await ws.send_json({"action": "subscribe", "symbols": ["Volatility 75"]})
    assert (await receive(ws))["error"]["code"] == "unknown_symbol"
    api.bus.publish(tick("EURUSD", 1.1))
    api.bus.publish(tick(V75, 412_000.0))
    assert (await receive(ws))["data"]["symbol"] == V75
    assert not ws.closed
