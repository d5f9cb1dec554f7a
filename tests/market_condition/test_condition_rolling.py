"""The compiled sliding windows of ConditionSeries give the numpy definitions' floats, bit
for bit: the typical spread and volume (``np.median`` row by row of a sliding window, as
ConditionSeries computed them before) and the ATR's percentile rank
(:func:`~forexbot.market_condition.volatility.atr_percentile`'s)."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from forexbot.market_condition.rolling import (
    median_before,
    percentile_ranks,
    previous_medians,
    rank_at,
)
from forexbot.market_condition.volatility import VolatilityParams, atr_percentile


def numpy_previous_medians(values: np.ndarray, lookback: int) -> np.ndarray:
    """ConditionSeries' former definition: ``np.median`` of each row of a sliding window."""
    out = np.full(len(values), np.nan)
    if len(values) > lookback:
        out[lookback:] = np.median(sliding_window_view(values[:-1], lookback), axis=1)
    return out


def numpy_percentile_ranks(values: np.ndarray, lookback: int) -> np.ndarray:
    """atr_percentile's rank: the previous ``lookback`` values strictly below, NaN rows out."""
    out = np.full(len(values), np.nan)
    if len(values) > lookback:
        rows = sliding_window_view(values, lookback + 1)
        valid = ~np.isnan(rows).any(axis=1)
        below = (rows[:, :-1] < rows[:, -1:]).sum(axis=1)
        out[lookback:] = np.where(valid, 100.0 * below / lookback, np.nan)
    return out


def _values(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    if kind == "few-integers":  # spreads and tick volumes: many equal values
        return rng.integers(0, 5, n).astype(np.float64)
    if kind == "wide-integers":
        return rng.integers(0, 10_000, n).astype(np.float64)
    if kind == "fractions":  # sums of two middle values that round
        return np.round(rng.normal(size=n) * 1e4) / 7
    values = rng.normal(size=n)  # with NaN and infinities
    values[rng.random(n) < 0.05] = np.nan
    values[rng.random(n) < 0.02] = np.inf
    values[rng.random(n) < 0.02] = -np.inf
    return values


KINDS = ["few-integers", "wide-integers", "fractions", "nan-and-infinities"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("lookback", [1, 2, 3, 6, 7, 50, 51])
def test_previous_medians_are_np_median_bit_for_bit(kind: str, lookback: int) -> None:
    rng = np.random.default_rng(lookback * 10 + KINDS.index(kind))
    for n in (0, lookback, lookback + 1, 300):
        values = _values(kind, n, rng)
        got = previous_medians(values, lookback)
        assert got.tobytes() == numpy_previous_medians(values, lookback).tobytes()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("lookback", [1, 2, 3, 10, 100])
def test_percentile_ranks_are_the_window_counts_bit_for_bit(kind: str, lookback: int) -> None:
    rng = np.random.default_rng(lookback * 10 + KINDS.index(kind))
    for n in (0, lookback, lookback + 1, 400):
        values = _values(kind, n, rng)
        got = percentile_ranks(values, lookback)
        assert got.tobytes() == numpy_percentile_ranks(values, lookback).tobytes()


def test_percentile_ranks_of_the_atr_are_atr_percentile() -> None:
    rng = np.random.default_rng(7)
    close = 1.1 + np.cumsum(rng.normal(scale=1e-4, size=5_000))
    high = close + rng.random(5_000) * 2e-4
    low = close - rng.random(5_000) * 2e-4
    params = VolatilityParams(atr_period=14, lookback=100)
    atr, pct = atr_percentile(high, low, close, params)
    assert percentile_ranks(atr, params.lookback).tobytes() == pct.tobytes()


def test_200k_bars_of_spreads_give_np_medians() -> None:
    values = np.random.default_rng(11).integers(0, 30, 200_000).astype(np.float64)
    got = previous_medians(values, 50)
    assert got.tobytes() == numpy_previous_medians(values, 50).tobytes()


def test_a_lookback_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="lookback must be at least 1"):
        previous_medians(np.zeros(3), 0)
    with pytest.raises(ValueError, match="lookback must be at least 1"):
        percentile_ranks(np.zeros(3), 0)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("lookback", [1, 2, 3, 6, 7, 50, 51])
def test_one_index_median_is_the_sliding_median_bit_for_bit(kind: str, lookback: int) -> None:
    rng = np.random.default_rng(lookback * 10 + KINDS.index(kind) + 1)
    for n in (1, lookback, lookback + 1, 300):
        values = _values(kind, n, rng)
        got = np.array([median_before(values, lookback, t) for t in range(n)])
        assert got.tobytes() == previous_medians(values, lookback).tobytes()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("lookback", [1, 2, 3, 10, 100])
def test_one_index_rank_is_the_sliding_rank_bit_for_bit(kind: str, lookback: int) -> None:
    rng = np.random.default_rng(lookback * 10 + KINDS.index(kind) + 1)
    for n in (1, lookback, lookback + 1, 400):
        values = _values(kind, n, rng)
        got = np.array([rank_at(values, lookback, t) for t in range(n)])
        assert got.tobytes() == percentile_ranks(values, lookback).tobytes()


def test_one_index_outside_the_values_is_refused() -> None:
    with pytest.raises(IndexError):
        median_before(np.zeros(3), 2, 3)
    with pytest.raises(IndexError):
        rank_at(np.zeros(3), 2, -1)
