"""Specification of :class:`forexbot.connectors.bar_builder.BarBuilder` (module docstring rules)."""

from __future__ import annotations

import random

import pytest

from forexbot.connectors.bar_builder import BarBuilder
from forexbot.domain.market import Bar, Tick, Timeframe

POINT = 0.00001
T = 1_767_225_600  # 2026-01-01 00:00 UTC: a multiple of every timeframe


def tick(at: float, bid: float, spread_points: int = 10, volume: float = 0.0) -> Tick:
    return Tick("EURUSD", float(at), bid, bid + spread_points * POINT, volume=volume)


def builder(*timeframes: Timeframe) -> BarBuilder:
    return BarBuilder("EURUSD", POINT, timeframes or (Timeframe.M1,))


def feed(b: BarBuilder, ticks: list[Tick]) -> list[Bar]:
    closed: list[Bar] = []
    for t in ticks:
        closed.extend(b.on_tick(t))
    return closed


def test_bar_has_bid_ohlc_tick_count_and_smallest_spread() -> None:
    b = builder()
    feed(
        b,
        [
            tick(T + 0.5, 1.10000, 12),
            tick(T + 10, 1.10100, 8),
            tick(T + 20, 1.09900, 15),
            tick(T + 59.999, 1.10050, 10),
        ],
    )

    [bar] = b.on_tick(tick(T + 60, 1.2, 30))

    assert bar == Bar(
        symbol="EURUSD",
        timeframe=Timeframe.M1,
        time=T,
        open=1.10000,
        high=1.10100,
        low=1.09900,
        close=1.10050,
        tick_volume=4,
        spread=8,
        real_volume=0,
    )


def test_real_volume_sums_tick_volumes() -> None:
    b = builder()
    feed(b, [tick(T + 1, 1.1, volume=2), tick(T + 2, 1.1, volume=3)])

    [bar] = b.on_tick(tick(T + 61, 1.1))

    assert bar.real_volume == 5


def test_bar_closes_on_the_first_tick_of_the_next_period_and_only_once() -> None:
    b = builder()

    assert b.on_tick(tick(T + 1, 1.1)) == []
    assert b.on_tick(tick(T + 30, 1.2)) == []
    closed = b.on_tick(tick(T + 60, 1.3))
    later = feed(b, [tick(T + 61, 1.3), tick(T + 90, 1.4)])

    assert [(bar.time, bar.close) for bar in closed] == [(T, 1.2)]
    assert later == []


def test_the_tick_that_closes_a_bar_opens_the_next() -> None:
    b = builder()
    feed(b, [tick(T + 1, 1.1), tick(T + 60, 1.3), tick(T + 70, 1.25)])

    [bar] = b.on_tick(tick(T + 120, 1.0))

    assert (bar.time, bar.open, bar.high, bar.low, bar.close, bar.tick_volume) == (
        T + 60,
        1.3,
        1.3,
        1.25,
        1.25,
        2,
    )


def test_close_due_closes_a_bar_once_its_end_has_passed() -> None:
    b = builder()
    feed(b, [tick(T + 1, 1.1), tick(T + 2, 1.2)])

    before = b.close_due(T + 59.999)
    at_end = b.close_due(T + 60)
    again = b.close_due(T + 600)

    assert before == []
    assert [(bar.time, bar.close, bar.tick_volume) for bar in at_end] == [(T, 1.2, 2)]
    assert again == []


def test_bar_closed_by_the_clock_is_not_reported_again_by_the_next_tick() -> None:
    b = builder()
    b.on_tick(tick(T + 1, 1.1))
    b.close_due(T + 61)

    assert b.on_tick(tick(T + 62, 1.2)) == []
    assert [bar.time for bar in b.close_due(T + 120)] == [T + 60]


def test_late_tick_of_a_bar_closed_by_the_clock_is_ignored() -> None:
    b = builder()
    b.on_tick(tick(T + 1, 1.1))
    [closed] = b.close_due(T + 61)

    assert b.on_tick(tick(T + 50, 9.9)) == []
    assert b.close_due(T + 600) == []  # no bar was reopened for the late tick
    assert closed.close == 1.1


def test_late_tick_of_the_previous_bar_does_not_touch_the_forming_bar() -> None:
    b = builder()
    feed(b, [tick(T + 1, 1.1), tick(T + 61, 1.2)])  # bar T closed, bar T+60 forming

    assert b.on_tick(tick(T + 59, 9.9)) == []
    [bar] = b.on_tick(tick(T + 120, 1.3))

    assert (bar.time, bar.open, bar.high, bar.low, bar.close, bar.tick_volume) == (
        T + 60,
        1.2,
        1.2,
        1.2,
        1.2,
        1,
    )


def test_tick_of_a_period_marked_closed_from_history_is_ignored() -> None:
    b = builder()
    b.mark_closed(Timeframe.M1, T)

    assert b.on_tick(tick(T + 30, 1.1)) == []
    assert b.close_due(T + 600) == []


