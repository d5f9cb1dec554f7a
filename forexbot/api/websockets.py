"""Live quotes, trades and signals for WebSocket clients: one bus subscription per channel.

Rules:

* The broadcaster holds exactly one bus subscription per channel, whatever the number of
  clients. The quotes subscription coalesces by symbol on the bus side, so even the
  broadcaster falling behind costs bounded memory. Each message is serialised once and the
  same text is queued for every client.
* Each client has its own outgoing queue and sender task, so a slow client never slows the
  bus or the other clients:

  - **quotes**: up to ``queue_size`` messages wait in order; past that only the latest
    message per symbol is kept (a slow client sees fewer, but always the newest, prices);
  - **trades** and **signals** (and control replies) are never coalesced or dropped; a client
    with more than ``trade_backlog`` of them pending is disconnected with code 1013 (try again
    later) and a log line, since silently skipping a fill or a signal would leave its view
    wrong.

* Quote messages are ``{"channel": "quotes", "data": {"symbol", "bid", "ask", "time"}}``
  with ``time`` ISO-8601 UTC (``2024-01-02T03:04:05.123Z``); trade messages are
  ``{"channel": "trades", "data": <TradeEvent.trade> + {"id", "status"}}``; signal messages
  are ``{"channel": "signals", "data": {"strategy", "symbol", "timeframe", "side", "entry",
  "sl", "tp", "confidence", "reason", "bar_time", "market_condition"}}`` with ``side``
  ``"buy"``/``"sell"`` and ``bar_time`` ISO-8601 UTC like quote times.
* Closing a client (it left, it lagged, the server stops with 1001) clears its queue and sends
  the close frame; a client that has not completed the close handshake within
  ``close_timeout`` seconds (typically one that reads nothing) has its connection aborted, so
  neither a kick nor a shutdown can hang on it.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from dataclasses import dataclass
from enum import StrEnum

import structlog
from aiohttp import web

from forexbot import clock
from forexbot.api.responses import dumps_str
from forexbot.domain.market import Tick
from forexbot.domain.trading import Signal
from forexbot.events.bus import EventBus, SubscriberStats
from forexbot.events.types import SignalEvent, TickEvent, TradeEvent

_log = structlog.get_logger("forexbot.api.websockets")

# WebSocket close codes (RFC 6455 §7.4.1).
CLOSE_GOING_AWAY = 1001
CLOSE_TRY_AGAIN_LATER = 1013


class Channel(StrEnum):
    """The WebSocket channels."""

    QUOTES = "quotes"
    TRADES = "trades"
    SIGNALS = "signals"


def iso_utc(epoch: float) -> str:
    """UTC epoch seconds as ISO-8601 with milliseconds (rounded) and ``Z``."""
    return clock.iso_utc(round(epoch, 3), timespec="milliseconds")


def quote_message(tick: Tick) -> str:
    """The quotes-channel message for ``tick``."""
    data = {"symbol": tick.symbol, "bid": tick.bid, "ask": tick.ask, "time": iso_utc(tick.time)}
    return dumps_str({"channel": Channel.QUOTES.value, "data": data})


def trade_message(event: TradeEvent) -> str:
    """The trades-channel message for ``event``."""
    data = {**event.trade, "id": event.trade_id, "status": event.status.value}
    return dumps_str({"channel": Channel.TRADES.value, "data": data})


def signal_message(signal: Signal) -> str:
    """The signals-channel message for ``signal``."""
    data = {
        "strategy": signal.strategy,
        "symbol": signal.symbol,
        "timeframe": signal.timeframe,
        "side": signal.side.label,
        "entry": signal.entry,
        "sl": signal.sl,
        "tp": signal.tp,
        "confidence": signal.confidence,
        "reason": signal.reason,
        "bar_time": iso_utc(signal.bar_time),
        "market_condition": signal.market_condition,
    }
    return dumps_str({"channel": Channel.SIGNALS.value, "data": data})


@dataclass(slots=True)
class ClientStats:
    """Counters of one client, for metrics and tests."""

    channel: Channel
    sent: int = 0
    coalesced: int = 0
    pending: int = 0
    max_pending: int = 0


class WsClient:
    """One connected client: its symbol filter, outgoing queue and sender task."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        channel: Channel,
        *,
        queue_size: int,
        trade_backlog: int,
        close_timeout: float,
        transport: asyncio.Transport | None = None,
        remote: str | None = None,
    ) -> None:
        self.ws = ws
        self.channel = channel
        self.remote = remote
        self._transport = transport
        self.stats = ClientStats(channel=channel)
        self._symbols: frozenset[str] | None = None
        self._queue_size = queue_size
        self._trade_backlog = trade_backlog
        self._close_timeout = close_timeout
        # In-order messages: (symbol, text) for quotes, (None, text) for lossless messages.
        self._fifo: deque[tuple[str | None, str]] = deque()
        # Past ``queue_size``, the latest quote per symbol waits here.
        self._latest: OrderedDict[str, str] = OrderedDict()
        self._ready = asyncio.Event()
        self._sender: asyncio.Task[None] | None = None
        self._closing: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the sender task (inside the running loop)."""
        self._sender = asyncio.get_running_loop().create_task(
            self._send_loop(), name=f"ws-sender:{self.channel}"
        )

    def wants(self, symbol: str) -> bool:
        """Whether the client's symbol filter lets ``symbol`` through."""
        return self._symbols is None or symbol in self._symbols

    def set_symbols(self, symbols: frozenset[str]) -> None:
        """Deliver only these symbols from now on; pending quotes of others are dropped."""
        self._symbols = symbols
        self._fifo = deque(item for item in self._fifo if item[0] is None or item[0] in symbols)
        for symbol in [s for s in self._latest if s not in symbols]:
            del self._latest[symbol]
        self._update_pending()

    def offer_quote(self, symbol: str, message: str) -> None:
        """Queue a quote; coalesced per symbol once ``queue_size`` messages are waiting."""
        if self._closing is not None:
            return
        if len(self._fifo) < self._queue_size and not self._latest:
            self._fifo.append((symbol, message))
        else:
            if symbol in self._latest:
                self.stats.coalesced += 1
            self._latest[symbol] = message
        self._wake()

    def offer(self, message: str) -> None:
        """Queue a message that must not be dropped (trade, control reply).

        Past ``trade_backlog`` pending messages the client is disconnected with 1013.
        """
        if self._closing is not None:
            return
        self._fifo.append((None, message))
        if len(self._fifo) > self._trade_backlog:
            _log.warning(
                "websocket client too slow, disconnecting",
                channel=self.channel.value,
                pending=len(self._fifo),
                limit=self._trade_backlog,
                remote=self.remote,
            )
            self.close(CLOSE_TRY_AGAIN_LATER, "client too slow")
            return
        self._wake()

    def close(self, code: int, reason: str) -> asyncio.Task[None]:
        """Close the connection with ``code`` (idempotent; later codes are ignored).

        Returns the closing task, shared by every caller: await it through
        ``asyncio.shield`` so that a caller being cancelled does not abort the close.
        """
        if self._closing is None:
            self._fifo.clear()
            self._latest.clear()
            self._update_pending()
            self._closing = asyncio.get_running_loop().create_task(
                self._close(code, reason), name=f"ws-close:{self.channel}"
            )
        return self._closing

    def _wake(self) -> None:
        self._update_pending()
        self._ready.set()

    def _update_pending(self) -> None:
        self.stats.pending = len(self._fifo) + len(self._latest)
        self.stats.max_pending = max(self.stats.max_pending, self.stats.pending)

    def _next(self) -> str | None:
        if self._fifo:
            return self._fifo.popleft()[1]
        if self._latest:
            return self._latest.popitem(last=False)[1]
        return None

    async def _send_loop(self) -> None:
        try:
            while True:
                message = self._next()
                if message is None:
                    if self._closing is not None:
                        return
                    self._update_pending()
                    self._ready.clear()
                    await self._ready.wait()
                    continue
                self._update_pending()
                await self.ws.send_str(message)
                self.stats.sent += 1
        except ConnectionError as exc:
            # The peer went away; the connection's reader sees it too and unregisters us.
            _log.debug("websocket send failed", channel=self.channel.value, error=str(exc))

    async def _close(self, code: int, reason: str) -> None:
        # The sender is not cancelled up front: it may be waiting for the socket to drain, and
        # aiohttp shares one drain future between writers, so cancelling it would cancel the
        # close frame's wait too. With the queue cleared, the sender stops by itself once its
        # current message is written (see _send_loop); it is cancelled only afterwards.
        self._ready.set()
        try:
            if not self.ws.closed:
                async with asyncio.timeout(self._close_timeout):
                    await self.ws.close(code=code, message=reason.encode())
        except TimeoutError:
            # The client reads nothing (full socket) or does not answer the close. aiohttp then
            # *closes* the transport, which waits to flush what is buffered, i.e. forever for a
            # client that reads nothing: abort it so the connection really ends.
            _log.warning(
                "websocket close timed out, dropping the connection",
                channel=self.channel.value,
                code=code,
                remote=self.remote,
            )
            if self._transport is not None:
                self._transport.abort()
        finally:
            if self._sender is not None:
                self._sender.cancel()
                await asyncio.wait([self._sender])


