"""Trend analyser: ADX with the directional indicators and a moving-average slope.

Rules, on closed bars (causal: the reading at bar *t* uses bars ≤ *t* only):

* ``adx = ADX(adx_period)``, ``plus_di = PLUS_DI(adx_period)``,
  ``minus_di = MINUS_DI(adx_period)``, ``atr = ATR(atr_period)``, ``ma = SMA(close, ma_period)``
  — TA-Lib's definitions, computed by :mod:`forexbot.indicators.incremental` (TA-Lib's own
  Wilder averages are fast-math builds whose last bits vary by CPU), and over whole series by
  its compiled twin :mod:`forexbot.indicators.compiled`, bit for bit the same.
* ``slope[t] = (ma[t] − ma[t − slope_bars]) / (slope_bars × atr[t])``: the average's change per
  bar measured in ATRs (so it is comparable across symbols).
* **Bullish** when ``adx ≥ adx_threshold``, ``plus_di > minus_di`` and ``slope > min_slope``;
  **bearish** when ``adx ≥ adx_threshold``, ``minus_di > plus_di`` and ``slope < −min_slope``;
  **ranging** otherwise (weak ADX, or the directional indicators and the slope disagree).
* ``strength = min(1, adx / full_strength_adx)`` — how strongly price is trending whatever the
  verdict (a ranging reading with strength 0.1 is a quiet range).

Parameters (:class:`TrendParams`): ``adx_period`` 14, ``atr_period`` 14, ``ma_period`` 50,
``slope_bars`` 5, ``adx_threshold`` 20, ``min_slope`` 0.0 ATR/bar, ``full_strength_adx`` 50.

Two faces with the same arithmetic: :func:`trend_series` over whole arrays and
:class:`TrendStream` one bar at a time in O(1), equal bit for bit (a zero ATR divides the way
numpy does: ±∞, or NaN for 0/0).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import StrEnum
from math import copysign, inf, isnan, nan

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, Field

from forexbot.indicators import compiled
from forexbot.indicators.incremental import Atr, DirectionalIndex, Sma

FloatArray = npt.NDArray[np.float64]


class TrendDirection(StrEnum):
    BULLISH = "bullish"
    BEARISH = "bearish"
    RANGING = "ranging"


class TrendParams(BaseModel):
    """Parameters of the trend analyser."""

    model_config = {"extra": "forbid", "frozen": True}

    adx_period: int = Field(14, ge=2, le=500)
    atr_period: int = Field(14, ge=1, le=500)
    ma_period: int = Field(50, ge=2, le=1000)
    slope_bars: int = Field(5, ge=1, le=500)
    adx_threshold: float = Field(20.0, ge=0, le=100)
    min_slope: float = Field(0.0, ge=0)
    full_strength_adx: float = Field(50.0, gt=0, le=100)

    @property
    def min_bars(self) -> int:
        """Bars needed for a reading on the last one."""
        return max(2 * self.adx_period, self.ma_period + self.slope_bars, self.atr_period + 1)


@dataclass(frozen=True, slots=True)
class TrendReading:
    """Trend at one closed bar."""

    direction: TrendDirection
    strength: float
    adx: float
    plus_di: float
    minus_di: float
    slope: float


@dataclass(frozen=True, slots=True)
class TrendSeries:
    """The trend indicators per bar (NaN where not yet defined)."""

    adx: FloatArray
    plus_di: FloatArray
    minus_di: FloatArray
    slope: FloatArray


def trend_series(
    high: FloatArray, low: FloatArray, close: FloatArray, params: TrendParams
) -> TrendSeries:
    """ADX, +DI, −DI and the ATR-normalised MA slope per bar."""
    p = params
    adx, plus, minus = compiled.directional_index(high, low, close, p.adx_period)
    atr = compiled.atr(high, low, close, p.atr_period)
    ma = compiled.sma(close, p.ma_period)
    slope = np.full(len(close), np.nan)
    k = p.slope_bars
    if len(close) > k:
        with np.errstate(invalid="ignore", divide="ignore"):
            slope[k:] = (ma[k:] - ma[:-k]) / (k * atr[k:])
    return TrendSeries(adx=adx, plus_di=plus, minus_di=minus, slope=slope)


class TrendStream:
    """:func:`trend_series` one bar at a time: ``update`` gives ``(adx, plus_di, minus_di,
    slope)`` on the bar, as the vectorised face gives them on the last of every bar fed."""

    __slots__ = ("_atr", "_dmi", "_k", "_ma", "_mas")

    def __init__(self, params: TrendParams) -> None:
        self._dmi = DirectionalIndex(params.adx_period)
        self._atr = Atr(params.atr_period)
        self._ma = Sma(params.ma_period)
        self._k = params.slope_bars
        self._mas: deque[float] = deque(maxlen=params.slope_bars + 1)  # ma[t-k .. t]

    def update(self, high: float, low: float, close: float) -> tuple[float, float, float, float]:
        """Add the next bar; its ADX, +DI, −DI and slope (NaN where not yet defined)."""
        adx, plus, minus = self._dmi.update(high, low, close)
        atr = self._atr.update(high, low, close)
        self._mas.append(self._ma.update(close))
        slope = nan
        if len(self._mas) > self._k:
            slope = _divide(self._mas[-1] - self._mas[0], self._k * atr)
        return adx, plus, minus, slope


def _divide(a: float, b: float) -> float:
    """``a / b`` as numpy divides floats: x/0 is ±∞, 0/0 and NaN/0 are NaN."""
    if b == 0.0:
        if a == 0.0 or isnan(a):
            return nan
        return copysign(inf, a) * copysign(1.0, b)
    return a / b


def classify(
    adx: float, plus_di: float, minus_di: float, slope: float, params: TrendParams
) -> TrendReading:
    """Apply the rules to one bar's indicator values."""
    direction = TrendDirection.RANGING
    if adx >= params.adx_threshold:
        if plus_di > minus_di and slope > params.min_slope:
            direction = TrendDirection.BULLISH
        elif minus_di > plus_di and slope < -params.min_slope:
            direction = TrendDirection.BEARISH
    strength = min(1.0, max(0.0, adx / params.full_strength_adx))
    return TrendReading(
        direction=direction,
        strength=strength,
        adx=adx,
        plus_di=plus_di,
        minus_di=minus_di,
        slope=slope,
    )


def reading_of(
    adx: float, plus_di: float, minus_di: float, slope: float, params: TrendParams, bars: int
) -> TrendReading:
    """:func:`classify`, or ``ValueError`` while an indicator is undefined (``bars``, the bars
    seen, only names the shortfall)."""
    if isnan(adx) or isnan(plus_di) or isnan(minus_di) or isnan(slope):
        raise ValueError(f"trend needs at least {params.min_bars} bars, got {bars}")
    return classify(adx, plus_di, minus_di, slope, params)


def analyse_trend(bars: pd.DataFrame, params: TrendParams | None = None) -> TrendReading:
    """The reading on the last bar of ``bars`` (``ValueError`` if too few bars)."""
    p = params or TrendParams()
    if len(bars) == 0:
        raise ValueError(f"trend needs at least {p.min_bars} bars, got 0")
    s = trend_series(
        bars["high"].to_numpy(dtype="float64"),
        bars["low"].to_numpy(dtype="float64"),
        bars["close"].to_numpy(dtype="float64"),
        p,
    )
    values = (float(s.adx[-1]), float(s.plus_di[-1]), float(s.minus_di[-1]), float(s.slope[-1]))
    return reading_of(*values, p, len(bars))
