"""What each move of a trade writes: one definition for every trade store.

:class:`~forexbot.database.trades.TradeRepository` (PostgreSQL) and
:class:`~forexbot.backtest.trade_store.MemoryTradeStore` (a backtest) apply the same
:class:`Change` for the same call, so a trade's record reads the same whether it was traded
live or in a backtest. A change names its target status, the values it writes (exact
``Decimal`` money and prices, tz-aware times), the statuses it may come from when narrower than
the lifecycle allows, the execution details it merges into the record, and what goes into the
trade's history besides those values. Inputs are validated here, once: an empty client order
id, a confidence outside [0, 1], a non-positive volume, a naive time are ``ValueError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from forexbot.database._convert import require_aware, to_decimal, to_decimal_or_none
from forexbot.domain.trading import Side, TradeStatus

Number = float | Decimal


def side_of(value: Side | str) -> Side:
    if isinstance(value, Side):
        return value
    try:
        return Side[value.upper()]
    except KeyError:
        raise ValueError(f"side must be 'buy' or 'sell', got {value!r}") from None


def positive_volume(value: Number) -> Decimal:
    volume = to_decimal(value, name="volume")
    if volume <= 0:
        raise ValueError(f"volume must be positive, got {value!r}")
    return volume


@dataclass(frozen=True, slots=True)
class Change:
    """One move of a trade (see the module docstring). ``close_whole``: ``closed_volume``
    becomes the trade's whole volume."""

    target: TradeStatus
    values: dict[str, Any] = field(default_factory=dict)
    from_statuses: tuple[TradeStatus, ...] | None = None
    details: Mapping[str, Any] | None = None
    log: Mapping[str, Any] = field(default_factory=dict)
    close_whole: bool = False


def intent_values(
    *,
    client_order_id: str,
    strategy: str,
    symbol: str,
    timeframe: str | None,
    side: Side | str,
    volume: Number,
    requested_price: Number | None,
    sl: Number | None,
    tp: Number | None,
    signal_time: datetime,
    confidence: float,
    reason: str,
    market_condition: Mapping[str, Any],
) -> dict[str, Any]:
    """The columns of a new order intent."""
    if not client_order_id:
        raise ValueError("client_order_id must not be empty")
    if not 0.0 <= confidence <= 1.0:
        raise ValueError(f"confidence must be within [0, 1], got {confidence!r}")
    return {
        "client_order_id": client_order_id,
        "strategy": strategy,
        "symbol": symbol,
        "timeframe": timeframe,
        "side": side_of(side),
        "volume": positive_volume(volume),
        "requested_price": to_decimal_or_none(requested_price, name="requested_price"),
        "sl": to_decimal_or_none(sl, name="sl"),
        "tp": to_decimal_or_none(tp, name="tp"),
        "signal_time": require_aware(signal_time, name="signal_time"),
        "confidence": confidence,
        "reason": reason,
        "market_condition": dict(market_condition),
    }


def adopted_values(
    *,
    client_order_id: str,
    strategy: str,
    symbol: str,
    side: Side | str,
    volume: Number,
    entry_price: Number,
    sl: Number | None,
    tp: Number | None,
    mt5_position: int,
    open_time: datetime,
    details: Mapping[str, Any],
) -> dict[str, Any]:
    """The columns of a position adopted by reconciliation: open, with no signal."""
    return {
        "client_order_id": client_order_id,
        "strategy": strategy,
        "symbol": symbol,
        "timeframe": None,
        "side": side_of(side),
        "volume": positive_volume(volume),
        "entry_price": to_decimal(entry_price, name="entry_price"),
        "sl": to_decimal_or_none(sl, name="sl"),
        "tp": to_decimal_or_none(tp, name="tp"),
        "mt5_order": mt5_position,
        "mt5_position": mt5_position,
        "open_time": require_aware(open_time, name="open_time"),
        "reason": "adopted by reconciliation",
        "execution_details": dict(details),
    }


def submitted() -> Change:
    """``intent`` → ``submitted``: the order is being handed to the terminal."""
    return Change(TradeStatus.SUBMITTED)


