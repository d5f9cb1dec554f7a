"""The incremental indicators against the references they stand in for.

Each indicator is TA-Lib's (or pandas' rolling max / min) on every bar: ``nan`` exactly where
the reference is NaN and, elsewhere, the same value within a relative 1e-9 (TA-Lib's bundled
build uses fast-math and FMA, so its last bits are not ours to match, except ``SMA``'s, which
are). They are checked over generated OHLC series (flat bars, constant runs, gaps, prices
from 1e-5 to 1e6) and over real EURUSD hourly bars.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
import talib
from backtesting.test import EURUSD  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from talib._ta_lib import MA_Type

from forexbot.indicators.incremental import (
    Atr,
    DirectionalIndex,
    RollingMax,
    RollingMin,
    Rsi,
    Sma,
    Stoch,
    series,
)

Array = NDArray[np.float64]


def assert_matches(actual: Array, expected: Array) -> None:
    """``nan`` where the reference is NaN, the reference's value within 1e-9 elsewhere."""
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected))
    values = ~np.isnan(expected)
    np.testing.assert_allclose(actual[values], expected[values], rtol=1e-9, atol=0)


# One bar: a relative move of the close (0 for a flat bar, up to ±50 % for a gap) and the
# wicks above and below the body (0 on a flat bar: high == low == close).
moves = st.one_of(
    st.just(0.0),
    st.floats(-0.02, 0.02, allow_subnormal=False),
    st.sampled_from([-0.5, -0.2, 0.2, 0.5]),
)
wicks = st.one_of(st.just(0.0), st.floats(0.0, 0.01, allow_subnormal=False))
bars = st.tuples(moves, wicks, wicks, st.booleans())  # the bool: a flat bar


@st.composite
def ohlc(draw: st.DrawFn) -> tuple[Array, Array, Array]:
    """High, low, close of a generated series; runs of one bar repeated give constant runs."""
    price = draw(st.sampled_from([1e-5, 0.0123, 1.0, 1.08437, 150.0, 1e6]))
    steps = draw(st.lists(bars, min_size=1, max_size=40))
    repeats = draw(st.lists(st.integers(1, 8), min_size=len(steps), max_size=len(steps)))
    high, low, close = [], [], []
    for (move, up, down, flat), times in zip(steps, repeats, strict=True):
        for _ in range(times):
            opened, price = price, price * (1.0 + move)
            if flat:
                high.append(price)
                low.append(price)
            else:
                high.append(max(opened, price) * (1.0 + up))
                low.append(min(opened, price) * (1.0 - down))
            close.append(price)
    return np.array(high), np.array(low), np.array(close)


periods = st.integers(2, 50)


def talib_stoch(
    high: Array, low: Array, close: Array, fastk: int, slowk: int, slowd: int
) -> tuple[Array, Array]:
    """``talib.STOCH`` with SMA smoothings, the only ones :class:`Stoch` has."""
    return talib.STOCH(high, low, close, fastk, slowk, MA_Type.SMA, slowd, MA_Type.SMA)


def eurusd() -> tuple[Array, Array, Array]:
    """EURUSD H1, April 2017 – February 2018 (the ``backtesting`` package's sample)."""
    return tuple(EURUSD[column].to_numpy(dtype=np.float64) for column in ("High", "Low", "Close"))


EURUSD_HLC = eurusd()


# --- SMA ------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(bars=ohlc(), period=st.integers(1, 50))
def test_sma_is_talib_sma_bit_for_bit(bars: tuple[Array, Array, Array], period: int) -> None:
    close = bars[2]
    assert np.array_equal(
        series(Sma(period).update, close), talib.SMA(close, period), equal_nan=True
    )


@pytest.mark.parametrize("period", [1, 2, 5])
def test_sma_skips_leading_nans_and_keeps_a_later_nan_as_talib_sma_does(period: int) -> None:
    nan = float("nan")
    values = np.array([nan, nan, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, nan, 8.0, 9.0])

    ours = series(Sma(period).update, values)

    np.testing.assert_array_equal(ours, talib.SMA(values, period))
    assert not np.isnan(ours[2 + period - 1])  # the first average after the leading nans
    assert np.isnan(ours[-1])  # the nan inside the series stays in the running sum


