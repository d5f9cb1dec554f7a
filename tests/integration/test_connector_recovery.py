"""The connector survives a failing poll: it reports it, reconnects and goes on polling."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from polling import eventually

from forexbot.clock import ManualClock
from forexbot.connectors.connector import MT5Connector
from forexbot.connectors.mt5sim.terminal import SimulatedTerminal
from forexbot.connectors.worker import TerminalWorker
from forexbot.domain.market import Timeframe
from forexbot.events.bus import EventBus
from forexbot.events.types import ConnectionState, ConnectionStateEvent, TickEvent

START = datetime(2026, 3, 10, 10, 0, tzinfo=UTC).timestamp()


class FailingOnce(SimulatedTerminal):
    """A simulated terminal whose n-th ``copy_ticks_from`` raises, like a buggy backend."""

    def __init__(self, fail_on_call: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._calls = 0
        self._fail_on_call = fail_on_call

    def copy_ticks_from(self, *args: Any, **kwargs: Any) -> Any:
        self._calls += 1
        if self._calls == self._fail_on_call:
            raise RuntimeError("backend bug")
        return super().copy_ticks_from(*args, **kwargs)


async def test_an_unexpected_poll_error_reconnects_and_polling_goes_on() -> None:
    clock = ManualClock(START)
    terminal = FailingOnce(2, seed=3, clock=clock)
    bus = EventBus()
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
        terminal, worker, bus, clock, ["EURUSD"], [Timeframe.M1], poll_interval=0.01
    )
    await connector.start()

    def recovered() -> bool:
        if connector.reconnects and len(ticks) > 50:
            return True
        clock.advance(5)  # the market moves on while we wait
        return False

    try:
        await eventually(recovered, timeout=20.0, what="a reconnect and 50 ticks", interval=0.01)
        assert connector.poll_failures == 1
        assert connector.reconnects == 1
        assert connector.state is ConnectionState.CONNECTED
        assert ConnectionState.DISCONNECTED in states
        times = [t.tick.time for t in ticks]
        assert times == sorted(times)
        assert len(set(times)) == len(times)
        assert len(ticks) > 50
    finally:
        await connector.close()
        await bus.close(timeout=1.0)
        await worker.stop()
