"""Replay of MetaTrader 5's CSV exports: what a file says is what the terminal returns."""

from __future__ import annotations

import pathlib
from collections.abc import Mapping

import numpy as np
from mt5sim_testkit import market_request

import forexbot.connectors.mt5sim as mt5
from forexbot.clock import ManualClock
from forexbot.connectors.mt5sim.mt5csv import read_export
from forexbot.connectors.mt5sim.replay import ReplayFeed, ReplaySource
from forexbot.connectors.mt5sim.series import aggregate
from forexbot.connectors.mt5sim.terminal import SimulatedTerminal

DATA = pathlib.Path(__file__).parent / "data"
M1_FILE = DATA / "EURUSD_M1_202403041000_202403041029.csv"
H1_FILE = DATA / "EURUSD_H1_202403040000_202403052300.csv"
TICKS_FILE = DATA / "GBPUSD_ticks_202403041000_202403041001.csv"
MONDAY = 19_786 * 86_400  # 2024-03-04 00:00 server time
WEDNESDAY_UTC = MONDAY + 2 * 86_400 + 10 * 3600  # 2024-03-06 10:00 UTC: all data is past


def _terminal(
    files: Mapping[str, ReplaySource], when: float = WEDNESDAY_UTC
) -> tuple[SimulatedTerminal, ManualClock]:
    clock = ManualClock(when)
    term = SimulatedTerminal(seed=3, clock=clock, replay=files)
    assert term.initialize()
    return term, clock


def test_m1_export_comes_back_exactly_through_copy_rates() -> None:
    term, _ = _terminal({"EURUSD": M1_FILE})
    bars = term.copy_rates_range("EURUSD", mt5.TIMEFRAME_M1, MONDAY, MONDAY + 86_399)
    assert bars is not None
    expected = read_export(M1_FILE).data
    assert len(bars) == 30
    assert bars.dtype == expected.dtype
    assert np.array_equal(bars, expected)
    assert bars[0]["time"] == MONDAY + 10 * 3600
    assert (bars[0]["open"], bars[0]["tick_volume"], bars[0]["spread"]) == (1.15924, 29, 8)


