"""The indicators of :mod:`forexbot.indicators.incremental` over whole arrays, compiled.

``series(Atr(14).update, high, low, close)`` runs a Python ``update`` per bar: 0.2-1.2 s per
million bars and indicator, which is most of a vectorised pass (MA+RSI on 1M M1 bars, the
detector's :class:`~forexbot.market_condition.series.ConditionSeries`). The functions here
give the same arrays in milliseconds, and the same bits: each kernel is its class's
``update`` written out over an array, the same IEEE operations in the same order (running
sums add then subtract, Wilder's ``prev * (n - 1)`` then ``+ x`` then ``/ n``, TA-Lib's
flat-window test, the leading-NaN skip of :class:`~forexbot.indicators.incremental.Sma`,
``nan`` in the same places). Python's ``max(a, b, c)`` is kept as it compares (``b``
replaces ``a`` only when ``b > a``), which decides where a NaN wins. numba compiles without
fastmath, so nothing is reassociated or contracted into an FMA; the tests hold every
function to ``series(...)`` of its class bit for bit.

The streaming faces keep the classes; the vectorised faces call these. Arguments are checked
as the classes check them (``ValueError``); columns must have one length.

Compiled once per machine (``cache=True``: numba's on-disk cache next to this file), then
loaded per process; :func:`warm` does that up front, as
:func:`forexbot.backtest.kernel_jit.warm` does for the backtest loop.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numba import njit
from numpy.typing import NDArray

from forexbot.indicators.incremental import FLAT

FloatArray = NDArray[np.float64]
Column = Sequence[float] | FloatArray

_NAN = math.nan


# --- kernels (numba) -------------------------------------------------------------------------
# An Sma's state is (ring, head, size, total, started): ``ring`` holds the deque's values
# (capacity ``period``), ``head`` the slot of the oldest, ``size`` how many it holds.


@njit(cache=True)
def _sma_step(
    ring: FloatArray, head: int, size: int, total: float, started: bool, value: float
) -> tuple[int, int, float, bool, float]:
    """:meth:`Sma.update`: the new (head, size, total, started) and the average."""
    if not started:
        if math.isnan(value):
            return head, size, total, started, _NAN
        started = True
    period = len(ring)
    slot = head + size
    if slot >= period:
        slot -= period
    ring[slot] = value
    size += 1
    total += value
    if size < period:
        return head, size, total, started, _NAN
    average = total / period
    total -= ring[head]
    head += 1
    if head == period:
        head = 0
    size -= 1
    return head, size, total, started, average


@njit(cache=True)
def _sma(x: FloatArray, period: int) -> FloatArray:
    out = np.empty(len(x))
    ring = np.empty(period)
    head, size, total, started = 0, 0, 0.0, False
    for i in range(len(x)):
        head, size, total, started, out[i] = _sma_step(ring, head, size, total, started, x[i])
    return out


@njit(cache=True)
def _max3(a: float, b: float, c: float) -> float:
    """Python's ``max(a, b, c)``: a later argument wins only when greater."""
    # Not max(): numba's need not keep Python's order where a NaN is compared.
    m = a
    if b > m:  # noqa: PLR1730
        m = b
    if c > m:  # noqa: PLR1730
        m = c
    return m


@njit(cache=True)
def _true_range(h: FloatArray, lo: FloatArray, c: FloatArray) -> FloatArray:
    out = np.empty(len(c))
    previous = _NAN
    for i in range(len(c)):
        if math.isnan(previous):
            out[i] = _NAN
        else:
            out[i] = _max3(h[i] - lo[i], abs(previous - h[i]), abs(lo[i] - previous))
        previous = c[i]
    return out


@njit(cache=True)
def _atr(h: FloatArray, lo: FloatArray, c: FloatArray, period: int) -> FloatArray:
    out = np.empty(len(c))
    ring = np.empty(period)
    head, size, total, started = 0, 0, 0.0, False
    atr = _NAN
    previous = _NAN
    for i in range(len(c)):
        if math.isnan(previous):
            tr = _NAN
        else:
            tr = _max3(h[i] - lo[i], abs(previous - h[i]), abs(lo[i] - previous))
        previous = c[i]
        if math.isnan(tr) or period == 1:
            out[i] = tr
            continue
        if math.isnan(atr):
            head, size, total, started, atr = _sma_step(ring, head, size, total, started, tr)
            out[i] = atr
            continue
        value = atr * (period - 1)
        value += tr
        value /= period
        atr = value
        out[i] = value
    return out


