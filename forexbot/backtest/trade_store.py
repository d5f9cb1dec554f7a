"""A backtest's trades, kept in memory with the rules of the database's trade repository.

A backtest runs the live risk, execution and position managers; they write trades through the
:class:`~forexbot.engine.trade_store.TradeStore` protocol. This store keeps those trades in a
dict instead of PostgreSQL, so a backtest needs no database, leaves the live ``trades`` table
alone, and runs as many times in parallel as there are processes. Its writes are those of
:class:`~forexbot.database.trade_store_base.TradeStoreBase`, as for
:class:`~forexbot.database.trades.TradeRepository`, so it enforces the same rules (idempotent
intents, checked moves with a history, conserved volume, exact money, merged execution
details); the contract tests run against both. JSON values (market condition, execution
details, history details) are kept as the database would give them back.

Times (``created_at``, ``updated_at``, transition times) come from the backtest's virtual
clock; ids count from 1 in creation order.

Each trade's columns are also kept as a dict (its row), and a move builds the new record from
the row with the move's values in one constructor call: a trade makes four moves (submitted,
open, closing, closed) and ``dataclasses.replace`` would read every field of the old record
back each time, the costliest line of the store in a backtest's profile.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from forexbot.clock import Clock
from forexbot.database import trade_changes as changes
from forexbot.database._convert import json_dumps, json_loads
from forexbot.database.trade_store_base import TradeStoreBase
from forexbot.domain.lifecycle import LIVE_STATUSES
from forexbot.domain.trades import ClientOrderIdConflict, Number, TradeRecord, TransitionRecord
from forexbot.domain.trading import TradeStatus
from forexbot.errors import NotFoundError


def _plain(values: Mapping[str, Any]) -> dict[str, Any]:
    """JSON values, as the database would give them back."""
    out: dict[str, Any] = json_loads(json_dumps(dict(values)))
    return out


class MemoryTradeStore(TradeStoreBase):
    """The trades of one backtest (see the module docstring)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._trades: dict[int, TradeRecord] = {}
        self._rows: dict[int, dict[str, Any]] = {}  # each trade's columns, as in its record
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
        at: datetime,
    ) -> None:
        self._transition_ids += 1
        self._history.setdefault(trade_id, []).append(
            TransitionRecord(self._transition_ids, trade_id, source, target, at, _plain(details))
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
        row = {
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
        record = TradeRecord(**row)
        self._by_client_id[record.client_order_id] = trade_id
        self._store(record, row)
        return record

    def _store(self, record: TradeRecord, row: dict[str, Any]) -> None:
        self._trades[record.id] = record
        self._rows[record.id] = row
        if record.mt5_position is not None:
            holder = self._by_position.get(record.mt5_position, 0)
            self._by_position[record.mt5_position] = max(holder, record.id)  # the newest
        if record.status in LIVE_STATUSES:
            self._live[record.id] = None
        else:
            self._live.pop(record.id, None)

    async def _insert_intent(
        self, values: dict[str, Any], history: Mapping[str, Any]
    ) -> tuple[int, changes.OrderKey | None]:
        existing_id = self._by_client_id.get(values["client_order_id"])
        if existing_id is not None:
            existing = self._trades[existing_id]
            key = (existing.strategy, existing.symbol, existing.side.label, existing.volume)
            return existing_id, key
        values["market_condition"] = _plain(values["market_condition"])
        record = self._insert(TradeStatus.INTENT, values)
        self._log(record.id, None, TradeStatus.INTENT, history, record.created_at)
        return record.id, None

    async def _insert_adopted(
        self, values: dict[str, Any], history: Mapping[str, Any]
    ) -> TradeRecord:
        client_order_id = values["client_order_id"]
        if client_order_id in self._by_client_id:
            raise ClientOrderIdConflict(f"client order id {client_order_id!r} exists")
        values["execution_details"] = _plain(values["execution_details"])
        record = self._insert(TradeStatus.OPEN, values)
        self._log(record.id, None, TradeStatus.OPEN, history, record.created_at)
        return record

    async def _apply(self, trade_id: int, change: changes.Change) -> TradeRecord:
        current = self._trades.get(trade_id)
        if current is None:
            raise NotFoundError(f"trade {trade_id} does not exist")
        change.check(trade_id, current.status)
        now = self._now()
        row = {**self._rows[trade_id], **change.values, "status": change.target, "updated_at": now}
        if change.details:
            row["execution_details"] = {**current.execution_details, **_plain(change.details)}
        if change.close_whole:
            row["closed_volume"] = current.volume
        record = TradeRecord(**row)
        self._store(record, row)
        self._log(trade_id, current.status, change.target, change.history(), now)
        return record

    async def update_stops(self, trade_id: int, *, sl: Number | None, tp: Number | None) -> None:
        row = self._rows.get(trade_id)
        if row is None:
            return  # the repository's UPDATE of an unknown id changes nothing too
        row = {**row, **changes.stops(sl, tp), "updated_at": self._now()}
        self._trades[trade_id] = TradeRecord(**row)
        self._rows[trade_id] = row

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
