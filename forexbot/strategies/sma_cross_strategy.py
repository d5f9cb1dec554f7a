"""SMA cross: stop and reverse when a fast moving average crosses a slow one.

The textbook rule (backtesting.py's ``SmaCross`` example), kept as simple as traders know it,
on closed bid bars (TA-Lib, causal):

* ``fast = SMA(close, fast_period)``, ``slow = SMA(close, slow_period)``,
  ``atr = ATR(high, low, close, atr_period)``.
* **Buy** at bar *t* when ``fast[t-1] < slow[t-1]`` and ``fast[t] > slow[t]`` (strictly, on
  both bars); **sell** on the mirror cross.
* **Stop and reverse**: a signal first closes the instance's trades on the other side, so the
  strategy is always in the market after its first cross, once: a signal on the side already
  held (its opposite was refused, e.g. on the week's last bar with the market closed) holds
  that position — the risk manager refuses a second entry (``position_held``), live and in
  backtests alike, whatever ``max_positions_per_symbol`` allows.
* Entry is ``close[t]``. The protective stop is ``stop_atr_multiplier × atr[t]`` beyond it
  (the risk manager sizes and checks every trade by its stop; make it wide to let the
  reversal do the exiting); there is no take-profit. No signal while an average or the ATR is
  undefined.
* It trades every regime: the rule itself is the filter. Confidence is the gap between the
  averages in ATRs, capped at 1.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
import pandas as pd
import talib
from pydantic import Field

from forexbot.domain.market import Bar
from forexbot.indicators import compiled
from forexbot.indicators.incremental import Atr, Sma
from forexbot.market_condition.trend import TrendDirection
from forexbot.market_condition.volatility import VolatilityBand
from forexbot.strategies.base_strategy import (
    SignalColumns,
    SignalRow,
    SignalStream,
    Strategy,
    StrategyParams,
    TwoAverageParams,
    empty_signals,
    high_low_close,
    previous,
)
from forexbot.strategies.regime import Regime


class SmaCrossParams(TwoAverageParams):
    """Parameters of :class:`SmaCrossStrategy`."""

    fast_period: int = Field(10, ge=1, le=500)
    slow_period: int = Field(20, ge=2, le=1000)
    atr_period: int = Field(14, ge=1, le=200)
    stop_atr_multiplier: float = Field(3.0, gt=0, le=200)


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
        if len(bars) < 2:
            return empty_signals(bars.index)
        high, low, close = high_low_close(bars)
        fast = talib.SMA(close, timeperiod=p.fast_period)
        slow = talib.SMA(close, timeperiod=p.slow_period)
        atr = compiled.atr(high, low, close, p.atr_period)
        prev_fast = previous(fast)
        prev_slow = previous(slow)
        with np.errstate(invalid="ignore"):
            valid = ~(np.isnan(prev_fast) | np.isnan(prev_slow) | np.isnan(atr)) & (atr > 0)
            buy = valid & (prev_fast < prev_slow) & (fast > slow)
            sell = valid & (prev_fast > prev_slow) & (fast < slow)
            confidence = np.clip(np.abs(fast - slow) / atr, 0.0, 1.0)
        out = SignalColumns.empty(len(bars))
        out.fire_where(buy, sell, close, p.stop_atr_multiplier * atr, confidence, reward_risk=None)
        out.reason[buy] = f"SMA{p.fast_period} crossed above SMA{p.slow_period}"
        out.reason[sell] = f"SMA{p.fast_period} crossed below SMA{p.slow_period}"
        return out.frame(bars.index)

    def stream(self) -> SignalStream:
        return _SmaCrossStream(self.params)


class _SmaCrossStream(SignalStream):
    """:meth:`SmaCrossStrategy.signals` one bar at a time (same operations, same order)."""

    __slots__ = ("_atr", "_fast", "_p", "_prev_fast", "_prev_slow", "_slow")

    def __init__(self, params: SmaCrossParams) -> None:
        self._p = params
        self._fast = Sma(params.fast_period)
        self._slow = Sma(params.slow_period)
        self._atr = Atr(params.atr_period)
        self._prev_fast = self._prev_slow = math.nan

    def update(self, bar: Bar) -> SignalRow | None:
        p = self._p
        fast = self._fast.update(bar.close)
        slow = self._slow.update(bar.close)
        atr = self._atr.update(bar.high, bar.low, bar.close)
        prev_fast, prev_slow = self._prev_fast, self._prev_slow
        self._prev_fast, self._prev_slow = fast, slow
        # NaN compares false, as in the vectorised face.
        if not atr > 0 or math.isnan(prev_fast) or math.isnan(prev_slow):
            return None
        if prev_fast < prev_slow and fast > slow:
            side, word = 1, "above"
        elif prev_fast > prev_slow and fast < slow:
            side, word = -1, "below"
        else:
            return None
        stop = p.stop_atr_multiplier * atr
        return SignalRow(
            side=side,
            entry=bar.close,
            sl=bar.close - side * stop,
            tp=0.0,
            confidence=min(max(abs(fast - slow) / atr, 0.0), 1.0),
            reason=f"SMA{p.fast_period} crossed {word} SMA{p.slow_period}",
        )
