"""What a move of a trade writes, and the rules every trade store checks it against.

:class:`~forexbot.database.trades.TradeRepository` (PostgreSQL) and
:class:`~forexbot.backtest.trade_store.MemoryTradeStore` (a backtest) write the same values for
the same call (their common base, :class:`~forexbot.database.trade_store_base.TradeStoreBase`,
builds them here), so a trade's record reads the same whether it was traded live or in a
backtest. A :class:`Change` names its target status, the values it writes (exact ``Decimal``
money and prices, tz-aware times), the statuses it may come from when narrower than the
lifecycle allows, the execution details it merges into the record, and what goes into the
trade's history besides those values.

Inputs are validated here, once: an empty client order id, a confidence outside [0, 1], a
non-positive volume, an unknown side, a non-finite number or a naive time are ``ValueError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from forexbot.database._convert import require_aware, to_decimal, to_decimal_or_none
from forexbot.domain.lifecycle import IllegalTransition, allowed_from, can_move
from forexbot.domain.trades import AdoptedPosition, ClientOrderIdConflict, NewTrade, Number
from forexbot.domain.trading import Side, TradeStatus

#: What makes two order intents the same order: strategy, symbol, side (its label), volume.
OrderKey = tuple[str, str, str, Decimal]


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

    def check(self, trade_id: int, current: TradeStatus) -> None:
        """Refuse the move from ``current`` (:class:`IllegalTransition`) unless both this
        change and the lifecycle allow it."""
        allowed = self.from_statuses or allowed_from(self.target)
        if current not in allowed or not can_move(current, self.target):
            raise IllegalTransition(trade_id, current, self.target)

    def history(self) -> dict[str, Any]:
        """The details of the move's history row: the values written (money and prices as
        exact text), then what the change logs besides."""
        written = {k: str(v) if isinstance(v, Decimal) else v for k, v in self.values.items()}
        return {**written, **self.log}


def intent_values(trade: NewTrade) -> dict[str, Any]:
    """The columns of a new order intent, validated."""
    if not trade.client_order_id:
        raise ValueError("client_order_id must not be empty")
    if not 0.0 <= trade.confidence <= 1.0:
        raise ValueError(f"confidence must be within [0, 1], got {trade.confidence!r}")
    return {
        "client_order_id": trade.client_order_id,
        "strategy": trade.strategy,
        "symbol": trade.symbol,
        "timeframe": trade.timeframe,
        "side": side_of(trade.side),
        "volume": positive_volume(trade.volume),
        "requested_price": to_decimal_or_none(trade.requested_price, name="requested_price"),
        "sl": to_decimal_or_none(trade.sl, name="sl"),
        "tp": to_decimal_or_none(trade.tp, name="tp"),
        "signal_time": require_aware(trade.signal_time, name="signal_time"),
        "confidence": trade.confidence,
        "reason": trade.reason,
        "market_condition": dict(trade.market_condition),
    }


def order_key(values: Mapping[str, Any]) -> OrderKey:
    """The :data:`OrderKey` of validated intent values."""
    return (values["strategy"], values["symbol"], values["side"].label, values["volume"])


def require_same_order(
    client_order_id: str, trade_id: int, theirs: OrderKey, ours: OrderKey
) -> None:
    """Refuse (:class:`ClientOrderIdConflict`) an intent whose client order id already belongs
    to trade ``trade_id`` for a different order: fills would be attached to the wrong trade."""
    if theirs != ours:
        raise ClientOrderIdConflict(
            f"client order id {client_order_id!r} already belongs to trade "
            f"{trade_id} (strategy, symbol, side, volume = {theirs}), not {ours}"
        )


def adopted_values(position: AdoptedPosition) -> dict[str, Any]:
    """The columns of a position adopted by reconciliation: open, with no signal."""
    return {
        "client_order_id": position.client_order_id,
        "strategy": position.strategy,
        "symbol": position.symbol,
        "timeframe": None,
        "side": side_of(position.side),
        "volume": positive_volume(position.volume),
        "entry_price": to_decimal(position.entry_price, name="entry_price"),
        "sl": to_decimal_or_none(position.sl, name="sl"),
        "tp": to_decimal_or_none(position.tp, name="tp"),
        "mt5_order": position.mt5_position,
        "mt5_position": position.mt5_position,
        "open_time": require_aware(position.open_time, name="open_time"),
        "reason": "adopted by reconciliation",
        "execution_details": dict(position.details),
    }


def partial_close_is_new(
    trade_id: int, *, recorded: Decimal, volume: Decimal, closed: Decimal
) -> bool:
    """Whether recording ``closed`` of ``volume`` closed changes a trade with ``recorded``
    closed so far: ``False`` for the same deals recorded twice; ``ValueError`` when it would
    close the whole volume (that is a close, not a partial close)."""
    if recorded == closed:
        return False
    if closed >= volume:
        raise ValueError(
            f"a partial close of trade {trade_id} must leave volume open: "
            f"{closed} of {volume} closed"
        )
    return True


def stops(sl: Number | None, tp: Number | None) -> dict[str, Any]:
    """The SL/TP columns of a position's stops (0 or None: none)."""
    return {
        "sl": to_decimal_or_none(sl or None, name="sl"),
        "tp": to_decimal_or_none(tp or None, name="tp"),
    }
