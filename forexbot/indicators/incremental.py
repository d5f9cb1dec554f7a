"""Indicators one bar at a time, and the same arithmetic over a whole series.

A strategy's streaming face must give exactly what its vectorised face gives on every bar,
to the last bit. Each indicator here is one small state machine whose ``update`` takes the
next closed bar in O(1); :func:`series` runs that same ``update`` over whole arrays, and the
strategies' vectorised faces use it, so the two faces perform the same floating-point
operations in the same order and agree by construction.

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


class Sma:
    """``talib.SMA(values, period)``."""

    __slots__ = ("_period", "_total", "_values")

    def __init__(self, period: int) -> None:
        if period < 1:
            raise ValueError(f"SMA period must be at least 1, got {period}")
        self._period = period
        self._total = 0.0
        self._values: deque[float] = deque()

    def update(self, value: float) -> float:
        """Add the next value; the SMA on it (``nan`` for the first ``period - 1``)."""
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


def series(
    update: Callable[..., float], *columns: Sequence[float] | NDArray[np.float64]
) -> NDArray[np.float64]:
    """``update`` (a fresh indicator's bound ``update``) applied to every row of ``columns``
    in order: the indicator's value on every bar, as the streaming face sees it."""
    rows = zip(*(np.asarray(c, dtype=np.float64).tolist() for c in columns), strict=True)
    return np.fromiter((update(*row) for row in rows), dtype=np.float64, count=len(columns[0]))
