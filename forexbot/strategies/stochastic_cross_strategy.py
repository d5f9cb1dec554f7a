"""Stochastic cross: %K/%D crossing back out of the oversold / overbought zone.

Rules, on closed bid bars (indicators as TA-Lib defines them, all causal; the stochastic and
the ATR are :mod:`forexbot.indicators.incremental`'s, whose arithmetic both faces share; the
vectorised face runs it compiled, :mod:`forexbot.indicators.compiled`, bit for bit the same):

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

import math
from typing import ClassVar

import numpy as np
import pandas as pd
import talib
from pydantic import Field, model_validator

from forexbot.domain.market import Bar
from forexbot.indicators import compiled
from forexbot.indicators.incremental import Atr, Sma, Stoch
from forexbot.strategies.base_strategy import (
    AtrExitParams,
    SignalColumns,
    SignalRow,
    SignalStream,
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
        k, d = compiled.stoch(high, low, close, p.fastk_period, p.slowk_period, p.slowd_period)
        atr = compiled.atr(high, low, close, p.atr_period)
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
        for i in np.flatnonzero(buy):
            out.reason[i] = _reason(p, 1, prev_k[i], prev_d[i], k[i], d[i])
        for i in np.flatnonzero(sell):
            out.reason[i] = _reason(p, -1, prev_k[i], prev_d[i], k[i], d[i])
        return out.frame(bars.index)

    def stream(self) -> SignalStream:
        return _StochasticCrossStream(self.params)


def _reason(
    p: StochasticCrossParams, side: int, prev_k: float, prev_d: float, k: float, d: float
) -> str:
    """Why a buy (``side`` 1) or a sell (−1) fired: one wording for both faces."""
    stoch = f"STOCH({p.fastk_period},{p.slowk_period},{p.slowd_period})"
    trend_note = f"; close vs SMA{p.trend_filter_period}" if p.trend_filter_period else ""
    cross = f"({prev_k:.1f}/{prev_d:.1f}→{k:.1f}/{d:.1f})"
    if side == 1:
        return f"{stoch} %K crossed above %D {cross} out of oversold <{p.oversold:g}{trend_note}"
    return f"{stoch} %K crossed below %D {cross} out of overbought >{p.overbought:g}{trend_note}"


class _StochasticCrossStream(SignalStream):
    """:meth:`StochasticCrossStrategy.signals` one bar at a time (same operations, same
    order): a :class:`Stoch`, an :class:`Atr`, the trend :class:`Sma` when the filter is on,
    and %K and %D of the bar before."""

    __slots__ = ("_atr", "_p", "_prev_d", "_prev_k", "_stoch", "_trend")

    def __init__(self, params: StochasticCrossParams) -> None:
        self._p = params
        self._stoch = Stoch(params.fastk_period, params.slowk_period, params.slowd_period)
        self._atr = Atr(params.atr_period)
        self._trend = Sma(params.trend_filter_period) if params.trend_filter_period else None
        self._prev_k = self._prev_d = math.nan

    def update(self, bar: Bar) -> SignalRow | None:
        p = self._p
        close = bar.close
        k, d = self._stoch.update(bar.high, bar.low, close)
        atr = self._atr.update(bar.high, bar.low, close)
        trend = math.nan if self._trend is None else self._trend.update(close)
        prev_k, prev_d = self._prev_k, self._prev_d
        self._prev_k, self._prev_d = k, d
        # NaN compares false, as in the vectorised face.
        if math.isnan(k) or math.isnan(d) or math.isnan(prev_k) or math.isnan(prev_d):
            return None
        if not atr > 0:
            return None
        if prev_k <= prev_d and k > d and min(prev_k, prev_d) < p.oversold:
            side = 1
            confidence = (p.oversold - min(prev_k, prev_d)) / p.oversold
        elif prev_k >= prev_d and k < d and max(prev_k, prev_d) > p.overbought:
            side = -1
            confidence = (max(prev_k, prev_d) - p.overbought) / (100.0 - p.overbought)
        else:
            return None
        if self._trend is not None and not (close > trend if side == 1 else close < trend):
            return None
        stop = p.atr_multiplier * atr
        return SignalRow(
            side=side,
            entry=close,
            sl=close - side * stop,
            tp=close + side * p.reward_risk * stop,
            confidence=min(max(confidence, 0.0), 1.0),
            reason=_reason(p, side, prev_k, prev_d, k, d),
        )
