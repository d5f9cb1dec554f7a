"""Indicators one bar at a time, and the same arithmetic over a whole series.

A strategy's streaming face must give exactly what its vectorised face gives on every bar,
to the last bit. Each indicator here is one small state machine whose ``update`` takes the
next closed bar in O(1); :func:`series` runs that same ``update`` over whole arrays, so the
two faces perform the same floating-point operations in the same order and agree by
construction. The vectorised faces call :mod:`forexbot.indicators.compiled` instead: the same
operations written out over arrays and compiled with numba, held to :func:`series` bit for
bit by the tests, some hundred times faster.

The definitions are TA-Lib's (same look-back, same seeding: Wilder's averages start from the
plain average of their first ``period`` inputs; ``nan`` exactly where TA-Lib's output is NaN),
with plain IEEE arithmetic: ``prev * (n - 1) + x`` then ``/ n``. They are not TA-Lib's bits:
the TA-Lib library the ``ta-lib`` wheel bundles is built with fast-math and picks an FMA
variant at run time on CPUs that have it (``TA_ATR`` computes ``fma(prev, (n-1)/n,
x * (1 - (n-1)/n))`` there), so its last bits depend on the CPU it runs on. The tests hold
these to TA-Lib within a relative 1e-9 and to themselves bit for bit. ``talib.SMA`` (sums
only) is bit for bit :class:`Sma` and stays in use.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
from math import isnan

import numpy as np
from numpy.typing import NDArray

NAN = math.nan
# TA-Lib's scale-aware zero test: |a - b| <= FLAT * (|a| + |b|) counts a - b as 0.
FLAT = 1e-14


class Sma:
    """``talib.SMA(values, period)``."""

    __slots__ = ("_period", "_started", "_total", "_values")

    def __init__(self, period: int) -> None:
        if period < 1:
            raise ValueError(f"SMA period must be at least 1, got {period}")
        self._period = period
        self._total = 0.0
        self._values: deque[float] = deque()
        self._started = False

    def update(self, value: float) -> float:
        """Add the next value; the SMA on it (``nan`` for the first ``period - 1``). Leading
        ``nan`` values are skipped, as ``talib.SMA`` skips them (its series starts at the
        first number); a ``nan`` after that makes every later average ``nan``, as there."""
        if not self._started:
            if isnan(value):
                return NAN
            self._started = True
        self._values.append(value)
        self._total += value
        if len(self._values) < self._period:
            return NAN
        average = self._total / self._period
        self._total -= self._values.popleft()
        return average


class TrueRange:
    """``talib.TRANGE(high, low, close)``: ``nan`` on the first bar (no previous close)."""

    __slots__ = ("_close",)

    def __init__(self) -> None:
        self._close = NAN

    def update(self, high: float, low: float, close: float) -> float:
        previous, self._close = self._close, close
        if isnan(previous):  # the first bar
            return NAN
        return max(high - low, abs(previous - high), abs(low - previous))


class Atr:
    """``talib.ATR(high, low, close, period)``: Wilder's average of the true range, seeded by
    the plain average of the first ``period`` true ranges (first value at bar ``period``)."""

    __slots__ = ("_atr", "_first", "_period", "_range")

    def __init__(self, period: int) -> None:
        if period < 1:
            raise ValueError(f"ATR period must be at least 1, got {period}")
        self._period = period
        self._range = TrueRange()
        self._first = Sma(period)
        self._atr = NAN

    def update(self, high: float, low: float, close: float) -> float:
        """Add the next bar; the ATR on it."""
        tr = self._range.update(high, low, close)
        if isnan(tr) or self._period == 1:
            return tr
        if isnan(self._atr):
            self._atr = self._first.update(tr)
            return self._atr
        atr = self._atr * (self._period - 1)
        atr += tr
        atr /= self._period
        self._atr = atr
        return atr


class RollingMax:
    """``pandas.Series(values).rolling(span).max()``: ``nan`` until ``span`` values are in.

    A monotonic deque of (position, value), decreasing in value: each value goes in once and
    out once, so an update is O(1) amortised whatever the span."""

    __slots__ = ("_count", "_span", "_window")

    def __init__(self, span: int) -> None:
        if span < 1:
            raise ValueError(f"rolling max span must be at least 1, got {span}")
        self._span = span
        self._count = 0
        self._window: deque[tuple[int, float]] = deque()

    def update(self, value: float) -> float:
        """Add the next value; the largest of the last ``span``."""
        window = self._window
        while window and window[-1][1] <= value:  # can never be the max again
            window.pop()
        count = self._count
        window.append((count, value))
        self._count = count + 1
        if window[0][0] <= count - self._span:  # slid out of the window
            window.popleft()
        return window[0][1] if count >= self._span - 1 else NAN


class RollingMin:
    """``pandas.Series(values).rolling(span).min()``: ``nan`` until ``span`` values are in
    (the mirror of :class:`RollingMax`)."""

    __slots__ = ("_count", "_span", "_window")

    def __init__(self, span: int) -> None:
        if span < 1:
            raise ValueError(f"rolling min span must be at least 1, got {span}")
        self._span = span
        self._count = 0
        self._window: deque[tuple[int, float]] = deque()

    def update(self, value: float) -> float:
        """Add the next value; the smallest of the last ``span``."""
        window = self._window
        while window and window[-1][1] >= value:
            window.pop()
        count = self._count
        window.append((count, value))
        self._count = count + 1
        if window[0][0] <= count - self._span:
            window.popleft()
        return window[0][1] if count >= self._span - 1 else NAN


class Rsi:
    """``talib.RSI(close, period)`` (default compatibility, no unstable period).

    The first value is at bar ``period``: the average gain and loss start as the plain
    averages of the first ``period`` changes, then follow Wilder (``prev * (period - 1)``,
    plus today's gain or loss, ``/ period``). The RSI is ``100 * gain / (gain + loss)``, and
    0 when nothing moved (``gain + loss == 0``), as TA-Lib answers."""

    __slots__ = ("_changes", "_close", "_gain", "_loss", "_period")

    def __init__(self, period: int) -> None:
        if period < 2:  # TA-Lib refuses 1
            raise ValueError(f"RSI period must be at least 2, got {period}")
        self._period = period
        self._close = NAN
        self._changes = 0
        self._gain = 0.0
        self._loss = 0.0

    def update(self, close: float) -> float:
        """Add the next close; the RSI on it (``nan`` for the first ``period`` bars)."""
        previous, self._close = self._close, close
        if isnan(previous):  # the first bar
            return NAN
        change = close - previous
        period = self._period
        if self._changes < period:  # seeding: plain sums, averaged once full
            if change < 0.0:
                self._loss -= change
            else:
                self._gain += change
            self._changes += 1
            if self._changes < period:
                return NAN
            self._loss /= period
            self._gain /= period
        else:
            loss = self._loss * (period - 1)
            gain = self._gain * (period - 1)
            if change < 0.0:
                loss -= change
            else:
                gain += change
            loss /= period
            gain /= period
            self._loss, self._gain = loss, gain
        total = self._gain + self._loss
        return 100.0 * (self._gain / total) if total != 0.0 else 0.0


class Stoch:
    """``talib.STOCH(high, low, close, fastk_period, slowk_period, MA_Type.SMA, slowd_period,
    MA_Type.SMA)``: (slow %K, slow %D).

    Fast %K is ``(close - lowest) / (highest - lowest) * 100`` over the last
    ``fastk_period`` bars, and 0 on a flat window; TA-Lib counts a window as flat when
    ``|highest - lowest| <= 1e-14 * (|highest| + |lowest|)`` (its scale-aware zero test), and
    so does this. Slow %K is the SMA of fast %K, slow %D the SMA of slow %K, both with
    :class:`Sma`'s running sums (those of ``talib.SMA``). Both are ``nan`` until %D has a
    value, as TA-Lib gives none before its whole look-back."""

    __slots__ = ("_highest", "_lowest", "_slow_d", "_slow_k")

    def __init__(self, fastk_period: int, slowk_period: int, slowd_period: int) -> None:
        for name, period in (
            ("fast %K", fastk_period),
            ("slow %K", slowk_period),
            ("slow %D", slowd_period),
        ):
            if period < 1:
                raise ValueError(f"STOCH {name} period must be at least 1, got {period}")
        self._highest = RollingMax(fastk_period)
        self._lowest = RollingMin(fastk_period)
        self._slow_k = Sma(slowk_period)
        self._slow_d = Sma(slowd_period)

    def update(self, high: float, low: float, close: float) -> tuple[float, float]:
        """Add the next bar; (slow %K, slow %D) on it."""
        highest = self._highest.update(high)
        lowest = self._lowest.update(low)
        if isnan(highest):
            return NAN, NAN
        spread = highest - lowest
        if abs(spread) <= FLAT * (abs(highest) + abs(lowest)):
            fast_k = 0.0
        else:
            fast_k = (close - lowest) / spread * 100.0
        slow_k = self._slow_k.update(fast_k)
        if isnan(slow_k):
            return NAN, NAN
        slow_d = self._slow_d.update(slow_k)
        return (NAN if isnan(slow_d) else slow_k), slow_d


class DirectionalIndex:
    """``(talib.ADX, talib.PLUS_DI, talib.MINUS_DI)(high, low, close, period)`` in one pass.

    Directional movement: up ``high - previous high``, down ``previous low - low``; +DM is
    the up move when it is positive and larger than the down move, −DM the down move when
    positive and larger than the up move, else 0. +DM, −DM and the true range are summed
    over the bars 1..``period - 1``, then smoothed Wilder's way on sums (``sum - sum /
    period + today``), as TA-Lib does; DI = ``100 * DM sum / TR sum`` (0 when the TR sum is
    0), first at bar ``period``. DX = ``100 * |−DI − +DI| / (−DI + +DI)``; the ADX is the
    plain average of the ``period`` DX values of bars ``period``..``2 * period - 1`` (first
    at bar ``2 * period - 1``), then ``(adx * (period - 1) + dx) / period``. A bar whose TR sum
    or DI sum is 0 has no DX: it adds nothing to the seed sum and leaves the ADX as it was.

    Period 1 follows TA-Lib's DI for period 1, a ratio without the 100 and without
    smoothing: +DI is ``up / true range`` when the bar's +DM is not 0, else 0 (−DI
    likewise), from bar 1. TA-Lib has no ADX for period 1, so it stays ``nan``."""

    __slots__ = (
        "_adx",
        "_bars",
        "_close",
        "_high",
        "_low",
        "_minus_dm",
        "_period",
        "_plus_dm",
        "_sum_dx",
        "_true_range",
    )

    def __init__(self, period: int) -> None:
        if period < 1:
            raise ValueError(f"directional index period must be at least 1, got {period}")
        self._period = period
        self._bars = 0
        self._high = self._low = self._close = NAN
        self._plus_dm = self._minus_dm = self._true_range = 0.0
        self._sum_dx = 0.0
        self._adx = NAN

    def update(self, high: float, low: float, close: float) -> tuple[float, float, float]:
        """Add the next bar; (ADX, +DI, −DI) on it."""
        bars = self._bars
        self._bars = bars + 1
        previous_close = self._close
        up = high - self._high
        down = self._low - low
        self._high, self._low, self._close = high, low, close
        if bars == 0:
            return NAN, NAN, NAN
        true_range = max(high - low, abs(high - previous_close), abs(low - previous_close))
        plus = up if up > 0.0 and up > down else 0.0
        minus = down if down > 0.0 and down > up else 0.0
        period = self._period
        if period == 1:
            return (
                NAN,
                plus / true_range if plus != 0.0 and true_range != 0.0 else 0.0,
                minus / true_range if minus != 0.0 and true_range != 0.0 else 0.0,
            )
        if bars < period:  # seeding: plain sums over bars 1..period-1
            self._plus_dm += plus
            self._minus_dm += minus
            self._true_range += true_range
            return NAN, NAN, NAN
        plus_dm = self._plus_dm - self._plus_dm / period + plus
        minus_dm = self._minus_dm - self._minus_dm / period + minus
        tr = self._true_range - self._true_range / period + true_range
        self._plus_dm, self._minus_dm, self._true_range = plus_dm, minus_dm, tr
        if tr == 0.0:
            return self._adx_after(bars, NAN), 0.0, 0.0
        plus_di = 100.0 * (plus_dm / tr)
        minus_di = 100.0 * (minus_dm / tr)
        total = minus_di + plus_di
        dx = 100.0 * (abs(minus_di - plus_di) / total) if total != 0.0 else NAN
        return self._adx_after(bars, dx), plus_di, minus_di

    def _adx_after(self, bars: int, dx: float) -> float:
        """The ADX on bar ``bars`` given its DX (``nan``: no DX on this bar)."""
        period = self._period
        seed_end = 2 * period - 1
        if bars < seed_end:
            if not isnan(dx):
                self._sum_dx += dx
            return NAN
        if bars == seed_end:
            if not isnan(dx):
                self._sum_dx += dx
            self._adx = self._sum_dx / period
        elif not isnan(dx):
            self._adx = (self._adx * (period - 1) + dx) / period
        return self._adx


def series(
    update: Callable[..., float] | Callable[..., tuple[float, ...]],
    *columns: Sequence[float] | NDArray[np.float64],
) -> NDArray[np.float64]:
    """``update`` (a fresh indicator's bound ``update``) applied to every row of ``columns``
    in order: the indicator's value on every bar, as the streaming face sees it. One value
    per bar for a one-valued indicator; one row per bar and one column per output for one
    that answers a tuple (``slow_k, slow_d = series(Stoch(14, 3, 3).update, h, l, c).T``)."""
    rows = zip(*(np.asarray(c, dtype=np.float64).tolist() for c in columns), strict=True)
    return np.array([update(*row) for row in rows], dtype=np.float64)
