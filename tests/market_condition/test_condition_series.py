"""ConditionSeries: at every bar, exactly what detect() says over the bars up to it."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
from condition_kit import DEFAULTS, EURUSD_H1, SMALL, bits
from strategies.bars_kit import noisy_walk, random_walk

from forexbot.connectors.mt5sim.mt5csv import read_export
from forexbot.domain.market import Bar, Timeframe
from forexbot.market_condition.detector import DetectorParams, MarketCondition, detect
from forexbot.market_condition.series import ConditionSeries, previous_medians
from forexbot.market_condition.stream import ConditionStream
from forexbot.strategies.base_strategy import bars_to_frame


def check(
    bars: list[Bar],
    params: DetectorParams,
    *,
    symbol: str = "EURUSD",
    timeframe: Timeframe = Timeframe.M15,
    synthetic: bool = False,
    spreads: list[float | None] | None = None,
) -> list[MarketCondition]:
    """On every bar, ``at(i)`` against detect() over bars 0..i and a stream fed from bar 0;
    the conditions from ``min_bars`` on."""
    frame = bars_to_frame(bars)
    series = ConditionSeries(frame, symbol, timeframe, params, synthetic=synthetic)
    stream = ConditionStream(symbol, timeframe, params, synthetic=synthetic)
    out = []
    for i, bar in enumerate(bars):
        live = None if spreads is None else spreads[i]
        got = series.at(i, current_spread=live)
        streamed = stream.update(bar, current_spread=live)
        if i + 1 < params.min_bars:
            assert got is None, f"a condition on bar {i} before min_bars={params.min_bars}"
            continue
        want = detect(
            frame.iloc[: i + 1], symbol, timeframe, params, synthetic=synthetic,
            current_spread=live,
        )  # fmt: skip
        assert got is not None, f"no condition on bar {i}"
        assert streamed is not None
        assert bits(got) == bits(want), f"bar {i}: series {got} != detect {want}"
        assert bits(got) == bits(streamed), f"bar {i}: series {got} != stream {streamed}"
        out.append(got)
    assert len(out) == max(0, len(bars) - params.min_bars + 1)
    return out


def varied(conditions: list[MarketCondition]) -> set[str]:
    return {c.trend.value for c in conditions}


def test_a_random_walk_with_default_parameters_matches_detect_on_every_bar() -> None:
    conditions = check(random_walk(11, 420), DEFAULTS)
    assert varied(conditions) == {"bullish", "bearish", "ranging"}
    assert len({c.volatility for c in conditions}) >= 2


def test_a_noisy_walk_with_live_spreads_matches_detect_on_every_bar() -> None:
    bars = noisy_walk(5, 400)
    rng = np.random.default_rng(5)
    spreads: list[float | None] = [
        None if rng.random() < 0.3 else float(rng.integers(0, 40)) for _ in bars
    ]
    conditions = check(bars, DEFAULTS, spreads=spreads)
    assert {c.liquidity.value for c in conditions} == {"thin", "normal", "deep"}


def test_bars_across_48_hour_gaps_match_detect_on_every_bar() -> None:
    bars = noisy_walk(8, 600)
    bars = [dataclasses.replace(b, time=b.time + (i // 150) * 172_800) for i, b in enumerate(bars)]
    conditions = check(bars, SMALL)
    assert varied(conditions) == {"bullish", "bearish", "ranging"}
    assert {c.market_open for c in conditions} == {True, False}
    assert {c.favourable for c in conditions} == {True, False}


def test_a_synthetic_index_matches_detect_on_every_bar() -> None:
    bars = [dataclasses.replace(b, symbol="Volatility 75 Index") for b in noisy_walk(9, 500)]
    conditions = check(bars, SMALL, symbol="Volatility 75 Index", synthetic=True)
    assert all(c.market_open for c in conditions)
    assert varied(conditions) == {"bullish", "bearish", "ranging"}


def h1_bar(r: np.void) -> Bar:
    """A bar from a MetaTrader rates record."""
    return Bar(
        "EURUSD", Timeframe.H1, int(r["time"]), float(r["open"]), float(r["high"]),
        float(r["low"]), float(r["close"]), int(r["tick_volume"]), int(r["spread"]),
        int(r["real_volume"]),
    )  # fmt: skip


def test_the_eurusd_h1_export_matches_detect_on_every_bar() -> None:
    rates = read_export(EURUSD_H1).data
    frame = bars_to_frame([h1_bar(r) for r in rates])
    series = ConditionSeries(frame, "EURUSD", Timeframe.H1, SMALL)
    for i in range(SMALL.min_bars - 1, len(frame)):
        got = series.at(i)
        assert got is not None
        assert bits(got) == bits(detect(frame.iloc[: i + 1], "EURUSD", Timeframe.H1, SMALL))


def test_fewer_bars_than_min_bars_give_none_everywhere() -> None:
    frame = bars_to_frame(random_walk(1, DEFAULTS.min_bars - 1))
    series = ConditionSeries(frame, "EURUSD", Timeframe.M15, DEFAULTS)
    assert len(series) == DEFAULTS.min_bars - 1
    assert [series.at(i) for i in range(len(series))] == [None] * len(series)


def test_a_bar_outside_the_frame_is_an_index_error() -> None:
    series = ConditionSeries(bars_to_frame(random_walk(1, 10)), "EURUSD", Timeframe.M15)
    with pytest.raises(IndexError):
        series.at(10)
    with pytest.raises(IndexError):
        series.at(-1)


def test_a_flat_market_raises_detects_error_and_later_bars_still_match() -> None:
    flat = [
        Bar("EURUSD", Timeframe.M15, 1_773_111_600 + 900 * i, 1.1, 1.1, 1.1, 1.1, 10)
        for i in range(SMALL.min_bars)
    ]
    bars = flat + random_walk(2, 40)
    bars = [dataclasses.replace(b, time=1_773_111_600 + 900 * i) for i, b in enumerate(bars)]
    frame = bars_to_frame(bars)
    series = ConditionSeries(frame, "EURUSD", Timeframe.M15, SMALL)
    i = SMALL.min_bars - 1
    with pytest.raises(ValueError, match="trend needs") as raised:
        detect(frame.iloc[: i + 1], "EURUSD", Timeframe.M15, SMALL)
    with pytest.raises(ValueError, match=re.escape(str(raised.value))):
        series.at(i)
    last = series.at(len(bars) - 1)
    assert last is not None
    assert bits(last) == bits(detect(frame, "EURUSD", Timeframe.M15, SMALL))


@pytest.mark.parametrize("lookback", [2, 3, 6, 7])
def test_previous_medians_are_np_median_of_the_values_before(lookback: int) -> None:
    rng = np.random.default_rng(lookback)
    values = rng.integers(0, 9, 200).astype("float64") + rng.random(200) * (rng.random(200) < 0.5)
    got = previous_medians(values, lookback)
    assert np.isnan(got[:lookback]).all()
    want = [float(np.median(values[t - lookback : t])) for t in range(lookback, len(values))]
    assert [v.hex() for v in got[lookback:].tolist()] == [v.hex() for v in want]
