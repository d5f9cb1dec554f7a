"""The trade store the engine writes to: PostgreSQL in the daemon, memory in a backtest.

:class:`~forexbot.database.trades.TradeRepository` is the daemon's store;
:class:`~forexbot.backtest.trade_store.MemoryTradeStore` holds a backtest's trades so that a
backtest runs the very same risk, execution and position managers without a database. Both
enforce the lifecycle of :mod:`forexbot.domain.lifecycle` and raise
:class:`~forexbot.database.trades.IllegalTransition` for a move it does not allow.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from forexbot.database.records import TradeRecord
from forexbot.database.trades import TransitionRecord
from forexbot.domain.trading import Side

Number = float | Decimal


class TradeStore(Protocol):
    """What the trading engine reads and writes about trades (see the module docstring)."""

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
    ) -> int: ...

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
    ) -> TradeRecord: ...

    async def mark_submitted(self, trade_id: int) -> TradeRecord: ...

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
    ) -> TradeRecord: ...

    async def mark_rejected(
        self,
        trade_id: int,
        *,
        reject_code: int,
        reject_message: str,
        execution_details: Mapping[str, Any],
    ) -> TradeRecord: ...

    async def mark_cancelled(
        self, trade_id: int, *, reason: str, execution_details: Mapping[str, Any] | None = None
    ) -> TradeRecord: ...

    async def mark_closing(
        self, trade_id: int, *, details: Mapping[str, Any] | None = None
    ) -> TradeRecord: ...

    async def reopen(self, trade_id: int, *, reason: str) -> TradeRecord: ...

    async def record_partial_close(
        self,
        trade_id: int,
        *,
        closed_volume: Number,
        exit_price: Number,
        profit: Number,
        swap: Number,
        commission: Number,
    ) -> TradeRecord | None: ...

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
    ) -> TradeRecord: ...

    async def update_stops(
        self, trade_id: int, *, sl: Number | None, tp: Number | None
    ) -> None: ...

    async def get(self, trade_id: int) -> TradeRecord | None: ...

    async def get_by_client_order_id(self, client_order_id: str) -> TradeRecord | None: ...

    async def get_by_position(self, mt5_position: int) -> TradeRecord | None: ...

    async def transitions(self, trade_id: int) -> builtins.list[TransitionRecord]: ...

    async def open_trades(self) -> builtins.list[TradeRecord]: ...
