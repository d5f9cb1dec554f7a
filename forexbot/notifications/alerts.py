"""Alert types, their levels, and the alerts the bus's events become.

Rules:

* Each user sets each alert type to ``on`` (a notification), ``silent`` (delivered, shown
  without sound or vibration: the payload says ``"silent": true``) or ``off`` (not sent).
  Every type defaults to ``on`` except risk rejections (``off``: a busy strategy is refused
  often, and a phone buzzing for each would be noise).
* :func:`alert_for` maps one event to at most one :class:`Alert`; it is pure apart from
  :class:`AlertMemory`, which remembers what must not be said twice (a fill already told, the
  terminal already known to be down).
* ``failed_login`` (a wrong password or code on the user's own account) is not made here: its
  alerts are coalesced per account (:mod:`forexbot.notifications.failed_logins`) and go to
  that account's devices only.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from forexbot.clock import iso_utc
from forexbot.domain.trading import TradeStatus
from forexbot.events.types import (
    ConnectionState,
    ConnectionStateEvent,
    Event,
    KillSwitchEvent,
    ReconciliationEvent,
    RiskLimitEvent,
    RiskRejectedEvent,
    TradeEvent,
)


class AlertType(StrEnum):
    """What an alert is about; its value is the wire format."""

    FILL = "fill"
    CLOSE = "close"
    SL_TP = "sl_tp"
    KILL_SWITCH = "kill_switch"
    DAILY_LOSS_HALT = "daily_loss_halt"
    RISK_REJECTION = "risk_rejection"
    CONNECTION = "connection"
    RECONCILIATION = "reconciliation"
    FAILED_LOGIN = "failed_login"


class AlertLevel(StrEnum):
    """How a user wants an alert type delivered."""

    ON = "on"
    SILENT = "silent"
    OFF = "off"


#: What each type means, for the preferences screen.
DESCRIPTIONS: dict[AlertType, str] = {
    AlertType.FILL: "An order was filled: a position opened",
    AlertType.CLOSE: "A position closed, with its profit or loss",
    AlertType.SL_TP: "A stop loss or take profit was hit",
    AlertType.KILL_SWITCH: "The kill switch was tripped or trading resumed",
    AlertType.DAILY_LOSS_HALT: "The daily loss limit halted trading",
    AlertType.RISK_REJECTION: "The risk manager refused a signal",
    AlertType.CONNECTION: "The terminal disconnected or reconnected",
    AlertType.RECONCILIATION: "Reconciliation corrected the trade book",
    AlertType.FAILED_LOGIN: "A sign-in to your account failed",
}

#: The level of a type a user has not set.
DEFAULTS: dict[AlertType, AlertLevel] = {
    t: AlertLevel.OFF if t is AlertType.RISK_REJECTION else AlertLevel.ON for t in AlertType
}


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert, before it is addressed to a device."""

    type: AlertType
    title: str
    body: str
    time: float
    data: dict[str, Any] = field(default_factory=dict)

    def payload(self, *, silent: bool) -> dict[str, Any]:
        """The JSON the service worker receives (``tag`` lets it replace an older alert of the
        same subject rather than pile them up)."""
        tag = f"{self.type.value}:{self.data['trade_id']}" if "trade_id" in self.data else None
        return {
            "type": self.type.value,
            "title": self.title,
            "body": self.body,
            "silent": silent,
            "time": iso_utc(self.time),
            "tag": tag or self.type.value,
            "data": self.data,
        }


class AlertMemory:
    """What :func:`alert_for` must remember between events: the trades whose fill was told
    (bounded, oldest forgotten first) and whether the terminal was last seen down."""

    def __init__(self, keep: int = 1000) -> None:
        self._filled: OrderedDict[int, None] = OrderedDict()
        self._keep = keep
        self.terminal_down = False

    def first_fill(self, trade_id: int) -> bool:
        if trade_id in self._filled:
            return False
        self._filled[trade_id] = None
        while len(self._filled) > self._keep:
            self._filled.popitem(last=False)
        return True


