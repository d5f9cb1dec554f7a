"""``/ws/quotes``, ``/ws/trades``, ``/ws/signals``, ``/ws/performance`` and ``/ws/system``:
the WebSocket endpoints (message formats in :mod:`forexbot.api.websockets`,
:mod:`forexbot.api.ws_performance` and :mod:`forexbot.api.ws_system`).

Rules:

* Authentication happens before the upgrade (the auth middleware; the token may come as
  ``?token=`` because browsers cannot set headers on a WebSocket). Without a valid token the
  client gets a 401 JSON response, never a socket.
* Any authenticated role may use every channel.
* Beyond ``ws_max_clients`` connections a new client gets 503 before the upgrade.
* The server pings every ``ws_heartbeat_seconds``; a client not answering is disconnected.
* Clients may send one message, on ``/ws/quotes`` only:
  ``{"action": "subscribe", "symbols": ["EURUSD", "Volatility 75 Index", ...]}`` (1..200
  symbols), which replaces the symbol filter and is acknowledged with
  ``{"channel": "quotes", "event": "subscribed", "symbols": [...]}``. The symbols are checked
  against the daemon's watchlist, not a pattern: MetaTrader symbol names hold spaces,
  parentheses and more (``Volatility 75 (1s) Index``), and only a watched symbol ever has a
  quote. A symbol not watched is ``unknown_symbol``, naming it and the watched ones (an API
  running without the market part, as in tests, knows no watchlist and takes any symbol).
* Every message follows the text rule (:mod:`forexbot.text`): a string or key with a control
  character or a surrogate is a ``validation_error`` naming the field, not the text.
* Anything else (bad JSON, unknown action, invalid or unwatched symbols, binary frames) is
  answered with ``{"channel": ..., "error": {"code", "message", "details"}}`` on the socket;
  the connection stays open.
* Outgoing compression is off: quotes are small and many, and compressing each one per
  client would cost more CPU than bandwidth it saves.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal, Protocol

import orjson
from aiohttp import WSCloseCode, WSMsgType, web
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from forexbot.api.auth import allow_query_token
from forexbot.api.errors import ApiError
from forexbot.api.responses import dumps_str, error_body
from forexbot.api.validation import text_rule_problems, validation_problems
from forexbot.api.websockets import Broadcaster, Channel, WsClient
from forexbot.config.models import ApiSettings

#: A symbol as a client names it; whether it is watched is checked against the watchlist.
Symbol = Annotated[str, StringConstraints(min_length=1, max_length=32)]


class Watchlist(Protocol):
    """The daemon's watched symbols (the API's ``MarketPort``)."""

    def watchlist(self) -> Sequence[str]:
        """The watched symbols, in watchlist order."""
        ...


class SubscribeMessage(BaseModel):
    """``{"action": "subscribe", "symbols": [...]}`` on ``/ws/quotes``."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    action: Literal["subscribe"]
    symbols: list[Symbol] = Field(min_length=1, max_length=200)


def _error(channel: Channel, code: str, message: str, details: Any = None) -> str:
    return dumps_str({"channel": channel.value, **error_body(code, message, details)})


class StreamRoutes:
    """The WebSocket endpoints, fed by the :class:`Broadcaster`."""

    def __init__(
        self, broadcaster: Broadcaster, settings: ApiSettings, market: Watchlist | None = None
    ) -> None:
        self._broadcaster = broadcaster
        self._settings = settings
        self._market = market

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/ws/quotes", self.quotes, allow_head=False),
            web.get("/ws/trades", self.trades, allow_head=False),
            web.get("/ws/signals", self.signals, allow_head=False),
            web.get("/ws/performance", self.performance, allow_head=False),
            web.get("/ws/system", self.system, allow_head=False),
        ]

    @allow_query_token
    async def quotes(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, Channel.QUOTES)

    @allow_query_token
    async def trades(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, Channel.TRADES)

    @allow_query_token
    async def signals(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, Channel.SIGNALS)

    @allow_query_token
    async def performance(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, Channel.PERFORMANCE)

    @allow_query_token
    async def system(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, Channel.SYSTEM)

    async def _serve(self, request: web.Request, channel: Channel) -> web.StreamResponse:
        if self._broadcaster.is_full():
            raise ApiError(
                503, "too_many_connections", "too many WebSocket clients, try again later"
            )
        ws = web.WebSocketResponse(
            heartbeat=self._settings.ws_heartbeat_seconds,
            timeout=self._settings.ws_close_timeout_seconds,
            max_msg_size=self._settings.ws_max_message_bytes,
            compress=False,
        )
        if not ws.can_prepare(request).ok:
            raise ApiError(400, "websocket_required", "this endpoint needs a WebSocket upgrade")
        await ws.prepare(request)
        client = await self._broadcaster.open(ws, channel, request)
        try:
            async for message in ws:
                if message.type is WSMsgType.TEXT:
                    self._handle(client, message.data)
                elif message.type is WSMsgType.BINARY:
                    client.offer(_error(channel, "unsupported", "only text messages are read"))
        finally:
            await self._broadcaster.disconnect(client, WSCloseCode.OK, "")
        return ws

    def _handle(self, client: WsClient, text: str) -> None:
        channel = client.channel
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError:
            client.offer(_error(channel, "malformed_json", "the message is not valid JSON"))
            return
        problems = text_rule_problems(data)
        if problems:
            fields = ", ".join(str(p["field"]) for p in problems)
            client.offer(
                _error(channel, "validation_error", f"invalid message ({fields})", problems)
            )
            return
        action = data.get("action") if isinstance(data, dict) else None
        if channel is not Channel.QUOTES or action != "subscribe":
            allowed = ["subscribe"] if channel is Channel.QUOTES else []
            client.offer(
                _error(
                    channel,
                    "unknown_action",
                    f"unknown action on the {channel.value} channel",
                    {"allowed_actions": allowed},
                )
            )
            return
        try:
            subscribe = SubscribeMessage.model_validate(data)
        except ValidationError as exc:
            problems = validation_problems(exc)
            client.offer(_error(channel, "validation_error", "invalid subscribe", problems))
            return
        symbols = frozenset(subscribe.symbols)
        if self._market is not None:
            watched = list(self._market.watchlist())
            unknown = sorted(symbols.difference(watched))
            if unknown:
                client.offer(
                    _error(
                        channel,
                        "unknown_symbol",
                        f"not watched: {', '.join(map(repr, unknown))}; "
                        f"the watchlist is {', '.join(map(repr, watched))}",
                        {"unknown": unknown, "watchlist": watched},
                    )
                )
                return
        client.set_symbols(symbols)
        client.offer(
            dumps_str({"channel": channel.value, "event": "subscribed", "symbols": sorted(symbols)})
        )
