"""What the backtest kernel reads from replayed bars directly: the tick at a minute's start,
without synthesising the minute (the terminal's ``last_tick`` at that instant), and a span of
M1 bars as a view (the terminal's ``m1_between`` of complete minutes); nothing where the data
is not M1 bars or the minute has no bar."""

from __future__ import annotations

import pathlib

import numpy as np

from forexbot.clock import ManualClock
from forexbot.connectors.mt5sim import intrabar
from forexbot.connectors.mt5sim.replay import ReplayBars, ReplayFeed
from forexbot.connectors.mt5sim.structures import RATES_DTYPE
from forexbot.connectors.mt5sim.terminal import SimulatedTerminal

DATA = pathlib.Path(__file__).parent / "data"
H1_FILE = DATA / "EURUSD_H1_202403040000_202403052300.csv"
TICKS_FILE = DATA / "GBPUSD_ticks_202403041000_202403041001.csv"
MONDAY = 19_786 * 86_400  # 2024-03-04 00:00 server time
LATER_UTC = MONDAY + 9 * 86_400  # all data is past


def _random_bars(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    bars = np.zeros(n, dtype=RATES_DTYPE)
    bars["time"] = MONDAY + np.sort(rng.choice(5 * 1_440, n, replace=False)) * 60
    o = np.round(1.08 + rng.normal(scale=1e-3, size=n), 5)
    c = np.where(rng.random(n) < 0.2, o, np.round(o + rng.normal(scale=3e-4, size=n), 5))
    bars["open"], bars["close"] = o, c
    bars["high"] = np.maximum(o, c) + np.round(rng.random(n) * 2e-4, 5) * (rng.random(n) < 0.7)
    bars["low"] = np.minimum(o, c) - np.round(rng.random(n) * 2e-4, 5) * (rng.random(n) < 0.7)
    bars["tick_volume"] = rng.integers(0, 300, n)
    bars["spread"] = rng.integers(0, 40, n)
    return bars


def test_the_first_tick_is_the_first_of_the_minutes_ticks() -> None:
    for bar in _random_bars(3_000, 1):
        for key, digits, point in ((7, 5, 1e-5), (123_456_789, 3, 1e-3)):
            whole = intrabar.ticks(bar, key, digits, point)
            assert intrabar.first_tick(bar, digits, point).tobytes() == whole[:1].tobytes()


def _terminal(source: object) -> SimulatedTerminal:
    terminal = SimulatedTerminal(seed=3, clock=ManualClock(LATER_UTC), replay={"EURUSD": source})
    assert terminal.initialize()
    return terminal


def test_at_every_minute_start_the_opening_tick_is_the_terminals_last_tick() -> None:
    bars = _random_bars(2_000, 2)
    for source in (ReplayBars(bars, 60), H1_FILE):
        terminal = _terminal(source)
        feed = terminal.feed
        assert isinstance(feed, ReplayFeed)
        market = terminal._market
        have = set((bars["time"] // 60).tolist()) if isinstance(source, ReplayBars) else None
        for minute in range(MONDAY // 60 - 5, MONDAY // 60 + 2 * 1_440):
            tick = feed.opening_tick("EURUSD", minute)
            if have is not None:
                assert (tick is not None) == (minute in have)
            if tick is not None:
                last = market.last_tick("EURUSD", minute * 60_000)
                assert last is not None
                assert tick.tobytes() == last.tobytes()
        terminal.shutdown()


def test_opening_ticks_at_once_are_each_minutes_opening_tick() -> None:
    bars = _random_bars(2_000, 5)
    for source in (ReplayBars(bars, 60), H1_FILE):
        terminal = _terminal(source)
        feed = terminal.feed
        assert isinstance(feed, ReplayFeed)
        minutes = np.arange(MONDAY // 60 - 5, MONDAY // 60 + 2 * 1_440, dtype=np.int64)
        answer = feed.opening_ticks("EURUSD", minutes)
        assert answer is not None
        have, ticks = answer
        assert have.any()
        for k, minute in enumerate(minutes.tolist()):
            tick = feed.opening_tick("EURUSD", minute)
            assert have[k] == (tick is not None)
            if tick is not None:
                assert ticks[k : k + 1].tobytes() == tick.tobytes()
        assert feed.opening_ticks("GBPUSD", minutes) is None
        terminal.shutdown()


def test_open_at_once_is_open_at_each_time() -> None:
    rng = np.random.default_rng(6)
    # Times around the bars, in their quiet minutes and session holes, before and after.
    times = np.sort(MONDAY - 3_600 + rng.random(20_000) * 7 * 86_400)
    times = np.concatenate((times, np.floor(times[::10])))
    times.sort()
    for source in (ReplayBars(_random_bars(2_000, 7), 60), H1_FILE, TICKS_FILE):
        symbol = "GBPUSD" if source == TICKS_FILE else "EURUSD"
        terminal = SimulatedTerminal(seed=3, clock=ManualClock(LATER_UTC), replay={symbol: source})
        assert terminal.initialize()
        feed = terminal.feed
        assert isinstance(feed, ReplayFeed)
        for name in (symbol, "USDJPY"):  # not replayed: the fallback feed's answer
            got = feed.are_open(name, times)
            assert got.tolist() == [feed.is_open(name, float(t)) for t in times.tolist()]
            if name == symbol:
                assert got.any()
                assert not got.all()
        terminal.shutdown()


def test_ticks_exports_and_other_symbols_have_no_opening_tick() -> None:
    terminal = SimulatedTerminal(
        seed=3, clock=ManualClock(LATER_UTC), replay={"GBPUSD": TICKS_FILE}
    )
    assert terminal.initialize()
    feed = terminal.feed
    assert isinstance(feed, ReplayFeed)
    minute = (MONDAY + 10 * 3_600) // 60
    assert feed.opening_tick("GBPUSD", minute) is None
    assert feed.opening_tick("EURUSD", minute) is None
    terminal.shutdown()


def test_an_m1_span_is_the_terminals_m1_bars_of_complete_minutes() -> None:
    bars = _random_bars(2_000, 3)
    terminal = _terminal(ReplayBars(bars, 60))
    feed = terminal.feed
    assert isinstance(feed, ReplayFeed)
    rng = np.random.default_rng(4)
    now = LATER_UTC * 1000
    spans = np.sort(rng.integers(MONDAY, MONDAY + 6 * 86_400, (40, 2)), axis=1).tolist()
    for start, stop in [(MONDAY - 600, MONDAY + 9 * 86_400), *spans]:
        span = feed.m1_span("EURUSD", start, stop)
        assert span is not None
        assert not span.flags.writeable
        expected = terminal._market.m1_between("EURUSD", start, stop, now)
        assert span.tobytes() == expected.tobytes()
    whole = feed.m1_span("EURUSD", MONDAY - 600, MONDAY + 9 * 86_400)
    assert whole is not None
    assert whole.tobytes() == bars.tobytes()
    terminal.shutdown()


def test_no_m1_span_of_longer_bars_ticks_or_other_symbols() -> None:
    h1 = _terminal(H1_FILE)
    assert isinstance(h1.feed, ReplayFeed)
    assert h1.feed.m1_span("EURUSD", MONDAY, MONDAY + 86_400) is None
    assert h1.feed.m1_span("GBPUSD", MONDAY, MONDAY + 86_400) is None
    h1.shutdown()
