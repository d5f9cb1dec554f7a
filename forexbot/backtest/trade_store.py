"""A backtest's trades, kept in memory with the rules of the database's trade repository.

A backtest runs the live risk, execution and position managers; they write trades through the
:class:`~forexbot.engine.trade_store.TradeStore` protocol. This store keeps those trades in a
dict instead of PostgreSQL, so a backtest needs no database, leaves the live ``trades`` table
alone, and runs as many times in parallel as there are processes. It enforces what
:class:`~forexbot.database.trades.TradeRepository` enforces:

* a client order id is idempotent, and reusing one for a different order raises
  :class:`~forexbot.database.trades.ClientOrderIdConflict`;
* every move is checked against :mod:`forexbot.domain.lifecycle`
  (:class:`~forexbot.database.trades.IllegalTransition` otherwise) and appended to the trade's
  history with its details;
* ``closed_volume`` stays within ``[0, volume]``; a partial close recorded twice changes nothing;
* money and prices are exact ``Decimal`` (floats through their shortest ``repr``);
  ``execution_details`` merge key by key.

Times (``created_at``, transition times) come from the backtest's virtual clock.
"""

from __future__ import annotations

import builtins
import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from forexbot.clock import Clock
from forexbot.database import trade_changes as changes
from forexbot.database._convert import (
    json_dumps,
    json_loads,
)
from forexbot.database.records import TradeRecord
from forexbot.database.trades import (
    ClientOrderIdConflict,
    IllegalTransition,
    TransitionRecord,
)
from forexbot.domain.lifecycle import LIVE_STATUSES, allowed_from, can_move
from forexbot.domain.trading import Side, TradeStatus
from forexbot.errors import NotFoundError

Number = float | Decimal


def _plain(values: Mapping[str, Any]) -> dict[str, Any]:
    """JSON values, as the database would give them back."""
    out: dict[str, Any] = json_loads(json_dumps(dict(values)))
    return out


