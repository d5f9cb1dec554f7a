"""Trades as the engine, the trade stores and the API see them.

:class:`TradeRecord` is a trade as a store holds it, from its order intent to its close, and
:class:`TransitionRecord` one move in its history; both are values: a store builds them and
nobody mutates them. :class:`NewTrade`, :class:`AdoptedPosition`, :class:`Fill` and
:class:`ExitTotals` are what the engine hands a store to write (the
:class:`~forexbot.engine.trade_store.TradeStore` protocol); the store validates them.

Money and prices in a record are ``Decimal`` exactly as stored; times are tz-aware UTC. The
values given to a store may carry floats: the store keeps their shortest ``repr``.
``to_api()`` turns a record into the JSON-ready dict (floats and ISO 8601 ``…Z`` strings) the
REST API and the WebSocket feed send; nothing inside the process reads that form.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from forexbot.clock import iso_datetime
from forexbot.domain.trading import Side, TradeStatus
from forexbot.errors import DatabaseError

#: A price, volume or amount of money given to a store: a float is kept as its shortest repr.
Number = float | Decimal


@dataclass(frozen=True, slots=True)
class NewTrade:
    """An order intent to record before ``order_send``: the trade's first row.

    ``client_order_id`` is the order's idempotency key (it travels in the MT5 order comment);
    ``confidence`` is in [0, 1]; ``signal_time`` must be tz-aware.
    """

    client_order_id: str
    strategy: str
    symbol: str
    timeframe: str | None
    side: Side | str
    volume: Number
    requested_price: Number | None
    sl: Number | None
    tp: Number | None
    signal_time: datetime
    confidence: float
    reason: str
    market_condition: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class AdoptedPosition:
    """A terminal position the trade store did not know (found by reconciliation): it becomes
    a trade created directly ``open``, with no signal. ``details`` say how it was found."""

    client_order_id: str
    strategy: str
    symbol: str
    side: Side | str
    volume: Number
    entry_price: Number
    sl: Number | None
    tp: Number | None
    mt5_position: int
    open_time: datetime
    details: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Fill:
    """An order's fill: the tickets, the filled price and volume, when, and how it went
    (``execution_details``, merged into the trade's)."""

    mt5_order: int
    mt5_position: int
    entry_price: Number
    volume: Number
    open_time: datetime
    execution_details: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ExitTotals:
    """What a trade's exit deals add up to so far: their volume-weighted price and the money
    (profit of the exits; swap and commission of every deal)."""

    exit_price: Number
    profit: Number
    swap: Number
    commission: Number


def _float(value: Decimal | None) -> float | None:
    """For JSON output only: the API speaks JSON numbers, the store keeps the exact value."""
    return None if value is None else float(value)


@dataclass(frozen=True, slots=True)
class TradeRecord:
    """One trade: from its order intent to its close.

    ``timeframe``, ``signal_time``, ``confidence`` and ``reason`` are ``None`` for positions
    adopted by reconciliation (they had no signal). Prices, volume and money are ``None`` until
    known (``entry_price`` once filled, ``exit_price``/``profit`` once closed).
    """

    id: int
    client_order_id: str
    strategy: str
    symbol: str
    timeframe: str | None
    side: Side
    status: TradeStatus
    volume: Decimal
    closed_volume: Decimal
    requested_price: Decimal | None
    entry_price: Decimal | None
    sl: Decimal | None
    tp: Decimal | None
    exit_price: Decimal | None
    profit: Decimal | None
    swap: Decimal | None
    commission: Decimal | None
    mt5_order: int | None
    mt5_position: int | None
    signal_time: datetime | None
    open_time: datetime | None
    close_time: datetime | None
    close_reason: str | None
    confidence: float | None
    reason: str | None
    market_condition: dict[str, Any]
    execution_details: dict[str, Any]
    reject_code: int | None
    reject_message: str | None
    created_at: datetime
    updated_at: datetime

    @property
    def open_volume(self) -> Decimal:
        """The volume still open: ``volume`` less what partial closes took."""
        return self.volume - self.closed_volume

    def to_api(self) -> dict[str, Any]:
        """A JSON-ready dict: Decimals as floats, times as ISO 8601 UTC (``…Z``), enums as text."""
        return {
            "id": self.id,
            "client_order_id": self.client_order_id,
            "strategy": self.strategy,
            "symbol": self.symbol,
            "timeframe": self.timeframe,
            "side": self.side.label,
            "status": self.status.value,
            "volume": _float(self.volume),
            "closed_volume": _float(self.closed_volume),
            "open_volume": _float(self.open_volume),
            "requested_price": _float(self.requested_price),
            "entry_price": _float(self.entry_price),
            "sl": _float(self.sl),
            "tp": _float(self.tp),
            "exit_price": _float(self.exit_price),
            "profit": _float(self.profit),
            "swap": _float(self.swap),
            "commission": _float(self.commission),
            "mt5_order": self.mt5_order,
            "mt5_position": self.mt5_position,
            "signal_time": iso_datetime(self.signal_time),
            "open_time": iso_datetime(self.open_time),
            "close_time": iso_datetime(self.close_time),
            "close_reason": self.close_reason,
            "confidence": self.confidence,
            "reason": self.reason,
            "market_condition": self.market_condition,
            "execution_details": self.execution_details,
            "reject_code": self.reject_code,
            "reject_message": self.reject_message,
            "created_at": iso_datetime(self.created_at),
            "updated_at": iso_datetime(self.updated_at),
        }


@dataclass(frozen=True, slots=True)
class TransitionRecord:
    """One move in a trade's history, with what came with it (``from_status`` is ``None``
    for its creation). Money and prices in ``details`` are exact text."""

    id: int
    trade_id: int
    from_status: TradeStatus | None
    to_status: TradeStatus
    time: datetime
    details: dict[str, Any]

    def to_api(self) -> dict[str, Any]:
        return {
            "from": None if self.from_status is None else self.from_status.value,
            "to": self.to_status.value,
            "time": iso_datetime(self.time),
            "details": self.details,
        }


class ClientOrderIdConflict(DatabaseError):
    """A client order id already belongs to a different order."""
