"""A WebSocket client's own outgoing queue, driven with a socket whose sends can be held.

The end-to-end behaviour over real sockets is in ``test_ws_streams.py``; here the queue's
rules are checked message by message, which a real socket's buffering would blur.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

import orjson
from aiohttp import web

from forexbot.api.websockets import Channel, WsClient


class HeldSocket:
    """Stands in for ``web.WebSocketResponse``: ``send_str`` waits until released."""

    def __init__(self) -> None:
        self.released = asyncio.Event()
        self.sent: list[Any] = []
        self._changed = asyncio.Condition()
        self.closed = False
        self.close_code: int | None = None

    async def send_str(self, data: str) -> None:
        await self.released.wait()
        async with self._changed:
            self.sent.append(orjson.loads(data))
            self._changed.notify_all()

    async def wait_sent(self, count: int) -> None:
        async with asyncio.timeout(2.0), self._changed:
            await self._changed.wait_for(lambda: len(self.sent) >= count)

    async def close(self, *, code: int, message: bytes) -> bool:
        self.closed, self.close_code = True, code
        return True


def client_for(ws: HeldSocket, channel: Channel, **limits: int) -> WsClient:
    client = WsClient(
        cast(web.WebSocketResponse, ws),
        channel,
        queue_size=limits.get("queue_size", 2),
        trade_backlog=limits.get("trade_backlog", 100),
        close_timeout=1.0,
    )
    client.start()
    return client


async def test_quotes_past_the_queue_size_keep_only_the_latest_per_symbol_in_order() -> None:
    ws = HeldSocket()
    client = client_for(ws, Channel.QUOTES, queue_size=2)
    for symbol, n in [("EURUSD", 1), ("GBPUSD", 1), ("EURUSD", 2), ("GBPUSD", 2)]:
        client.offer_quote(symbol, f'"{symbol}-{n}"')
    client.offer_quote("EURUSD", '"EURUSD-3"')
    client.offer_quote("EURUSD", '"EURUSD-4"')
    assert client.stats.coalesced == 2
    ws.released.set()
    await ws.wait_sent(4)
    assert ws.sent == ["EURUSD-1", "GBPUSD-1", "EURUSD-4", "GBPUSD-2"]
    await client.close(1000, "")


async def test_lossless_messages_are_never_coalesced() -> None:
    ws = HeldSocket()
    client = client_for(ws, Channel.TRADES, queue_size=2, trade_backlog=100)
    for n in range(10):
        client.offer(str(n))
    ws.released.set()
    await ws.wait_sent(10)
    assert ws.sent == list(range(10))
    assert client.stats.coalesced == 0
    await client.close(1000, "")


async def test_trade_backlog_past_the_limit_closes_the_client_with_1013() -> None:
    ws = HeldSocket()
    client = client_for(ws, Channel.TRADES, trade_backlog=3)
    for n in range(5):
        client.offer(str(n))
    await client.close(1000, "")  # returns the close already under way
    assert ws.close_code == 1013
    assert ws.sent == []


async def test_subscribing_drops_pending_quotes_of_other_symbols() -> None:
    ws = HeldSocket()
    client = client_for(ws, Channel.QUOTES, queue_size=1)
    client.offer_quote("EURUSD", '"EURUSD-1"')
    client.offer_quote("GBPUSD", '"GBPUSD-1"')
    client.offer_quote("USDJPY", '"USDJPY-1"')
    client.set_symbols(frozenset({"USDJPY"}))
    assert client.wants("USDJPY")
    assert not client.wants("EURUSD")
    ws.released.set()
    await ws.wait_sent(1)
    await asyncio.sleep(0.01)
    assert ws.sent == ["USDJPY-1"]
    await client.close(1000, "")
