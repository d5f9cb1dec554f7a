"""Bars built by the connector from polled ticks are the terminal's own bars, on every
timeframe the daemon uses — including H4 and D1, which the terminal aligns on server time."""

from __future__ import annotations

from datetime import UTC, datetime

from forexbot.clock import ManualClock
from forexbot.connectors.connector import MT5Connector
from forexbot.connectors.mt5sim.terminal import SimulatedTerminal
from forexbot.connectors.worker import TerminalWorker
from forexbot.domain.market import Bar, Timeframe
from forexbot.events.bus import EventBus
from forexbot.events.types import BarEvent

# Tuesday 2026-03-03 09:00 UTC; the run crosses two server midnights (22:00 UTC).
START = datetime(2026, 3, 3, 9, 0, tzinfo=UTC).timestamp()
SYMBOLS = ("EURUSD", "Volatility 75 Index")
TIMEFRAMES = tuple(Timeframe)


async def _run_connector(
    hours: float, step: float
) -> tuple[SimulatedTerminal, MT5Connector, list[Bar]]:
    clock = ManualClock(START)
    terminal = SimulatedTerminal(seed=11, clock=clock)
    bus = EventBus(default_maxsize=1_000_000)
    worker = TerminalWorker(default_timeout=30.0)
    worker.start()
    bars: list[Bar] = []

    async def on_bar(event: BarEvent) -> None:
        bars.append(event.bar)

    bus.subscribe(BarEvent, on_bar, name="bars")
    bus.start()
    connector = MT5Connector(terminal, worker, bus, clock, SYMBOLS, TIMEFRAMES, 3600.0)
    await connector.start()
    try:
        for _ in range(int(hours * 3600 / step)):
            clock.advance(step)
            await connector.poll_once()
        await bus.close(timeout=10.0)
    finally:
        await connector.close()
        await worker.stop()
    assert terminal.initialize()  # the connector shut it down; reopen it to compare
    return terminal, connector, bars


async def test_every_timeframe_matches_the_terminals_bars() -> None:
    terminal, connector, bars = await _run_connector(hours=50, step=300)
    offset = connector.server_offset
    assert offset == 7200  # March, before US DST: the server is at UTC+2

    checked: dict[tuple[str, Timeframe], int] = {}
    for bar in bars:
        rates = terminal.copy_rates_range(
            bar.symbol, bar.timeframe.mt5_value, bar.time + offset, bar.time + offset
        )
        assert rates is not None
        assert len(rates) == 1, (bar.symbol, bar.timeframe, bar.time)
        row = rates[0]
        expected = (row["open"], row["high"], row["low"], row["close"], int(row["tick_volume"]))
        assert (bar.open, bar.high, bar.low, bar.close, bar.tick_volume) == expected
        assert bar.spread == int(row["spread"])
        key = (bar.symbol, bar.timeframe)
        checked[key] = checked.get(key, 0) + 1

    for symbol in SYMBOLS:
        assert checked[(symbol, Timeframe.D1)] >= 2
        assert checked[(symbol, Timeframe.H4)] >= 11
        assert checked[(symbol, Timeframe.M1)] >= 2900


async def test_d1_bars_open_at_server_midnight() -> None:
    _, connector, bars = await _run_connector(hours=30, step=600)
    daily = [b for b in bars if b.timeframe is Timeframe.D1]
    assert daily
    for bar in daily:
        opened = datetime.fromtimestamp(bar.time + connector.server_offset, tz=UTC)
        assert (opened.hour, opened.minute) == (0, 0)
        assert datetime.fromtimestamp(bar.time, tz=UTC).hour == 22


async def test_bars_of_one_stream_are_published_once_and_in_order() -> None:
    _, _, bars = await _run_connector(hours=6, step=120)
    for symbol in SYMBOLS:
        for tf in TIMEFRAMES:
            times = [b.time for b in bars if b.symbol == symbol and b.timeframe is tf]
            assert times == sorted(set(times))
