"""Broker server time (UTC+2 winter, UTC+3 US summer) and the rule "nothing from the future"."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

import forexbot.connectors.mt5sim as mt5
from forexbot.clock import ManualClock
from forexbot.connectors.mt5sim.terminal import SimulatedTerminal


def test_server_time_is_utc_plus_two_in_winter_and_plus_three_in_us_summer(
    terminal: SimulatedTerminal,
) -> None:
    assert terminal.server_offset(datetime(2024, 1, 15, 12, tzinfo=UTC).timestamp()) == 7200
    assert terminal.server_offset(datetime(2024, 7, 15, 12, tzinfo=UTC).timestamp()) == 10800


def test_offset_switches_with_us_daylight_saving_not_europes(terminal: SimulatedTerminal) -> None:
    # 2024-03-10 07:00 UTC is 02:00 EST -> 03:00 EDT; Europe switches on 2024-03-31.
    switch = datetime(2024, 3, 10, 7, tzinfo=UTC).timestamp()
    assert terminal.server_offset(switch - 1) == 7200
    assert terminal.server_offset(switch) == 10800


def test_tick_times_are_server_time(terminal: SimulatedTerminal, clock: ManualClock) -> None:
    tick = terminal.symbol_info_tick("EURUSD")
    assert tick is not None
    server_now = clock.time() + 7200
    assert server_now - 10 < tick.time <= server_now
    assert tick.time == tick.time_msc // 1000


def test_summer_ticks_are_three_hours_ahead_of_utc() -> None:
    utc_now = datetime(2024, 7, 11, 10, tzinfo=UTC).timestamp()
    term = SimulatedTerminal(seed=1, clock=ManualClock(utc_now))
    term.initialize()
    tick = term.symbol_info_tick("EURUSD")
    assert tick is not None
    assert utc_now + 10800 - 10 < tick.time <= utc_now + 10800


def test_current_bar_is_partial_and_nothing_comes_from_the_future(
    terminal: SimulatedTerminal, clock: ManualClock
) -> None:
    clock.advance(30.5)  # 30.5 s into a minute
    server_msc = int((clock.time() + 7200) * 1000)
    rates = terminal.copy_rates_from_pos("EURUSD", mt5.TIMEFRAME_M1, 0, 3)
    assert rates is not None
    assert rates["time"][-1] == server_msc // 60_000 * 60
    ticks = terminal.copy_ticks_range(
        "EURUSD", server_msc // 1000 - 120, server_msc // 1000 + 3600, mt5.COPY_TICKS_ALL
    )
    assert ticks is not None
    assert ticks["time_msc"].max() <= server_msc
    current = ticks[ticks["time"] >= rates["time"][-1]]
    assert rates["tick_volume"][-1] == len(current)
    assert rates["close"][-1] == current["bid"][-1]


def test_copy_rates_from_a_future_date_stops_at_now(
    terminal: SimulatedTerminal, clock: ManualClock
) -> None:
    future = clock.time() + 7200 + 30 * 86_400
    rates = terminal.copy_rates_from("EURUSD", mt5.TIMEFRAME_H1, future, 5)
    now_rates = terminal.copy_rates_from_pos("EURUSD", mt5.TIMEFRAME_H1, 0, 5)
    assert rates is not None
    assert now_rates is not None
    assert np.array_equal(rates, now_rates)


def test_aware_datetime_arguments_are_compared_with_server_epochs(
    terminal: SimulatedTerminal,
) -> None:
    start = datetime(2024, 3, 6, 12, 0, tzinfo=UTC)  # read as 12:00 *server* time
    rates = terminal.copy_rates_range("EURUSD", mt5.TIMEFRAME_H1, start, start)
    assert rates is not None
    assert rates["time"].tolist() == [int(start.timestamp())]


def test_naive_datetime_arguments_use_the_local_zone_like_python(
    terminal: SimulatedTerminal,
) -> None:
    naive = datetime(2024, 3, 6, 12, 0)
    rates = terminal.copy_rates_range("EURUSD", mt5.TIMEFRAME_H1, naive, naive)
    assert rates is not None
    assert rates["time"].tolist() == [int(naive.timestamp())]


def test_time_advances_only_with_the_clock(terminal: SimulatedTerminal, clock: ManualClock) -> None:
    first = terminal.symbol_info_tick("Volatility 75 Index")
    assert first is None  # not in Market Watch yet
    terminal.symbol_select("Volatility 75 Index")
    first = terminal.symbol_info_tick("Volatility 75 Index")
    again = terminal.symbol_info_tick("Volatility 75 Index")
    clock.advance(10)
    later = terminal.symbol_info_tick("Volatility 75 Index")
    assert first is not None
    assert again == first
    assert later is not None
    assert later.time_msc == first.time_msc + 10_000


def test_range_longer_than_maxbars_returns_the_last_maxbars_span(
    terminal: SimulatedTerminal, clock: ManualClock
) -> None:
    end = int(clock.time() + 7200)
    rates = terminal.copy_rates_range("Step Index", mt5.TIMEFRAME_M1, end - 200_000 * 60, end)
    assert rates is not None
    assert rates["time"][0] >= end - 100_000 * 60
    assert len(rates) <= 100_001
