"""J-Hook: a strong impulse, a measured pullback that holds the origin, then the hook back.

Rules for a **buy** at bar *t*, on closed bid bars (``k = impulse_atr``, ``m = impulse_bars``,
``n = max_pullback_bars``; ``atr = ATR(high, low, close, atr_period)``, TA-Lib's definition
computed by :class:`~forexbot.indicators.incremental.Atr`; every index used is ≤ *t*, so the
rule is causal and looks back at most ``n + m + 1`` bars):

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

Both faces evaluate steps 2–6 with one function, :func:`setup_at`: the vectorised face finds
every bar's peak and origin with sliding windows, the streaming face in its tail of the last
``n + m + 2`` bars.

Defaults suit M15–H1 forex: ATR 14, impulse ≥ 2 ATR within 8 bars, pullback 38.2–61.8 % within
10 bars, stop 0.1 ATR beyond the pullback extreme, target a 100 % projection of the impulse.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view
from pydantic import Field, model_validator

from forexbot.domain.market import Bar
from forexbot.indicators import compiled
from forexbot.indicators.incremental import Atr
from forexbot.strategies.base_strategy import (
    FloatArray,
    SignalColumns,
    SignalRow,
    SignalStream,
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
    peak_atr: float  # atr[b], the impulse's yardstick


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
    peak = (peak_rows.argmax(axis=1) + np.arange(len(peak_rows))).tolist()
    # origin[b - m] = a(b): first lowest low among b-m .. b
    origin_rows = sliding_window_view(low, m + 1)
    origin = (origin_rows.argmin(axis=1) + np.arange(len(origin_rows))).tolist()
    hi, lo, cl, tr = high.tolist(), low.tolist(), close.tolist(), atr.tolist()
    found: list[JHookSetup] = []
    for t in range(start, size):
        b = peak[t - n - 1]
        if b > t - 2:
            continue
        setup = setup_at(hi, lo, cl, tr, t, b, origin[b - m], p)
        if setup is not None:
            found.append(setup)
    return found


def setup_at(
    hi: list[float],
    lo: list[float],
    cl: list[float],
    tr: list[float],
    t: int,
    b: int,
    a: int,
    p: JHookParams,
    offset: int = 0,
) -> JHookSetup | None:
    """The buy rule on bar ``t`` given its impulse peak ``b`` (``b ≤ t − 2``) and origin ``a``:
    steps 2–6, written once for both faces. Indices are into the sequences, which only need
    to reach back to ``a`` (the streaming face passes its tail of bars); ``offset`` turns them
    into bar numbers in the setup."""
    atr_b = tr[b]
    if a == b or not atr_b > 0:
        return None
    top, base = hi[b], lo[a]
    impulse = top - base
    if impulse < p.impulse_atr * atr_b:
        return None
    pullback = lo[b + 1 : t]
    low_p = min(pullback)
    if low_p <= base:
        return None
    c = b + 1 + pullback.index(low_p)
    retracement = (top - low_p) / impulse
    if not p.min_retracement <= retracement <= p.max_retracement:
        return None
    trigger = hi[c]
    for j in range(c + 1, t):
        if cl[j] > trigger:  # broken before: this extreme already gave its entry
            return None
        trigger = max(trigger, hi[j])
    entry = cl[t]
    if not entry > trigger:
        return None
    tp = low_p + p.projection * impulse
    if entry >= tp:
        return None
    return JHookSetup(
        bar=offset + t,
        origin_bar=offset + a,
        peak_bar=offset + b,
        pullback_bar=offset + c,
        impulse=impulse,
        extreme=low_p,
        retracement=retracement,
        trigger=trigger,
        entry=entry,
        sl=low_p - p.stop_buffer_atr * tr[t],
        tp=tp,
        confidence=min(1.0, impulse / (2.0 * p.impulse_atr * atr_b)),
        peak_atr=atr_b,
    )


def signal_row(side: int, setup: JHookSetup, p: JHookParams) -> SignalRow:
    """The signal of a setup found in the buy (``side`` 1) or negated (−1) price space."""
    s = setup
    word, above, extreme, trigger = (
        ("bullish", "above", "low", "high") if side == 1 else ("bearish", "below", "high", "low")
    )
    return SignalRow(
        side=side,
        entry=side * s.entry,
        sl=side * s.sl,
        tp=side * s.tp,
        confidence=s.confidence,
        reason=(
            f"{word} J-hook: impulse {s.impulse:.5f} "
            f"({s.impulse / s.peak_atr:.2f} ATR{p.atr_period}) over "
            f"{s.peak_bar - s.origin_bar} bars, pullback {100 * s.retracement:.1f}% "
            f"to {side * s.extreme:.5f} ({extreme}), close {above} the pullback's "
            f"{trigger} {side * s.trigger:.5f}"
        ),
    )


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
        atr = compiled.atr(high, low, close, p.atr_period)
        out = SignalColumns.empty(len(close))
        for side, h, lo, c in ((1, high, low, close), (-1, -low, -high, -close)):
            for s in find_setups(h, lo, c, atr, p):
                row = signal_row(side, s, p)
                out.fire(
                    s.bar,
                    side,
                    entry=row.entry,
                    sl=row.sl,
                    tp=row.tp,
                    confidence=row.confidence,
                    reason=row.reason,
                )
        return out.frame(bars.index)

    def stream(self) -> SignalStream:
        return _JHookStream(self.params)


class _JHookStream(SignalStream):
    """:meth:`JHookStrategy.signals` one bar at a time: the last ``max_pullback_bars +
    impulse_bars + 2`` bars and ATRs (the furthest back the rule looks is the origin, ``n + m
    + 1`` bars before *t*), the peak and origin found in them and :func:`setup_at` on bar *t*
    — O(n + m) per bar, whatever the history."""

    __slots__ = ("_atr", "_bars", "_close", "_high", "_low", "_p", "_start", "_tr")

    def __init__(self, params: JHookParams) -> None:
        self._p = params
        span = params.max_pullback_bars + params.impulse_bars + 2
        self._atr = Atr(params.atr_period)
        self._high: deque[float] = deque(maxlen=span)
        self._low: deque[float] = deque(maxlen=span)
        self._close: deque[float] = deque(maxlen=span)
        self._tr: deque[float] = deque(maxlen=span)
        self._bars = 0
        self._start = params.atr_period + params.max_pullback_bars + params.impulse_bars + 1

    def update(self, bar: Bar) -> SignalRow | None:
        self._tr.append(self._atr.update(bar.high, bar.low, bar.close))
        self._high.append(bar.high)
        self._low.append(bar.low)
        self._close.append(bar.close)
        self._bars += 1
        if self._bars <= self._start:
            return None
        p = self._p
        n, m = p.max_pullback_bars, p.impulse_bars
        hi, lo, cl, tr = list(self._high), list(self._low), list(self._close), list(self._tr)
        t = len(cl) - 1  # = n + m + 1
        offset = self._bars - len(cl)
        # Peaks and origins are the first extremes, as argmax/argmin pick them; a sell's are
        # those of the negated prices: the first lowest low, the first highest high. The
        # vectorised face writes sells after buys; the two never fire on one bar.
        lows = lo[t - 1 - n : t]
        b = t - 1 - n + lows.index(min(lows))
        if b <= t - 2:
            highs = hi[b - m : b + 1]
            a = b - m + highs.index(max(highs))
            neg_hi, neg_lo, neg_cl = [-x for x in lo], [-x for x in hi], [-x for x in cl]
            setup = setup_at(neg_hi, neg_lo, neg_cl, tr, t, b, a, p, offset)
            if setup is not None:
                return signal_row(-1, setup, p)
        highs = hi[t - 1 - n : t]
        b = t - 1 - n + highs.index(max(highs))
        if b <= t - 2:
            lows = lo[b - m : b + 1]
            a = b - m + lows.index(min(lows))
            setup = setup_at(hi, lo, cl, tr, t, b, a, p, offset)
            if setup is not None:
                return signal_row(1, setup, p)
        return None
