"""The trading engine as the daemon wires it, on the simulated terminal and a manual clock.

``trading_rig()`` builds: simulated terminal → worker → connector → event bus → risk,
execution and position managers (``forexbot.engine.assembly.build_engine``, the daemon's own
wiring) → the real PostgreSQL. Time moves only when a test moves it, and polling runs only
when a test polls, so every test is deterministic. Several rigs may share one database and one
paper-account file, which is how a crash and restart is played.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from polling import eventually
from sqlalchemy.ext.asyncio import AsyncEngine

from forexbot.clock import ManualClock
from forexbot.config.models import ExecutionSettings, RiskSettings, TradeManagement
from forexbot.connectors import mt5_constants as mt5c
from forexbot.connectors.connector import MT5Connector
from forexbot.connectors.mt5sim.faults import Faults
from forexbot.connectors.mt5sim.terminal import SimulatedTerminal
from forexbot.connectors.worker import TerminalWorker
from forexbot.database.system_config import SystemConfigRepository
from forexbot.database.system_logs import SystemLogRepository
from forexbot.database.trades import TradeRepository
from forexbot.domain.market import Timeframe
from forexbot.domain.trades import TradeRecord
from forexbot.domain.trading import Side, Signal, TradeStatus
from forexbot.engine.assembly import OrderPath, TradingEngine, build_engine
from forexbot.events.bus import EventBus
from forexbot.events.types import (
    Event,
    KillSwitchEvent,
    ReconciliationEvent,
    RiskLimitEvent,
    RiskRejectedEvent,
    TradeEvent,
)

MAGIC = 777
# A Tuesday in London hours: forex is open.
START = datetime(2026, 3, 10, 10, 0, tzinfo=UTC).timestamp()
# Generous limits, so a test meets only the rule it is about.
OPEN_LIMITS = RiskSettings(
    risk_per_trade_percent=1.0,
    max_open_positions=50,
    max_positions_per_symbol=50,
    max_exposure_per_currency_percent=100_000,
    max_margin_usage_percent=100,
    max_spread_stop_percent=100,
    max_daily_loss_percent=100,
    max_drawdown_percent=100,
    cooldown_minutes=0,
)
FAST = ExecutionSettings(retry_delay_ms=0, timeout_lookup_ms=0, sync_interval_seconds=3600)


@dataclass
class TradingRig:
    clock: ManualClock
    terminal: SimulatedTerminal
    bus: EventBus
    connector: MT5Connector
    trades: TradeRepository
    logs: SystemLogRepository
    store: SystemConfigRepository
    engine: TradingEngine
    order_path: OrderPath
    events: list[TradeEvent] = field(default_factory=list)
    seen: list[Event] = field(default_factory=list)  # reconciliation, kill switch, limits

    def seen_of(self, kind: type[Event]) -> list[Any]:
        return [event for event in self.seen if isinstance(event, kind)]

    @property
    def risk(self) -> Any:
        return self.engine.risk

    @property
    def execution(self) -> Any:
        return self.engine.execution

    @property
    def positions(self) -> Any:
        return self.engine.positions

    @property
    def orders(self) -> Any:
        return self.engine.orders

    async def settle(self) -> None:
        """Let every subscriber finish what was published (and what that published)."""

        async def quiet() -> bool:
            # Idle twice 10 ms apart: a handler's own publications have been taken up too.
            if not self.bus.idle():
                return False
            await asyncio.sleep(0.01)
            return self.bus.idle()

        await eventually(quiet, timeout=10.0, what="the bus to settle")

    async def wait_for(
        self, status: TradeStatus, trade_id: int | None = None, timeout: float = 10.0
    ) -> TradeEvent:
        """The first ``status`` trade event (of ``trade_id``, if given), waiting for it."""

        def found() -> TradeEvent | None:
            matching = (
                e for e in self.events if e.status is status and trade_id in (None, e.trade_id)
            )
            return next(matching, None)

        return await eventually(
            found,
            timeout=timeout,
            what=f"a {status} trade event",
            detail=lambda: f"got {[e.status for e in self.events]}",
        )

    def signal(
        self,
        side: Side,
        sl_points: float,
        tp_points: float,
        symbol: str = "EURUSD",
        strategy: str = "ma_rsi",
        timeframe: str = "M1",
    ) -> Signal:
        spec = self.connector.spec(symbol)
        tick = self.connector.last_tick(symbol)
        assert tick is not None, f"no tick for {symbol} yet"
        entry = tick.ask if side is Side.BUY else tick.bid
        sign = side.value
        return Signal(
            strategy=strategy,
            symbol=symbol,
            timeframe=timeframe,
            side=side,
            entry=entry,
            sl=entry - sign * sl_points * spec.point,
            tp=entry + sign * tp_points * spec.point if tp_points else 0.0,
            confidence=0.8,
            reason="test signal",
            bar_time=int(self.clock.time()) // 60 * 60,
        )

    async def trade(self, trade_id: int) -> TradeRecord:
        record = await self.trades.get(trade_id)
        assert record is not None
        return record

    async def advance(self, seconds: float, step: float = 60.0) -> None:
        """Move the market forward in steps, polling after each one."""
        done = 0.0
        while done < seconds:
            self.clock.advance(min(step, seconds - done))
            done += step
            await self.connector.poll_once()
        await self.settle()

    def at_terminal(self, **request: Any) -> Any:
        """An order placed at the terminal directly, by hand or by a process that died before
        recording it; the request's usual fields have defaults. Asserts it executed."""
        fields: dict[str, Any] = {
            "symbol": "EURUSD",
            "deviation": 20,
            "type_filling": mt5c.ORDER_FILLING_FOK,
            **request,
        }
        result = self.terminal.order_send(fields)
        assert result.retcode == mt5c.TRADE_RETCODE_DONE, result
        return result

    def close_at_terminal(self, ticket: int, volume: float, *, magic: int = 0) -> Any:
        """Close ``volume`` of position ``ticket`` from the terminal (no magic: by hand)."""
        position = self.terminal.positions_get(ticket=ticket)[0]
        tick = self.terminal.symbol_info_tick(position.symbol)
        buy = position.type == mt5c.POSITION_TYPE_BUY
        return self.at_terminal(
            action=mt5c.TRADE_ACTION_DEAL,
            symbol=position.symbol,
            volume=volume,
            type=mt5c.ORDER_TYPE_SELL if buy else mt5c.ORDER_TYPE_BUY,
            position=ticket,
            price=tick.bid if buy else tick.ask,
            magic=magic,
        )

    def our_positions(self) -> list[Any]:
        return [p for p in self.terminal.positions_get() or () if p.magic == MAGIC]


