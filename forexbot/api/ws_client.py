"""One WebSocket client: its outgoing queue and sender task.

Rules:

* Each client has its own outgoing queue and sender task, so a slow client never slows the
  bus or the other clients:

  - **quotes** (:meth:`WsClient.offer_quote`): up to ``queue_size`` messages wait in order;
    past that only the latest message per symbol is kept (a slow client sees fewer, but
    always the newest, prices);
  - **lossless** messages (:meth:`WsClient.offer`: trades, signals, system events, control
    replies) are never coalesced or dropped; a client with more than ``trade_backlog`` of them
    pending is disconnected with code 1013 (try again later) and a log line, since silently
    skipping a fill or a signal would leave its view wrong;
  - **snapshots** (:meth:`WsClient.offer_snapshot`: performance summaries, system status)
    replace the client's pending snapshot of the same kind, and the new one goes to the end of
    the queue: a slow client gets only the latest, and never after an event queued later
    than the snapshot was made (which it would seem to undo).

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

from forexbot.api.tokens import Claims

_log = structlog.get_logger("forexbot.api.websockets")

# WebSocket close codes (RFC 6455 §7.4.1).
CLOSE_GOING_AWAY = 1001
CLOSE_POLICY_VIOLATION = 1008
CLOSE_TRY_AGAIN_LATER = 1013


class Channel(StrEnum):
    """The WebSocket channels."""

    QUOTES = "quotes"
    TRADES = "trades"
    SIGNALS = "signals"
    PERFORMANCE = "performance"
    SYSTEM = "system"


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
        owner: Claims | None = None,
    ) -> None:
        self.ws = ws
        self.channel = channel
        self.remote = remote
        self.owner = owner  # the credentials it connected with: ending them closes it
        self._transport = transport
        self.stats = ClientStats(channel=channel)
        self._symbols: frozenset[str] | None = None
        self._queue_size = queue_size
        self._trade_backlog = trade_backlog
        self._close_timeout = close_timeout
        # In-order messages: (symbol, None, text) for quotes, (None, kind, text) for snapshots,
        # (None, None, text) for lossless messages.
        self._fifo: deque[tuple[str | None, str | None, str]] = deque()
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
            self._fifo.append((symbol, None, message))
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
        self._fifo.append((None, None, message))
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

    def offer_snapshot(self, kind: str, message: str) -> None:
        """Queue a snapshot of ``kind``; a pending one of the same kind is replaced.

        The new snapshot goes to the end of the queue (after any event queued before it was
        made), so the client never sees an older state after a newer event.
        """
        if self._closing is not None:
            return
        before = len(self._fifo)
        self._fifo = deque(item for item in self._fifo if item[1] != kind)
        self.stats.coalesced += before - len(self._fifo)
        self._fifo.append((None, kind, message))
        self._wake()

    def offer_first(self, message: str) -> None:
        """Put ``message`` at the head of the queue: a feed's welcome, before :meth:`start`."""
        if self._closing is not None:
            return
        self._fifo.appendleft((None, None, message))
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
            return self._fifo.popleft()[2]
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
