"""Generated history: deterministic for a seed, consistent across views, realistic in shape."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from mt5sim_testkit import THURSDAY

import forexbot.connectors.mt5sim as mt5
from forexbot.clock import ManualClock
from forexbot.connectors.mt5sim.feed import GeneratedFeed
from forexbot.connectors.mt5sim.models import boom_crash_scales, model_for
from forexbot.connectors.mt5sim.rng import normals
from forexbot.connectors.mt5sim.series import MarketData
from forexbot.connectors.mt5sim.symbols import Catalogue
from forexbot.connectors.mt5sim.terminal import SimulatedTerminal

JAN_10_2020 = int(datetime(2020, 1, 10, tzinfo=UTC).timestamp())  # a Friday
DAY = 86_400


def _rates_2020_01_10(seed: int) -> np.ndarray:
    term = SimulatedTerminal(seed=seed, clock=ManualClock(THURSDAY))
    term.initialize()
    rates = term.copy_rates_range("EURUSD", mt5.TIMEFRAME_M1, JAN_10_2020, JAN_10_2020 + DAY - 1)
    assert rates is not None
    return rates


def test_same_seed_gives_identical_rates_for_a_past_date() -> None:
    first, second = _rates_2020_01_10(11), _rates_2020_01_10(11)
    assert len(first) == 1440
    assert np.array_equal(first, second)


def test_different_seeds_give_different_rates() -> None:
    assert not np.array_equal(_rates_2020_01_10(11)["close"], _rates_2020_01_10(12)["close"])


@pytest.fixture(scope="module")
def market() -> MarketData:
    catalogue = Catalogue()
    return MarketData(GeneratedFeed(3, catalogue), catalogue)


NOW_MSC = (int(THURSDAY) + 7200) * 1000  # Thursday 12:00 server time
THURSDAY_SERVER_DAY = NOW_MSC // 86_400_000


@pytest.mark.parametrize(
    "symbol",
    ["EURUSD", "USDJPY", "Volatility 75 Index", "Boom 500 Index", "Crash 1000 Index", "Step Index"],
)
def test_ticks_of_each_minute_reproduce_its_m1_bar(market: MarketData, symbol: str) -> None:
    day = THURSDAY_SERVER_DAY - 1
    bars = market.feed.day_bars(symbol, day)
    ticks = market.feed.minute_ticks(symbol, day * 1440, day * 1440 + 1440)
    minute_of_tick = ticks["time_msc"] // 60_000
    for bar in bars[::37]:
        inside = ticks[minute_of_tick == bar["time"] // 60]
        assert len(inside) == bar["tick_volume"]
        assert inside["bid"][0] == bar["open"]
        assert inside["bid"][-1] == bar["close"]
        assert inside["bid"].max() == bar["high"]
        assert inside["bid"].min() == bar["low"]
        assert np.all((inside["bid"] >= bar["low"]) & (inside["bid"] <= bar["high"]))


def test_a_minute_generated_alone_equals_the_same_minute_of_its_day(market: MarketData) -> None:
    day = THURSDAY_SERVER_DAY - 2
    whole_day = market.feed.minute_ticks("GBPUSD", day * 1440, day * 1440 + 1440)
    alone = GeneratedFeed(3, Catalogue()).minute_ticks("GBPUSD", day * 1440 + 777, day * 1440 + 778)
    same_minute = whole_day[whole_day["time_msc"] // 60_000 == day * 1440 + 777]
    assert np.array_equal(alone, same_minute)


@pytest.mark.parametrize("timeframe", [mt5.TIMEFRAME_M5, mt5.TIMEFRAME_H1, mt5.TIMEFRAME_H4])
def test_higher_timeframe_bar_is_the_aggregate_of_its_m1_bars(
    market: MarketData, timeframe: int
) -> None:
    start = (THURSDAY_SERVER_DAY - 1) * DAY
    bars = market.rates_range("EURUSD", timeframe, start, start + DAY - 1, NOW_MSC)
    m1 = market.rates_range("EURUSD", mt5.TIMEFRAME_M1, start, start + DAY - 1, NOW_MSC)
    period = int(bars["time"][1] - bars["time"][0])
    for bar in bars:
        part = m1[(m1["time"] >= bar["time"]) & (m1["time"] < bar["time"] + period)]
        assert bar["open"] == part["open"][0]
        assert bar["close"] == part["close"][-1]
        assert bar["high"] == part["high"].max()
        assert bar["low"] == part["low"].min()
        assert bar["tick_volume"] == part["tick_volume"].sum()
        assert bar["spread"] == part["spread"].min()


def test_d1_bars_open_at_server_midnight_and_w1_on_sunday(market: MarketData) -> None:
    daily = market.rates_until("EURUSD", mt5.TIMEFRAME_D1, NOW_MSC // 1000, 10, NOW_MSC)
    assert np.all(daily["time"] % DAY == 0)
    weekly = market.rates_until("EURUSD", mt5.TIMEFRAME_W1, NOW_MSC // 1000, 3, NOW_MSC)
    assert [datetime.fromtimestamp(t, UTC).weekday() for t in weekly["time"]] == [6, 6, 6]


def test_forex_has_no_bars_or_ticks_from_friday_close_to_sunday_open(market: MarketData) -> None:
    saturday = THURSDAY_SERVER_DAY + 2
    assert len(market.feed.day_bars("EURUSD", saturday)) == 0
    assert len(market.feed.day_bars("EURUSD", saturday + 1)) == 0
    friday = market.feed.day_bars("EURUSD", saturday - 1)
    monday = market.feed.day_bars("EURUSD", saturday + 2)
    # Server time = New York + 7 h: Friday 17:00 NY is 24:00 server, Sunday 17:00 is 00:00.
    assert friday["time"][-1] % DAY == DAY - 60
    assert monday["time"][0] % DAY == 0


def test_synthetic_indices_trade_through_the_weekend(market: MarketData) -> None:
    saturday = THURSDAY_SERVER_DAY + 2
    for symbol in ("Volatility 10 Index", "Boom 1000 Index", "Step Index"):
        assert len(market.feed.day_bars(symbol, saturday)) == 1440


def test_volatility_ticks_every_two_seconds_boom_and_step_every_second(market: MarketData) -> None:
    minute = THURSDAY_SERVER_DAY * 1440 + 100
    for symbol, interval in (
        ("Volatility 75 Index", 2000),
        ("Boom 500 Index", 1000),
        ("Step Index", 1000),
    ):
        ticks = market.feed.minute_ticks(symbol, minute, minute + 10)
        assert set(np.diff(ticks["time_msc"]).tolist()) == {interval}


def test_forex_ticks_are_irregular_and_busier_in_the_london_new_york_overlap(
    market: MarketData,
) -> None:
    day = THURSDAY_SERVER_DAY - 1
    bars = market.feed.day_bars("EURUSD", day)
    hours = (bars["time"] % DAY) // 3600
    asia = bars["tick_volume"][(hours >= 3) & (hours < 8)].mean()
    overlap = bars["tick_volume"][(hours >= 15) & (hours < 18)].mean()
    assert 60 / asia < 5.0  # about one tick every 3-5 s in Tokyo hours
    assert 60 / overlap < 1.6  # more than one a second and a half at the overlap
    assert overlap > 2 * asia
    ticks = market.feed.minute_ticks("EURUSD", day * 1440 + 960, day * 1440 + 970)
    assert len(set(np.diff(ticks["time_msc"]).tolist())) > 10


def test_spread_is_widest_around_the_daily_rollover(market: MarketData) -> None:
    bars = market.feed.day_bars("EURUSD", THURSDAY_SERVER_DAY - 1)
    hours = (bars["time"] % DAY) // 3600
    assert bars["spread"][hours == 0].mean() > 3 * bars["spread"][hours == 16].mean()


def test_step_index_moves_exactly_one_tenth_per_tick(market: MarketData) -> None:
    minute = THURSDAY_SERVER_DAY * 1440 + 300
    bids = market.feed.minute_ticks("Step Index", minute, minute + 30)["bid"]
    assert set(np.round(np.abs(np.diff(bids)), 1).tolist()) == {0.1}


def test_boom_spikes_up_and_crash_spikes_down(market: MarketData) -> None:
    day = THURSDAY_SERVER_DAY - 1
    for symbol, sign in (("Boom 500 Index", 1), ("Crash 500 Index", -1)):
        ticks = market.feed.minute_ticks(symbol, day * 1440, day * 1440 + 1440)
        moves = np.diff(np.log(ticks["bid"])) * sign
        spikes = moves > 5e-4
        assert 100 < spikes.sum() < 250  # about 86,400 / 500 spikes of mean 0.1 %
        assert -moves.min() < 5e-5  # against the spike direction only small steps


def test_boom_crash_small_steps_balance_the_spikes() -> None:
    small, spike = boom_crash_scales(1000, boom=False)
    assert spike < 0 < small
    # Zero drift: the expected log move per tick is (almost) zero.
    mean_abs = 1.1666
    assert abs((1 - 1 / 1000) * small * mean_abs + spike * mean_abs / 1000) < 1e-9


def test_prices_stay_realistic_across_decades() -> None:
    model = model_for(Catalogue().get("EURUSD"), 5)  # type: ignore[arg-type]
    levels = [model.anchors.level(day) for day in range(10_957, 22_000, 97)]  # 2000-2030
    assert min(levels) > 0.6
    assert max(levels) < 1.8


def test_tabulated_normals_are_standard_normal() -> None:
    z = normals(1, np.arange(200_000, dtype=np.uint64))
    assert abs(z.mean()) < 0.01
    assert abs(z.std() - 1) < 0.01
    assert abs(np.mean(z > 1.959964) - 0.025) < 0.002