def test_h1_export_comes_back_exactly_and_longer_timeframes_are_its_aggregates() -> None:
    term, _ = _terminal({"EURUSD": H1_FILE})
    expected = read_export(H1_FILE).data
    h1 = term.copy_rates_range("EURUSD", mt5.TIMEFRAME_H1, MONDAY, MONDAY + 2 * 86_400)
    assert h1 is not None
    assert np.array_equal(h1, expected)
    h4 = term.copy_rates_range("EURUSD", mt5.TIMEFRAME_H4, MONDAY, MONDAY + 2 * 86_400)
    d1 = term.copy_rates_from("EURUSD", mt5.TIMEFRAME_D1, MONDAY + 86_400, 2)
    assert h4 is not None
    assert d1 is not None
    assert np.array_equal(h4, aggregate(expected, expected["time"] // 14_400 * 14_400))
    assert np.array_equal(d1, aggregate(expected, expected["time"] // 86_400 * 86_400))
    assert (d1[0]["high"], d1[0]["tick_volume"]) == (
        expected["high"][:24].max(),
        expected["tick_volume"][:24].sum(),
    )


def test_m1_bars_inside_an_h1_bar_aggregate_back_to_it() -> None:
    term, _ = _terminal({"EURUSD": H1_FILE})
    expected = read_export(H1_FILE).data
    for hour in (0, 9, 33):
        start = int(expected["time"][hour])
        m1 = term.copy_rates_range("EURUSD", mt5.TIMEFRAME_M1, start, start + 3599)
        assert m1 is not None
        assert 1 <= len(m1) <= 60
        assert m1[0]["time"] == start
        merged = aggregate(m1, np.full(len(m1), start, dtype=np.int64))
        assert np.array_equal(merged, expected[hour : hour + 1])


def test_ticks_inside_replayed_bars_start_at_open_end_at_close_and_stay_in_range() -> None:
    term, _ = _terminal({"EURUSD": M1_FILE})
    for bar in read_export(M1_FILE).data:
        start = int(bar["time"])
        ticks = term.copy_ticks_range("EURUSD", start, start + 59, mt5.COPY_TICKS_ALL)
        assert ticks is not None
        bids = ticks["bid"]
        assert (bids[0], bids[-1], bids.max(), bids.min()) == (
            bar["open"],
            bar["close"],
            bar["high"],
            bar["low"],
        )
        assert len(ticks) == bar["tick_volume"]
        assert np.allclose(ticks["ask"] - bids, bar["spread"] * 0.00001)
        assert np.all(np.diff(ticks["time_msc"]) > 0)


def test_synthesised_ticks_are_the_same_in_every_run() -> None:
    first, _ = _terminal({"EURUSD": H1_FILE})
    second, _ = _terminal({"EURUSD": H1_FILE})
    args = ("EURUSD", MONDAY + 5 * 3600, MONDAY + 6 * 3600, mt5.COPY_TICKS_ALL)
    a, b = first.copy_ticks_range(*args), second.copy_ticks_range(*args)
    assert a is not None
    assert b is not None
    assert len(a) > 100
    assert np.array_equal(a, b)


def test_ticks_export_comes_back_exactly_through_copy_ticks() -> None:
    term, _ = _terminal({"GBPUSD": TICKS_FILE})
    expected = read_export(TICKS_FILE).data
    ticks = term.copy_ticks_from("GBPUSD", MONDAY, 1000, mt5.COPY_TICKS_ALL)
    ranged = term.copy_ticks_range("GBPUSD", MONDAY, MONDAY + 86_399, mt5.COPY_TICKS_ALL)
    assert ticks is not None
    assert ranged is not None
    assert len(ticks) == 55
    assert np.array_equal(ticks, expected)
    assert np.array_equal(ranged, expected)
    assert (ticks[0]["time_msc"], ticks[0]["bid"], ticks[0]["ask"], ticks[0]["flags"]) == (
        (MONDAY + 36_000) * 1000 + 258,
        1.32915,
        1.32928,
        6,
    )


def test_an_empty_field_carries_the_previous_value_forward() -> None:
    ticks = read_export(TICKS_FILE).data
    # line "2024.03.04  10:00:30.996  <empty>  1.32931  ...  4": only the ask changed
    (i,) = np.flatnonzero(ticks["time_msc"] == (MONDAY + 36_030) * 1000 + 996)
    assert (ticks[i]["ask"], ticks[i]["flags"]) == (1.32931, 4)
    assert ticks[i]["bid"] == ticks[i - 1]["bid"]


def test_m1_bars_are_built_from_replayed_ticks() -> None:
    term, _ = _terminal({"GBPUSD": TICKS_FILE})
    ticks = read_export(TICKS_FILE).data
    bars = term.copy_rates_range("GBPUSD", mt5.TIMEFRAME_M1, MONDAY, MONDAY + 86_399)
    assert bars is not None
    assert list(bars["time"]) == [MONDAY + 36_000, MONDAY + 36_060]
    first = ticks[ticks["time_msc"] < (MONDAY + 36_060) * 1000]
    assert (bars[0]["open"], bars[0]["close"], bars[0]["high"], bars[0]["low"]) == (
        first["bid"][0],
        first["bid"][-1],
        first["bid"].max(),
        first["bid"].min(),
    )
    assert bars["tick_volume"].sum() == 55
    assert bars[0]["spread"] == round(float((first["ask"] - first["bid"]).min()) / 0.00001)


def test_stop_loss_inside_a_replayed_bar_triggers_at_its_level() -> None:
    # The clock stands at 10:05:00 server (08:05 UTC) on the M1 replay's Monday.
    term, clock = _terminal({"EURUSD": M1_FILE}, when=MONDAY - 7200 + 10 * 3600 + 300)
    bars = read_export(M1_FILE).data
    tick = term.symbol_info_tick("EURUSD")
    assert tick is not None
    assert (tick.time_msc, tick.bid) == ((MONDAY + 36_300) * 1000, bars[5]["open"])  # 10:05
    lowest = float(bars[5:]["low"].min())
    sl = round(lowest + 0.00002, 5)  # reached once, by the bar with the lowest low
    result = term.order_send(market_request("EURUSD", mt5.ORDER_TYPE_BUY, 0.1, sl=sl))
    assert result.retcode == 10009
    clock.advance(25 * 60)
    assert term.positions_total() == 0
    deal = (term.history_deals_get(position=result.order) or ())[-1]
    assert (deal.reason, deal.price) == (mt5.DEAL_REASON_SL, sl)
    hit = int(np.flatnonzero(bars["low"] <= sl)[0])
    assert int(bars[hit]["time"]) <= deal.time < int(bars[hit]["time"]) + 60


def test_stop_loss_below_every_replayed_low_never_triggers() -> None:
    term, clock = _terminal({"EURUSD": M1_FILE}, when=MONDAY - 7200 + 10 * 3600 + 300)
    sl = round(float(read_export(M1_FILE).data["low"].min()) - 0.00001, 5)
    result = term.order_send(market_request("EURUSD", mt5.ORDER_TYPE_BUY, 0.1, sl=sl))
    assert result.retcode == 10009
    clock.advance(25 * 60)
    assert term.positions_total() == 1


def test_after_the_data_the_quote_stays_and_the_market_is_closed() -> None:
    term, _ = _terminal({"EURUSD": M1_FILE})
    last_bar = read_export(M1_FILE).data[-1]
    tick = term.symbol_info_tick("EURUSD")
    assert tick is not None
    assert tick.bid == last_bar["close"]
    assert last_bar["time"] <= tick.time < last_bar["time"] + 60
    result = term.order_send(market_request("EURUSD", mt5.ORDER_TYPE_BUY, 0.1))
    assert result.retcode == mt5.TRADE_RETCODE_MARKET_CLOSED
    end = MONDAY + 10 * 3600 + 30 * 60  # 10:30 server time, after the 10:29 bar
    assert term.replay_end == end - 7200  # as UTC: server time is UTC+2 in March


def test_before_the_data_a_replayed_symbol_has_no_history() -> None:
    term, _ = _terminal({"EURUSD": M1_FILE})
    earlier = term.copy_rates_from("EURUSD", mt5.TIMEFRAME_M1, MONDAY + 10 * 3600 - 1, 100)
    assert earlier is not None
    assert len(earlier) == 0


def test_symbols_not_replayed_keep_the_statistical_feed() -> None:
    term, _ = _terminal({"EURUSD": M1_FILE})
    assert term.symbol_info_tick("USDJPY") is not None
    result = term.order_send(market_request("USDJPY", mt5.ORDER_TYPE_BUY, 0.1))
    assert result.retcode == 10009


def test_replay_feed_without_fallback_has_only_its_symbols() -> None:
    feed = ReplayFeed.from_files({"EURUSD": M1_FILE})
    assert feed.symbols == {"EURUSD"}
    assert feed.span("EURUSD") == (MONDAY + 36_000, MONDAY + 36_000 + 1800)
    assert len(feed.day_bars("USDJPY", MONDAY // 86_400)) == 0
    assert feed.is_open("USDJPY", MONDAY + 36_000) is False
    assert feed.is_open("EURUSD", MONDAY + 36_000) is True


def test_several_exports_of_one_symbol_are_joined_in_time_order(tmp_path: pathlib.Path) -> None:
    lines = M1_FILE.read_text().splitlines()
    head, rows = lines[0], lines[1:]
    (tmp_path / "late.csv").write_text("\n".join([head, *rows[15:]]))
    (tmp_path / "early.csv").write_text("\n".join([head, *rows[:15]]))
    term, _ = _terminal({"EURUSD": [tmp_path / "late.csv", tmp_path / "early.csv"]})
    bars = term.copy_rates_range("EURUSD", mt5.TIMEFRAME_M1, MONDAY, MONDAY + 86_399)
    assert bars is not None
    assert np.array_equal(bars, read_export(M1_FILE).data)
