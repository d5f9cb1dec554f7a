"""Volatility analyser: ATR percentile rank over a lookback → low / normal / high."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import talib
from pydantic import ValidationError

from forexbot.market_condition.volatility import (
    VolatilityBand,
    VolatilityParams,
    analyse_volatility,
    atr_percentile,
    band_of,
)

SMALL = VolatilityParams(atr_period=5, lookback=20)


def frame_from_ranges(ranges: list[float] | np.ndarray) -> pd.DataFrame:
    """Flat bars at 100 whose high−low is the given range (so the true range is the range)."""
    r = np.asarray(ranges, dtype="float64")
    n = len(r)
    return pd.DataFrame(
        {
            "time": pd.date_range("2026-01-05", periods=n, freq="15min", tz="UTC"),
            "open": np.full(n, 100.0),
            "high": 100.0 + r / 2,
            "low": 100.0 - r / 2,
            "close": np.full(n, 100.0),
            "tick_volume": np.full(n, 100, dtype="int64"),
            "spread": np.full(n, 10, dtype="int64"),
            "real_volume": np.zeros(n, dtype="int64"),
        }
    )


def reference_percentile(frame: pd.DataFrame, p: VolatilityParams) -> np.ndarray:
    """Straight loop over the rule: share of the previous ``lookback`` ATRs below the current."""
    atr = talib.ATR(
        frame["high"].to_numpy(), frame["low"].to_numpy(), frame["close"].to_numpy(), p.atr_period
    )
    out = np.full(len(atr), np.nan)
    for t in range(p.lookback, len(atr)):
        prev = atr[t - p.lookback : t]
        if np.isnan(prev).any() or np.isnan(atr[t]):
            continue
        out[t] = 100.0 * sum(1 for v in prev if v < atr[t]) / p.lookback
    return out


def test_widening_ranges_are_at_the_100th_percentile_and_high() -> None:
    reading = analyse_volatility(frame_from_ranges(1.0 + 0.01 * np.arange(40)), SMALL)

    assert reading.percentile == 100.0
    assert reading.band is VolatilityBand.HIGH


def test_narrowing_ranges_are_at_the_0th_percentile_and_low() -> None:
    reading = analyse_volatility(frame_from_ranges(2.0 - 0.01 * np.arange(40)), SMALL)

    assert reading.percentile == 0.0
    assert reading.band is VolatilityBand.LOW


def test_reading_atr_is_talib_atr_of_the_last_bar() -> None:
    frame = frame_from_ranges(1.0 + 0.01 * np.arange(40))
    expected = talib.ATR(
        frame["high"].to_numpy(), frame["low"].to_numpy(), frame["close"].to_numpy(), 5
    )[-1]

    assert analyse_volatility(frame, SMALL).atr == expected


def test_percentile_matches_a_straight_loop_over_the_rule_on_random_ranges() -> None:
    rng = np.random.default_rng(7)
    frame = frame_from_ranges(rng.uniform(0.5, 2.0, 400))
    high, low, close = (frame[c].to_numpy() for c in ("high", "low", "close"))

    _, pct = atr_percentile(high, low, close, SMALL)

    np.testing.assert_array_equal(pct, reference_percentile(frame, SMALL))
    assert np.isnan(pct[: 5 + 20]).all()
    assert not np.isnan(pct[5 + 20 :]).any()


def test_percentile_on_a_prefix_equals_the_prefix_of_the_whole() -> None:
    rng = np.random.default_rng(8)
    frame = frame_from_ranges(rng.uniform(0.5, 2.0, 300))
    arrays = [frame[c].to_numpy() for c in ("high", "low", "close")]
    _, whole = atr_percentile(*arrays, SMALL)

    for n in (30, 117, 299):
        _, prefix = atr_percentile(*(a[:n] for a in arrays), SMALL)
        np.testing.assert_array_equal(prefix, whole[:n])


@pytest.mark.parametrize(
    ("percentile", "band"),
    [
        (24.99, VolatilityBand.LOW),
        (25.0, VolatilityBand.NORMAL),
        (75.0, VolatilityBand.NORMAL),
        (75.01, VolatilityBand.HIGH),
    ],
)
def test_band_thresholds_are_strict(percentile: float, band: VolatilityBand) -> None:
    assert band_of(percentile, VolatilityParams()) is band


def test_custom_thresholds_change_the_band() -> None:
    assert band_of(50.0, VolatilityParams(low_percentile=60, high_percentile=90)) is (
        VolatilityBand.LOW
    )


def test_exactly_min_bars_gives_a_reading_and_one_fewer_is_refused() -> None:
    frame = frame_from_ranges(1.0 + 0.01 * np.arange(SMALL.min_bars))
    assert SMALL.min_bars == 26

    assert analyse_volatility(frame, SMALL).percentile == 100.0
    with pytest.raises(ValueError, match="at least 26 bars, got 25"):
        analyse_volatility(frame.iloc[:-1], SMALL)


def test_low_threshold_not_below_high_is_refused() -> None:
    with pytest.raises(ValidationError, match="low_percentile"):
        VolatilityParams(low_percentile=80, high_percentile=70)


def test_reading_is_frozen() -> None:
    reading = analyse_volatility(frame_from_ranges(1.0 + 0.01 * np.arange(40)), SMALL)

    with pytest.raises(dataclasses.FrozenInstanceError):
        reading.band = VolatilityBand.LOW  # type: ignore[misc]
