"""Broker server time stops at the connector: it learns the offset and follows it through the
US daylight-saving change the simulated broker (New York + 7 h) observes."""

from __future__ import annotations

from datetime import UTC, datetime

from forexbot.clock import ManualClock
from forexbot.connectors.connector import MT5Connector
from forexbot.connectors.mt5sim.terminal import SimulatedTerminal
from forexbot.connectors.worker import TerminalWorker
from forexbot.domain.market import Timeframe
from forexbot.events.bus import EventBus
from forexbot.events.types import TickEvent

# US DST starts Sunday 2026-03-08 at 07:00 UTC; synthetic indices trade through it.
BEFORE_DST = datetime(2026, 3, 8, 5, 0, tzinfo=UTC).timestamp()
SYMBOL = "Volatility 75 Index"


async def test_offset_follows_the_dst_change_and_tick_times_stay_utc() -> None:
    clock = ManualClock(BEFORE_DST)
    terminal = SimulatedTerminal(seed=5, clock=clock)
    bus = EventBus(default_maxsize=1_000_000)
    worker = TerminalWorker(default_timeout=10.0)
    worker.start()
    ticks: list[TickEvent] = []

    async def on_tick(event: TickEvent) -> None:
        ticks.append(event)

    bus.subscribe(TickEvent, on_tick, name="ticks")
    bus.start()
    connector = MT5Connector(terminal, worker, bus, clock, [SYMBOL], [Timeframe.M1], 3600.0)
    await connector.start()
    try:
        assert connector.server_offset == 2 * 3600
        lags = []
        for _ in range(4 * 60):
            clock.advance(60)
            await connector.poll_once()
            if connector.last_tick(SYMBOL) is not None:
                lags.append(clock.time() - connector.last_tick(SYMBOL).time)  # type: ignore[union-attr]
        assert connector.server_offset == 3 * 3600
        # Every poll's newest tick, converted to UTC, is at most a poll old: no hour jump.
        assert max(lags) < 60
        assert min(lags) >= 0
    finally:
        await bus.close(timeout=5.0)
        await connector.close()
        await worker.stop()
