"""The signals the strategies emitted lately, for ``GET /api/signals``.

Rules:

* A bounded ring in memory: the last ``size`` (200) signals, nothing older, **nothing stored**
  — it starts empty when the daemon (re)starts, and a client wanting every signal follows
  ``/ws/signals``.
* Fed by the bus like the WebSocket broadcaster: one subscription to
  :class:`~forexbot.events.types.SignalEvent`, made when the API starts and removed when it
  stops. Manual trades are not signals and do not appear.
* Each item is exactly the ``data`` of a ``/ws/signals`` message
  (:func:`~forexbot.api.websockets.signal_data`), plus ``risk``: what the risk manager decided
  about it, ``null`` while it has not (or if the decision fell out of the ring first) —
  ``{"decision": "approved", "client_order_id", "volume"}`` from its
  :class:`~forexbot.events.types.OrderIntentEvent`, ``{"decision": "rejected", "code",
  "message"}`` from its :class:`~forexbot.events.types.RiskRejectedEvent`. A decision is
  matched to its signal by identity (the risk manager passes the very signal object on), so
  two equal signals never get each other's decision. Decisions travel on their own
  subscriptions, so one may be delivered before its signal: it waits (in a ring of the same
  size) for the signal to arrive.
* Once a signal in the ring has its decision, the listeners (:meth:`RecentSignals.listen`)
  are called with its item: the broadcaster sends it on ``/ws/signals``, so a client that
  heard the signal live learns the decision without reading the list again. A decision that
  matches no signal (a refused manual trade) is not told.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from forexbot.api.websockets import signal_data
from forexbot.domain.trading import Signal
from forexbot.events.bus import EventBus, SubscriberStats
from forexbot.events.types import OrderIntentEvent, RiskRejectedEvent, SignalEvent

#: How many signals are kept (and the largest ``limit`` the route accepts).
RING_SIZE = 200


@dataclass(slots=True)
class _Entry:
    """A signal in the ring and the risk manager's decision, once known."""

    signal: Signal
    risk: dict[str, Any] | None = None


class RecentSignals:
    """The ring of the last signals (rules in the module docstring)."""

    def __init__(self, bus: EventBus, *, size: int = RING_SIZE) -> None:
        if size < 1:
            raise ValueError(f"size must be ≥ 1, got {size}")
        self._bus = bus
        self._entries: deque[_Entry] = deque(maxlen=size)
        self._early: deque[_Entry] = deque(maxlen=size)  # decisions ahead of their signal
        self._subscriptions: list[SubscriberStats] = []
        self._listeners: list[Callable[[dict[str, Any]], None]] = []

    def listen(self, listener: Callable[[dict[str, Any]], None]) -> None:
        """Call ``listener`` with a signal's item each time its decision becomes known."""
        self._listeners.append(listener)

    def start(self) -> None:
        """Subscribe to signals and to the risk manager's decisions."""
        if self._subscriptions:
            return
        self._subscriptions = [
            self._bus.subscribe(SignalEvent, self.on_signal, name="api-recent-signals"),
            self._bus.subscribe(OrderIntentEvent, self.on_intent, name="api-signal-approvals"),
            self._bus.subscribe(RiskRejectedEvent, self.on_rejection, name="api-signal-rejections"),
        ]

    def stop(self) -> None:
        """Unsubscribe (what is in the ring stays readable)."""
        for stats in self._subscriptions:
            self._bus.unsubscribe(stats)
        self._subscriptions = []

    def latest(self, limit: int) -> list[dict[str, Any]]:
        """The newest ``limit`` signals, newest first, JSON-ready."""
        newest = list(self._entries)[::-1][: max(limit, 0)]
        return [_item(entry) for entry in newest]

    async def on_signal(self, event: SignalEvent) -> None:
        entry = _Entry(event.signal)
        for early in self._early:
            if early.signal is event.signal:
                entry.risk = early.risk
                self._early.remove(early)
                break
        self._entries.append(entry)
        if entry.risk is not None:
            self._tell(entry)

    async def on_intent(self, event: OrderIntentEvent) -> None:
        intent = event.intent
        self._decided(
            intent.signal,
            {
                "decision": "approved",
                "client_order_id": intent.client_order_id,
                "volume": intent.volume,
            },
        )

    async def on_rejection(self, event: RiskRejectedEvent) -> None:
        self._decided(
            event.signal,
            {"decision": "rejected", "code": event.code.value, "message": event.message},
        )

    def _decided(self, signal: Signal, risk: dict[str, Any]) -> None:
        for entry in reversed(self._entries):
            if entry.signal is signal:
                entry.risk = risk
                self._tell(entry)
                return
        self._early.append(_Entry(signal, risk))

    def _tell(self, entry: _Entry) -> None:
        item = _item(entry)
        for listener in self._listeners:
            listener(item)


def _item(entry: _Entry) -> dict[str, Any]:
    """A signal as listed: its ``/ws/signals`` data plus ``risk``."""
    return signal_data(entry.signal) | {"risk": entry.risk}