@pytest.mark.parametrize("period", [1, 2, 14, 50, 200])
def test_sma_is_talib_sma_bit_for_bit_on_eurusd(period: int) -> None:
    close = EURUSD_HLC[2]
    assert np.array_equal(
        series(Sma(period).update, close), talib.SMA(close, period), equal_nan=True
    )


# --- RSI ------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(bars=ohlc(), period=periods)
def test_rsi_is_talib_rsi(bars: tuple[Array, Array, Array], period: int) -> None:
    close = bars[2]
    assert_matches(series(Rsi(period).update, close), talib.RSI(close, period))


def test_rsi_first_value_is_at_bar_period() -> None:
    values = series(Rsi(3).update, [1.0, 2.0, 1.5, 2.5, 2.0])
    assert np.isnan(values[:3]).all()
    assert values[3] == pytest.approx(100.0 * 2.0 / 2.5)  # gains 1 + 1, losses 0.5


def test_rsi_is_zero_when_nothing_moved() -> None:
    close = np.full(10, 1.1)
    values = series(Rsi(2).update, close)
    assert values[2:].tolist() == [0.0] * 8
    assert_matches(values, talib.RSI(close, 2))


# --- Stochastic -----------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    bars=ohlc(),
    fastk=st.integers(1, 50),
    slowk=st.integers(1, 10),
    slowd=st.integers(1, 10),
)
def test_stoch_is_talib_stoch_with_sma_smoothing(
    bars: tuple[Array, Array, Array], fastk: int, slowk: int, slowd: int
) -> None:
    high, low, close = bars
    slow_k, slow_d = talib_stoch(high, low, close, fastk, slowk, slowd)
    ours = series(Stoch(fastk, slowk, slowd).update, high, low, close)
    assert_matches(ours[:, 0], slow_k)
    assert_matches(ours[:, 1], slow_d)


def test_stoch_fast_k_is_zero_on_a_flat_window() -> None:
    flat = np.full(6, 1.2345)
    ours = series(Stoch(3, 1, 1).update, flat, flat, flat)
    assert ours[2:].tolist() == [[0.0, 0.0]] * 4
    assert_matches(ours[:, 0], talib_stoch(flat, flat, flat, 3, 1, 1)[0])


def test_stoch_fast_k_counts_a_range_within_talibs_scaled_epsilon_as_flat() -> None:
    # A 1e-9 range at a price of 1e6 is ~1e-15 relative: TA-Lib's scale-aware test calls it flat.
    high = np.array([1e6, 1e6 + 1e-9, 1e6 + 2e-9])
    low = np.full(3, 1e6)
    ours = series(Stoch(2, 1, 1).update, high, low, high)
    assert ours[1:, 0].tolist() == [0.0, 0.0]
    assert_matches(ours[:, 0], talib_stoch(high, low, high, 2, 1, 1)[0])


def test_stoch_k_is_nan_until_d_has_a_value() -> None:
    high, low, close = (column[:20] for column in EURUSD_HLC)
    ours = series(Stoch(5, 3, 4).update, high, low, close)
    assert np.isnan(ours[: 4 + 2 + 3]).all()
    assert not np.isnan(ours[4 + 2 + 3]).any()


# --- ADX, +DI, −DI --------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(bars=ohlc(), period=periods)
def test_directional_index_is_talib_adx_plus_di_minus_di(
    bars: tuple[Array, Array, Array], period: int
) -> None:
    high, low, close = bars
    ours = series(DirectionalIndex(period).update, high, low, close)
    assert_matches(ours[:, 0], talib.ADX(high, low, close, period))
    assert_matches(ours[:, 1], talib.PLUS_DI(high, low, close, period))
    assert_matches(ours[:, 2], talib.MINUS_DI(high, low, close, period))


