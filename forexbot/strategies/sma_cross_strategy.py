"""SMA cross: stop and reverse when a fast moving average crosses a slow one.

The textbook rule (backtesting.py's ``SmaCross`` example), kept as simple as traders know it,
on closed bid bars (TA-Lib, causal):

* ``fast = SMA(close, fast_period)``, ``slow = SMA(close, slow_period)``,
  ``atr = ATR(high, low, close, atr_period)``.
* **Buy** at bar *t* when ``fast[t-1] < slow[t-1]`` and ``fast[t] > slow[t]`` (strictly, on
  both bars); **sell** on the mirror cross.
* **Stop and reverse**: a signal first closes the instance's trades on the other side, so the
  strategy is always in the market after its first cross.
* Entry is ``close[t]``. The protective stop is ``stop_atr_multiplier × atr[t]`` beyond it
  (the risk manager sizes and checks every trade by its stop; make it wide to let the
  reversal do the exiting); there is no take-profit. No signal while an average or the ATR is
  undefined.
* It trades every regime: the rule itself is the filter. Confidence is the gap between the
  averages in ATRs, capped at 1.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
import talib
from pydantic import Field, model_validator

from forexbot.market_condition.trend import TrendDirection
from forexbot.market_condition.volatility import VolatilityBand
from forexbot.strategies.base_strategy import (
    Strategy,
    StrategyParams,
    empty_signals,
    require_fast_below_slow,
)
from forexbot.strategies.regime import Regime


class SmaCrossParams(StrategyParams):
    """Parameters of :class:`SmaCrossStrategy`."""

    fast_period: int = Field(10, ge=1, le=500)
    slow_period: int = Field(20, ge=2, le=1000)
    atr_period: int = Field(14, ge=1, le=200)
    stop_atr_multiplier: float = Field(3.0, gt=0, le=200)

    @model_validator(mode="after")
    def _periods_ordered(self) -> SmaCrossParams:
        require_fast_below_slow(self.fast_period, self.slow_period)
        return self


class SmaCrossStrategy(Strategy):
    """Fast/slow SMA cross, stop and reverse."""

    name: ClassVar[str] = "sma_cross"
    params_model: ClassVar[type[StrategyParams]] = SmaCrossParams
    regime: ClassVar[Regime] = Regime(
        trends=frozenset(TrendDirection),
        volatility=frozenset(VolatilityBand),
        require_favourable=False,
    )
    closes_on_opposite: ClassVar[bool] = True
    params: SmaCrossParams

    @property
    def warmup_bars(self) -> int:
        p = self.params
        return max(p.slow_period, p.atr_period + 1) + 1

    def signals(self, bars: pd.DataFrame) -> pd.DataFrame:
        p = self.params
        out = empty_signals(bars.index)
        if len(bars) < 2:
            return out
        close = bars["close"].to_numpy(dtype="float64")
        high = bars["high"].to_numpy(dtype="float64")
        low = bars["low"].to_numpy(dtype="float64")
        fast = talib.SMA(close, timeperiod=p.fast_period)
        slow = talib.SMA(close, timeperiod=p.slow_period)
        atr = talib.ATR(high, low, close, timeperiod=p.atr_period)
        prev_fast = np.concatenate(([np.nan], fast[:-1]))
        prev_slow = np.concatenate(([np.nan], slow[:-1]))
        with np.errstate(invalid="ignore"):
            valid = ~(np.isnan(prev_fast) | np.isnan(prev_slow) | np.isnan(atr)) & (atr > 0)
            buy = valid & (prev_fast < prev_slow) & (fast > slow)
            sell = valid & (prev_fast > prev_slow) & (fast < slow)
            confidence = np.clip(np.abs(fast - slow) / atr, 0.0, 1.0)
        direction = buy.astype("int8") - sell.astype("int8")
        fired = direction != 0
        stop = p.stop_atr_multiplier * atr
        out["signal"] = direction
        out.loc[fired, "entry"] = close[fired]
        out.loc[fired, "sl"] = close[fired] - direction[fired] * stop[fired]
        out.loc[fired, "tp"] = 0.0
        out.loc[fired, "confidence"] = confidence[fired]
        reasons = np.full(len(bars), "", dtype=object)
        reasons[buy] = f"SMA{p.fast_period} crossed above SMA{p.slow_period}"
        reasons[sell] = f"SMA{p.fast_period} crossed below SMA{p.slow_period}"
        out["reason"] = reasons
        return out
