"""Break and retest: a close through a swing level, then a retest of it that holds.

Rules, on closed bid bars (ATR from TA-Lib; everything causal), with ``k = swing_strength``,
``atr = ATR(high, low, close, atr_period)``:

* **Levels.** Bar *i* is a swing high when ``high[i] = max(high[i-k .. i+k])`` (ties allowed),
  a swing low when ``low[i] = min(low[i-k .. i+k])``. The swing is only *known* at bar
  ``i + k`` (its confirmation bar): from then on ``high[i]`` is the **active resistance**
  (``low[i]`` the **active support**), replacing any older one. No look-ahead: nothing uses a
  swing before its confirmation bar.
* Bars are processed in order; at each bar *t*, in this order:

  1. **Confirm** the swing at ``i = t − k``, if any (it becomes the active level). Steps 2 and
     3 are skipped on a bar whose ``atr[t]`` is undefined or 0 (the start of the series).
  2. **Retest** of a pending bullish breakout of level ``L`` made at bar ``b``:
     if ``t − b > max_retest_bars`` the setup expires (no signal). Otherwise, if the bar
     touches the level — ``low[t] ≤ L + retest_tolerance_atr × atr[t]`` — then it either
     **fires a buy** when it closes back in the breakout direction, ``close[t] > L``, or, when
     ``close[t] ≤ L`` (the retest closed back through the level), the setup is **void**. Either
     way the setup is consumed. A bar that does not touch leaves the setup pending.
     Bearish is the mirror (``high[t] ≥ L − tolerance``; fire when ``close[t] < L``).
  3. **Breakout**: when ``close[t] > R`` and ``close[t] ≥ R + break_buffer_atr × atr[t]`` for
     the active resistance ``R``, the level is consumed (no active resistance until the next
     swing high confirms) and a bullish setup ``(L = R, b = t)`` becomes pending, replacing any
     pending bullish setup. Bearish mirror with the active support. The retest of step 2 is
     therefore always on a bar strictly after the breakout bar (``b < t ≤ b + max_retest_bars``).

* **Buy**: entry ``close[t]``; stop ``min(low[b+1 .. t]) − stop_buffer_atr × atr[t]`` (below
  the retest swing: the lowest low since the breakout); target ``entry + reward_risk ×
  (entry − stop)``. **Sell** mirrors with ``max(high[b+1 .. t]) + stop_buffer_atr × atr[t]``.
  A retest whose risk would not be positive is consumed without a signal. If a bullish and a
  bearish retest fire on the same bar, both are consumed and no signal is given.
* Confidence is the strength of the rejection on the retest bar: where it closes in its range,
  ``(close − low) / (high − low)`` for a buy, ``(high − close) / (high − low)`` for a sell
  (0 for a bar with no range).

Parameters (defaults suit M15–H1 forex): ``swing_strength`` 5, ``atr_period`` 14,
``break_buffer_atr`` 0.1, ``retest_tolerance_atr`` 0.2, ``max_retest_bars`` 10,
``stop_buffer_atr`` 0.2, ``reward_risk`` 2; ``retest_tolerance_atr`` may not exceed
``break_buffer_atr + 1``.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
import talib
from pydantic import Field, model_validator

from forexbot.strategies.base_strategy import (
    SignalColumns,
    Strategy,
    StrategyParams,
    empty_signals,
    high_low_close,
)


class BreakAndRetestParams(StrategyParams):
    """Parameters of :class:`BreakAndRetestStrategy`."""

    swing_strength: int = Field(5, ge=1, le=50)
    atr_period: int = Field(14, ge=1, le=200)
    break_buffer_atr: float = Field(0.1, ge=0, le=5)
    retest_tolerance_atr: float = Field(0.2, ge=0, le=5)
    max_retest_bars: int = Field(10, ge=1, le=500)
    stop_buffer_atr: float = Field(0.2, ge=0, le=10)
    reward_risk: float = Field(2.0, gt=0, le=20)

    @model_validator(mode="after")
    def _consistent(self) -> BreakAndRetestParams:
        if self.retest_tolerance_atr > self.break_buffer_atr + 1.0:
            raise ValueError(
                f"retest_tolerance_atr ({self.retest_tolerance_atr:g}) must not exceed "
                f"break_buffer_atr ({self.break_buffer_atr:g}) + 1: a wider touch zone makes "
                "a bar that merely continues the breakout count as a retest"
            )
        return self


class BreakAndRetestStrategy(Strategy):
    """Swing-level breakout, entry on the retest that rejects back in the breakout direction."""

    name: ClassVar[str] = "break_and_retest"
    params_model: ClassVar[type[StrategyParams]] = BreakAndRetestParams
    params: BreakAndRetestParams

    @property
    def warmup_bars(self) -> int:
        p = self.params
        # A confirmed swing, a breakout after it and a retest after that.
        return max(2 * p.swing_strength + 1, p.atr_period + 1) + 2

    def signals(self, bars: pd.DataFrame) -> pd.DataFrame:
        p = self.params
        n = len(bars)
        k = p.swing_strength
        if n < 2 * k + 2:
            return empty_signals(bars.index)
        high_a, low_a, close_a = high_low_close(bars)
        atr_a = talib.ATR(high_a, low_a, close_a, timeperiod=p.atr_period)

        # Swing confirmed at bar j = i + k: high[i] is the max of the 2k+1 bars ending at j.
        span = 2 * k + 1
        roll_max = pd.Series(high_a).rolling(span).max().to_numpy()
        roll_min = pd.Series(low_a).rolling(span).min().to_numpy()
        lag_high = np.concatenate((np.full(k, np.nan), high_a[:-k]))
        lag_low = np.concatenate((np.full(k, np.nan), low_a[:-k]))
        conf_high = (roll_max == lag_high).tolist()
        conf_low = (roll_min == lag_low).tolist()

        close = close_a.tolist()
        high = high_a.tolist()
        low = low_a.tolist()
        atr = atr_a.tolist()
        lag_h = lag_high.tolist()
        lag_l = lag_low.tolist()
        tol_k = p.retest_tolerance_atr
        buf_k = p.break_buffer_atr
        stop_k = p.stop_buffer_atr
        max_bars = p.max_retest_bars
        rr = p.reward_risk

        out = SignalColumns.empty(n)

        resistance = np.nan  # active levels (nan: none)
        support = np.nan
        bull_level = np.nan  # pending bullish setup: level, breakout bar, lowest low since
        bull_bar = -1
        bull_low = np.inf
        bear_level = np.nan
        bear_bar = -1
        bear_high = -np.inf
        inf = float("inf")
        buy_stop = sell_stop = buy_level = sell_level = 0.0  # set when a retest touches
        buy_bar = sell_bar = -1

        for t in range(n):
            if conf_high[t]:
                resistance = lag_h[t]
            if conf_low[t]:
                support = lag_l[t]
            a = atr[t]
            if not a > 0:  # nan or zero ATR: nothing is evaluated on this bar
                continue
            c = close[t]
            lo = low[t]
            hi = high[t]
            buy = sell = False

            if bull_bar >= 0:
                if t - bull_bar > max_bars:
                    bull_bar = -1
                else:
                    bull_low = min(bull_low, lo)
                    if lo <= bull_level + tol_k * a:
                        buy_stop = bull_low - stop_k * a
                        buy = c > bull_level and c - buy_stop > 0
                        buy_level, buy_bar = bull_level, bull_bar
                        bull_bar = -1
            if bear_bar >= 0:
                if t - bear_bar > max_bars:
                    bear_bar = -1
                else:
                    bear_high = max(bear_high, hi)
                    if hi >= bear_level - tol_k * a:
                        sell_stop = bear_high + stop_k * a
                        sell = c < bear_level and sell_stop - c > 0
                        sell_level, sell_bar = bear_level, bear_bar
                        bear_bar = -1

            if buy and not sell:
                out.fire(
                    t,
                    1,
                    entry=c,
                    sl=buy_stop,
                    tp=c + rr * (c - buy_stop),
                    confidence=(c - lo) / (hi - lo) if hi > lo else 0.0,
                    reason=(
                        f"close {c:.5f} broke resistance {buy_level:.5f} {t - buy_bar} bar(s) "
                        f"ago; retest low {lo:.5f} held, closed back above"
                    ),
                )
            elif sell and not buy:
                out.fire(
                    t,
                    -1,
                    entry=c,
                    sl=sell_stop,
                    tp=c - rr * (sell_stop - c),
                    confidence=(hi - c) / (hi - lo) if hi > lo else 0.0,
                    reason=(
                        f"close {c:.5f} broke support {sell_level:.5f} {t - sell_bar} bar(s) ago; "
                        f"retest high {hi:.5f} held, closed back below"
                    ),
                )

            if c > resistance and c >= resistance + buf_k * a:
                bull_level, bull_bar, bull_low = resistance, t, inf
                resistance = np.nan
            if c < support and c <= support - buf_k * a:
                bear_level, bear_bar, bear_high = support, t, -inf
                support = np.nan

        return out.frame(bars.index)