def _money(value: Decimal | None) -> str:
    return "?" if value is None else f"{value:+.2f}"


def _trade_alert(event: TradeEvent, memory: AlertMemory, time: float) -> Alert | None:
    t = event.trade
    data: dict[str, Any] = {"trade_id": t.id, "symbol": t.symbol, "side": t.side.label}
    if t.status is TradeStatus.OPEN and t.closed_volume == 0 and memory.first_fill(t.id):
        price = "" if t.entry_price is None else f" at {t.entry_price}"
        return Alert(
            AlertType.FILL,
            f"{t.symbol} {t.side.label} filled",
            f"{t.side.label.capitalize()} {t.volume} {t.symbol}{price} ({t.strategy})",
            time,
            data | {"volume": str(t.volume), "price": _str(t.entry_price)},
        )
    if t.status is not TradeStatus.CLOSED:
        return None
    data |= {"profit": _str(t.profit), "close_reason": t.close_reason}
    price = "" if t.exit_price is None else f" at {t.exit_price}"
    if t.close_reason in ("stop_loss", "take_profit"):
        hit = "Stop loss" if t.close_reason == "stop_loss" else "Take profit"
        return Alert(
            AlertType.SL_TP,
            f"{hit} hit on {t.symbol}",
            f"{t.symbol} {t.side.label} closed{price}: P/L {_money(t.profit)}",
            time,
            data,
        )
    return Alert(
        AlertType.CLOSE,
        f"{t.symbol} {t.side.label} closed",
        f"P/L {_money(t.profit)}{price} ({t.close_reason or 'closed'})",
        time,
        data,
    )


def _str(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def alert_for(event: Event, memory: AlertMemory, now: float) -> Alert | None:
    """The alert ``event`` calls for, or ``None``; ``now`` dates events without a time."""
    if isinstance(event, TradeEvent):
        return _trade_alert(event, memory, now)
    if isinstance(event, KillSwitchEvent):
        title = "Kill switch tripped" if event.active else "Trading resumed"
        by = f" (by {event.actor})" if event.actor else ""
        switch = {"active": event.active, "code": event.code}
        return Alert(AlertType.KILL_SWITCH, title, event.reason + by, event.time, switch)
    if isinstance(event, RiskLimitEvent):
        if event.code != "daily_loss_limit":
            return None
        return Alert(
            AlertType.DAILY_LOSS_HALT,
            "Daily loss limit reached",
            event.message,
            event.time,
            {"code": event.code},
        )
    if isinstance(event, RiskRejectedEvent):
        s = event.signal
        return Alert(
            AlertType.RISK_REJECTION,
            f"{s.symbol} signal refused",
            event.message,
            event.time,
            {"symbol": s.symbol, "code": event.code.value},
        )
    if isinstance(event, ConnectionStateEvent):
        return _connection_alert(event, memory)
    if isinstance(event, ReconciliationEvent):
        kind: dict[str, Any] = {"kind": event.kind}
        if event.trade_id is not None:
            kind["trade_id"] = event.trade_id
        return Alert(
            AlertType.RECONCILIATION, "Trade book corrected", event.message, event.time, kind
        )
    return None


def _connection_alert(event: ConnectionStateEvent, memory: AlertMemory) -> Alert | None:
    """Disconnected once per outage; reconnected only after a disconnection (not at start)."""
    if event.state is ConnectionState.DISCONNECTED and not memory.terminal_down:
        memory.terminal_down = True
        return Alert(
            AlertType.CONNECTION,
            "Terminal disconnected",
            event.detail or "the terminal stopped answering",
            event.time,
            {"state": event.state.value},
        )
    if event.state is ConnectionState.CONNECTED and memory.terminal_down:
        memory.terminal_down = False
        return Alert(
            AlertType.CONNECTION,
            "Terminal reconnected",
            event.detail or "the terminal answers again",
            event.time,
            {"state": event.state.value},
        )
    return None
