"""Run-time control of the trading engine: what the API's trading and risk routes call.

Rules:

* A manual trade is a :class:`~forexbot.domain.trading.Signal` of strategy ``manual`` that goes
  through the same risk manager as every strategy signal (kill switch, daily loss, cooldown,
  spread, stops, position limits, per-trade risk, currency exposure, margin), then through the
  same execution manager: persisted before it is sent, retried only when retryable, found
  after a lost answer. Only the market-condition filter does not apply (a person is the
  judge of the market). Without a volume it is sized like a strategy's trade; with one, the
  volume must be valid for the symbol and risk no more than the per-trade limit. A stop-loss is
  required: the risk of every trade is bounded.
* Closes and SL/TP changes go to the position manager, which validates them like the terminal.
* Every refusal is an exception of its kind, with a machine-readable code where a client can
  act on it (:mod:`forexbot.api.errors` alone chooses the HTTP status):
  :class:`~forexbot.errors.RiskRejection` (the risk code), an unwatched symbol
  :class:`~forexbot.errors.InvalidInputError` (``unknown_symbol``), a daemon that is stopping
  :class:`~forexbot.errors.ShuttingDownError`, and what closes and SL/TP changes raise
  (:data:`~forexbot.engine.position_actions.ACTION_FAILURES`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from forexbot.clock import Clock
from forexbot.domain.market import SymbolSpec
from forexbot.domain.trades import TradeRecord, TransitionRecord
from forexbot.domain.trading import ManualOrder, Signal
from forexbot.engine.execution import ExecutionManager
from forexbot.engine.positions import PositionManager
from forexbot.engine.risk import RiskManager
from forexbot.engine.trade_store import TradeStore
from forexbot.errors import InvalidInputError, ShuttingDownError


class TradingControl:
    """The engine as the API drives it."""

    def __init__(
        self,
        risk: RiskManager,
        execution: ExecutionManager,
        positions: PositionManager,
        trades: TradeStore,
        clock: Clock,
        symbols: tuple[str, ...],
        spec_of: Callable[[str], SymbolSpec],
    ) -> None:
        self._risk = risk
        self._execution = execution
        self._positions = positions
        self._trades = trades
        self._clock = clock
        self._symbols = symbols
        self._spec_of = spec_of
        self._stopping = False

    def stop_accepting(self) -> None:
        """The daemon is shutting down: refuse every new action
        (:class:`~forexbot.errors.ShuttingDownError`) from now on."""
        self._stopping = True

    def _check_running(self) -> None:
        if self._stopping:
            raise ShuttingDownError("the daemon is shutting down")

    async def open_trade(self, order: ManualOrder, *, actor: str) -> TradeRecord:
        """Risk-check and send a manual market order; the resulting trade (open, rejected, or
        submitted when the terminal's answer was lost)."""
        self._check_running()
        if order.symbol not in self._symbols:
            raise InvalidInputError(
                f"{order.symbol!r} is not watched; the watchlist is {list(self._symbols)}",
                code="unknown_symbol",
            )
        spec = self._spec_of(order.symbol)
        now = self._clock.time()
        signal = Signal(
            strategy="manual",
            symbol=order.symbol,
            timeframe="",
            side=order.side,
            entry=0.0,
            sl=spec.round_price(order.sl),
            tp=spec.round_price(order.tp) if order.tp else 0.0,
            confidence=1.0,
            reason=order.comment or f"manual trade by {actor}",
            bar_time=int(now),
        )
        intent = await self._risk.approve_manual(signal, order.volume)
        trade_id = await self._execution.execute(intent)
        record = await self._trades.get(trade_id)
        assert record is not None
        return record

    async def close_trade(self, trade_id: int, *, volume: float | None, actor: str) -> TradeRecord:
        self._check_running()
        return await self._positions.close_trade(
            trade_id, volume=volume, reason="manual_api", actor=actor
        )

    async def modify_trade(
        self, trade_id: int, *, sl: float | None, tp: float | None, actor: str
    ) -> TradeRecord:
        self._check_running()
        return await self._positions.modify_trade(trade_id, sl=sl, tp=tp, actor=actor)

    async def close_position(self, ticket: int, *, volume: float | None, actor: str) -> TradeRecord:
        self._check_running()
        return await self._positions.close_position(
            ticket, volume=volume, reason="manual_api", actor=actor
        )

    async def modify_position(
        self, ticket: int, *, sl: float | None, tp: float | None, actor: str
    ) -> TradeRecord:
        self._check_running()
        return await self._positions.modify_position(ticket, sl=sl, tp=tp, actor=actor)

    async def trade_history(self, trade_id: int) -> list[TransitionRecord] | None:
        """The trade's transitions, oldest first; ``None`` for an unknown trade."""
        if await self._trades.get(trade_id) is None:
            return None
        return await self._trades.transitions(trade_id)

    def risk_state(self) -> dict[str, Any]:
        return self._risk.describe()

    async def update_risk_limits(self, changes: dict[str, Any], *, actor: str) -> dict[str, Any]:
        self._check_running()
        await self._risk.update_limits(changes, actor=actor)
        return self._risk.describe()

    async def trip_kill_switch(self, reason: str, *, actor: str) -> dict[str, Any]:
        closed = await self._risk.trip_kill_switch(reason, actor=actor)
        return {**self._risk.describe(), "closed": closed}

    async def resume_trading(self, *, actor: str) -> dict[str, Any]:
        self._check_running()
        await self._risk.resume(actor=actor)
        return self._risk.describe()
