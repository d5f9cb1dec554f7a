"""MA + RSI: trade pullbacks in the direction of a moving-average trend.

Rules, on closed bid bars (all indicators from TA-Lib, all causal):

* ``fast = SMA(close, fast_period)``, ``slow = SMA(close, slow_period)``,
  ``rsi = RSI(close, rsi_period)``, ``atr = ATR(high, low, close, atr_period)``.
* **Buy** at bar *t* when the trend is up — ``fast[t] > slow[t]`` and ``close[t] > slow[t]`` —
  and the RSI recovers from a pullback: ``rsi[t-1] < rsi_buy_level ≤ rsi[t]``.
* **Sell** at bar *t* when the trend is down — ``fast[t] < slow[t]`` and ``close[t] < slow[t]``
  — and ``rsi[t-1] > rsi_sell_level ≥ rsi[t]``.
* Entry is ``close[t]``; the stop is ``atr_multiplier × atr[t]`` beyond it; the target is
  ``reward_risk ×`` the stop distance on the other side.
* Confidence is the distance between the averages measured in ATRs, capped at 1: a clear trend
  gives a confident signal.

Defaults suit M15–H1 forex: 20/50 SMA, RSI 14 with 40/60 levels, ATR 14 × 1.5, target 2R.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
import talib
from pydantic import Field

from forexbot.strategies.base_strategy import (
    AtrExitParams,
    SignalColumns,
    Strategy,
    StrategyParams,
    TwoAverageParams,
    empty_signals,
    high_low_close,
    previous,
)


class MaRsiParams(TwoAverageParams, AtrExitParams):
    """Parameters of :class:`MaRsiStrategy`."""

    fast_period: int = Field(20, ge=2, le=500)
    slow_period: int = Field(50, ge=3, le=1000)
    rsi_period: int = Field(14, ge=2, le=200)
    rsi_buy_level: float = Field(40.0, gt=0, lt=100)
    rsi_sell_level: float = Field(60.0, gt=0, lt=100)


class MaRsiStrategy(Strategy):
    """Moving-average trend with RSI pullback entries."""

    name: ClassVar[str] = "ma_rsi"
    params_model: ClassVar[type[StrategyParams]] = MaRsiParams
    params: MaRsiParams

    @property
    def warmup_bars(self) -> int:
        p = self.params
        return max(p.slow_period, p.rsi_period + 1, p.atr_period + 1) + 1

    def signals(self, bars: pd.DataFrame) -> pd.DataFrame:
        p = self.params
        if len(bars) < 2:
            return empty_signals(bars.index)
        high, low, close = high_low_close(bars)
        fast = talib.SMA(close, timeperiod=p.fast_period)
        slow = talib.SMA(close, timeperiod=p.slow_period)
        rsi = talib.RSI(close, timeperiod=p.rsi_period)
        atr = talib.ATR(high, low, close, timeperiod=p.atr_period)
        prev_rsi = previous(rsi)

        with np.errstate(invalid="ignore"):
            valid = ~(np.isnan(fast) | np.isnan(slow) | np.isnan(prev_rsi) | np.isnan(atr))
            valid &= atr > 0
            up = (fast > slow) & (close > slow)
            down = (fast < slow) & (close < slow)
            buy = valid & up & (prev_rsi < p.rsi_buy_level) & (rsi >= p.rsi_buy_level)
            sell = valid & down & (prev_rsi > p.rsi_sell_level) & (rsi <= p.rsi_sell_level)
            confidence = np.clip(np.abs(fast - slow) / atr, 0.0, 1.0)

        out = SignalColumns.empty(len(bars))
        out.fire_where(
            buy, sell, close, p.atr_multiplier * atr, confidence, reward_risk=p.reward_risk
        )
        for i in np.flatnonzero(buy):
            out.reason[i] = (
                f"uptrend SMA{p.fast_period}>SMA{p.slow_period}; "
                f"RSI{p.rsi_period} {prev_rsi[i]:.1f}→{rsi[i]:.1f} crossed up {p.rsi_buy_level:g}"
            )
        for i in np.flatnonzero(sell):
            out.reason[i] = (
                f"downtrend SMA{p.fast_period}<SMA{p.slow_period}; "
                f"RSI{p.rsi_period} {prev_rsi[i]:.1f}→{rsi[i]:.1f} crossed down "
                f"{p.rsi_sell_level:g}"
            )
        return out.frame(bars.index)
