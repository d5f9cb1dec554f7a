"""Live quotes, trades, signals, performance and system events for WebSocket clients.

Rules:

* The broadcaster holds exactly one bus subscription per channel and event type, whatever the
  number of clients. The quotes subscription coalesces by symbol on the bus side, so even the
  broadcaster falling behind costs bounded memory. Each message is serialised once and the
  same text is queued for every client.
* Each client has its own outgoing queue and sender task (:mod:`forexbot.api.ws_client`),
  so a slow client never slows the bus or the other clients: quotes coalesce to the latest
  per symbol, snapshots to the latest of their kind; trades, signals and system events are
  never dropped (a client too far behind is disconnected with 1013).

* The performance and system channels are fed by :class:`Feed` objects
  (:mod:`forexbot.api.ws_performance`, :mod:`forexbot.api.ws_system`) that compute each
  snapshot once per change and serialise it once for every client. A feed welcomes a new
  client before its sender starts, so its first message is the feed's snapshot, and events
  published meanwhile are queued after it, not lost.

* Quote messages are ``{"channel": "quotes", "data": {"symbol", "bid", "ask", "time"}}``
  with ``time`` ISO-8601 UTC (``2024-01-02T03:04:05.123Z``); trade messages are
  ``{"channel": "trades", "data": <TradeRecord.to_api() of TradeEvent.trade>}``; signal messages
  are ``{"channel": "signals", "data": {"strategy", "symbol", "timeframe", "side", "entry",
  "sl", "tp", "confidence", "reason", "bar_time", "time", "market_condition"}}`` with ``side``
  ``"buy"``/``"sell"``, ``bar_time`` the **open** time of the bar the signal was computed on
  and ``time`` when the strategy emitted it, on the trading clock: the close of that bar (a
  strategy signals when its bar closes), i.e. ``bar_time`` plus the timeframe's length — so an
  H4 signal and an M5 one compare by when they came, not by when their bars began. Both are
  ISO-8601 UTC like quote times.
* The risk manager's decision on a signal follows on the same channel, once known:
  ``{"channel": "signals", "type": "decision", "signal": <the signal's data plus "risk">}`` —
  exactly an item of ``GET /api/signals`` (``risk`` as documented in
  :mod:`forexbot.api.recent_signals`), so a client merges it by the signal's identity
  (strategy, symbol, timeframe, side, bar time). It has no ``data``: a client reading only
  ``data`` sees signals alone. Only decisions on signals the strategies emitted are sent (a
  refused manual trade is not a signal); it may arrive before its signal message.
* On shutdown every client is closed with 1001 "server shutting down"; a client that does not
  complete the close handshake within ``close_timeout`` seconds is aborted.
* A connection lives no longer than the credentials it was opened with: when its session ends
  (logout, password change, the user disabled or re-enrolled, a reused refresh token) or its
  API key is revoked, it is closed at once with 1008; a connection opened with an access token
  is closed with 1008 when that token expires (checked every ``expiry_check_seconds``), so the
  client reconnects with a fresh token, which carries the user's current role.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence, Set
from functools import partial
from typing import Any, Protocol

import structlog
from aiohttp import web

from forexbot import clock
from forexbot.api.auth import CLAIMS_KEY
from forexbot.api.responses import dumps_str
from forexbot.api.tokens import Claims
from forexbot.api.ws_client import (
    CLOSE_GOING_AWAY,
    CLOSE_POLICY_VIOLATION,
    CLOSE_TRY_AGAIN_LATER,
    Channel,
    ClientStats,
    WsClient,
)
from forexbot.clock import Clock, RealtimeClock
from forexbot.daemon.tasks import stop_task
from forexbot.domain.market import Tick, Timeframe
from forexbot.domain.trading import Signal
from forexbot.events.bus import EventBus, SubscriberStats
from forexbot.events.types import SignalEvent, TickEvent, TradeEvent

__all__ = [
    "CLOSE_GOING_AWAY",
    "CLOSE_TRY_AGAIN_LATER",
    "Broadcaster",
    "Channel",
    "ClientStats",
    "Feed",
    "WsClient",
    "decision_message",
    "emitted_at",
    "iso_utc",
    "quote_message",
    "signal_data",
    "signal_message",
    "trade_message",
]

_log = structlog.get_logger("forexbot.api.websockets")


def iso_utc(epoch: float) -> str:
    """UTC epoch seconds as ISO-8601 with milliseconds (rounded) and ``Z``."""
    return clock.iso_utc(round(epoch, 3), timespec="milliseconds")


def quote_message(tick: Tick) -> str:
    """The quotes-channel message for ``tick``."""
    data = {"symbol": tick.symbol, "bid": tick.bid, "ask": tick.ask, "time": iso_utc(tick.time)}
    return dumps_str({"channel": Channel.QUOTES.value, "data": data})


def trade_message(event: TradeEvent) -> str:
    """The trades-channel message for ``event``: the trade's API form, where it leaves the
    process."""
    data = event.trade.to_api()
    return dumps_str({"channel": Channel.TRADES.value, "data": data})


def emitted_at(signal: Signal) -> int:
    """When the strategy emitted ``signal`` (UTC epoch seconds, trading clock): the close of its
    bar, the bar's open time plus the timeframe's length. An unknown timeframe (no strategy
    runs on one) gives the bar's open time."""
    try:
        length = Timeframe.parse(signal.timeframe).seconds
    except ValueError:
        length = 0
    return signal.bar_time + length