@settings(max_examples=100, deadline=None)
@given(bars=ohlc())
def test_directional_index_of_period_1_is_talibs_di_and_no_adx(
    bars: tuple[Array, Array, Array],
) -> None:
    high, low, close = bars
    ours = series(DirectionalIndex(1).update, high, low, close)
    assert np.isnan(ours[:, 0]).all()
    assert_matches(ours[:, 1], talib.PLUS_DI(high, low, close, 1))
    assert_matches(ours[:, 2], talib.MINUS_DI(high, low, close, 1))


def test_directional_index_look_backs_are_period_for_di_and_twice_less_one_for_adx() -> None:
    high, low, close = (column[:40] for column in EURUSD_HLC)
    ours = series(DirectionalIndex(7).update, high, low, close)
    assert np.isnan(ours[:7, 1:]).all()
    assert not np.isnan(ours[7:, 1:]).any()
    assert np.isnan(ours[:13, 0]).all()
    assert not np.isnan(ours[13:, 0]).any()


# --- rolling max / min ----------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(bars=ohlc(), span=st.integers(1, 50))
def test_rolling_max_and_min_are_pandas_rolling(
    bars: tuple[Array, Array, Array], span: int
) -> None:
    high, low, _ = bars
    assert_matches(
        series(RollingMax(span).update, high), pd.Series(high).rolling(span).max().to_numpy()
    )
    assert_matches(
        series(RollingMin(span).update, low), pd.Series(low).rolling(span).min().to_numpy()
    )


def test_rolling_max_drops_a_value_once_it_leaves_the_window() -> None:
    assert series(RollingMax(2).update, [5.0, 1.0, 2.0, 0.0]).tolist()[1:] == [5.0, 2.0, 2.0]


# --- real EURUSD hourly bars ----------------------------------------------------------


@pytest.mark.parametrize("period", [2, 5, 14, 50])
def test_every_indicator_matches_its_reference_on_eurusd(period: int) -> None:
    high, low, close = EURUSD_HLC
    assert_matches(series(Rsi(period).update, close), talib.RSI(close, period))
    assert_matches(
        series(Atr(period).update, high, low, close), talib.ATR(high, low, close, period)
    )
    stoch = series(Stoch(period, 3, 3).update, high, low, close)
    slow_k, slow_d = talib_stoch(high, low, close, period, 3, 3)
    assert_matches(stoch[:, 0], slow_k)
    assert_matches(stoch[:, 1], slow_d)
    directional = series(DirectionalIndex(period).update, high, low, close)
    assert_matches(directional[:, 0], talib.ADX(high, low, close, period))
    assert_matches(directional[:, 1], talib.PLUS_DI(high, low, close, period))
    assert_matches(directional[:, 2], talib.MINUS_DI(high, low, close, period))
    assert_matches(
        series(RollingMax(period).update, high), pd.Series(high).rolling(period).max().to_numpy()
    )
    assert_matches(
        series(RollingMin(period).update, low), pd.Series(low).rolling(period).min().to_numpy()
    )


# --- series and validation ------------------------------------------------------------


def test_series_is_the_list_of_single_updates() -> None:
    high, low, close = (column[:300] for column in EURUSD_HLC)
    one_by_one = DirectionalIndex(14)
    expected = [one_by_one.update(*bar) for bar in zip(high, low, close, strict=True)]
    assert np.array_equal(
        series(DirectionalIndex(14).update, high, low, close), np.array(expected), equal_nan=True
    )


@pytest.mark.parametrize(
    ("build", "period"),
    [
        (lambda: Rsi(1), "1"),
        (lambda: Sma(0), "0"),
        (lambda: Stoch(0, 3, 3), "0"),
        (lambda: Stoch(5, -1, 3), "-1"),
        (lambda: Stoch(5, 3, 0), "0"),
        (lambda: DirectionalIndex(0), "0"),
        (lambda: RollingMax(0), "0"),
        (lambda: RollingMin(-2), "-2"),
    ],
)
def test_an_invalid_period_is_refused_naming_it(build: Callable[[], object], period: str) -> None:
    with pytest.raises(ValueError, match=rf"got {period}$"):
        build()
