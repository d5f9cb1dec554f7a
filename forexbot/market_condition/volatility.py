"""Volatility analyser: ATR and its percentile rank over a lookback → low / normal / high.

Rules, on closed bars (TA-Lib, causal: the reading at bar *t* uses bars ≤ *t* only):

* ``atr = ATR(high, low, close, atr_period)`` (Wilder's average true range).
* ``percentile[t]`` is the share, in percent, of the previous ``lookback`` ATR values
  ``atr[t-lookback .. t-1]`` that are strictly below ``atr[t]`` (0 = the quietest of the
  lookback, 100 = the most volatile). It is NaN until ``lookback`` earlier ATR values exist,
  i.e. before bar ``atr_period + lookback``.
* The band is **low** when ``percentile < low_percentile``, **high** when
  ``percentile > high_percentile``, **normal** otherwise.

Parameters (:class:`VolatilityParams`): ``atr_period`` 14, ``lookback`` 100,
``low_percentile`` 25, ``high_percentile`` 75 (``low_percentile < high_percentile``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt
import pandas as pd
import talib
from numpy.lib.stride_tricks import sliding_window_view
from pydantic import BaseModel, Field, model_validator

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
    atr: FloatArray = np.asarray(
        talib.ATR(high, low, close, timeperiod=params.atr_period), dtype=np.float64
    )
    pct = np.full(len(atr), np.nan)
    n = params.lookback
    if len(atr) > n:
        rows = sliding_window_view(atr, n + 1)  # row j covers bars j .. j+n
        valid = ~np.isnan(rows).any(axis=1)
        below = (rows[:, :-1] < rows[:, -1:]).sum(axis=1)
        pct[n:] = np.where(valid, 100.0 * below / n, np.nan)
    return atr, pct


def band_of(percentile: float, params: VolatilityParams) -> VolatilityBand:
    """The band of a percentile rank."""
    if percentile < params.low_percentile:
        return VolatilityBand.LOW
    if percentile > params.high_percentile:
        return VolatilityBand.HIGH
    return VolatilityBand.NORMAL


def analyse_volatility(
    bars: pd.DataFrame, params: VolatilityParams | None = None
) -> VolatilityReading:
    """The reading on the last bar of ``bars`` (``ValueError`` if too few bars)."""
    p = params or VolatilityParams()
    atr, pct = atr_percentile(
        bars["high"].to_numpy(dtype="float64"),
        bars["low"].to_numpy(dtype="float64"),
        bars["close"].to_numpy(dtype="float64"),
        p,
    )
    if len(pct) == 0 or np.isnan(pct[-1]):
        raise ValueError(f"volatility needs at least {p.min_bars} bars, got {len(bars)}")
    last = float(pct[-1])
    return VolatilityReading(atr=float(atr[-1]), percentile=last, band=band_of(last, p))