@njit(cache=True)
def _rolling_extreme(x: FloatArray, span: int, largest: bool) -> FloatArray:
    """:class:`RollingMax` (``largest``) or :class:`RollingMin`: the same monotonic deque,
    in a ring of ``span + 1`` slots (it never holds more)."""
    out = np.empty(len(x))
    capacity = span + 1
    positions = np.empty(capacity, np.int64)
    values = np.empty(capacity)
    head, size = 0, 0
    for count in range(len(x)):
        value = x[count]
        while size > 0:  # drop the back while it can never be the extreme again
            back = head + size - 1
            if back >= capacity:
                back -= capacity
            if (values[back] <= value) if largest else (values[back] >= value):
                size -= 1
            else:
                break
        slot = head + size
        if slot >= capacity:
            slot -= capacity
        positions[slot] = count
        values[slot] = value
        size += 1
        if positions[head] <= count - span:  # slid out of the window
            head += 1
            if head == capacity:
                head = 0
            size -= 1
        out[count] = values[head] if count >= span - 1 else _NAN
    return out


@njit(cache=True)
def _rsi(c: FloatArray, period: int) -> FloatArray:
    out = np.empty(len(c))
    previous = _NAN
    changes = 0
    gain = 0.0
    loss = 0.0
    for i in range(len(c)):
        close = c[i]
        last = previous
        previous = close
        if math.isnan(last):
            out[i] = _NAN
            continue
        change = close - last
        if changes < period:
            if change < 0.0:
                loss -= change
            else:
                gain += change
            changes += 1
            if changes < period:
                out[i] = _NAN
                continue
            loss /= period
            gain /= period
        else:
            new_loss = loss * (period - 1)
            new_gain = gain * (period - 1)
            if change < 0.0:
                new_loss -= change
            else:
                new_gain += change
            new_loss /= period
            new_gain /= period
            loss, gain = new_loss, new_gain
        total = gain + loss
        out[i] = 100.0 * (gain / total) if total != 0.0 else 0.0
    return out


@njit(cache=True)
def _stoch(
    h: FloatArray, lo: FloatArray, c: FloatArray, fastk: int, slowk: int, slowd: int
) -> tuple[FloatArray, FloatArray]:
    n = len(c)
    highest = _rolling_extreme(h, fastk, True)
    lowest = _rolling_extreme(lo, fastk, False)
    k_out = np.empty(n)
    d_out = np.empty(n)
    k_ring = np.empty(slowk)
    k_head, k_size, k_total, k_started = 0, 0, 0.0, False
    d_ring = np.empty(slowd)
    d_head, d_size, d_total, d_started = 0, 0, 0.0, False
    for i in range(n):
        hi = highest[i]
        low = lowest[i]
        if math.isnan(hi):
            k_out[i] = _NAN
            d_out[i] = _NAN
            continue
        spread = hi - low
        if abs(spread) <= FLAT * (abs(hi) + abs(low)):
            fast_k = 0.0
        else:
            fast_k = (c[i] - low) / spread * 100.0
        k_head, k_size, k_total, k_started, slow_k = _sma_step(
            k_ring, k_head, k_size, k_total, k_started, fast_k
        )
        if math.isnan(slow_k):
            k_out[i] = _NAN
            d_out[i] = _NAN
            continue
        d_head, d_size, d_total, d_started, slow_d = _sma_step(
            d_ring, d_head, d_size, d_total, d_started, slow_k
        )
        k_out[i] = _NAN if math.isnan(slow_d) else slow_k
        d_out[i] = slow_d
    return k_out, d_out


