"""Rolling windows of :class:`~forexbot.market_condition.series.ConditionSeries`, compiled.

Over a million M1 bars, ``np.median`` row by row of a sliding window (the typical spread and
volume) took ~1 s and the ATR's percentile rank over a (n+1)-wide window view ~0.3 s, most of
the detector's vectorised pass. Here the median keeps the window sorted as it slides (one value
out and one in per bar, moving those between their places) and reads the middle; the rank
counts the window's values below the bar's (a loop the compiler vectorises); both compiled
with numba (no fastmath). The same floats as the numpy definitions, which the tests hold
them to bit for bit:

* the median of an odd window is its middle value; of an even one ``(a + b) / 2`` of the
  two middle values, the sum and the division ``np.median``'s ``mean`` does; NaN when the
  window holds a NaN (``np.median`` propagates it);
* the percentile rank is ``100.0 * below / n`` with ``below`` the count of the ``n`` previous
  values strictly below the current one, NaN when any of the ``n + 1`` is NaN.

:func:`median_before` and :func:`rank_at` give one index's value of each: a backtest asks
for the condition at a few thousand of a million bars, where sorting those windows alone
(~1 µs each) beats sliding over every bar (~0.2 s).

One difference is left: a window holding both ``0.0`` and ``-0.0`` may give a zero median of
the other sign than ``np.median`` (they compare equal, so their order in the window is not
theirs). Spreads and tick volumes are never negative.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


@njit(cache=True)
def _insert(window: FloatArray, size: int, value: float) -> None:
    """Put ``value`` into the sorted ``window[:size]`` (after its equals)."""
    lo, hi = 0, size
    while lo < hi:
        mid = (lo + hi) // 2
        if window[mid] <= value:
            lo = mid + 1
        else:
            hi = mid
    for k in range(size, lo, -1):
        window[k] = window[k - 1]
    window[lo] = value


@njit(cache=True)
def _remove(window: FloatArray, size: int, value: float) -> None:
    """Take one ``value`` out of the sorted ``window[:size]``."""
    lo, hi = 0, size
    while lo < hi:
        mid = (lo + hi) // 2
        if window[mid] < value:
            lo = mid + 1
        else:
            hi = mid
    for k in range(lo, size - 1):
        window[k] = window[k + 1]


@njit(cache=True)
def _replace(window: FloatArray, size: int, old: float, new: float) -> None:
    """Take one ``old`` out of the sorted ``window[:size]`` and put ``new`` in (after its
    equals), moving only the values between the two places."""
    lo, hi = 0, size
    while lo < hi:  # where old is
        mid = (lo + hi) // 2
        if window[mid] < old:
            lo = mid + 1
        else:
            hi = mid
    at = lo
    lo, hi = 0, size
    while lo < hi:  # where new goes, old still in place
        mid = (lo + hi) // 2
        if window[mid] <= new:
            lo = mid + 1
        else:
            hi = mid
    if lo > at:
        for k in range(at, lo - 1):
            window[k] = window[k + 1]
        window[lo - 1] = new
    else:
        for k in range(at, lo, -1):
            window[k] = window[k - 1]
        window[lo] = new


@njit(cache=True)
def _previous_medians(values: FloatArray, lookback: int) -> FloatArray:
    n = len(values)
    out = np.full(n, np.nan)
    if n <= lookback:
        return out
    window = np.empty(lookback)
    size = 0
    nans = 0
    for j in range(lookback):
        if math.isnan(values[j]):
            nans += 1
        else:
            _insert(window, size, values[j])
            size += 1
    half = lookback // 2
    for t in range(lookback, n):
        if nans == 0:
            if lookback % 2:
                out[t] = window[half]
            else:
                out[t] = (window[half - 1] + window[half]) / 2.0
        old, new = values[t - lookback], values[t]
        if not math.isnan(old) and not math.isnan(new):
            _replace(window, size, old, new)
            continue
        if math.isnan(old):
            nans -= 1
        else:
            _remove(window, size, old)
            size -= 1
        if math.isnan(new):
            nans += 1
        else:
            _insert(window, size, new)
            size += 1
    return out


@njit(cache=True)
def _percentile_ranks(values: FloatArray, lookback: int) -> FloatArray:
    n = len(values)
    out = np.full(n, np.nan)
    if n <= lookback:
        return out
    nans = 0  # NaN among values[t - lookback : t]
    for j in range(lookback):
        if math.isnan(values[j]):
            nans += 1
    for t in range(lookback, n):
        value = values[t]
        if nans == 0 and not math.isnan(value):
            below = 0
            for k in range(t - lookback, t):
                below += values[k] < value
            out[t] = 100.0 * below / lookback
        if math.isnan(values[t - lookback]):
            nans -= 1
        if math.isnan(value):
            nans += 1
    return out


@njit(cache=True)
def _median_before(values: FloatArray, lookback: int, t: int) -> float:
    if t < lookback:
        return math.nan
    window = np.sort(values[t - lookback : t])
    for value in window:
        if math.isnan(value):
            return math.nan
    half = lookback // 2
    if lookback % 2:
        return float(window[half])
    return float((window[half - 1] + window[half]) / 2.0)


@njit(cache=True)
def _rank_at(values: FloatArray, lookback: int, t: int) -> float:
    if t < lookback:
        return math.nan
    value = values[t]
    if math.isnan(value):
        return math.nan
    below = 0
    for k in range(t - lookback, t):
        if math.isnan(values[k]):
            return math.nan
        below += values[k] < value
    return 100.0 * below / lookback


def median_before(values: FloatArray, lookback: int, t: int) -> float:
    """:func:`previous_medians` ``(values, lookback)[t]`` alone (a sorted copy of the window):
    for a few bars of a long series, where sliding over every bar would cost more."""
    if lookback < 1:
        raise ValueError(f"lookback must be at least 1, got {lookback}")
    if not 0 <= t < len(values):
        raise IndexError(f"index {t} out of range for {len(values)} values")
    return float(_median_before(np.ascontiguousarray(values, dtype=np.float64), lookback, t))


def rank_at(values: FloatArray, lookback: int, t: int) -> float:
    """:func:`percentile_ranks` ``(values, lookback)[t]`` alone (see :func:`median_before`)."""
    if lookback < 1:
        raise ValueError(f"lookback must be at least 1, got {lookback}")
    if not 0 <= t < len(values):
        raise IndexError(f"index {t} out of range for {len(values)} values")
    return float(_rank_at(np.ascontiguousarray(values, dtype=np.float64), lookback, t))


def previous_medians(values: FloatArray, lookback: int) -> FloatArray:
    """Per index *t*: ``np.median(values[t - lookback : t])`` (NaN for ``t < lookback``)."""
    if lookback < 1:
        raise ValueError(f"lookback must be at least 1, got {lookback}")
    out: FloatArray = _previous_medians(np.ascontiguousarray(values, dtype=np.float64), lookback)
    return out


def percentile_ranks(values: FloatArray, lookback: int) -> FloatArray:
    """Per index *t* from ``lookback``: ``100 * (values[t-lookback:t] < values[t]).sum() /
    lookback``, NaN where any of ``values[t-lookback : t+1]`` is NaN (and before)."""
    if lookback < 1:
        raise ValueError(f"lookback must be at least 1, got {lookback}")
    out: FloatArray = _percentile_ranks(np.ascontiguousarray(values, dtype=np.float64), lookback)
    return out


def warm() -> None:
    """Compile (or load from numba's cache) the functions."""
    previous_medians(np.zeros(3), 2)
    percentile_ranks(np.zeros(3), 2)
    median_before(np.zeros(3), 2, 2)
    rank_at(np.zeros(3), 2, 2)
