"""/ws/quotes, /ws/trades and /ws/signals end to end: real sockets, events published on the bus."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import aiohttp
import pytest
import structlog
from polling import eventually
from trade_records import trade_record

from forexbot.domain.market import Tick
from forexbot.domain.trading import Side, Signal, TradeStatus
from forexbot.events.types import SignalEvent, TickEvent, TradeEvent

from ._support import Api, MakeApi

pytestmark = pytest.mark.db


async def connect(
    api: Api, channel: str, *, session: aiohttp.ClientSession | None = None
) -> aiohttp.ClientWebSocketResponse:
    """A client of ``channel``, registered with the broadcaster before this returns."""
    before = api.broadcaster.client_count
    ws = await (session or api.session).ws_connect(api.url(f"/ws/{channel}?token={api.token()}"))
    await eventually(
        lambda: api.broadcaster.client_count == before + 1,
        timeout=5.0,
        what="the socket's registration",
    )
    return ws


def tick(symbol: str, n: int) -> TickEvent:
    return TickEvent(Tick(symbol, 1_704_164_645.0 + n / 1000, 1.0 + n * 1e-5, 1.0002 + n * 1e-5))


async def receive(ws: aiohttp.ClientWebSocketResponse) -> Any:
    async with _timeout():
        return await ws.receive_json()


def _timeout() -> Any:
    return asyncio.timeout(5.0)


async def test_quotes_are_sent_in_exactly_the_documented_format(api: Api) -> None:
    ws = await connect(api, "quotes")
    api.bus.publish(TickEvent(Tick("EURUSD", 1_704_164_645.123, 1.10012, 1.10015)))
    async with _timeout():
        text = await ws.receive_str()
    assert text == (
        '{"channel":"quotes","data":{"symbol":"EURUSD","bid":1.10012,"ask":1.10015,'
        '"time":"2024-01-02T03:04:05.123Z"}}'
    )


async def test_quotes_subscription_filters_symbols(api: Api) -> None:
    ws = await connect(api, "quotes")
    await ws.send_json({"action": "subscribe", "symbols": ["GBPUSD", "XAUUSD"]})
    assert await receive(ws) == {
        "channel": "quotes",
        "event": "subscribed",
        "symbols": ["GBPUSD", "XAUUSD"],
    }
    api.bus.publish(tick("EURUSD", 1))
    api.bus.publish(tick("GBPUSD", 2))
    message = await receive(ws)
    assert message["data"]["symbol"] == "GBPUSD"
    assert message["data"]["bid"] == 1.00002


async def test_invalid_subscription_gets_an_error_message_and_the_socket_stays_open(
    api: Api,
) -> None:
    ws = await connect(api, "quotes")
    await ws.send_json({"action": "subscribe", "symbols": ["X" * 33]})  # names are ≤ 32
    error = await receive(ws)
    assert error["channel"] == "quotes"
    assert error["error"]["code"] == "validation_error"
    assert error["error"]["details"][0]["field"] == "symbols.0"
    api.bus.publish(tick("EURUSD", 1))
    assert (await receive(ws))["data"]["symbol"] == "EURUSD"


async def test_unknown_action_gets_an_error_message_not_a_disconnect(api: Api) -> None:
    ws = await connect(api, "quotes")
    await ws.send_json({"action": "unsubscribe_everything"})
    assert await receive(ws) == {
        "channel": "quotes",
        "error": {
            "code": "unknown_action",
            "message": "unknown action on the quotes channel",
            "details": {"allowed_actions": ["subscribe"]},
        },
    }
    await ws.send_str("{not json")
    assert (await receive(ws))["error"]["code"] == "malformed_json"
    assert not ws.closed


async def test_trades_channel_sends_trade_events_with_id_and_status(api: Api) -> None:
    headers = {"Authorization": f"Bearer {api.token()}"}
    ws = await api.session.ws_connect(api.url("/ws/trades"), headers=headers)
    await eventually(
        lambda: api.broadcaster.client_count == 1,
        timeout=5.0,
        what="the socket's registration",
    )
    trade = trade_record(42, TradeStatus.OPEN)
    api.bus.publish(TradeEvent(trade))
    message = await receive(ws)
    assert message == {"channel": "trades", "data": trade.to_api()}
    data = message["data"]
    assert (data["id"], data["status"], data["side"]) == (42, "open", "buy")
    assert data["symbol"] == "EURUSD"
    assert (data["volume"], data["entry_price"]) == (0.1, 1.10012)
    assert data["open_time"] == "2024-03-04T10:00:00Z"


async def test_trades_channel_does_not_receive_quotes(api: Api) -> None:
    ws = await connect(api, "trades")
    api.bus.publish(tick("EURUSD", 1))
    api.bus.publish(TradeEvent(trade_record(1, TradeStatus.CLOSED)))
    message = await receive(ws)
    assert message["channel"] == "trades"
    assert (message["data"]["id"], message["data"]["status"]) == (1, "closed")


@pytest.mark.parametrize("channel", ["quotes", "trades", "signals"])
async def test_websocket_without_a_token_is_401_json_before_any_upgrade(
    api: Api, channel: str
) -> None:
    async with api.session.get(api.url(f"/ws/{channel}")) as resp:
        assert resp.status == 401
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
        assert (await resp.json())["error"]["code"] == "unauthenticated"
    with pytest.raises(aiohttp.WSServerHandshakeError) as raised:
        await api.session.ws_connect(api.url(f"/ws/{channel}"))
    assert raised.value.status == 401


@pytest.mark.parametrize("channel", ["quotes", "trades", "signals"])
async def test_websocket_with_an_expired_token_is_401(api: Api, channel: str) -> None:
    token = api.token()
    api.wall_clock.advance(api.settings.access_token_ttl_seconds + 1)
    with pytest.raises(aiohttp.WSServerHandshakeError) as raised:
        await api.session.ws_connect(api.url(f"/ws/{channel}?token={token}"))
    assert raised.value.status == 401
    assert api.broadcaster.client_count == 0


async def test_clients_beyond_ws_max_clients_get_503(make_api: MakeApi) -> None:
    api = await make_api(ws_max_clients=1)
    first = await connect(api, "quotes")
    async with api.session.get(
        api.url(f"/ws/trades?token={api.token()}"),
        headers={"Connection": "Upgrade", "Upgrade": "websocket"},
    ) as resp:
        assert resp.status == 503
        assert (await resp.json())["error"]["code"] == "too_many_connections"
    assert not first.closed


def signal(n: int = 0, *, side: Side = Side.BUY) -> Signal:
    return Signal(
        strategy="ma_rsi",
        symbol="Volatility 75 Index",
        timeframe="M15",
        side=side,
        entry=1.10012 + n,
        sl=1.0985,
        tp=1.1035,
        confidence=0.75,
        reason="RSI recovered above 40 in an uptrend",
        bar_time=1_704_164_400,
        risk_multiplier=0.5,
        market_condition={"trend": "bullish", "favourable": True},
    )


async def test_signals_are_sent_in_exactly_the_documented_format(api: Api) -> None:
    ws = await connect(api, "signals")
    api.bus.publish(SignalEvent(signal()))
    async with _timeout():
        text = await ws.receive_str()
    assert text == (
        '{"channel":"signals","data":{"strategy":"ma_rsi","symbol":"Volatility 75 Index",'
        '"timeframe":"M15","side":"buy","entry":1.10012,"sl":1.0985,"tp":1.1035,'
        '"confidence":0.75,"reason":"RSI recovered above 40 in an uptrend",'
        '"bar_time":"2024-01-02T03:00:00.000Z","time":"2024-01-02T03:15:00.000Z",'
        '"market_condition":{"trend":"bullish","favourable":true}}}'
    )
    api.bus.publish(SignalEvent(signal(side=Side.SELL)))
    assert (await receive(ws))["data"]["side"] == "sell"


async def test_signals_are_never_coalesced_and_only_signals_are_sent(api: Api) -> None:
    ws = await connect(api, "signals")
    api.bus.publish(tick("EURUSD", 1))
    api.bus.publish(TradeEvent(trade_record(1, TradeStatus.OPEN)))
    for n in range(500):
        api.bus.publish(SignalEvent(signal(n)))
    entries = [(await receive(ws))["data"]["entry"] for _ in range(500)]
    assert entries == [1.10012 + n for n in range(500)]
    [bus_side] = [s for s in api.bus.stats() if s.name == "api-ws-signals"]
    assert bus_side.coalesced == 0


async def test_signals_channel_answers_any_action_with_an_error(api: Api) -> None:
    ws = await connect(api, "signals")
    await ws.send_json({"action": "subscribe", "symbols": ["EURUSD"]})
    assert await receive(ws) == {
        "channel": "signals",
        "error": {
            "code": "unknown_action",
            "message": "unknown action on the signals channel",
            "details": {"allowed_actions": []},
        },
    }


def small_receive_buffer(addr_info: Any) -> socket.socket:
    """A client socket with a tiny receive window, so an idle reader backs up quickly."""
    family, type_, proto, _, _ = addr_info
    sock = socket.socket(family=family, type=type_, proto=proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    return sock


def slow_session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(socket_factory=small_receive_buffer)
    )


async def test_slow_client_is_coalesced_to_the_latest_quote_while_a_fast_one_gets_all(
    make_api: MakeApi,
) -> None:
    api = await make_api(ws_queue_size=64)
    symbols = ["EURUSD", "GBPUSD", "USDJPY"]
    async with slow_session() as session:
        slow = await connect(api, "quotes", session=session)  # never reads until the end
        [slow_stats] = api.broadcaster.client_stats()
        fast = await connect(api, "quotes")
        published: list[tuple[str, float]] = []
        received_fast: list[tuple[str, float]] = []
        n = 0
        while slow_stats.coalesced == 0 and n < 200_000:
            for _ in range(60):
                event = tick(symbols[n % 3], n)
                api.bus.publish(event)
                published.append((event.tick.symbol, event.tick.bid))
                n += 1
            while len(received_fast) < len(published):
                data = (await receive(fast))["data"]
                received_fast.append((data["symbol"], data["bid"]))
        assert slow_stats.coalesced > 0
        assert received_fast == published

        latest = dict(published)
        received_slow: list[tuple[str, float]] = []
        last_seen: dict[str, float] = {}
        while last_seen != latest:
            data = (await receive(slow))["data"]
            received_slow.append((data["symbol"], data["bid"]))
            last_seen[data["symbol"]] = data["bid"]
        assert len(received_slow) < len(published)
        for symbol in symbols:
            bids = [bid for s, bid in received_slow if s == symbol]
            assert bids == sorted(bids)  # never an older price after a newer one
        [bus_side] = [s for s in api.bus.stats() if s.name == "api-ws-quotes"]
        assert bus_side.coalesced == 0  # the broadcaster kept up with the bus


async def test_client_with_too_large_a_trade_backlog_is_closed_with_1013(
    make_api: MakeApi,
) -> None:
    api = await make_api(ws_trade_backlog=20)
    padding = "x" * 16_384  # fills the socket buffers in few messages
    async with slow_session() as session:
        slow = await connect(api, "trades", session=session)
        fast = await connect(api, "trades")
        too_slow = "websocket client too slow, disconnecting"
        with structlog.testing.capture_logs() as logs:
            n = 0
            while not any(e["event"] == too_slow for e in logs) and n < 10_000:
                api.bus.publish(TradeEvent(trade_record(n, TradeStatus.OPEN, reason=padding)))
                assert (await receive(fast))["data"]["id"] == n
                n += 1
        [line] = [e for e in logs if e["event"] == too_slow]
        assert (line["channel"], line["pending"], line["limit"]) == ("trades", 21, 20)

        ids: list[int] = []
        async with _timeout():
            async for message in slow:
                ids.append(message.json()["data"]["id"])
        assert ids == list(range(len(ids)))  # in order, none skipped before the cut
        assert slow.close_code == 1013
        await eventually(
            lambda: api.broadcaster.client_count == 1,
            timeout=5.0,
            what="the broadcaster to drop the slow client",
        )
        # The fast client is unaffected and still receives trades.
        api.bus.publish(TradeEvent(trade_record(n, TradeStatus.CLOSED)))
        data = (await receive(fast))["data"]
        assert (data["id"], data["status"]) == (n, "closed")


async def test_server_stop_closes_websockets_with_1001_promptly(api: Api) -> None:
    quotes = await connect(api, "quotes")
    trades = await connect(api, "trades")
    signals = await connect(api, "signals")
    started = time.monotonic()
    await api.server.stop()
    elapsed = time.monotonic() - started
    for ws in (quotes, trades, signals):
        message = await ws.receive()
        assert message.type is aiohttp.WSMsgType.CLOSE
        assert (message.data, message.extra) == (1001, "server shutting down")
    assert elapsed < 1.0


async def test_server_stop_does_not_wait_for_a_client_that_never_reads(api: Api) -> None:
    async with slow_session() as session:
        stuck = await connect(api, "trades", session=session)
        [stats] = api.broadcaster.client_stats()
        n = 0
        while stats.pending < 50 and n < 5_000:  # until its sender is blocked on a full socket
            api.bus.publish(TradeEvent(trade_record(n, TradeStatus.OPEN, reason="x" * 16_384)))
            n += 1
            await asyncio.sleep(0.001)
        assert stats.pending >= 50
        started = time.monotonic()
        await api.server.stop()
        # Bounded by the close handshake timeout (1 s here), not by aiohttp's 60 s default.
        assert time.monotonic() - started < api.settings.ws_close_timeout_seconds + 1.0
        assert api.broadcaster.client_count == 0
        # Its connection was aborted: reading what the kernel still holds ends without a
        # close handshake.
        async with _timeout():
            async for _ in stuck:
                pass
        assert stuck.closed
        assert stuck.close_code == 1006