def hold_terminal_call(rig: TradingRig, name: str) -> tuple[threading.Event, threading.Event]:
    """Make the terminal's ``name`` wait, in the worker thread, for the returned ``release``;
    ``entered`` is set when a call starts waiting (the call then runs as usual)."""
    entered, release = threading.Event(), threading.Event()
    real = getattr(rig.terminal, name)

    def held(*args: Any, **kwargs: Any) -> Any:
        entered.set()
        release.wait(timeout=10)
        return real(*args, **kwargs)

    setattr(rig.terminal, name, held)
    return entered, release


@contextlib.asynccontextmanager
async def trading_rig(
    db_engine: AsyncEngine,
    *,
    symbols: Sequence[str] = ("EURUSD",),
    risk: RiskSettings = OPEN_LIMITS,
    execution: ExecutionSettings = FAST,
    state_path: Path | None = None,
    start: float = START,
    clock: ManualClock | None = None,
    faults: Faults | None = None,
    management: Callable[[str], TradeManagement | None] = lambda _key: None,
    start_engine: bool = True,
    hedging: bool = True,
    poll_interval: float = 3600.0,
    settle_after: Callable[[], bool] = lambda: False,
) -> AsyncIterator[TradingRig]:
    clock = clock or ManualClock(start)
    terminal = SimulatedTerminal(
        seed=7, clock=clock, state_path=state_path, faults=faults, hedging=hedging
    )
    bus = EventBus()
    worker = TerminalWorker(default_timeout=10.0)
    worker.start()
    connector = MT5Connector(
        terminal,
        worker,
        bus,
        clock,
        list(symbols),
        [Timeframe.M1],
        poll_interval=poll_interval,
        reconnect_max_delay=0.5,
    )
    trades = TradeRepository(db_engine)
    order_path = OrderPath(bus)  # what the daemon's strategy manager gives way to
    logs = SystemLogRepository(db_engine)
    store = SystemConfigRepository(db_engine)
    engine = build_engine(
        connector=connector,
        trades=trades,
        audit=logs,
        store=store,
        bus=bus,
        clock=clock,
        magic=MAGIC,
        risk=risk,
        execution=lambda: execution,
        management=management,
        order_path=order_path,
        settle_after=settle_after,
    )
    rig = TradingRig(clock, terminal, bus, connector, trades, logs, store, engine, order_path)

    async def record(event: TradeEvent) -> None:
        rig.events.append(event)

    async def record_other(event: Event) -> None:
        rig.seen.append(event)

    engine.subscribe()
    bus.subscribe(TradeEvent, record, name="test-recorder")
    for kind in (ReconciliationEvent, KillSwitchEvent, RiskLimitEvent, RiskRejectedEvent):
        bus.subscribe(kind, record_other, name=f"test-{kind.__name__}")
    bus.start()
    await connector.start()
    if start_engine:
        await engine.start()
    try:
        yield rig
    finally:
        await engine.stop()
        await bus.close(timeout=2.0)
        await connector.close()
        await worker.stop()


def recorded_sends(rig: TradingRig) -> list[str]:
    """The comments (client order ids) of the terminal's ``order_send`` calls from now on,
    in order."""
    real = rig.terminal.order_send
    comments: list[str] = []

    def order_send(request: dict[str, Any]) -> Any:
        comments.append(request["comment"])
        return real(request)

    rig.terminal.order_send = order_send  # type: ignore[method-assign]
    return comments
