"""J-Hook: a strong impulse, a measured pullback that holds the origin, then the hook back.

Rules for a **buy** at bar *t*, on closed bid bars (``k = impulse_atr``, ``m = impulse_bars``,
``n = max_pullback_bars``; ``atr = ATR(high, low, close, atr_period)`` from TA-Lib; every index
used is ≤ *t*, so the rule is causal):

1. **Impulse peak** ``b``: the first bar with the highest high among the ``n + 1`` bars
   ``t−1−n .. t−1``; ``H = high[b]``. There must be at least one pullback bar: ``b ≤ t − 2``.
2. **Impulse origin** ``a``: the first bar with the lowest low among ``b−m .. b``;
   ``O = low[a]``. The impulse is the move ``O → H``: it needs ``a < b`` (so it spans at most
   ``m`` bars) and a size ``I = H − O ≥ k × atr[b]``.
3. **Pullback**: the bars ``b+1 .. t−1``; its extreme ``c`` is the first bar with their lowest
   low, ``P = low[c]``. The retracement ``r = (H − P) / I`` must lie in
   ``[min_retracement, max_retracement]`` (38.2–61.8 % by default) and the pullback must hold
   the origin: ``P > O``.
4. **Hook (entry)**: the pullback's high since its extreme, ``T(j) = max(high[c .. j−1])``, is
   broken by a close: ``close[t] > T(t)``, and it is the *first* such break since the extreme
   (``close[j] ≤ T(j)`` for every ``c < j < t``), so each pullback extreme gives at most one
   entry (a deeper extreme that still satisfies 3 is a new set-up).
5. **Orders**: entry ``close[t]``; stop beyond the pullback extreme,
   ``P − stop_buffer_atr × atr[t]``; target by impulse projection from the pullback extreme,
   ``P + projection × I``. No signal if the entry is already at or beyond the target.
6. **Confidence**: the impulse size in units of the required size, halved and capped:
   ``min(1, I / (2 × k × atr[b]))``.

A **sell** is the exact mirror (lows for highs, lowest for highest, below for above): it is
computed by applying the buy rule to the negated prices (``high' = −low``, ``low' = −high``,
``close' = −close``), which leaves the ATR unchanged. A buy and a sell can never fire on the same
bar (the close would have to be above a high and below a low of bar ``t−1``).

No signal is given before bar ``warmup_bars − 1``
(``warmup_bars = atr_period + max_pullback_bars + impulse_bars + 2``).

Defaults suit M15–H1 forex: ATR 14, impulse ≥ 2 ATR within 8 bars, pullback 38.2–61.8 % within
10 bars, stop 0.1 ATR beyond the pullback extreme, target a 100 % projection of the impulse.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import talib
from numpy.lib.stride_tricks import sliding_window_view
from pydantic import Field, model_validator

from forexbot.strategies.base_strategy import (
    FloatArray,
    SignalColumns,
    Strategy,
    StrategyParams,
    empty_signals,
    high_low_close,
)
from forexbot.strategies.regime import TRENDING, Regime


class JHookParams(StrategyParams):
    """Parameters of :class:`JHookStrategy`."""

    atr_period: int = Field(14, ge=1, le=200)
    impulse_atr: float = Field(2.0, gt=0, le=50)
    impulse_bars: int = Field(8, ge=1, le=200)
    min_retracement: float = Field(0.382, ge=0, le=1)
    max_retracement: float = Field(0.618, gt=0, le=1)
    max_pullback_bars: int = Field(10, ge=1, le=200)
    stop_buffer_atr: float = Field(0.1, ge=0, le=10)
    projection: float = Field(1.0, gt=0, le=10)

    @model_validator(mode="after")
    def _retracements_ordered(self) -> JHookParams:
        if self.min_retracement >= self.max_retracement:
            raise ValueError(
                f"min_retracement ({self.min_retracement}) must be below "
                f"max_retracement ({self.max_retracement})"
            )
        return self


@dataclass(frozen=True, slots=True)
class JHookSetup:
    """One J-hook entry found by the buy rule (in the possibly negated price space)."""

    bar: int
    origin_bar: int
    peak_bar: int
    pullback_bar: int
    impulse: float
    extreme: float
    retracement: float
    trigger: float
    entry: float
    sl: float
    tp: float
    confidence: float


def find_setups(
    high: FloatArray, low: FloatArray, close: FloatArray, atr: FloatArray, params: JHookParams
) -> list[JHookSetup]:
    """Every bar where the **buy** rule fires (apply to negated prices for sells)."""
    p = params
    n, m = p.max_pullback_bars, p.impulse_bars
    size = len(close)
    start = p.atr_period + n + m + 1  # = warmup_bars - 1
    if size <= start:
        return []
    # peak[t - n - 1] = b(t): first highest high among t-1-n .. t-1
    peak_rows = sliding_window_view(high, n + 1)
    peak = peak_rows.argmax(axis=1) + np.arange(len(peak_rows))
    # origin[b - m] = a(b): first lowest low among b-m .. b
    origin_rows = sliding_window_view(low, m + 1)
    origin = origin_rows.argmin(axis=1) + np.arange(len(origin_rows))
    hi, lo, cl, tr = high.tolist(), low.tolist(), close.tolist(), atr.tolist()
    found: list[JHookSetup] = []
    for t in range(start, size):
        b = int(peak[t - n - 1])
        if b > t - 2:
            continue
        a = int(origin[b - m])
        atr_b = tr[b]
        if a == b or not atr_b > 0:
            continue
        top, base = hi[b], lo[a]
        impulse = top - base
        if impulse < p.impulse_atr * atr_b:
            continue
        pullback = lo[b + 1 : t]
        low_p = min(pullback)
        c = b + 1 + pullback.index(low_p)
        if low_p <= base:
            continue
        retracement = (top - low_p) / impulse
        if not p.min_retracement <= retracement <= p.max_retracement:
            continue
        trigger = hi[c]
        broken_before = False
        for j in range(c + 1, t):
            if cl[j] > trigger:
                broken_before = True
                break
            trigger = max(trigger, hi[j])
        if broken_before or not cl[t] > trigger:
            continue
        entry = cl[t]
        tp = low_p + p.projection * impulse
        if entry >= tp:
            continue
        found.append(
            JHookSetup(
                bar=t,
                origin_bar=a,
                peak_bar=b,
                pullback_bar=c,
                impulse=impulse,
                extreme=low_p,
                retracement=retracement,
                trigger=trigger,
                entry=entry,
                sl=low_p - p.stop_buffer_atr * tr[t],
                tp=tp,
                confidence=min(1.0, impulse / (2.0 * p.impulse_atr * atr_b)),
            )
        )
    return found


class JHookStrategy(Strategy):
    """Impulse, 38.2–61.8 % pullback holding the origin, entry on the hook back."""

    name: ClassVar[str] = "jhook"
    regime: ClassVar[Regime] = Regime(trends=TRENDING)
    params_model: ClassVar[type[StrategyParams]] = JHookParams
    params: JHookParams

    @property
    def warmup_bars(self) -> int:
        p = self.params
        return p.atr_period + p.max_pullback_bars + p.impulse_bars + 2

    def signals(self, bars: pd.DataFrame) -> pd.DataFrame:
        p = self.params
        if len(bars) < self.warmup_bars:
            return empty_signals(bars.index)
        high, low, close = high_low_close(bars)
        atr = np.asarray(talib.ATR(high, low, close, timeperiod=p.atr_period), dtype=np.float64)
        out = SignalColumns.empty(len(close))
        for side, h, lo, c in ((1, high, low, close), (-1, -low, -high, -close)):
            word, above, extreme, trigger = (
                ("bullish", "above", "low", "high")
                if side == 1
                else ("bearish", "below", "high", "low")
            )
            for s in find_setups(h, lo, c, atr, p):
                out.fire(
                    s.bar,
                    side,
                    entry=side * s.entry,
                    sl=side * s.sl,
                    tp=side * s.tp,
                    confidence=s.confidence,
                    reason=(
                        f"{word} J-hook: impulse {s.impulse:.5f} "
                        f"({s.impulse / atr[s.peak_bar]:.2f} ATR{p.atr_period}) over "
                        f"{s.peak_bar - s.origin_bar} bars, pullback {100 * s.retracement:.1f}% "
                        f"to {side * s.extreme:.5f} ({extreme}), close {above} the pullback's "
                        f"{trigger} {side * s.trigger:.5f}"
                    ),
                )
        return out.frame(bars.index)
