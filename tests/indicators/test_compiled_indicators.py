"""The compiled indicators are the incremental ones, bit for bit.

Every function of :mod:`forexbot.indicators.compiled` gives what ``series`` of its class gives:
NaN in the same places and, elsewhere, the same doubles (sign of zero included). Checked over
generated OHLC series (flat bars, constant runs, gaps, prices from 1e-5 to 1e6), the same
with NaN sprinkled in (leading NaN, a NaN bar), and over real EURUSD hourly bars.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from test_incremental_indicators import EURUSD_HLC, ohlc

from forexbot.indicators import compiled
from forexbot.indicators.incremental import (
    Atr,
    DirectionalIndex,
    RollingMax,
    RollingMin,
    Rsi,
    Sma,
    Stoch,
    TrueRange,
    series,
)

Array = NDArray[np.float64]
HLC = tuple[Array, Array, Array]


def assert_same_bits(actual: Array, expected: Array) -> None:
    """NaN where ``expected`` is NaN, and elsewhere the same double, sign of zero included."""
    assert actual.shape == expected.shape
    assert np.array_equal(actual, expected, equal_nan=True)
    numbers = ~np.isnan(expected)
    assert np.array_equal(np.signbit(actual[numbers]), np.signbit(expected[numbers]))


@st.composite
def ohlc_with_nans(draw: st.DrawFn) -> HLC:
    """:func:`ohlc` with a few NaN values put in (leading ones included)."""
    columns = [column.copy() for column in draw(ohlc())]
    n = len(columns[0])
    leading = draw(st.integers(0, min(n, 5)))
    for column in columns:
        column[:leading] = np.nan
    for _ in range(draw(st.integers(0, 3))):
        column = columns[draw(st.integers(0, 2))]
        column[draw(st.integers(0, n - 1))] = np.nan
    return columns[0], columns[1], columns[2]


series_of = st.one_of(ohlc(), ohlc_with_nans())


def check_all(bars: HLC, period: int) -> None:
    """Every compiled function against ``series`` of its class, at ``period``."""
    high, low, close = bars
    assert_same_bits(compiled.sma(close, period), series(Sma(period).update, close))
    assert_same_bits(
        compiled.true_range(high, low, close), series(TrueRange().update, high, low, close)
    )
    assert_same_bits(
        compiled.atr(high, low, close, period), series(Atr(period).update, high, low, close)
    )
    if period >= 2:
        assert_same_bits(compiled.rsi(close, period), series(Rsi(period).update, close))
    assert_same_bits(compiled.rolling_max(high, period), series(RollingMax(period).update, high))
    assert_same_bits(compiled.rolling_min(low, period), series(RollingMin(period).update, low))
    expected = series(DirectionalIndex(period).update, high, low, close).reshape(-1, 3)
    for ours, theirs in zip(
        compiled.directional_index(high, low, close, period), expected.T, strict=True
    ):
        assert_same_bits(ours, theirs)


@settings(max_examples=300, deadline=None)
@given(bars=series_of, period=st.integers(1, 50))
def test_every_compiled_indicator_is_its_series_bit_for_bit(bars: HLC, period: int) -> None:
    check_all(bars, period)


@settings(max_examples=300, deadline=None)
@given(
    bars=series_of,
    fastk=st.integers(1, 50),
    slowk=st.integers(1, 10),
    slowd=st.integers(1, 10),
)
def test_compiled_stoch_is_its_series_bit_for_bit(
    bars: HLC, fastk: int, slowk: int, slowd: int
) -> None:
    high, low, close = bars
    k, d = compiled.stoch(high, low, close, fastk, slowk, slowd)
    expected = series(Stoch(fastk, slowk, slowd).update, high, low, close).reshape(-1, 2)
    assert_same_bits(k, expected[:, 0])
    assert_same_bits(d, expected[:, 1])


@pytest.mark.parametrize("period", [1, 2, 5, 14, 50, 200])
def test_every_compiled_indicator_is_its_series_bit_for_bit_on_eurusd(period: int) -> None:
    check_all(EURUSD_HLC, period)
    high, low, close = EURUSD_HLC
    k, d = compiled.stoch(high, low, close, period, 3, 3)
    expected = series(Stoch(period, 3, 3).update, high, low, close)
    assert_same_bits(k, expected[:, 0])
    assert_same_bits(d, expected[:, 1])


def test_compiled_sma_skips_leading_nans_and_keeps_a_later_nan() -> None:
    nan = float("nan")
    values = np.array([nan, nan, 1.0, 2.0, 3.0, nan, 4.0])

    np.testing.assert_array_equal(compiled.sma(values, 2), [nan, nan, nan, 1.5, 2.5, nan, nan])


def test_compiled_functions_take_lists_and_give_empty_arrays_on_no_bars() -> None:
    assert compiled.sma([1.0, 2.0, 3.0], 2).tolist()[1:] == [1.5, 2.5]
    assert len(compiled.atr([], [], [], 14)) == 0
    assert [len(a) for a in compiled.directional_index([], [], [], 14)] == [0, 0, 0]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: compiled.sma([1.0], 0), "SMA period must be at least 1, got 0"),
        (lambda: compiled.atr([1.0], [1.0], [1.0], 0), "ATR period must be at least 1, got 0"),
        (lambda: compiled.rsi([1.0], 1), "RSI period must be at least 2, got 1"),
        (
            lambda: compiled.stoch([1.0], [1.0], [1.0], 14, 0, 3),
            "STOCH slow %K period must be at least 1, got 0",
        ),
        (
            lambda: compiled.directional_index([1.0], [1.0], [1.0], 0),
            "directional index period must be at least 1, got 0",
        ),
        (lambda: compiled.rolling_max([1.0], 0), "rolling max span must be at least 1, got 0"),
        (lambda: compiled.rolling_min([1.0], 0), "rolling min span must be at least 1, got 0"),
    ],
)
def test_an_invalid_period_is_refused_as_its_class_refuses_it(
    call: Callable[[], object], message: str
) -> None:
    with pytest.raises(ValueError, match=rf"^{message}$"):
        call()


def test_columns_of_different_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        compiled.atr([1.0, 2.0], [1.0], [1.0, 2.0], 14)
