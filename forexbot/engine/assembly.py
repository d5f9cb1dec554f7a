"""Wiring the trading engine: risk, execution and position managers and their control.

The three managers refer to each other (risk counts positions and closes them on a kill
switch; execution asks risk whether trading is halted and hands fills to positions), so they
are built together here. The orders in flight are one book
(:class:`~forexbot.engine.in_flight.OrdersInFlight`) created here and given to risk (which
reserves on approval and releases on settlement), execution (which marks what it is sending)
and positions (whose reconciliation leaves those alone). The daemon, the integration tests,
the backtest and the benchmarks use this one function, so they run the same engine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from forexbot.audit import AuditLog
from forexbot.clock import Clock
from forexbot.config.models import ExecutionSettings, RiskSettings, TradeManagement
from forexbot.connectors.connector import MT5Connector
from forexbot.engine.control import TradingControl
from forexbot.engine.execution import ExecutionManager
from forexbot.engine.in_flight import OrdersInFlight
from forexbot.engine.kill_latch import KillSwitchLatch
from forexbot.engine.order_path import ORDER_PATH, OrderPath
from forexbot.engine.positions import PositionManager
from forexbot.engine.risk import RiskManager, server_day
from forexbot.engine.risk_ports import RiskStateStore
from forexbot.engine.risk_state import RiskLimits
from forexbot.engine.trade_store import TradeStore
from forexbot.events.bus import EventBus

__all__ = ["ORDER_PATH", "OrderPath", "TradingEngine", "build_engine"]


@dataclass(frozen=True, slots=True)
class TradingEngine:
    """The engine's components, subscribed to the bus by :meth:`subscribe`."""

    risk: RiskManager
    execution: ExecutionManager
    positions: PositionManager
    control: TradingControl
    orders: OrdersInFlight

    def subscribe(self) -> None:
        for component in (self.risk, self.execution, self.positions):
            component.subscribe()

    async def start(self) -> None:
        """Load the risk state, reconcile with the terminal, and finish a kill switch's
        close-all that a crash interrupted. The bus must be running."""
        await self.risk.start()
        await self.positions.start()
        await self.risk.ensure_flat_if_halted()
        self.risk.mark_ready()

    async def stop(self) -> None:
        """Stop the position sync and wait (bounded) for the orders being settled."""
        await self.positions.stop()
        await self.execution.stop()


def build_engine(
    *,
    connector: MT5Connector,
    trades: TradeStore,
    audit: AuditLog,
    store: RiskStateStore | None,
    bus: EventBus,
    clock: Clock,
    magic: int,
    risk: RiskSettings,
    execution: Callable[[], ExecutionSettings],
    management: Callable[[str], TradeManagement | None] = lambda _key: None,
    latch: KillSwitchLatch | None = None,
    order_path: OrderPath | None = None,
    settle_after: Callable[[], bool] = lambda: False,
) -> TradingEngine:
    """Build the engine around a connector (see the module docstring). ``order_path`` is
    the state the strategy manager gives way to; the execution manager keeps it.
    ``settle_after`` says when background settlements wait for the analysis (see
    :mod:`~forexbot.engine.execution`)."""
    orders = OrdersInFlight()
    limits = RiskLimits(risk, store)  # read by the position manager, changed through risk
    positions = PositionManager(
        connector,
        trades,
        bus,
        clock,
        magic,
        audit=audit,
        settings=execution,
        deviation_points=lambda: limits.settings.deviation_points,
        in_flight=orders.being_sent,
        management=management,
    )
    risk_manager = RiskManager(
        limits,
        connector,
        positions,
        bus,
        clock,
        audit,
        orders=orders,
        store=store,
        closer=positions,
        trading_day=lambda t: server_day(t, connector.server_offset),
        latch=latch,
    )
    execution_manager = ExecutionManager(
        connector,
        trades,
        bus,
        clock,
        magic,
        deviation_points=lambda: limits.settings.deviation_points,
        settings=execution,
        orders=orders,
        halted=risk_manager.sending_blocked,
        on_open=positions.track,
        order_path=order_path,
        settle_after=settle_after,
    )
    control = TradingControl(
        risk_manager,
        execution_manager,
        positions,
        trades,
        clock,
        connector.symbols,
        connector.spec,
    )
    return TradingEngine(risk_manager, execution_manager, positions, control, orders)
