"""Ticks of scattered minutes read at once: each minute exactly as the day generates it (and
as ``minute_ticks`` gives it), whatever minutes are read with it, on every kind of model,
under a fixed spread, for crosses and for replayed data; and the backtest kernel's quotes at
a strategy's few decision times, read that way, are the terminal's ``last_tick`` there."""

from __future__ import annotations

import numpy as np
import pytest

from forexbot.backtest.kernel_market import KernelMarket
from forexbot.clock import ManualClock
from forexbot.connectors.mt5sim.feed import GeneratedFeed, PriceFeed, ticks_of_minutes
from forexbot.connectors.mt5sim.replay import ReplayBars
from forexbot.connectors.mt5sim.spread import FixedSpreadFeed
from forexbot.connectors.mt5sim.structures import RATES_DTYPE
from forexbot.connectors.mt5sim.symbols import Catalogue
from forexbot.connectors.mt5sim.terminal import SimulatedTerminal
from forexbot.connectors.mt5sim.timeutil import MINUTES_PER_DAY

MONDAY = 19_786  # 2024-03-04, server day
LATER_UTC = (MONDAY + 12) * 86_400  # every day read is past
SYMBOLS = ("EURUSD", "USDJPY", "Volatility 75 Index", "Boom 500 Index", "Step Index")


def _scattered(rng: np.random.Generator, first_day: int, days: int, count: int) -> np.ndarray:
    span = days * MINUTES_PER_DAY
    picked = rng.choice(span, count, replace=False)
    return np.sort(picked).astype(np.int64) + first_day * MINUTES_PER_DAY


def _joined_minutes(feed: PriceFeed, symbol: str, minutes: np.ndarray) -> np.ndarray:
    parts = [feed.minute_ticks(symbol, int(m), int(m) + 1) for m in minutes]
    return np.concatenate(parts)


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_a_days_scattered_rows_are_the_same_rows_of_the_whole_day(symbol: str) -> None:
    feed = GeneratedFeed(5, Catalogue())
    model = feed.model(symbol)
    plan, day = model.plan(MONDAY + 1)
    rows = np.sort(np.random.default_rng(1).choice(MINUTES_PER_DAY, 300, replace=False))
    scattered = model.rows_grid(plan, rows.astype(np.int64))
    for name in ("mask", "bid", "ask", "spread", "msc"):
        assert getattr(scattered, name).tobytes() == getattr(day, name)[rows].tobytes()


@pytest.mark.parametrize("symbol", [*SYMBOLS, "EURJPY"])
def test_scattered_minutes_are_their_minute_ticks_joined(symbol: str) -> None:
    rng = np.random.default_rng(2)
    # Ten days from a Monday: the weekend's minutes have no ticks on forex.
    minutes = _scattered(rng, MONDAY, 10, 700)
    read = GeneratedFeed(5, Catalogue())
    reference = GeneratedFeed(5, Catalogue())
    got = ticks_of_minutes(read, symbol, minutes)
    assert len(got) > 0
    assert got.tobytes() == _joined_minutes(reference, symbol, minutes).tobytes()


def test_scattered_minutes_under_a_fixed_spread_carry_it() -> None:
    catalogue = Catalogue()
    minutes = _scattered(np.random.default_rng(3), MONDAY, 3, 400)
    read = FixedSpreadFeed(GeneratedFeed(5, catalogue), catalogue, {"EURUSD": 0})
    reference = FixedSpreadFeed(GeneratedFeed(5, catalogue), catalogue, {"EURUSD": 0})
    got = ticks_of_minutes(read, "EURUSD", minutes)
    assert np.array_equal(got["ask"], got["bid"])
    assert got.tobytes() == _joined_minutes(reference, "EURUSD", minutes).tobytes()


