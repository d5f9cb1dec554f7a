"""The connector against a failing terminal (the simulator's fault injection): it reports the
outage, reconnects with backoff, selects its symbols again, and misses no tick."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest_asyncio
from polling import eventually

from forexbot.clock import ManualClock
from forexbot.connectors import mt5_constants as mt5c
from forexbot.connectors.connector import MT5Connector
from forexbot.connectors.mt5sim.terminal import SimulatedTerminal
from forexbot.connectors.worker import TerminalWorker
from forexbot.domain.market import Timeframe
from forexbot.events.bus import EventBus
from forexbot.events.types import ConnectionState, ConnectionStateEvent, TickEvent

START = datetime(2026, 3, 10, 10, 0, tzinfo=UTC).timestamp()
SYMBOLS = ("EURUSD", "Volatility 75 Index")


class CountingTerminal(SimulatedTerminal):
    """Counts ``symbol_select`` calls, to see the re-subscription after a reconnect."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.selects = 0

    def symbol_select(self, symbol: str, enable: bool = True) -> bool:
        self.selects += 1
        return super().symbol_select(symbol, enable)


@dataclass
class Running:
    clock: ManualClock
    terminal: CountingTerminal
    connector: MT5Connector
    ticks: list[TickEvent]
    states: list[ConnectionState]

    async def run_for(self, sim_seconds: float, step: float = 5.0) -> None:
        for _ in range(int(sim_seconds / step)):
            self.clock.advance(step)
            await asyncio.sleep(0.005)

    async def until(self, condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
        """Wait for ``condition``, the market moving on one second at each check that fails."""

        def reached() -> bool:
            if condition():
                return True
            self.clock.advance(1)
            return False

        await eventually(reached, timeout=timeout, what=what, interval=0.01)


@pytest_asyncio.fixture(loop_scope="function")
async def running() -> AsyncIterator[Running]:
    clock = ManualClock(START)
    terminal = CountingTerminal(seed=21, clock=clock)
    bus = EventBus(default_maxsize=1_000_000)
    worker = TerminalWorker(default_timeout=5.0)
    worker.start()
    ticks: list[TickEvent] = []
    states: list[ConnectionState] = []

    async def on_tick(event: TickEvent) -> None:
        ticks.append(event)

    async def on_state(event: ConnectionStateEvent) -> None:
        states.append(event.state)

    bus.subscribe(TickEvent, on_tick, name="ticks")
    bus.subscribe(ConnectionStateEvent, on_state, name="states")
    bus.start()
    connector = MT5Connector(
        terminal,
        worker,
        bus,
        clock,
        SYMBOLS,
        [Timeframe.M1],
        poll_interval=0.005,
        reconnect_max_delay=0.2,
        health_interval=0.05,
    )
    await connector.start()
    try:
        yield Running(clock, terminal, connector, ticks, states)
    finally:
        await connector.close()
        await bus.close(timeout=2.0)
        await worker.stop()


def _received(running: Running, symbol: str) -> list[int]:
    offset = running.connector.server_offset
    return [round((t.tick.time + offset) * 1000) for t in running.ticks if t.symbol == symbol]


async def test_disconnect_is_reported_and_reconnect_misses_no_tick(running: Running) -> None:
    first_seen = running.connector.last_tick("Volatility 75 Index")
    assert first_seen is not None
    await running.run_for(60)
    running.terminal.faults.disconnect()
    await running.until(
        lambda: running.connector.state is ConnectionState.DISCONNECTED, "the disconnection"
    )
    await running.run_for(300)  # five minutes of market while the terminal is away
    running.terminal.faults.reconnect()
    await running.until(
        lambda: running.connector.state is ConnectionState.CONNECTED, "the reconnection"
    )
    await running.run_for(60)
    await asyncio.sleep(0.2)

    assert running.connector.reconnects == 1
    assert running.states[-2:] == [ConnectionState.DISCONNECTED, ConnectionState.CONNECTED]
    for symbol in SYMBOLS:
        received = _received(running, symbol)
        assert received == sorted(set(received)), "duplicated or out-of-order ticks"
        expected = running.terminal.copy_ticks_range(
            symbol, received[0] // 1000, received[-1] // 1000, mt5c.COPY_TICKS_ALL
        )
        assert expected is not None
        wanted = [int(t) for t in expected["time_msc"] if received[0] <= t <= received[-1]]
        assert received == wanted, f"{symbol}: ticks missed across the outage"


async def test_reconnect_selects_the_watchlist_again(running: Running) -> None:
    selects_at_start = running.terminal.selects
    assert selects_at_start == len(SYMBOLS)
    running.terminal.faults.disconnect()
    await running.until(
        lambda: running.connector.state is ConnectionState.DISCONNECTED, "the disconnection"
    )
    running.terminal.faults.reconnect()
    await running.until(
        lambda: running.connector.state is ConnectionState.CONNECTED, "the reconnection"
    )
    assert running.terminal.selects == 2 * len(SYMBOLS)


async def test_ipc_timeouts_make_the_connector_reconnect(running: Running) -> None:
    running.terminal.faults.ipc_timeout(calls=3)
    await running.until(lambda: running.connector.reconnects == 1, "a reconnect")
    assert ConnectionState.DISCONNECTED in running.states
    before = len(running.ticks)
    await running.run_for(60)
    await asyncio.sleep(0.1)
    assert len(running.ticks) > before
