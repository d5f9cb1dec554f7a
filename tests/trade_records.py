"""Trade values for tests: what a store is given (an intent, a fill, an adopted position) and
a record for tests that need one without a store (events, API messages)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from forexbot.domain.trades import AdoptedPosition, Fill, NewTrade, TradeRecord
from forexbot.domain.trading import Side, TradeStatus

CREATED = SIGNAL_TIME = datetime(2024, 3, 4, 10, 0, tzinfo=UTC)
OPEN_TIME = datetime(2024, 3, 4, 10, 0, 1, tzinfo=UTC)


def intent(**overrides: Any) -> NewTrade:
    """The intent of a 0.1-lot EURUSD buy (``fx-0001``), with ``overrides``."""
    fields: dict[str, Any] = {
        "client_order_id": "fx-0001",
        "strategy": "ma_cross",
        "symbol": "EURUSD",
        "timeframe": "M15",
        "side": "buy",
        "volume": 0.1,
        "requested_price": 1.08512,
        "sl": 1.08012,
        "tp": 1.09512,
        "signal_time": SIGNAL_TIME,
        "confidence": 0.75,
        "reason": "fast MA crossed above slow MA",
        "market_condition": {"trend": "up", "atr": 0.0012},
    }
    fields.update(overrides)
    return NewTrade(**fields)


def fill(position: int = 5001, **overrides: Any) -> Fill:
    """The fill of that intent at 1.08515 as terminal position (and order) ``position``."""
    fields: dict[str, Any] = {
        "mt5_order": position,
        "mt5_position": position,
        "entry_price": 1.08515,
        "volume": 0.1,
        "open_time": OPEN_TIME,
        "execution_details": {},
    }
    fields.update(overrides)
    return Fill(**fields)


def adopted(**overrides: Any) -> AdoptedPosition:
    """A 0.5-lot GBPUSD sell found at the terminal as position 777, with ``overrides``."""
    fields: dict[str, Any] = {
        "client_order_id": "adopted-777",
        "strategy": "manual",
        "symbol": "GBPUSD",
        "side": Side.SELL,
        "volume": 0.5,
        "entry_price": 1.27001,
        "sl": 1.28,
        "tp": None,
        "mt5_position": 777,
        "open_time": OPEN_TIME,
        "details": {"found": "reconciliation"},
    }
    fields.update(overrides)
    return AdoptedPosition(**fields)


_OPEN_BUY = TradeRecord(
    id=1,
    client_order_id="fxb-test-1",
    strategy="ma_cross",
    symbol="EURUSD",
    timeframe="M15",
    side=Side.BUY,
    status=TradeStatus.OPEN,
    volume=Decimal("0.1"),
    closed_volume=Decimal(0),
    requested_price=Decimal("1.10010"),
    entry_price=Decimal("1.10012"),
    sl=Decimal("1.095"),
    tp=Decimal("1.11"),
    exit_price=None,
    profit=None,
    swap=None,
    commission=None,
    mt5_order=5001,
    mt5_position=5001,
    signal_time=CREATED,
    open_time=CREATED,
    close_time=None,
    close_reason=None,
    confidence=0.75,
    reason="fast MA crossed above slow MA",
    market_condition={},
    execution_details={},
    reject_code=None,
    reject_message=None,
    created_at=CREATED,
    updated_at=CREATED,
)


def trade_record(
    trade_id: int = 1, status: TradeStatus = TradeStatus.OPEN, **fields: Any
) -> TradeRecord:
    """An open 0.1-lot EURUSD buy, with ``trade_id``, ``status`` and ``fields`` replaced."""
    return replace(_OPEN_BUY, id=trade_id, status=status, **fields)