class MemoryTradeStore:
    """The trades of one backtest (see the module docstring)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._trades: dict[int, TradeRecord] = {}
        self._by_client_id: dict[str, int] = {}
        self._history: dict[int, list[TransitionRecord]] = {}
        self._by_position: dict[int, int] = {}
        self._live: dict[int, None] = {}  # ids of live trades, oldest first
        self._transition_ids = 0

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock.time(), tz=UTC)

    def all(self) -> builtins.list[TradeRecord]:
        """Every trade, in the order they were created."""
        return list(self._trades.values())

    def _log(
        self,
        trade_id: int,
        source: TradeStatus | None,
        target: TradeStatus,
        details: Mapping[str, Any],
    ) -> None:
        self._transition_ids += 1
        self._history.setdefault(trade_id, []).append(
            TransitionRecord(
                self._transition_ids,
                trade_id,
                source,
                target,
                self._now(),
                # Like the repository's history: money and prices as exact text.
                _plain({k: str(v) if isinstance(v, Decimal) else v for k, v in details.items()}),
            )
        )

    def _insert(self, status: TradeStatus, values: dict[str, Any]) -> TradeRecord:
        trade_id = len(self._trades) + 1
        now = self._now()
        defaults: dict[str, Any] = dict.fromkeys(
            (
                "timeframe", "requested_price", "entry_price", "sl", "tp", "exit_price",
                "profit", "swap", "commission", "mt5_order", "mt5_position", "signal_time",
                "open_time", "close_time", "close_reason", "confidence", "reason",
                "reject_code", "reject_message",
            )
        )  # fmt: skip
        record = TradeRecord(
            **{
                **defaults,
                "market_condition": {},
                "execution_details": {},
                **values,
                "id": trade_id,
                "status": status,
                "closed_volume": Decimal(0),
                "created_at": now,
                "updated_at": now,
            }
        )
        self._by_client_id[record.client_order_id] = trade_id
        self._store(record)
        return record

    def _store(self, record: TradeRecord) -> None:
        self._trades[record.id] = record
        if record.mt5_position is not None:
            holder = self._by_position.get(record.mt5_position, 0)
            self._by_position[record.mt5_position] = max(holder, record.id)  # the newest
        if record.status in LIVE_STATUSES:
            self._live[record.id] = None
        else:
            self._live.pop(record.id, None)

    async def create_intent(
        self,
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
    ) -> int:
        """An ``intent`` trade; idempotent on ``client_order_id`` like the repository."""
        values = changes.intent_values(
            client_order_id=client_order_id,
            strategy=strategy,
            symbol=symbol,
            timeframe=timeframe,
            side=side,
            volume=volume,
            requested_price=requested_price,
            sl=sl,
            tp=tp,
            signal_time=signal_time,
            confidence=confidence,
            reason=reason,
            market_condition=market_condition,
        )
        existing_id = self._by_client_id.get(client_order_id)
        if existing_id is not None:
            existing = self._trades[existing_id]
            theirs = (existing.strategy, existing.symbol, existing.side.label, existing.volume)
            ours = (strategy, symbol, values["side"].label, values["volume"])
            if theirs != ours:
                raise ClientOrderIdConflict(
                    f"client order id {client_order_id!r} already belongs to trade "
                    f"{existing_id} (strategy, symbol, side, volume = {theirs}), not {ours}"
                )
            return existing_id
        values["market_condition"] = _plain(values["market_condition"])
        record = self._insert(TradeStatus.INTENT, values)
        self._log(record.id, None, TradeStatus.INTENT, {"volume": str(values["volume"])})
        return record.id

    async def adopt_position(
        self,
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
    ) -> TradeRecord:
        if client_order_id in self._by_client_id:
            raise ClientOrderIdConflict(f"client order id {client_order_id!r} exists")
        values = changes.adopted_values(
            client_order_id=client_order_id,
            strategy=strategy,
            symbol=symbol,
            side=side,
            volume=volume,
            entry_price=entry_price,
            sl=sl,
            tp=tp,
            mt5_position=mt5_position,
            open_time=open_time,
            details=details,
        )
        values["execution_details"] = _plain(values["execution_details"])
        record = self._insert(TradeStatus.OPEN, values)
        self._log(record.id, None, TradeStatus.OPEN, details)
        return record

    async def mark_submitted(self, trade_id: int) -> TradeRecord:
        return self._apply(trade_id, changes.submitted())

    async def mark_open(
        self,
        trade_id: int,
        *,
        mt5_order: int,
        mt5_position: int,
        entry_price: Number,
        volume: Number,
        open_time: datetime,
        execution_details: Mapping[str, Any],
    ) -> TradeRecord:
        return self._apply(
            trade_id,
            changes.opened(
                mt5_order=mt5_order,
                mt5_position=mt5_position,
                entry_price=entry_price,
                volume=volume,
                open_time=open_time,
                execution_details=execution_details,
            ),
        )

    async def mark_rejected(
        self,
        trade_id: int,
        *,
        reject_code: int,
        reject_message: str,
        execution_details: Mapping[str, Any],
    ) -> TradeRecord:
        return self._apply(
            trade_id,
            changes.rejected(
                reject_code=reject_code,
                reject_message=reject_message,
                execution_details=execution_details,
            ),
        )

    async def mark_cancelled(
        self, trade_id: int, *, reason: str, execution_details: Mapping[str, Any] | None = None
    ) -> TradeRecord:
        return self._apply(
            trade_id, changes.cancelled(reason=reason, execution_details=execution_details)
        )

    async def mark_closing(
        self, trade_id: int, *, details: Mapping[str, Any] | None = None
    ) -> TradeRecord:
        return self._apply(trade_id, changes.closing(details=details))

    async def reopen(self, trade_id: int, *, reason: str) -> TradeRecord:
        return self._apply(trade_id, changes.reopened(reason=reason))

    async def record_partial_close(
        self,
        trade_id: int,
        *,
        closed_volume: Number,
        exit_price: Number,
        profit: Number,
        swap: Number,
        commission: Number,
    ) -> TradeRecord | None:
        closed = changes.positive_volume(closed_volume)
        current = self._get(trade_id)
        if not changes.partial_close_is_new(
            trade_id, recorded=current.closed_volume, volume=current.volume, closed=closed
        ):
            return None
        return self._apply(
            trade_id,
            changes.partly_closed(
                closed_volume=closed,
                exit_price=exit_price,
                profit=profit,
                swap=swap,
                commission=commission,
            ),
        )

    async def mark_closed(
        self,
        trade_id: int,
        *,
        exit_price: Number,
        close_time: datetime,
        profit: Number,
        swap: Number,
        commission: Number,
        close_reason: str,
    ) -> TradeRecord:
        return self._apply(
            trade_id,
            changes.closed(
                exit_price=exit_price,
                close_time=close_time,
                profit=profit,
                swap=swap,
                commission=commission,
                close_reason=close_reason,
            ),
        )

    async def update_stops(self, trade_id: int, *, sl: Number | None, tp: Number | None) -> None:
        record = self._trades.get(trade_id)
        if record is None:
            return  # the repository's UPDATE of an unknown id changes nothing too
        self._trades[trade_id] = dataclasses.replace(
            record, **changes.stops(sl, tp), updated_at=self._now()
        )

    def _get(self, trade_id: int) -> TradeRecord:
        record = self._trades.get(trade_id)
        if record is None:
            raise NotFoundError(f"trade {trade_id} does not exist")
        return record

    def _apply(self, trade_id: int, change: changes.Change) -> TradeRecord:
        current = self._get(trade_id)
        allowed = change.from_statuses or allowed_from(change.target)
        if current.status not in allowed or not can_move(current.status, change.target):
            raise IllegalTransition(trade_id, current.status, change.target)
        values: dict[str, Any] = dict(change.values)
        if change.details:
            values["execution_details"] = {**current.execution_details, **_plain(change.details)}
        if change.close_whole:
            values["closed_volume"] = current.volume
        record = dataclasses.replace(
            current, status=change.target, updated_at=self._now(), **values
        )
        self._store(record)
        self._log(trade_id, current.status, change.target, {**change.values, **change.log})
        return record

    async def get(self, trade_id: int) -> TradeRecord | None:
        return self._trades.get(trade_id)

    async def get_by_client_order_id(self, client_order_id: str) -> TradeRecord | None:
        trade_id = self._by_client_id.get(client_order_id)
        return None if trade_id is None else self._trades[trade_id]

    async def get_by_position(self, mt5_position: int) -> TradeRecord | None:
        trade_id = self._by_position.get(mt5_position)
        return None if trade_id is None else self._trades[trade_id]

    async def transitions(self, trade_id: int) -> builtins.list[TransitionRecord]:
        return list(self._history.get(trade_id, ()))

    async def open_trades(self) -> builtins.list[TradeRecord]:
        return [self._trades[trade_id] for trade_id in self._live]
