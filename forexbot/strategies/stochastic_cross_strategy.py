"""Stochastic cross: %K/%D crossing back out of the oversold / overbought zone.

Rules, on closed bid bars (all indicators from TA-Lib, all causal):

* ``k, d = STOCH(high, low, close, fastk_period, slowk_period, SMA, slowd_period, SMA)``
  (the "slow" stochastic: %K is the SMA of the raw %K, %D the SMA of %K),
  ``atr = ATR(high, low, close, atr_period)``, and when ``trend_filter_period > 0``
  ``trend = SMA(close, trend_filter_period)``.
* **Buy** at bar *t* when %K crosses above %D — ``k[t-1] ≤ d[t-1]`` and ``k[t] > d[t]`` — out
  of the oversold zone: ``min(k[t-1], d[t-1]) < oversold`` (at a bullish cross that minimum is
  ``k[t-1]``). With the trend filter on, additionally ``close[t] > trend[t]``.
* **Sell** at bar *t* when %K crosses below %D — ``k[t-1] ≥ d[t-1]`` and ``k[t] < d[t]`` — out
  of the overbought zone: ``max(k[t-1], d[t-1]) > overbought``; with the filter on,
  ``close[t] < trend[t]``.
* Entry is ``close[t]``; the stop is ``atr_multiplier × atr[t]`` beyond it; the target is
  ``reward_risk ×`` the stop distance on the other side. No signal while any indicator the rule
  uses is undefined or ``atr[t] = 0``.
* Confidence is how deep in the zone the cross started: ``(oversold − min(k[t-1], d[t-1])) /
  oversold`` for a buy, ``(max(k[t-1], d[t-1]) − overbought) / (100 − overbought)`` for a sell,
  clipped to [0, 1].

Parameters (defaults suit M15–H1 forex): ``fastk_period`` 14, ``slowk_period`` 3,
``slowd_period`` 3, ``oversold`` 20, ``overbought`` 80 (``oversold < overbought``),
``trend_filter_period`` 0 (off; otherwise ≥ 2), ``atr_period`` 14, ``atr_multiplier`` 1.5,
``reward_risk`` 2.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
import talib
from pydantic import Field, model_validator
from talib._ta_lib import MA_Type

from forexbot.strategies.base_strategy import (
    AtrExitParams,
    SignalColumns,
    Strategy,
    StrategyParams,
    empty_signals,
    high_low_close,
    previous,
)
from forexbot.strategies.regime import NOT_HIGH, RANGING, Regime


class StochasticCrossParams(AtrExitParams):
    """Parameters of :class:`StochasticCrossStrategy`."""

    fastk_period: int = Field(14, ge=1, le=500)
    slowk_period: int = Field(3, ge=1, le=100)
    slowd_period: int = Field(3, ge=1, le=100)
    oversold: float = Field(20.0, gt=0, lt=100)
    overbought: float = Field(80.0, gt=0, lt=100)
    trend_filter_period: int = Field(0, ge=0, le=1000)

    @model_validator(mode="after")
    def _consistent(self) -> StochasticCrossParams:
        if self.oversold >= self.overbought:
            raise ValueError(
                f"oversold ({self.oversold:g}) must be below overbought ({self.overbought:g})"
            )
        if self.trend_filter_period == 1:
            raise ValueError("trend_filter_period must be 0 (off) or at least 2 (got 1)")
        return self


class StochasticCrossStrategy(Strategy):
    """%K/%D cross out of oversold/overbought, with an optional SMA trend filter."""

    name: ClassVar[str] = "stochastic_cross"
    regime: ClassVar[Regime] = Regime(trends=RANGING, volatility=NOT_HIGH)
    params_model: ClassVar[type[StrategyParams]] = StochasticCrossParams
    params: StochasticCrossParams

    @property
    def warmup_bars(self) -> int:
        p = self.params
        # %D is first defined at index fastk+slowk+slowd-3; the cross also needs the bar before.
        stoch = p.fastk_period + p.slowk_period + p.slowd_period - 1
        return max(stoch, p.atr_period + 1, p.trend_filter_period)

    def signals(self, bars: pd.DataFrame) -> pd.DataFrame:
        p = self.params
        if len(bars) < 2:
            return empty_signals(bars.index)
        high, low, close = high_low_close(bars)
        k, d = talib.STOCH(
            high,
            low,
            close,
            fastk_period=p.fastk_period,
            slowk_period=p.slowk_period,
            slowk_matype=MA_Type.SMA,
            slowd_period=p.slowd_period,
            slowd_matype=MA_Type.SMA,
        )
        atr = talib.ATR(high, low, close, timeperiod=p.atr_period)
        prev_k = previous(k)
        prev_d = previous(d)

        with np.errstate(invalid="ignore"):
            valid = ~(np.isnan(k) | np.isnan(d) | np.isnan(prev_k) | np.isnan(prev_d))
            valid &= ~np.isnan(atr) & (atr > 0)
            low_prev = np.minimum(prev_k, prev_d)
            high_prev = np.maximum(prev_k, prev_d)
            buy = valid & (prev_k <= prev_d) & (k > d) & (low_prev < p.oversold)
            sell = valid & (prev_k >= prev_d) & (k < d) & (high_prev > p.overbought)
            if p.trend_filter_period:
                trend = talib.SMA(close, timeperiod=p.trend_filter_period)
                buy &= close > trend
                sell &= close < trend
            buy_conf = np.clip((p.oversold - low_prev) / p.oversold, 0.0, 1.0)
            sell_conf = np.clip((high_prev - p.overbought) / (100.0 - p.overbought), 0.0, 1.0)

        out = SignalColumns.empty(len(bars))
        confidence = np.where(buy, buy_conf, sell_conf)
        out.fire_where(
            buy, sell, close, p.atr_multiplier * atr, confidence, reward_risk=p.reward_risk
        )
        stoch = f"STOCH({p.fastk_period},{p.slowk_period},{p.slowd_period})"
        trend_note = f"; close vs SMA{p.trend_filter_period}" if p.trend_filter_period else ""
        for i in np.flatnonzero(buy):
            out.reason[i] = (
                f"{stoch} %K crossed above %D ({prev_k[i]:.1f}/{prev_d[i]:.1f}→"
                f"{k[i]:.1f}/{d[i]:.1f}) out of oversold <{p.oversold:g}{trend_note}"
            )
        for i in np.flatnonzero(sell):
            out.reason[i] = (
                f"{stoch} %K crossed below %D ({prev_k[i]:.1f}/{prev_d[i]:.1f}→"
                f"{k[i]:.1f}/{d[i]:.1f}) out of overbought >{p.overbought:g}{trend_note}"
            )
        return out.frame(bars.index)
