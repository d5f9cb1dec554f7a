"""Trading values: sides, signals, order intents, fills, positions, trade statuses."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import Any


class Side(Enum):
    """Direction of a signal or a position; the value is the signal sign (+1 buy, −1 sell)."""

    BUY = 1
    SELL = -1

    @property
    def label(self) -> str:
        return self.name.lower()

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class TradeStatus(StrEnum):
    """States of a trade's lifecycle, as stored in ``trades.status``."""

    INTENT = "intent"
    SUBMITTED = "submitted"
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class Signal:
    """A strategy's decision on a closed bar: enter ``side`` at about ``entry``.

    ``sl`` and ``tp`` are absolute prices; ``confidence`` is in [0, 1]; ``reason`` says in words
    why the rule fired, for the trade record and the trader reading it.
    """

    strategy: str
    symbol: str
    timeframe: str
    side: Side
    entry: float
    sl: float
    tp: float
    confidence: float
    reason: str
    bar_time: int
    risk_multiplier: float = 1.0
    market_condition: dict[str, Any] = field(default_factory=dict)
    # ``time.perf_counter()`` when the tick that closed the bar reached the connector (0:
    # unknown, e.g. a manual trade): execution measures tick-to-order latency from it.
    received_at: float = 0.0
    # Fixed lots instead of sizing by risk (the instance's ``volume`` setting).
    volume: float | None = None
    # Stop and reverse: the instance's open trades on the other side are closed first.
    close_opposite: bool = False


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """A sized, risk-approved order about to be sent, with its client order id."""

    client_order_id: str
    signal: Signal
    volume: float
    risk_amount: float
    margin: float = 0.0  # account-currency margin the terminal said it needs


@dataclass(frozen=True, slots=True)
class Position:
    """An open position as the terminal reports it (times in UTC epoch seconds)."""

    ticket: int
    symbol: str
    side: Side
    volume: float
    price_open: float
    sl: float
    tp: float
    price_current: float
    profit: float
    swap: float
    time: float
    magic: int
    comment: str


@dataclass(frozen=True, slots=True)
class AccountState:
    """The account figures the risk manager sizes against.

    ``hedging`` is MetaTrader's margin mode: on a hedging account every deal opens its own
    position; on a netting account there is one position per symbol.
    """

    currency: str
    balance: float
    equity: float
    margin: float
    margin_free: float
    leverage: int
    profit: float = 0.0
    hedging: bool = True


@dataclass(frozen=True, slots=True)
class OrderResult:
    """What the terminal answered to ``order_send`` (MetaTrader's ``OrderSendResult``)."""

    retcode: int
    order: int
    deal: int
    volume: float
    price: float
    bid: float
    ask: float
    comment: str
    # The position the deal opened or changed, when known (found after a lost answer, or
    # read from the deal); 0 when the terminal did not say (``order`` on a hedging account).
    position: int = 0

    @property
    def done(self) -> bool:
        """10009 (DONE) and 10010 (DONE_PARTIAL) mean a deal happened."""
        return self.retcode in (10009, 10010)


@dataclass(frozen=True, slots=True)
class Deal:
    """One deal of the account history (times in UTC epoch seconds).

    ``entry`` is MetaTrader's DEAL_ENTRY (0 in, 1 out, 2 in/out reversal, 3 out by);
    ``reason`` its DEAL_REASON (3 expert, 4 stop-loss, 5 take-profit...).
    """

    ticket: int
    order: int
    position_id: int
    symbol: str
    time: float
    type: int
    entry: int
    volume: float
    price: float
    profit: float
    swap: float
    commission: float
    reason: int
    magic: int
    comment: str


@dataclass(frozen=True, slots=True)
class ManualOrder:
    """A market order a person asked for (``POST /api/trades``): a stop-loss is required, so
    the risk of every trade is bounded; without a volume the risk manager sizes it."""

    symbol: str
    side: Side
    sl: float
    tp: float | None = None
    volume: float | None = None
    comment: str | None = None
