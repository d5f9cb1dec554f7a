"""The bars about to close, published after each poll that changes them, are the bars as they
stand: what closes is the last one published, unless a tick came after it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from forexbot.clock import ManualClock
from forexbot.connectors.connector import MT5Connector
from forexbot.connectors.mt5sim.terminal import SimulatedTerminal
from forexbot.connectors.worker import TerminalWorker
from forexbot.domain.market import Bar, Timeframe
from forexbot.events.bus import EventBus
from forexbot.events.types import BarEvent, Event, FormingBarsEvent

# Wednesday 2026-03-11 13:00 UTC: a busy hour.
START = datetime(2026, 3, 11, 13, 0, tzinfo=UTC).timestamp()
SYMBOLS = ("EURUSD", "GBPUSD", "USDJPY")
STEP = 0.1  # the daemon's default poll interval
HORIZON = 3 * STEP  # the last three polls of a bar, as the daemon sets it


async def run_connector(minutes: float, horizon: float = HORIZON) -> list[tuple[float, Event]]:
    """Every bar and forming-bars event, with the clock's time of the poll that published it."""
    clock = ManualClock(START + STEP / 2)  # polls off the minute, as a daemon's fall
    terminal = SimulatedTerminal(seed=5, clock=clock)
    bus = EventBus(default_maxsize=1_000_000)
    worker = TerminalWorker(default_timeout=30.0)
    worker.start()
    seen: list[tuple[float, Event]] = []

    async def record(event: Event) -> None:
        seen.append((clock.time(), event))

    bus.subscribe(BarEvent, record, name="bars")
    bus.subscribe(FormingBarsEvent, record, name="forming")
    bus.start()
    connector = MT5Connector(
        terminal, worker, bus, clock, SYMBOLS, [Timeframe.M1], 3600.0, forming_horizon=horizon
    )
    await connector.start()
    try:
        for _ in range(int(minutes * 60 / STEP)):
            clock.advance(STEP)
            await connector.poll_once()
            while not bus.idle():  # noqa: ASYNC110 - record in poll order
                await asyncio.sleep(0)
        await bus.close(timeout=10.0)
    finally:
        await connector.close()
        await worker.stop()
    return seen


async def test_forming_bars_are_published_only_within_the_horizon_of_their_end() -> None:
    seen = await run_connector(minutes=6)
    forming = [(t, e) for t, e in seen if isinstance(e, FormingBarsEvent)]
    shown = {(bar.symbol, bar.time) for _t, event in forming for bar in event.bars}
    assert len(shown) >= 6 * len(SYMBOLS)  # every bar of the run, before its end
    for t, event in forming:
        assert event.bars
        for bar in event.bars:
            end = bar.time + bar.timeframe.seconds
            assert 0 < end - t <= HORIZON + 1e-9


async def test_what_closes_is_the_last_forming_bar_published_unless_a_tick_came_after() -> None:
    seen = await run_connector(minutes=10)
    last_forming: dict[tuple[str, int], Bar] = {}
    equal = later = 0
    for _t, event in seen:
        if isinstance(event, FormingBarsEvent):
            for bar in event.bars:
                last_forming[(bar.symbol, bar.time)] = bar
        elif isinstance(event, BarEvent):
            bar = event.bar
            ahead = last_forming.get((bar.symbol, bar.time))
            assert ahead is not None, bar
            if ahead == bar:
                equal += 1
            else:  # ticks after it: the same bar, further on
                later += 1
                assert (ahead.time, ahead.open) == (bar.time, bar.open)
                assert ahead.tick_volume < bar.tick_volume
                assert ahead.high <= bar.high
                assert ahead.low >= bar.low
    assert equal + later >= 9 * len(SYMBOLS)
    assert equal > 4 * later  # a tick in the last poll interval is the exception


async def test_no_forming_bar_is_published_with_no_horizon() -> None:
    seen = await run_connector(minutes=2, horizon=0.0)
    assert not [e for _t, e in seen if isinstance(e, FormingBarsEvent)]
    assert [e for _t, e in seen if isinstance(e, BarEvent)]