def test_tick_of_an_earlier_period_does_not_close_the_forming_bar() -> None:
    """A bar is final when a tick of a *later* period arrives (module rule). An out-of-order
    tick of an earlier, never-seen period (here T+60, between the closed bar T and the forming
    bar T+120) must not close the forming bar early."""
    b = builder()
    feed(b, [tick(T + 1, 1.1), tick(T + 121, 1.2)])  # bar T closed, bar T+120 forming

    assert b.on_tick(tick(T + 70, 1.15)) == []
    closed = b.on_tick(tick(T + 180, 1.3))

    assert [(bar.time, bar.close, bar.tick_volume) for bar in closed] == [(T + 120, 1.2, 1)]


def test_periods_without_ticks_produce_no_bar() -> None:
    b = builder()
    b.on_tick(tick(T + 10, 1.1))

    closed = b.on_tick(tick(T + 250, 1.2))  # three silent minutes in between
    due = b.close_due(T + 3600)

    assert [bar.time for bar in closed] == [T]
    assert [bar.time for bar in due] == [T + 240]


def test_m5_bar_is_the_aggregate_of_its_m1_bars() -> None:
    rng = random.Random(7)
    b = builder(Timeframe.M1, Timeframe.M5)
    ticks = []
    at = T + 0.1
    while at < T + 300:
        ticks.append(tick(at, round(1.1 + rng.uniform(-0.002, 0.002), 5), rng.randint(5, 25)))
        at += rng.uniform(0.5, 9.0)

    closed = feed(b, [*ticks, tick(T + 300.5, 1.1)])
    m1 = [bar for bar in closed if bar.timeframe is Timeframe.M1]
    m5 = [bar for bar in closed if bar.timeframe is Timeframe.M5]

    assert [bar.time for bar in m1] == [T, T + 60, T + 120, T + 180, T + 240]
    assert len(m5) == 1
    assert m5[0] == Bar(
        symbol="EURUSD",
        timeframe=Timeframe.M5,
        time=T,
        open=m1[0].open,
        high=max(bar.high for bar in m1),
        low=min(bar.low for bar in m1),
        close=m1[-1].close,
        tick_volume=sum(bar.tick_volume for bar in m1),
        spread=min(bar.spread for bar in m1),
        real_volume=0,
    )
    assert m5[0].tick_volume == len(ticks)


def test_bars_closed_by_one_tick_are_returned_oldest_first() -> None:
    b = builder(Timeframe.M5, Timeframe.M1)
    b.on_tick(tick(T + 250, 1.1))

    closed = b.on_tick(tick(T + 301, 1.2))

    assert [(bar.timeframe, bar.time) for bar in closed] == [
        (Timeframe.M5, T),
        (Timeframe.M1, T + 240),
    ]


def test_seeded_forming_bar_is_continued_by_live_ticks() -> None:
    b = builder()
    b.seed(
        Bar(
            "EURUSD",
            Timeframe.M1,
            T,
            open=1.1000,
            high=1.1010,
            low=1.0990,
            close=1.1005,
            tick_volume=50,
            spread=7,
            real_volume=3,
        )
    )
    feed(b, [tick(T + 40, 1.1020, 9), tick(T + 45, 1.1003, 6)])

    [bar] = b.on_tick(tick(T + 60, 1.2))

    assert (bar.open, bar.high, bar.low, bar.close) == (1.1000, 1.1020, 1.0990, 1.1003)
    assert bar.tick_volume == 52
    assert bar.spread == 6
    assert bar.real_volume == 3


def test_seeded_bar_closes_by_the_clock() -> None:
    b = builder()
    seeded = Bar("EURUSD", Timeframe.M1, T, 1.1, 1.1, 1.1, 1.1, tick_volume=5)
    b.seed(seeded)

    assert b.close_due(T + 60) == [seeded]


@pytest.mark.parametrize("tf", list(Timeframe))
def test_bar_open_time_is_aligned_to_the_timeframe(tf: Timeframe) -> None:
    b = builder(tf)
    b.on_tick(tick(T + tf.seconds + 7, 1.1))

    [bar] = b.close_due(T + 10 * tf.seconds)

    assert bar.time == T + tf.seconds


def test_d1_and_h4_bars_align_on_server_midnight_not_utc() -> None:
    """A server at UTC+2 opens its day at 22:00 UTC; H4 bars at 22:00, 02:00, 06:00 UTC."""
    b = BarBuilder("EURUSD", POINT, (Timeframe.H4, Timeframe.D1), server_offset=7200)
    feed(b, [tick(T - 2 * 3600 + 1, 1.1), tick(T + 3600, 1.2)])  # 22:00:01 and 01:00 UTC

    closed = b.on_tick(tick(T + 2 * 3600, 1.3))  # 02:00 UTC = 04:00 server: next H4 bar

    assert [(bar.timeframe, bar.time) for bar in closed] == [(Timeframe.H4, T - 2 * 3600)]
    assert closed[0].open == 1.1
    assert closed[0].close == 1.2
    assert b.open_time(Timeframe.D1, T + 3600) == T - 2 * 3600
    assert b.open_time(Timeframe.D1, T - 2 * 3600 - 1) == T - 26 * 3600


def test_a_half_hour_server_offset_shifts_h1_bars_too() -> None:
    b = BarBuilder("EURUSD", POINT, (Timeframe.H1,), server_offset=1800)
    assert b.open_time(Timeframe.H1, T + 10) == T - 1800
    assert b.open_time(Timeframe.H1, T + 1800) == T + 1800
