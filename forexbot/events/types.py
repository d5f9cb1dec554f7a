"""Domain events carried by the :class:`~forexbot.events.bus.EventBus`.

Events are frozen dataclasses with slots: cheap to create on the tick path and impossible to
mutate after publication, so every subscriber sees the same facts. ``time`` fields are UTC
epoch seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from forexbot.domain.market import Bar, Tick
from forexbot.domain.rejection import RejectCode
from forexbot.domain.trades import TradeRecord
from forexbot.domain.trading import AccountState, OrderIntent, Signal, TradeStatus
from forexbot.market_condition.detector import MarketCondition


@dataclass(frozen=True, slots=True)
class Event:
    """Base of every event; subscribers subscribe by event class."""


@dataclass(frozen=True, slots=True)
class TickEvent(Event):
    """A new quote from the terminal."""

    tick: Tick

    @property
    def symbol(self) -> str:
        return self.tick.symbol


@dataclass(frozen=True, slots=True)
class BarEvent(Event):
    """A bar has closed: its values are final.

    ``received_at`` is ``time.perf_counter()`` when the tick that closed it reached the
    connector, so the order path can measure its latency from the market's side.
    """

    bar: Bar
    received_at: float = 0.0


@dataclass(frozen=True, slots=True)
class FormingBarsEvent(Event):
    """The bars still forming that close within the connector's horizon, as of the last poll.

    Not final: the strategy manager analyses them ahead, as if closed (a speculation it uses
    only when the bar closes equal to one of these), so a closing burst costs a lookup per
    stream instead of its analysis. Published after a poll that changed one of them or
    brought one into the horizon; each event lists all of them, so the latest replaces the
    earlier ones.
    """

    bars: tuple[Bar, ...]


@dataclass(frozen=True, slots=True)
class SignalEvent(Event):
    """A strategy produced an entry signal."""

    signal: Signal


@dataclass(frozen=True, slots=True)
class MarketConditionEvent(Event):
    """The market condition of a symbol and timeframe on a closed bar. Typed: published on
    every bar of every stream, it is serialised (``to_dict``) only where it leaves the
    process."""

    condition: MarketCondition


@dataclass(frozen=True, slots=True)
class OrderIntentEvent(Event):
    """The risk manager approved and sized a signal; execution should send it."""

    intent: OrderIntent


@dataclass(frozen=True, slots=True)
class RiskRejectedEvent(Event):
    """The risk manager refused a signal. ``code`` is machine-readable (its value is the wire
    format), ``message`` for people."""

    signal: Signal
    code: RejectCode
    message: str
    time: float


@dataclass(frozen=True, slots=True)
class TradeEvent(Event):
    """A trade changed state (opened, rejected, closed...): ``trade`` is its record as stored
    after the change. Subscribers read its typed fields; the API turns it into JSON
    (``TradeRecord.to_api()``) only where it leaves the process, on the WebSocket feed."""

    trade: TradeRecord

    @property
    def trade_id(self) -> int:
        return self.trade.id

    @property
    def status(self) -> TradeStatus:
        return self.trade.status


@dataclass(frozen=True, slots=True)
class AccountEvent(Event):
    """The account as the position manager last read it (after every sync)."""

    account: AccountState
    time: float


@dataclass(frozen=True, slots=True)
class StrategyToggledEvent(Event):
    """A strategy instance was enabled or disabled at run time (by ``actor``)."""

    strategy_id: str
    enabled: bool
    time: float
    actor: str | None = None


@dataclass(frozen=True, slots=True)
class KillSwitchEvent(Event):
    """The kill switch was tripped (``active``) or released by a person.

    ``reason`` says why in words; ``code`` is machine-readable (``max_drawdown``,
    ``manual``, ``resumed``).
    """

    active: bool
    code: str
    reason: str
    time: float
    actor: str | None = None


@dataclass(frozen=True, slots=True)
class RiskLimitEvent(Event):
    """An account-level limit started holding trades back (``daily_loss_limit``,
    ``cooldown``; ``message`` says until when), or the risk state could not be persisted
    (``state_not_saved``) or is persisted again (``state_saved``)."""

    code: str
    message: str
    time: float


@dataclass(frozen=True, slots=True)
class ReconciliationEvent(Event):
    """Reconciliation changed the database to agree with the terminal.

    ``kind`` names the correction (``adopted``, ``closed_from_history``, ``opened``,
    ``cancelled``, ``partial_close``, ``reopened``); ``details`` is JSON-ready.
    """

    kind: str
    trade_id: int | None
    message: str
    details: dict[str, Any]
    time: float


class ConnectionState(StrEnum):
    """The connector's view of the terminal."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class ConnectionStateEvent(Event):
    """The terminal connection changed state."""

    state: ConnectionState
    detail: str
    time: float


@dataclass(frozen=True, slots=True)
class FailedLoginEvent(Event):
    """A sign-in to an existing account was refused for a wrong secret, so its owner can be
    told (a push alert): ``reason`` is ``bad_password`` or ``bad_second_factor`` (a wrong
    one-time or recovery code). ``source_ip`` is the client's address as the API saw it.

    Never the password or code tried: an event is delivered to every subscriber and may be
    logged, and a wrong password is often a right one for another account. Unknown usernames
    make no event (there is no one to tell); the API still counts them."""

    user_id: int
    username: str
    reason: str
    source_ip: str | None
    time: float