def _gappy_bars(rng: np.random.Generator) -> ReplayBars:
    """M1 bars on 3,000 of a week's 7,200 minutes: most minutes follow one without a bar."""
    bars = np.zeros(3_000, dtype=RATES_DTYPE)
    bars["time"] = (MONDAY * MINUTES_PER_DAY + np.sort(rng.choice(5 * 1_440, 3_000, False))) * 60
    bars["open"] = np.round(1.08 + rng.normal(scale=1e-3, size=3_000), 5)
    bars["close"] = np.round(bars["open"] + rng.normal(scale=3e-4, size=3_000), 5)
    bars["high"] = np.maximum(bars["open"], bars["close"]) + 1e-4
    bars["low"] = np.minimum(bars["open"], bars["close"]) - 1e-4
    bars["tick_volume"] = rng.integers(1, 50, 3_000)
    return ReplayBars(bars, 60)


def test_scattered_minutes_of_replayed_bars_are_their_minute_ticks_joined() -> None:
    rng = np.random.default_rng(4)
    terminal = SimulatedTerminal(
        seed=3, clock=ManualClock(LATER_UTC), replay={"EURUSD": _gappy_bars(rng)}
    )
    assert terminal.initialize()
    minutes = _scattered(rng, MONDAY, 5, 500)
    # Runs of consecutive minutes too: the fallback reads each run in one call.
    minutes = np.union1d(minutes, minutes + 1)
    got = ticks_of_minutes(terminal.feed, "EURUSD", minutes)
    assert got.tobytes() == _joined_minutes(terminal.feed, "EURUSD", minutes).tobytes()
    terminal.shutdown()


@pytest.mark.parametrize("spread", [None, 0])
def test_the_kernels_quotes_at_few_times_are_the_terminals_last_tick(spread: int | None) -> None:
    terminal = SimulatedTerminal(
        seed=8,
        clock=ManualClock(LATER_UTC),
        fixed_spread=None if spread is None else {"EURUSD": spread},
    )
    assert terminal.initialize()
    rng = np.random.default_rng(5)
    # Few times a day (the sparse reading), at minute starts and inside minutes, Monday's
    # first minute among them (its last tick is Friday's: read by the terminal).
    starts = _scattered(rng, MONDAY - 3, 10, 600) * 60_000
    inside = starts[::3] + rng.integers(1, 60_000, len(starts[::3]))
    monday = (MONDAY + 7) * MINUTES_PER_DAY * 60_000
    at_msc = np.unique(np.concatenate((starts, inside, [monday, monday + 1])))
    quotes = KernelMarket(terminal, "EURUSD").quotes(at_msc)
    assert np.isin(monday, at_msc)
    for k, when in enumerate(at_msc.tolist()):
        tick = terminal._market.last_tick("EURUSD", when)
        assert tick is not None
        assert (quotes.bid[k], quotes.ask[k], quotes.tick_msc[k]) == (
            float(tick["bid"][0]),
            float(tick["ask"][0]),
            int(tick["time_msc"][0]),
        )
    terminal.shutdown()


def test_the_kernels_quotes_on_gappy_bars_under_a_fixed_spread_are_the_last_tick() -> None:
    # A fixed spread laid over replayed bars reads scattered minutes too; where the minute
    # before a time has no bar, the last tick is older than the minutes read.
    rng = np.random.default_rng(6)
    terminal = SimulatedTerminal(
        seed=3,
        clock=ManualClock(LATER_UTC),
        replay={"EURUSD": _gappy_bars(rng)},
        fixed_spread={"EURUSD": 4},
    )
    assert terminal.initialize()
    starts = _scattered(rng, MONDAY, 5, 250) * 60_000  # few a day: read sparsely
    at_msc = np.unique(np.concatenate((starts, starts[::2] + 30_000)))
    quotes = KernelMarket(terminal, "EURUSD").quotes(at_msc)
    for k, when in enumerate(at_msc.tolist()):
        tick = terminal._market.last_tick("EURUSD", when)
        expected = (
            (np.nan, np.nan, 0)
            if tick is None
            else (
                float(tick["bid"][0]),
                float(tick["ask"][0]),
                int(tick["time_msc"][0]),
            )
        )
        assert np.array_equal(
            (quotes.bid[k], quotes.ask[k], quotes.tick_msc[k]), expected, equal_nan=True
        )
    terminal.shutdown()