def opened(
    *,
    mt5_order: int,
    mt5_position: int,
    entry_price: Number,
    volume: Number,
    open_time: datetime,
    execution_details: Mapping[str, Any],
) -> Change:
    """→ ``open`` with the fill: tickets, filled price and volume, open time."""
    return Change(
        TradeStatus.OPEN,
        {
            "mt5_order": mt5_order,
            "mt5_position": mt5_position,
            "entry_price": to_decimal(entry_price, name="entry_price"),
            "volume": positive_volume(volume),
            "open_time": require_aware(open_time, name="open_time"),
        },
        from_statuses=(TradeStatus.INTENT, TradeStatus.SUBMITTED),
        details=execution_details,
    )


def rejected(
    *, reject_code: int, reject_message: str, execution_details: Mapping[str, Any]
) -> Change:
    """→ ``rejected`` with MetaTrader's retcode and message."""
    return Change(
        TradeStatus.REJECTED,
        {"reject_code": reject_code, "reject_message": reject_message},
        details=execution_details,
    )


def cancelled(*, reason: str, execution_details: Mapping[str, Any] | None) -> Change:
    """→ ``cancelled``: the order was never executed; ``reason`` goes to ``close_reason``."""
    return Change(
        TradeStatus.CANCELLED, {"close_reason": reason}, details=execution_details or None
    )


def closing(*, details: Mapping[str, Any] | None) -> Change:
    """``open`` → ``closing``: a close order is about to be sent."""
    return Change(TradeStatus.CLOSING, log=dict(details or {}))


def reopened(*, reason: str) -> Change:
    """``closing`` → ``open``: the close order was refused or did not execute."""
    return Change(TradeStatus.OPEN, from_statuses=(TradeStatus.CLOSING,), log={"reason": reason})


def partial_close_is_new(
    trade_id: int, *, recorded: Decimal, volume: Decimal, closed: Decimal
) -> bool:
    """Whether recording ``closed`` of ``volume`` closed changes a trade with ``recorded``
    closed so far: ``False`` for the same deals recorded twice; ``ValueError`` when it would
    close the whole volume (that is :func:`closed`, not a partial close)."""
    if recorded == closed:
        return False
    if closed >= volume:
        raise ValueError(
            f"a partial close of trade {trade_id} must leave volume open: "
            f"{closed} of {volume} closed"
        )
    return True


def partly_closed(
    *, closed_volume: Decimal, exit_price: Number, profit: Number, swap: Number, commission: Number
) -> Change:
    """``open``/``closing`` → ``open`` with the totals of the closes so far."""
    return Change(
        TradeStatus.OPEN,
        {
            "closed_volume": closed_volume,
            "exit_price": to_decimal(exit_price, name="exit_price"),
            "profit": to_decimal(profit, name="profit"),
            "swap": to_decimal(swap, name="swap"),
            "commission": to_decimal(commission, name="commission"),
        },
        from_statuses=(TradeStatus.OPEN, TradeStatus.CLOSING),
        log={"event": "partial_close", "closed_volume": str(closed_volume)},
    )


def closed(
    *,
    exit_price: Number,
    close_time: datetime,
    profit: Number,
    swap: Number,
    commission: Number,
    close_reason: str,
) -> Change:
    """→ ``closed`` with the exit and the money it made or lost (its whole volume)."""
    return Change(
        TradeStatus.CLOSED,
        {
            "exit_price": to_decimal(exit_price, name="exit_price"),
            "close_time": require_aware(close_time, name="close_time"),
            "profit": to_decimal(profit, name="profit"),
            "swap": to_decimal(swap, name="swap"),
            "commission": to_decimal(commission, name="commission"),
            "close_reason": close_reason,
        },
        close_whole=True,
    )


def stops(sl: Number | None, tp: Number | None) -> dict[str, Any]:
    """The SL/TP columns of a position's stops (0 or None: none)."""
    return {
        "sl": to_decimal_or_none(sl or None, name="sl"),
        "tp": to_decimal_or_none(tp or None, name="tp"),
    }
