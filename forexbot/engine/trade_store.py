"""The trade store the engine writes to: PostgreSQL in the daemon, memory in a backtest.

:class:`~forexbot.database.trades.TradeRepository` is the daemon's store;
:class:`~forexbot.backtest.trade_store.MemoryTradeStore` holds a backtest's trades so that a
backtest runs the very same risk, execution and position managers without a database. Both
write through :class:`~forexbot.database.trade_store_base.TradeStoreBase`, so both enforce the
lifecycle of :mod:`forexbot.domain.lifecycle` and raise
:class:`~forexbot.database.trade_changes.IllegalTransition` for a move it does not allow; one
contract test suite runs against both.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from forexbot.domain.trades import (
    AdoptedPosition,
    ExitTotals,
    Fill,
    NewTrade,
    Number,
    TradeRecord,
    TransitionRecord,
)
from forexbot.errors import ForexbotError


class TradeStore(Protocol):
    """What the trading engine reads and writes about trades (see the module docstring)."""

    async def create_intent(self, trade: NewTrade) -> int: ...

    async def submit_intent(self, trade: NewTrade) -> TradeRecord: ...

    async def submit_intents(
        self, trades: builtins.list[NewTrade]
    ) -> builtins.list[TradeRecord | ForexbotError]: ...

    async def adopt_position(self, position: AdoptedPosition) -> TradeRecord: ...

    async def mark_submitted(self, trade_id: int) -> TradeRecord: ...

    async def mark_open(self, trade_id: int, fill: Fill) -> TradeRecord: ...

    async def mark_rejected(
        self, trade_id: int, *, code: int, message: str, execution_details: Mapping[str, Any]
    ) -> TradeRecord: ...

    async def mark_cancelled(
        self, trade_id: int, *, reason: str, execution_details: Mapping[str, Any] | None = None
    ) -> TradeRecord: ...

    async def mark_closing(
        self, trade_id: int, *, details: Mapping[str, Any] | None = None
    ) -> TradeRecord: ...

    async def reopen(self, trade_id: int, *, reason: str) -> TradeRecord: ...

    async def record_partial_close(
        self, trade_id: int, totals: ExitTotals, *, closed_volume: Number
    ) -> TradeRecord | None: ...

    async def mark_closed(
        self, trade_id: int, totals: ExitTotals, *, close_time: datetime, close_reason: str
    ) -> TradeRecord: ...

    async def update_stops(
        self, trade_id: int, *, sl: Number | None, tp: Number | None
    ) -> None: ...

    async def get(self, trade_id: int) -> TradeRecord | None: ...

    async def get_by_client_order_id(self, client_order_id: str) -> TradeRecord | None: ...

    async def get_by_position(self, mt5_position: int) -> TradeRecord | None: ...

    async def transitions(self, trade_id: int) -> builtins.list[TransitionRecord]: ...

    async def open_trades(self) -> builtins.list[TradeRecord]: ...
