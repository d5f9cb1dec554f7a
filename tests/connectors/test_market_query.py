"""``newest_bars``: the newest ``limit`` bars of a range, read back from its end in windows."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from forexbot.connectors.market_query import newest_bars
from forexbot.domain.market import Bar, Timeframe

PERIOD = 60


def bar(time: int) -> Bar:
    return Bar("EURUSD", Timeframe.M1, time, 1.1, 1.1, 1.1, 1.1, 1)


class Store:
    """Bars at the given open times; records every window read."""

    def __init__(self, times: Sequence[int]) -> None:
        self.bars = [bar(t) for t in sorted(times)]
        self.reads: list[tuple[int, int]] = []

    async def fetch(self, lo: int, hi: int) -> Sequence[Bar]:
        self.reads.append((lo, hi))
        return [b for b in self.bars if lo <= b.time < hi]


def times(bars: Sequence[Bar]) -> list[int]:
    return [b.time for b in bars]


async def test_the_newest_limit_bars_come_oldest_first_and_truncated() -> None:
    store = Store(range(0, 6000, PERIOD))
    bars, truncated = await newest_bars(store.fetch, 0, 6000, 3, PERIOD)
    assert (times(bars), truncated) == ([5820, 5880, 5940], True)


async def test_a_range_with_fewer_bars_comes_whole_and_not_truncated() -> None:
    store = Store([60, 120, 180])
    bars, truncated = await newest_bars(store.fetch, 0, 6000, 10, PERIOD)
    assert (times(bars), truncated) == ([60, 120, 180], False)


async def test_exactly_limit_bars_are_not_truncated() -> None:
    store = Store([60, 120, 180])
    bars, truncated = await newest_bars(store.fetch, 0, 6000, 3, PERIOD)
    assert (times(bars), truncated) == ([60, 120, 180], False)


async def test_windows_double_back_from_the_end_and_stop_at_the_start() -> None:
    store = Store([])
    await newest_bars(store.fetch, 1000, 10_000, 4, PERIOD)
    # limit + 1 = 5 periods = 300 s, then 600, 1200, 2400, 4800 (cut at the start)
    assert store.reads == [
        (9700, 10_000),
        (9100, 9700),
        (7900, 9100),
        (5500, 7900),
        (1000, 5500),
    ]


async def test_reading_stops_once_more_than_limit_bars_are_found() -> None:
    store = Store(range(0, 100_000, PERIOD))
    await newest_bars(store.fetch, 0, 100_000, 4, PERIOD)
    assert len(store.reads) == 1


async def test_a_gap_is_read_across() -> None:
    store = Store([0, 60, 90_000])  # a weekend-like gap between the first two and the last
    bars, truncated = await newest_bars(store.fetch, 0, 100_000, 3, PERIOD)
    assert (times(bars), truncated) == ([0, 60, 90_000], False)


async def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="limit and period must be positive"):
        await newest_bars(Store([]).fetch, 0, 100, 0, PERIOD)