@njit(cache=True)
def _directional_index(
    h: FloatArray, lo: FloatArray, c: FloatArray, period: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    n = len(c)
    adx_out = np.empty(n)
    plus_out = np.empty(n)
    minus_out = np.empty(n)
    last_high = last_low = last_close = _NAN
    plus_sum = minus_sum = tr_sum = 0.0
    sum_dx = 0.0
    adx = _NAN
    seed_end = 2 * period - 1
    for bars in range(n):
        high = h[bars]
        low = lo[bars]
        previous_close = last_close
        up = high - last_high
        down = last_low - low
        last_high, last_low, last_close = high, low, c[bars]
        if bars == 0:
            adx_out[bars] = plus_out[bars] = minus_out[bars] = _NAN
            continue
        true_range = _max3(high - low, abs(high - previous_close), abs(low - previous_close))
        plus = up if up > 0.0 and up > down else 0.0
        minus = down if down > 0.0 and down > up else 0.0
        if period == 1:
            adx_out[bars] = _NAN
            plus_out[bars] = plus / true_range if plus != 0.0 and true_range != 0.0 else 0.0
            minus_out[bars] = minus / true_range if minus != 0.0 and true_range != 0.0 else 0.0
            continue
        if bars < period:
            plus_sum += plus
            minus_sum += minus
            tr_sum += true_range
            adx_out[bars] = plus_out[bars] = minus_out[bars] = _NAN
            continue
        plus_dm = plus_sum - plus_sum / period + plus
        minus_dm = minus_sum - minus_sum / period + minus
        tr = tr_sum - tr_sum / period + true_range
        plus_sum, minus_sum, tr_sum = plus_dm, minus_dm, tr
        if tr == 0.0:
            dx = _NAN
            plus_di = minus_di = 0.0
        else:
            plus_di = 100.0 * (plus_dm / tr)
            minus_di = 100.0 * (minus_dm / tr)
            total = minus_di + plus_di
            dx = 100.0 * (abs(minus_di - plus_di) / total) if total != 0.0 else _NAN
        # DirectionalIndex._adx_after
        if bars < seed_end:
            if not math.isnan(dx):
                sum_dx += dx
            adx_out[bars] = _NAN
        else:
            if bars == seed_end:
                if not math.isnan(dx):
                    sum_dx += dx
                adx = sum_dx / period
            elif not math.isnan(dx):
                adx = (adx * (period - 1) + dx) / period
            adx_out[bars] = adx
        plus_out[bars] = plus_di
        minus_out[bars] = minus_di
    return adx_out, plus_out, minus_out


# --- the public face -------------------------------------------------------------------------


def _columns(*columns: Column) -> list[FloatArray]:
    arrays = [np.ascontiguousarray(column, dtype=np.float64) for column in columns]
    if any(a.ndim != 1 for a in arrays):
        raise ValueError("indicator columns must be one-dimensional")
    if len({len(a) for a in arrays}) > 1:
        raise ValueError(f"indicator columns differ in length: {[len(a) for a in arrays]}")
    return arrays


def _at_least(name: str, period: int, least: int) -> int:
    if period < least:
        raise ValueError(f"{name} must be at least {least}, got {period}")
    return int(period)


def sma(x: Column, period: int) -> FloatArray:
    """``series(Sma(period).update, x)``."""
    (a,) = _columns(x)
    result: FloatArray = _sma(a, _at_least("SMA period", period, 1))
    return result


def true_range(high: Column, low: Column, close: Column) -> FloatArray:
    """``series(TrueRange().update, high, low, close)``."""
    result: FloatArray = _true_range(*_columns(high, low, close))
    return result


def atr(high: Column, low: Column, close: Column, period: int) -> FloatArray:
    """``series(Atr(period).update, high, low, close)``."""
    h, lo, c = _columns(high, low, close)
    result: FloatArray = _atr(h, lo, c, _at_least("ATR period", period, 1))
    return result


def rsi(close: Column, period: int) -> FloatArray:
    """``series(Rsi(period).update, close)`` (period at least 2, as TA-Lib)."""
    (c,) = _columns(close)
    result: FloatArray = _rsi(c, _at_least("RSI period", period, 2))
    return result


def stoch(
    high: Column,
    low: Column,
    close: Column,
    fastk_period: int,
    slowk_period: int,
    slowd_period: int,
) -> tuple[FloatArray, FloatArray]:
    """(slow %K, slow %D): ``series(Stoch(fastk, slowk, slowd).update, high, low, close).T``."""
    h, lo, c = _columns(high, low, close)
    fastk = _at_least("STOCH fast %K period", fastk_period, 1)
    slowk = _at_least("STOCH slow %K period", slowk_period, 1)
    slowd = _at_least("STOCH slow %D period", slowd_period, 1)
    k, d = _stoch(h, lo, c, fastk, slowk, slowd)
    return k, d


def directional_index(
    high: Column, low: Column, close: Column, period: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(ADX, +DI, −DI): ``series(DirectionalIndex(period).update, high, low, close).T``."""
    h, lo, c = _columns(high, low, close)
    adx, plus, minus = _directional_index(
        h, lo, c, _at_least("directional index period", period, 1)
    )
    return adx, plus, minus


def rolling_max(x: Column, span: int) -> FloatArray:
    """``series(RollingMax(span).update, x)`` (pandas' ``rolling(span).max()``)."""
    (a,) = _columns(x)
    result: FloatArray = _rolling_extreme(a, _at_least("rolling max span", span, 1), True)
    return result


def rolling_min(x: Column, span: int) -> FloatArray:
    """``series(RollingMin(span).update, x)`` (pandas' ``rolling(span).min()``)."""
    (a,) = _columns(x)
    result: FloatArray = _rolling_extreme(a, _at_least("rolling min span", span, 1), False)
    return result


def warm() -> None:
    """Compile every kernel, or load it from numba's cache, on a few bars of the real call's
    types: a benchmark or a pool worker pays it before timing."""
    x = np.array([1.0, 2.0, 1.5, 1.75])
    sma(x, 2)
    true_range(x, x, x)
    atr(x, x, x, 2)
    rsi(x, 2)
    stoch(x, x, x, 2, 2, 2)
    directional_index(x, x, x, 2)
    rolling_max(x, 2)
    rolling_min(x, 2)
