"""MA + RSI: trade pullbacks in the direction of a moving-average trend.

Rules, on closed bid bars (indicators as TA-Lib defines them, all causal; the RSI and ATR
are :mod:`forexbot.indicators.incremental`'s, whose arithmetic both faces share; the
vectorised face runs it compiled, :mod:`forexbot.indicators.compiled`, bit for bit the same):

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

import math
from typing import ClassVar

import numpy as np
import pandas as pd
import talib
from pydantic import Field

from forexbot.domain.market import Bar
from forexbot.indicators import compiled
from forexbot.indicators.incremental import Atr, Rsi, Sma
from forexbot.strategies.base_strategy import (
    AtrExitParams,
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
        rsi = compiled.rsi(close, p.rsi_period)
        atr = compiled.atr(high, low, close, p.atr_period)
        prev_rsi = previous(rsi)

        with np.errstate(invalid="ignore", divide="ignore"):  # no signal where atr is 0
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
            out.reason[i] = _reason(p, 1, prev_rsi[i], rsi[i])
        for i in np.flatnonzero(sell):
            out.reason[i] = _reason(p, -1, prev_rsi[i], rsi[i])
        return out.frame(bars.index)

    def stream(self) -> SignalStream:
        return _MaRsiStream(self.params)


def _reason(p: MaRsiParams, side: int, prev_rsi: float, rsi: float) -> str:
    """Why a buy (``side`` 1) or a sell (−1) fired: one wording for both faces."""
    if side == 1:
        return (
            f"uptrend SMA{p.fast_period}>SMA{p.slow_period}; "
            f"RSI{p.rsi_period} {prev_rsi:.1f}→{rsi:.1f} crossed up {p.rsi_buy_level:g}"
        )
    return (
        f"downtrend SMA{p.fast_period}<SMA{p.slow_period}; "
        f"RSI{p.rsi_period} {prev_rsi:.1f}→{rsi:.1f} crossed down {p.rsi_sell_level:g}"
    )


class _MaRsiStream(SignalStream):
    """:meth:`MaRsiStrategy.signals` one bar at a time (same operations, same order): two
    :class:`Sma`, an :class:`Rsi` and an :class:`Atr`, and the RSI of the bar before."""

    __slots__ = ("_atr", "_fast", "_p", "_prev_rsi", "_rsi", "_slow")

    def __init__(self, params: MaRsiParams) -> None:
        self._p = params
        self._fast = Sma(params.fast_period)
        self._slow = Sma(params.slow_period)
        self._rsi = Rsi(params.rsi_period)
        self._atr = Atr(params.atr_period)
        self._prev_rsi = math.nan

    def update(self, bar: Bar) -> SignalRow | None:
        p = self._p
        close = bar.close
        fast = self._fast.update(close)
        slow = self._slow.update(close)
        rsi = self._rsi.update(close)
        atr = self._atr.update(bar.high, bar.low, close)
        prev_rsi, self._prev_rsi = self._prev_rsi, rsi
        # NaN compares false, as in the vectorised face (a defined previous RSI implies this
        # bar's).
        if math.isnan(fast) or math.isnan(slow) or math.isnan(prev_rsi) or not atr > 0:
            return None
        if fast > slow and close > slow and prev_rsi < p.rsi_buy_level <= rsi:
            side = 1
        elif fast < slow and close < slow and prev_rsi > p.rsi_sell_level >= rsi:
            side = -1
        else:
            return None
        stop = p.atr_multiplier * atr
        return SignalRow(
            side=side,
            entry=close,
            sl=close - side * stop,
            tp=close + side * p.reward_risk * stop,
            confidence=min(max(abs(fast - slow) / atr, 0.0), 1.0),
            reason=_reason(p, side, prev_rsi, rsi),
        )
