"""Volatility analyser: ATR and its percentile rank over a lookback → low / normal / high.

Rules, on closed bars (causal: the reading at bar *t* uses bars ≤ *t* only):

* ``atr = ATR(high, low, close, atr_period)`` (Wilder's average true range, TA-Lib's definition
  computed by :class:`~forexbot.indicators.incremental.Atr`).
* ``percentile[t]`` is the share, in percent, of the previous ``lookback`` ATR values
  ``atr[t-lookback .. t-1]`` that are strictly below ``atr[t]`` (0 = the quietest of the
  lookback, 100 = the most volatile). It is NaN until ``lookback`` earlier ATR values exist,
  i.e. before bar ``atr_period + lookback``.
* The band is **low** when ``percentile < low_percentile``, **high** when
  ``percentile > high_percentile``, **normal** otherwise.

Parameters (:class:`VolatilityParams`): ``atr_period`` 14, ``lookback`` 100,
``low_percentile`` 25, ``high_percentile`` 75 (``low_percentile < high_percentile``).

Two faces with the same arithmetic: :func:`atr_percentile` over whole arrays, and
:class:`VolatilityStream` one bar at a time in O(``lookback``) (the count of earlier ATRs below
the current one is a bisection in a sorted copy of the window), equal bit for bit.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from dataclasses import dataclass
from enum import StrEnum
from math import isnan, nan

import numpy as np
import numpy.typing as npt
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view
from pydantic import BaseModel, Field, model_validator

from forexbot.indicators import compiled
from forexbot.indicators.incremental import Atr

FloatArray = npt.NDArray[np.float64]


class VolatilityBand(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"


class VolatilityParams(BaseModel):
    """Parameters of the volatility analyser."""

    model_config = {"extra": "forbid", "frozen": True}

    atr_period: int = Field(14, ge=1, le=500)
    lookback: int = Field(100, ge=2, le=10_000)
    low_percentile: float = Field(25.0, ge=0, le=100)
    high_percentile: float = Field(75.0, ge=0, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> VolatilityParams:
        if self.low_percentile >= self.high_percentile:
            raise ValueError(
                f"low_percentile ({self.low_percentile}) must be below "
                f"high_percentile ({self.high_percentile})"
            )
        return self

    @property
    def min_bars(self) -> int:
        """Bars needed for a reading on the last one."""
        return self.atr_period + self.lookback + 1


@dataclass(frozen=True, slots=True)
class VolatilityReading:
    """Volatility at one closed bar."""

    atr: float
    percentile: float
    band: VolatilityBand


def atr_percentile(
    high: FloatArray, low: FloatArray, close: FloatArray, params: VolatilityParams
) -> tuple[FloatArray, FloatArray]:
    """Per bar: the ATR and its percentile rank (NaN where not yet defined)."""
    atr = compiled.atr(high, low, close, params.atr_period)
    pct = np.full(len(atr), np.nan)
    n = params.lookback
    if len(atr) > n:
        rows = sliding_window_view(atr, n + 1)  # row j covers bars j .. j+n
        valid = ~np.isnan(rows).any(axis=1)
        below = (rows[:, :-1] < rows[:, -1:]).sum(axis=1)
        pct[n:] = np.where(valid, 100.0 * below / n, np.nan)
    return atr, pct


class VolatilityStream:
    """:func:`atr_percentile` one bar at a time: ``update`` gives the ATR and the percentile on
    the bar, as the vectorised face gives them on the last of every bar fed so far."""

    __slots__ = ("_atr", "_lookback", "_nans", "_sorted", "_window")

    def __init__(self, params: VolatilityParams) -> None:
        self._atr = Atr(params.atr_period)
        self._lookback = params.lookback
        self._window: deque[float] = deque()  # the last ``lookback`` ATRs, oldest first
        self._sorted: list[float] = []  # the window's non-NaN ATRs, ascending
        self._nans = 0  # the window's NaN ATRs (the first ``atr_period`` bars')

    def update(self, high: float, low: float, close: float) -> tuple[float, float]:
        """Add the next bar; its ATR and percentile (NaN until ``lookback`` ATRs precede it)."""
        atr = self._atr.update(high, low, close)
        n = self._lookback
        pct = nan
        if len(self._window) == n and not self._nans and not isnan(atr):
            pct = 100.0 * bisect_left(self._sorted, atr) / n  # earlier ATRs strictly below
        self._window.append(atr)
        self._add(atr, 1)
        if len(self._window) > n:
            self._add(self._window.popleft(), -1)
        return atr, pct

    def _add(self, atr: float, sign: int) -> None:
        if isnan(atr):
            self._nans += sign
        elif sign > 0:
            insort(self._sorted, atr)
        else:
            del self._sorted[bisect_left(self._sorted, atr)]


def band_of(percentile: float, params: VolatilityParams) -> VolatilityBand:
    """The band of a percentile rank."""
    if percentile < params.low_percentile:
        return VolatilityBand.LOW
    if percentile > params.high_percentile:
        return VolatilityBand.HIGH
    return VolatilityBand.NORMAL


def reading_of(
    atr: float, percentile: float, params: VolatilityParams, bars: int
) -> VolatilityReading:
    """The reading for one bar's ATR and percentile; ``ValueError`` while the percentile is
    undefined (``bars``, the bars seen, only names the shortfall)."""
    if isnan(percentile):
        raise ValueError(f"volatility needs at least {params.min_bars} bars, got {bars}")
    return VolatilityReading(atr=atr, percentile=percentile, band=band_of(percentile, params))


def analyse_volatility(
    bars: pd.DataFrame, params: VolatilityParams | None = None
) -> VolatilityReading:
    """The reading on the last bar of ``bars`` (``ValueError`` if too few bars)."""
    p = params or VolatilityParams()
    if len(bars) == 0:
        raise ValueError(f"volatility needs at least {p.min_bars} bars, got 0")
    atr, pct = atr_percentile(
        bars["high"].to_numpy(dtype="float64"),
        bars["low"].to_numpy(dtype="float64"),
        bars["close"].to_numpy(dtype="float64"),
        p,
    )
    return reading_of(float(atr[-1]), float(pct[-1]), p, len(bars))
