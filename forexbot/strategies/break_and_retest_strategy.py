"""Break and retest: a close through a swing level, then a retest of it that holds.

Rules, on closed bid bars (ATR as TA-Lib defines it, computed by
:class:`~forexbot.indicators.incremental.Atr`; everything causal), with ``k = swing_strength``,
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

Both faces drive one state machine, :class:`_Retests`, bar by bar: the vectorised face finds
the confirmed swings with rolling windows, the streaming face in its last ``2k + 1`` bars.

Parameters (defaults suit M15–H1 forex): ``swing_strength`` 5, ``atr_period`` 14,
``break_buffer_atr`` 0.1, ``retest_tolerance_atr`` 0.2, ``max_retest_bars`` 10,
``stop_buffer_atr`` 0.2, ``reward_risk`` 2; ``retest_tolerance_atr`` may not exceed
``break_buffer_atr + 1``.
"""

from __future__ import annotations

from collections import deque
from math import inf, isnan, nan
from typing import ClassVar

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from forexbot.domain.market import Bar
from forexbot.indicators import compiled
from forexbot.indicators.incremental import Atr
from forexbot.strategies.base_strategy import (
    SignalColumns,
    SignalRow,
    SignalStream,
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
        atr = compiled.atr(high_a, low_a, close_a, p.atr_period).tolist()

        # Swing confirmed at bar j = i + k: high[i] is the max of the 2k+1 bars ending at j.
        span = 2 * k + 1
        roll_max = pd.Series(high_a).rolling(span).max().to_numpy()
        roll_min = pd.Series(low_a).rolling(span).min().to_numpy()
        lag_high = np.concatenate((np.full(k, np.nan), high_a[:-k]))
        lag_low = np.concatenate((np.full(k, np.nan), low_a[:-k]))
        # The level each bar confirms (nan: none).
        new_resistance = np.where(roll_max == lag_high, lag_high, np.nan).tolist()
        new_support = np.where(roll_min == lag_low, lag_low, np.nan).tolist()

        out = SignalColumns.empty(n)
        rule = _Retests(p)
        bars_in = zip(
            high_a.tolist(), low_a.tolist(), close_a.tolist(), atr, new_resistance, new_support,
            strict=True,
        )  # fmt: skip
        for t, bar_in in enumerate(bars_in):
            row = rule.step(t, *bar_in)
            if row is not None:
                out.fire(
                    t,
                    row.side,
                    entry=row.entry,
                    sl=row.sl,
                    tp=row.tp,
                    confidence=row.confidence,
                    reason=row.reason,
                )
        return out.frame(bars.index)

    def stream(self) -> SignalStream:
        return _BreakAndRetestStream(self.params)


class _Retests:
    """The rule's state over the bars so far — active levels, pending setups — and its step
    on the next bar: written once, driven by both faces."""

    __slots__ = (
        "_p",
        "bear_bar",
        "bear_high",
        "bear_level",
        "bull_bar",
        "bull_level",
        "bull_low",
        "resistance",
        "support",
    )

    def __init__(self, params: BreakAndRetestParams) -> None:
        self._p = params
        self.resistance = nan  # active levels (nan: none)
        self.support = nan
        self.bull_level = nan  # pending bullish setup: level, breakout bar, lowest low since
        self.bull_bar = -1
        self.bull_low = inf
        self.bear_level = nan
        self.bear_bar = -1
        self.bear_high = -inf

    def step(
        self,
        t: int,
        hi: float,
        lo: float,
        c: float,
        a: float,
        new_resistance: float,
        new_support: float,
    ) -> SignalRow | None:
        """Bar ``t`` (``a`` its ATR; the swing levels it confirms, nan for none): steps 1–3,
        and the signal they give."""
        p = self._p
        if not isnan(new_resistance):
            self.resistance = new_resistance
        if not isnan(new_support):
            self.support = new_support
        if not a > 0:  # nan or zero ATR: nothing is evaluated on this bar
            return None
        buy = sell = False
        buy_stop = sell_stop = buy_level = sell_level = 0.0  # set when a retest touches
        buy_bar = sell_bar = -1

        if self.bull_bar >= 0:
            if t - self.bull_bar > p.max_retest_bars:
                self.bull_bar = -1
            else:
                self.bull_low = min(self.bull_low, lo)
                if lo <= self.bull_level + p.retest_tolerance_atr * a:
                    buy_stop = self.bull_low - p.stop_buffer_atr * a
                    buy = c > self.bull_level and c - buy_stop > 0
                    buy_level, buy_bar = self.bull_level, self.bull_bar
                    self.bull_bar = -1
        if self.bear_bar >= 0:
            if t - self.bear_bar > p.max_retest_bars:
                self.bear_bar = -1
            else:
                self.bear_high = max(self.bear_high, hi)
                if hi >= self.bear_level - p.retest_tolerance_atr * a:
                    sell_stop = self.bear_high + p.stop_buffer_atr * a
                    sell = c < self.bear_level and sell_stop - c > 0
                    sell_level, sell_bar = self.bear_level, self.bear_bar
                    self.bear_bar = -1

        row = None
        if buy and not sell:
            row = SignalRow(
                side=1,
                entry=c,
                sl=buy_stop,
                tp=c + p.reward_risk * (c - buy_stop),
                confidence=(c - lo) / (hi - lo) if hi > lo else 0.0,
                reason=(
                    f"close {c:.5f} broke resistance {buy_level:.5f} {t - buy_bar} bar(s) "
                    f"ago; retest low {lo:.5f} held, closed back above"
                ),
            )
        elif sell and not buy:
            row = SignalRow(
                side=-1,
                entry=c,
                sl=sell_stop,
                tp=c - p.reward_risk * (sell_stop - c),
                confidence=(hi - c) / (hi - lo) if hi > lo else 0.0,
                reason=(
                    f"close {c:.5f} broke support {sell_level:.5f} {t - sell_bar} bar(s) ago; "
                    f"retest high {hi:.5f} held, closed back below"
                ),
            )

        resistance, support = self.resistance, self.support
        if c > resistance and c >= resistance + p.break_buffer_atr * a:
            self.bull_level, self.bull_bar, self.bull_low = resistance, t, inf
            self.resistance = nan
        if c < support and c <= support - p.break_buffer_atr * a:
            self.bear_level, self.bear_bar, self.bear_high = support, t, -inf
            self.support = nan
        return row


class _BreakAndRetestStream(SignalStream):
    """:meth:`BreakAndRetestStrategy.signals` one bar at a time: the ATR, the last ``2k + 1``
    highs and lows (a swing is confirmed when the bar ``k`` back is their extreme) and the
    rule's :class:`_Retests` — O(k) per bar, whatever the history."""

    __slots__ = ("_atr", "_bars", "_highs", "_k", "_lows", "_rule")

    def __init__(self, params: BreakAndRetestParams) -> None:
        span = 2 * params.swing_strength + 1
        self._k = params.swing_strength
        self._atr = Atr(params.atr_period)
        self._highs: deque[float] = deque(maxlen=span)
        self._lows: deque[float] = deque(maxlen=span)
        self._rule = _Retests(params)
        self._bars = 0

    def update(self, bar: Bar) -> SignalRow | None:
        a = self._atr.update(bar.high, bar.low, bar.close)
        highs, lows = self._highs, self._lows
        highs.append(bar.high)
        lows.append(bar.low)
        t = self._bars
        self._bars += 1
        new_resistance = new_support = nan
        if len(highs) == highs.maxlen:
            # The window's middle bar (k back) is its extreme: that swing is confirmed now.
            swing_high, swing_low = highs[self._k], lows[self._k]
            if max(highs) == swing_high:
                new_resistance = swing_high
            if min(lows) == swing_low:
                new_support = swing_low
        return self._rule.step(t, bar.high, bar.low, bar.close, a, new_resistance, new_support)