class Broadcaster:
    """Holds the bus subscriptions of the WebSocket channels and fans events out to clients."""

    def __init__(
        self,
        bus: EventBus,
        *,
        queue_size: int,
        trade_backlog: int,
        close_timeout: float,
        max_clients: int,
    ) -> None:
        self._bus = bus
        self._queue_size = queue_size
        self._trade_backlog = trade_backlog
        self._close_timeout = close_timeout
        self._max_clients = max_clients
        self._clients: dict[Channel, set[WsClient]] = {channel: set() for channel in Channel}
        self._subscriptions: list[SubscriberStats] = []

    def start(self) -> None:
        """Subscribe to the bus (one subscription per channel)."""
        self._subscriptions = [
            self._bus.subscribe(
                TickEvent,
                self._on_tick,
                name="api-ws-quotes",
                coalesce_by=lambda event: event.tick.symbol,
            ),
            self._bus.subscribe(TradeEvent, self._on_trade, name="api-ws-trades"),
            self._bus.subscribe(SignalEvent, self._on_signal, name="api-ws-signals"),
        ]

    async def stop(self) -> None:
        """Unsubscribe and close every client with 1001 "server shutting down"."""
        for stats in self._subscriptions:
            self._bus.unsubscribe(stats)
        self._subscriptions = []
        clients = [client for group in self._clients.values() for client in group]
        results = await asyncio.gather(
            *(client.close(CLOSE_GOING_AWAY, "server shutting down") for client in clients),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException):
                _log.error("closing a websocket failed", error=repr(result))

    @property
    def client_count(self) -> int:
        return sum(len(group) for group in self._clients.values())

    def is_full(self) -> bool:
        return self.client_count >= self._max_clients

    def client_stats(self) -> list[ClientStats]:
        """Counters of every connected client."""
        return [client.stats for group in self._clients.values() for client in group]

    def subscriber_stats(self) -> list[SubscriberStats]:
        """The bus counters of the broadcaster's own subscriptions."""
        return list(self._subscriptions)

    def connect(
        self, ws: web.WebSocketResponse, channel: Channel, request: web.Request
    ) -> WsClient:
        """Register ``ws``, prepared for ``request``, and start its sender."""
        client = WsClient(
            ws,
            channel,
            queue_size=self._queue_size,
            trade_backlog=self._trade_backlog,
            close_timeout=self._close_timeout,
            transport=request.transport,
            remote=request.remote,
        )
        client.start()
        self._clients[channel].add(client)
        return client

    async def disconnect(self, client: WsClient, code: int, reason: str) -> None:
        """Unregister ``client`` and close its connection."""
        self._clients[client.channel].discard(client)
        await asyncio.shield(client.close(code, reason))

    async def _on_tick(self, event: TickEvent) -> None:
        clients = [c for c in self._clients[Channel.QUOTES] if c.wants(event.tick.symbol)]
        if clients:
            message = quote_message(event.tick)
            for client in clients:
                client.offer_quote(event.tick.symbol, message)

    async def _on_trade(self, event: TradeEvent) -> None:
        clients = self._clients[Channel.TRADES]
        if clients:
            message = trade_message(event)
            for client in list(clients):
                client.offer(message)

    async def _on_signal(self, event: SignalEvent) -> None:
        clients = self._clients[Channel.SIGNALS]
        if clients:
            message = signal_message(event.signal)
            for client in list(clients):
                client.offer(message)
