"""``/ws/system``: the daemon's status, then its system events as they happen.

Every message is ``{"channel": "system", "data": {"type": ..., ...}}``; ``time`` fields are
ISO-8601 UTC of the trading clock (``2024-01-02T03:04:05.123Z``). The types:

``status``
    ``{"type": "status", "time", "status": <StatusProvider.status()>}``: the first message on
    connect, then every ``ws_status_interval_seconds``.
``connection`` (``ConnectionStateEvent``)
    ``{"type": "connection", "state", "detail", "time"}``, ``state`` one of ``connecting``,
    ``connected`` (restored), ``disconnected`` (lost), ``stopped``.
``kill_switch`` (``KillSwitchEvent``)
    ``{"type": "kill_switch", "active", "code", "reason", "actor", "time"}``: ``active`` true
    when tripped (``code`` ``max_drawdown`` or ``manual``), false when resumed (``resumed``);
    ``actor`` is the user, null for the engine.
``risk_limit`` (``RiskLimitEvent``)
    ``{"type": "risk_limit", "code", "message", "time"}``: ``daily_loss_limit`` (trading
    halted for the day), ``cooldown`` (after a losing streak), ``state_not_saved`` (the risk
    state or the kill switch's latch could not be persisted: act now) or ``state_saved``
    (persisted again).
``risk_rejected`` (``RiskRejectedEvent``)
    ``{"type": "risk_rejected", "code", "message", "time", "signal": {"strategy", "symbol",
    "timeframe", "side", "entry", "bar_time"}}``.
``reconciliation`` (``ReconciliationEvent``)
    ``{"type": "reconciliation", "kind", "trade_id", "message", "details", "time"}``.
``strategy_toggled`` (``StrategyToggledEvent``)
    ``{"type": "strategy_toggled", "id", "enabled", "actor", "time"}``: a strategy instance
    was enabled or disabled at run time.

Rules:

* Events are never coalesced or dropped: a client too far behind is disconnected with 1013
  (:mod:`forexbot.api.ws_client`). Status snapshots are coalesced: a slow client has at most
  one pending, the latest, queued after the events that preceded it.
* One bus subscription per event type, whatever the number of clients; each event and each
  periodic status is serialised once for every client.
* A new client is registered before its status snapshot is read, and the snapshot is put
  before anything queued meanwhile: the snapshot comes first and no event is lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Set
from typing import Any

import structlog

from forexbot.api.ports import StatusProvider
from forexbot.api.responses import dumps_str
from forexbot.api.websockets import iso_utc
from forexbot.api.ws_client import Channel, WsClient
from forexbot.clock import Clock
from forexbot.daemon.tasks import stop_task
from forexbot.events.bus import EventBus, SubscriberStats
from forexbot.events.types import (
    ConnectionStateEvent,
    Event,
    KillSwitchEvent,
    ReconciliationEvent,
    RiskLimitEvent,
    RiskRejectedEvent,
    StrategyToggledEvent,
)

_log = structlog.get_logger("forexbot.api.websockets")

_SNAPSHOT = "status"

#: The bus events the channel forwards, with the name of their subscription.
SYSTEM_EVENTS: tuple[tuple[type[Event], str], ...] = (
    (ConnectionStateEvent, "connection"),
    (KillSwitchEvent, "kill-switch"),
    (RiskLimitEvent, "risk-limit"),
    (RiskRejectedEvent, "risk-rejected"),
    (ReconciliationEvent, "reconciliation"),
    (StrategyToggledEvent, "strategy-toggled"),
)


def event_data(event: Event) -> dict[str, Any]:
    """The ``data`` of the system message for ``event`` (one of :data:`SYSTEM_EVENTS`)."""
    match event:
        case ConnectionStateEvent():
            return {
                "type": "connection",
                "state": event.state.value,
                "detail": event.detail,
                "time": iso_utc(event.time),
            }
        case KillSwitchEvent():
            return {
                "type": "kill_switch",
                "active": event.active,
                "code": event.code,
                "reason": event.reason,
                "actor": event.actor,
                "time": iso_utc(event.time),
            }
        case RiskLimitEvent():
            return {
                "type": "risk_limit",
                "code": event.code,
                "message": event.message,
                "time": iso_utc(event.time),
            }
        case RiskRejectedEvent():
            signal = event.signal
            return {
                "type": "risk_rejected",
                "code": event.code,
                "message": event.message,
                "time": iso_utc(event.time),
                "signal": {
                    "strategy": signal.strategy,
                    "symbol": signal.symbol,
                    "timeframe": signal.timeframe,
                    "side": signal.side.label,
                    "entry": signal.entry,
                    "bar_time": iso_utc(signal.bar_time),
                },
            }
        case ReconciliationEvent():
            return {
                "type": "reconciliation",
                "kind": event.kind,
                "trade_id": event.trade_id,
                "message": event.message,
                "details": event.details,
                "time": iso_utc(event.time),
            }
        case StrategyToggledEvent():
            return {
                "type": "strategy_toggled",
                "id": event.strategy_id,
                "enabled": event.enabled,
                "actor": event.actor,
                "time": iso_utc(event.time),
            }
    raise TypeError(f"no system message for {type(event).__name__}")


def system_message(data: dict[str, Any]) -> str:
    return dumps_str({"channel": Channel.SYSTEM.value, "data": data})


class SystemFeed:
    """Forwards system events to the channel's clients and sends the status periodically."""

    def __init__(self, status: StatusProvider, clock: Clock, *, interval: float) -> None:
        self.channel = Channel.SYSTEM
        self._status = status
        self._clock = clock
        self._interval = interval
        self._clients: Set[WsClient] = frozenset()
        self._task: asyncio.Task[None] | None = None
        self._failing = False

    def start(self, bus: EventBus, clients: Set[WsClient]) -> list[SubscriberStats]:
        self._clients = clients
        self._task = asyncio.get_running_loop().create_task(self._run(), name="ws-feed:system")
        return [
            bus.subscribe(event_type, self._on_event, name=f"api-ws-system-{name}")
            for event_type, name in SYSTEM_EVENTS
        ]

    async def stop(self) -> None:
        if self._task is not None:
            await stop_task(self._task, timeout=2.0)
            self._task = None

    async def welcome(self, client: WsClient) -> None:
        message = await self._status_message()
        if message is not None:
            client.offer_first(message)

    async def _on_event(self, event: Event) -> None:
        if self._clients:
            self._send(system_message(event_data(event)))

    def _send(self, message: str) -> None:
        for client in list(self._clients):
            client.offer(message)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            if not self._clients:
                continue
            message = await self._status_message()
            if message is not None:
                for client in list(self._clients):
                    client.offer_snapshot(_SNAPSHOT, message)

    async def _status_message(self) -> str | None:
        try:
            status = await self._status.status()
            message = system_message(
                {"type": "status", "time": iso_utc(self._clock.time()), "status": status}
            )
        except Exception as exc:
            # Said once per run of failures; the next interval tries again.
            log = _log.debug if self._failing else _log.warning
            log("system status unavailable", error=str(exc), error_type=type(exc).__name__)
            self._failing = True
            return None
        self._failing = False
        return message