def signal_data(signal: Signal) -> dict[str, Any]:
    """The ``data`` of the signals-channel message for ``signal`` (also what
    ``GET /api/signals`` lists)."""
    return {
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
        "time": iso_utc(emitted_at(signal)),
        "market_condition": signal.market_condition,
    }


def signal_message(signal: Signal) -> str:
    """The signals-channel message for ``signal``."""
    return dumps_str({"channel": Channel.SIGNALS.value, "data": signal_data(signal)})


def decision_message(item: dict[str, Any]) -> str:
    """The signals-channel message saying the risk manager's decision: ``item`` is the
    signal's ``GET /api/signals`` item (its data plus ``risk``)."""
    return dumps_str({"channel": Channel.SIGNALS.value, "type": "decision", "signal": item})


class Feed(Protocol):
    """The source of one snapshot channel (performance, system), run by the broadcaster."""

    @property
    def channel(self) -> Channel: ...

    def start(self, bus: EventBus, clients: Set[WsClient]) -> list[SubscriberStats]:
        """Subscribe to the bus and start any periodic task; ``clients`` is the channel's live
        set of clients (read-only). Returns the subscriptions made."""
        ...

    async def stop(self) -> None:
        """Stop the periodic tasks (the broadcaster removes the subscriptions)."""
        ...

    async def welcome(self, client: WsClient) -> None:
        """Give a new client, registered but whose sender has not started, its first snapshot."""
        ...


def _token_expired(owner: Claims, *, now: float) -> bool:
    """An access token (API keys do not expire this way) past its expiry at ``now``."""
    return owner.api_key is None and owner.exp <= now


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
        feeds: Sequence[Feed] = (),
        wall_clock: Clock | None = None,
        expiry_check_seconds: float = 5.0,
    ) -> None:
        self._bus = bus
        self._wall_clock = wall_clock or RealtimeClock()
        self._expiry_check = expiry_check_seconds
        self._expiry_task: asyncio.Task[None] | None = None
        self._queue_size = queue_size
        self._trade_backlog = trade_backlog
        self._close_timeout = close_timeout
        self._max_clients = max_clients
        self._clients: dict[Channel, set[WsClient]] = {channel: set() for channel in Channel}
        self._subscriptions: list[SubscriberStats] = []
        self._feeds: dict[Channel, Feed] = {feed.channel: feed for feed in feeds}

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
        for channel, feed in self._feeds.items():
            self._subscriptions += feed.start(self._bus, self._clients[channel])
        self._expiry_task = asyncio.get_running_loop().create_task(
            self._close_expired(), name="ws-token-expiry"
        )

    async def stop(self) -> None:
        """Unsubscribe and close every client with 1001 "server shutting down"."""
        for stats in self._subscriptions:
            self._bus.unsubscribe(stats)
        self._subscriptions = []
        for feed in self._feeds.values():
            await feed.stop()
        if self._expiry_task is not None:
            await stop_task(self._expiry_task, timeout=2.0)
            self._expiry_task = None
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
        client = self._client(ws, channel, request)
        client.start()
        self._clients[channel].add(client)
        return client

    async def open(
        self, ws: web.WebSocketResponse, channel: Channel, request: web.Request
    ) -> WsClient:
        """Register ``ws``, let the channel's feed (if any) welcome it, then start its sender.

        The client is registered first, so nothing published while the welcome is prepared
        is missed; it is queued after the welcome.
        """
        feed = self._feeds.get(channel)
        if feed is None:
            return self.connect(ws, channel, request)
        client = self._client(ws, channel, request)
        self._clients[channel].add(client)
        try:
            await feed.welcome(client)
        except BaseException:
            self._clients[channel].discard(client)
            client.close(CLOSE_GOING_AWAY, "")
            raise
        client.start()
        return client

    def end_session(self, family: str) -> None:
        """Close (1008) every connection opened with an access token of session ``family``."""
        self._end(
            lambda owner: owner.family == family and owner.api_key is None, "the session has ended"
        )

    def end_api_keys(self, key_ids: Iterable[int]) -> None:
        """Close (1008) every connection opened with one of the API keys ``key_ids``."""
        ended = frozenset(key_ids)
        self._end(lambda owner: owner.api_key in ended, "the API key was revoked")

    def _end(self, matches: Callable[[Claims], bool], reason: str) -> None:
        for group in self._clients.values():
            for client in [c for c in group if c.owner is not None and matches(c.owner)]:
                group.discard(client)
                client.close(CLOSE_POLICY_VIOLATION, reason)

    async def _close_expired(self) -> None:
        while True:
            await asyncio.sleep(self._expiry_check)
            self._end(
                partial(_token_expired, now=self._wall_clock.time()),
                "the access token has expired: reconnect with a fresh one",
            )

    def _client(
        self, ws: web.WebSocketResponse, channel: Channel, request: web.Request
    ) -> WsClient:
        return WsClient(
            ws,
            channel,
            queue_size=self._queue_size,
            trade_backlog=self._trade_backlog,
            close_timeout=self._close_timeout,
            transport=request.transport,
            remote=request.remote,
            owner=request.get(CLAIMS_KEY),
        )

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

    def signal_decided(self, item: dict[str, Any]) -> None:
        """The risk manager decided on a signal (``item``: its ``GET /api/signals`` item, with
        ``risk``): tell the signals channel. Called by the ring of recent signals, which
        matches decisions to the signals the strategies emitted."""
        clients = self._clients[Channel.SIGNALS]
        if clients:
            message = decision_message(item)
            for client in list(clients):
                client.offer(message)
