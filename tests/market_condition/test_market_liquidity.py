"""Liquidity analyser: spread and tick volume against their medians over the previous bars."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from forexbot.market_condition.liquidity import (
    LiquidityLevel,
    LiquidityParams,
    analyse_liquidity,
)

P4 = LiquidityParams(lookback=4)


def frame(spreads: list[int], volumes: list[int]) -> pd.DataFrame:
    n = len(spreads)
    return pd.DataFrame(
        {
            "time": pd.date_range("2026-01-05", periods=n, freq="15min", tz="UTC"),
            "open": np.full(n, 1.1),
            "high": np.full(n, 1.1),
            "low": np.full(n, 1.1),
            "close": np.full(n, 1.1),
            "tick_volume": np.asarray(volumes, dtype="int64"),
            "spread": np.asarray(spreads, dtype="int64"),
            "real_volume": np.zeros(n, dtype="int64"),
        }
    )


def test_typical_values_are_medians_of_the_previous_bars_without_the_current() -> None:
    reading = analyse_liquidity(frame([100, 1, 2, 3, 4, 5], [900, 10, 20, 30, 40, 25]), P4)

    assert reading.typical_spread == 2.5
    assert reading.typical_volume == 25.0
    assert reading.spread == 5.0
    assert reading.spread_ratio == 2.0
    assert reading.volume_ratio == 1.0


def test_spread_at_one_and_a_half_times_typical_is_thin() -> None:
    reading = analyse_liquidity(frame([10] * 4 + [15], [100] * 5), P4)

    assert reading.spread_ratio == 1.5
    assert reading.level is LiquidityLevel.THIN


def test_spread_just_below_thin_ratio_is_normal() -> None:
    reading = analyse_liquidity(frame([10] * 4 + [14], [100] * 5), P4)

    assert reading.level is LiquidityLevel.NORMAL


def test_half_the_typical_volume_is_thin() -> None:
    reading = analyse_liquidity(frame([10] * 5, [100] * 4 + [50]), P4)

    assert reading.volume_ratio == 0.5
    assert reading.level is LiquidityLevel.THIN


def test_typical_spread_with_one_and_a_half_times_the_volume_is_deep() -> None:
    reading = analyse_liquidity(frame([10] * 5, [100] * 4 + [150]), P4)

    assert reading.level is LiquidityLevel.DEEP


def test_high_volume_with_a_wider_spread_is_only_normal() -> None:
    reading = analyse_liquidity(frame([10] * 4 + [12], [100] * 4 + [300]), P4)

    assert reading.level is LiquidityLevel.NORMAL


def test_zero_typical_spread_and_zero_spread_is_a_ratio_of_one() -> None:
    reading = analyse_liquidity(frame([0] * 5, [100] * 5), P4)

    assert reading.spread_ratio == 1.0
    assert reading.level is LiquidityLevel.NORMAL


def test_a_spread_over_a_zero_typical_spread_is_infinitely_thin() -> None:
    reading = analyse_liquidity(frame([0] * 4 + [1], [100] * 5), P4)

    assert reading.spread_ratio == math.inf
    assert reading.level is LiquidityLevel.THIN


def test_a_live_spread_replaces_the_bar_spread() -> None:
    reading = analyse_liquidity(frame([10] * 5, [100] * 5), P4, current_spread=20.0)

    assert reading.spread == 20.0
    assert reading.spread_ratio == 2.0
    assert reading.level is LiquidityLevel.THIN


def test_too_few_bars_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 5 bars, got 4"):
        analyse_liquidity(frame([10] * 4, [100] * 4), P4)


def test_deep_spread_ratio_not_below_thin_is_refused() -> None:
    with pytest.raises(ValidationError, match="deep_spread_ratio"):
        LiquidityParams(deep_spread_ratio=2.0, thin_spread_ratio=1.5)
