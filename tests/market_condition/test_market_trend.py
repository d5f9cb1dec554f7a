"""Trend analyser: ADX with +DI/−DI and an ATR-normalised SMA slope."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import talib

from forexbot.market_condition.trend import (
    TrendDirection,
    TrendParams,
    analyse_trend,
    classify,
    trend_series,
)


def frame_from_closes(closes: list[float] | np.ndarray) -> pd.DataFrame:
    """Bars opening at the previous close with wicks of 0.25 beyond the body."""
    c = np.asarray(closes, dtype="float64")
    o = np.concatenate(([c[0]], c[:-1]))
    n = len(c)
    return pd.DataFrame(
        {
            "time": pd.date_range("2026-01-05", periods=n, freq="15min", tz="UTC"),
            "open": o,
            "high": np.maximum(o, c) + 0.25,
            "low": np.minimum(o, c) - 0.25,
            "close": c,
            "tick_volume": np.full(n, 100, dtype="int64"),
            "spread": np.full(n, 10, dtype="int64"),
            "real_volume": np.zeros(n, dtype="int64"),
        }
    )


UP = frame_from_closes(100.0 + np.arange(120.0))
DOWN = frame_from_closes(300.0 - np.arange(120.0))
WAVE = frame_from_closes(100.0 + 3 * np.sin(np.arange(120) * 2 * np.pi / 10))


def test_a_steady_rise_is_bullish_at_full_strength() -> None:
    reading = analyse_trend(UP)
    adx = talib.ADX(UP["high"].to_numpy(), UP["low"].to_numpy(), UP["close"].to_numpy(), 14)

    assert reading.direction is TrendDirection.BULLISH
    assert reading.adx == adx[-1]
    assert reading.strength == min(1.0, adx[-1] / 50)
    assert reading.strength == 1.0
    assert reading.plus_di > reading.minus_di


def test_slope_is_the_sma_change_per_bar_in_atrs() -> None:
    h, lo, c = (UP[k].to_numpy() for k in ("high", "low", "close"))
    sma = talib.SMA(c, 50)
    atr = talib.ATR(h, lo, c, 14)

    reading = analyse_trend(UP)

    assert reading.slope == pytest.approx((sma[-1] - sma[-6]) / (5 * atr[-1]), abs=1e-12)
    assert reading.slope == pytest.approx(1.0 / 1.5, abs=1e-9)  # 1 per bar, ATR 1.5


def test_a_steady_fall_is_bearish() -> None:
    reading = analyse_trend(DOWN)

    assert reading.direction is TrendDirection.BEARISH
    assert reading.minus_di > reading.plus_di
    assert reading.slope < 0


def test_a_sine_wave_is_ranging_with_low_strength() -> None:
    reading = analyse_trend(WAVE)

    assert reading.direction is TrendDirection.RANGING
    assert reading.adx < 20
    assert reading.strength == reading.adx / 50


def test_strong_adx_with_di_up_but_falling_average_is_ranging() -> None:
    reading = classify(30.0, 25.0, 10.0, -0.1, TrendParams())

    assert reading.direction is TrendDirection.RANGING
    assert reading.strength == 0.6


def test_adx_just_below_threshold_is_ranging() -> None:
    assert classify(19.99, 30.0, 10.0, 0.2, TrendParams()).direction is TrendDirection.RANGING


def test_adx_at_threshold_with_agreement_is_bullish() -> None:
    assert classify(20.0, 30.0, 10.0, 0.2, TrendParams()).direction is TrendDirection.BULLISH


def test_min_slope_filters_a_flat_average() -> None:
    params = TrendParams(min_slope=0.05)

    assert classify(30.0, 30.0, 10.0, 0.05, params).direction is TrendDirection.RANGING
    assert classify(30.0, 10.0, 30.0, -0.06, params).direction is TrendDirection.BEARISH


def test_strength_is_capped_at_one() -> None:
    assert classify(80.0, 30.0, 10.0, 0.2, TrendParams()).strength == 1.0


def test_series_on_a_prefix_equal_the_prefix_of_the_whole() -> None:
    rng = np.random.default_rng(3)
    frame = frame_from_closes(100 + np.cumsum(rng.normal(0, 1, 500)))
    arrays = [frame[k].to_numpy() for k in ("high", "low", "close")]
    whole = trend_series(*arrays, TrendParams())

    for n in (80, 250, 499):
        part = trend_series(*(a[:n] for a in arrays), TrendParams())
        for name in ("adx", "plus_di", "minus_di", "slope"):
            np.testing.assert_array_equal(getattr(part, name), getattr(whole, name)[:n])


def test_too_few_bars_are_refused_naming_the_minimum() -> None:
    assert TrendParams().min_bars == 55

    with pytest.raises(ValueError, match="at least 55 bars, got 54"):
        analyse_trend(UP.iloc[:54])
    assert analyse_trend(UP.iloc[:55]).direction is TrendDirection.BULLISH
