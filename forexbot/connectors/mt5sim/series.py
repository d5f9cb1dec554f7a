"""Bars of every timeframe and tick queries, cut at "now", over any :class:`PriceFeed`.

Rules enforced here:

* **Nothing from the future.** A day after ``now`` has no bars; the current minute's bar is
  rebuilt from the ticks up to ``now`` (a partial bar, like a live chart), and every higher
  timeframe's current bar aggregates those truncated M1 bars.
* **Every bar is the exact aggregate of its M1 bars**: open of the first, close of the last,
  extreme high/low, summed tick volume, minimum spread. Intraday timeframes and D1 align on
  server midnight (they all divide a day); W1 bars open on Sunday, MN1 on the 1st.
* Returned arrays are fresh copies: callers may modify them.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from forexbot.connectors.mt5_constants import TIMEFRAME_D1, TIMEFRAME_M1, TIMEFRAME_W1

from .feed import LRU, PriceFeed
from .grid import m1_from_ticks
from .structures import RATES_DTYPE, TICKS_DTYPE
from .symbols import Catalogue
from .timeutil import (
    DAY,
    FIXED_TIMEFRAMES,
    HISTORY_START_DAY,
    MINUTES_PER_DAY,
    month_start,
    week_start,
)

Bars = NDArray[np.void]
Ticks = NDArray[np.void]
_DAY_MS = DAY * 1000
MAXBARS = 100_000
_LOOKBACK_DAYS = 31  # how far back the last quote is searched (covers any weekend/holiday)


def aggregate(bars: Bars, starts_of: NDArray[np.int64]) -> Bars:
    """Merge consecutive bars sharing a group start time (``starts_of[i]`` for bar i)."""
    if len(bars) == 0:
        return np.zeros(0, dtype=RATES_DTYPE)
    first = np.flatnonzero(np.concatenate(([True], starts_of[1:] != starts_of[:-1])))
    last = np.concatenate((first[1:], [len(bars)])) - 1
    out = np.zeros(len(first), dtype=RATES_DTYPE)
    out["time"] = starts_of[first]
    out["open"] = bars["open"][first]
    out["close"] = bars["close"][last]
    out["high"] = np.maximum.reduceat(bars["high"], first)
    out["low"] = np.minimum.reduceat(bars["low"], first)
    out["tick_volume"] = np.add.reduceat(bars["tick_volume"], first)
    out["spread"] = np.minimum.reduceat(bars["spread"], first)
    out["real_volume"] = np.add.reduceat(bars["real_volume"], first)
    return out


def _between(merged: Bars, start: int, stop: int) -> Bars:
    """The bars of ``merged`` (in time order, a fresh array) opening in ``[start, stop)``: a
    slice, not a masked copy of the whole period (60 MB on a million M1 bars)."""
    times = merged["time"]
    lo = int(np.searchsorted(times, start))
    return merged[lo : lo + int(np.searchsorted(times[lo:], stop))]


def _period_start(timeframe: int, day: int) -> int:
    return week_start(day) if timeframe == TIMEFRAME_W1 else month_start(day)


def _period_end(timeframe: int, start: int) -> int:
    """First day after the W1/MN1 period opening on day ``start``."""
    return start + 7 if timeframe == TIMEFRAME_W1 else month_start(start + 31)


class MarketData:
    """Timeframe and tick queries for the terminal. Not thread-safe (the terminal locks)."""

    def __init__(self, feed: PriceFeed, catalogue: Catalogue, *, cache_days: int = 2048) -> None:
        self.feed = feed
        self._catalogue = catalogue
        # Complete (past) days aggregated per timeframe above M1 (the feed caches M1 days).
        self._tf_days: LRU[tuple[str, int, int], Bars] = LRU(cache_days)

    # --- bars -------------------------------------------------------------------------
    def day_bars(self, symbol: str, timeframe: int, day: int, now_msc: int) -> Bars:
        """Bars of a fixed timeframe (M1..D1) opening on server ``day``, cut at ``now``."""
        now_day = now_msc // _DAY_MS
        if day > now_day:
            return np.zeros(0, dtype=RATES_DTYPE)
        if day < now_day:
            if timeframe == TIMEFRAME_M1:
                return self.feed.day_bars(symbol, day)
            key = (symbol, timeframe, day)
            cached = self._tf_days.get(key)
            if cached is None:
                cached = self._aggregate_day(self.feed.day_bars(symbol, day), timeframe)
                cached.flags.writeable = False
                self._tf_days.put(key, cached)
            return cached
        return self._aggregate_day(self._today_m1(symbol, day, now_msc), timeframe)

    @staticmethod
    def _aggregate_day(m1: Bars, timeframe: int) -> Bars:
        if timeframe == TIMEFRAME_M1:
            return m1
        period = FIXED_TIMEFRAMES[timeframe]
        return aggregate(m1, (m1["time"] // period) * period)

    def _today_m1(self, symbol: str, day: int, now_msc: int) -> Bars:
        bars = self.feed.day_bars(symbol, day)
        minute = now_msc // 60_000
        complete = bars[: np.searchsorted(bars["time"], minute * 60)]
        partial = self._partial_bar(symbol, minute, now_msc)
        return complete if partial is None else np.concatenate((complete, partial))

    def _partial_bar(self, symbol: str, minute: int, now_msc: int) -> Bars | None:
        ticks = self.feed.minute_ticks(symbol, minute, minute + 1)
        ticks = ticks[: np.searchsorted(ticks["time_msc"], now_msc, side="right")]
        if len(ticks) == 0:
            return None
        spec = self._catalogue.get(symbol)
        return m1_from_ticks(ticks, spec.point if spec is not None else 1.0)

    def rates_until(self, symbol: str, timeframe: int, end: int, count: int, now_msc: int) -> Bars:
        """The last ``count`` bars opening at or before ``end`` (server seconds), oldest first."""
        end = min(end, now_msc // 1000)
        chunks: list[Bars] = []
        have = 0
        if timeframe in FIXED_TIMEFRAMES:
            day = end // DAY
            while have < count and day >= HISTORY_START_DAY:
                bars = self.day_bars(symbol, timeframe, day, now_msc)
                if not chunks:
                    bars = bars[: np.searchsorted(bars["time"], end, side="right")]
                chunks.append(bars)
                have += len(bars)
                day -= 1
        else:
            start = _period_start(timeframe, end // DAY)
            while have < count and start >= HISTORY_START_DAY - 31:
                bar = self._calendar_bar(symbol, timeframe, start, now_msc)
                if bar is not None:
                    chunks.append(bar)
                    have += 1
                start = _period_start(timeframe, start - 1)
        if not chunks:
            return np.zeros(0, dtype=RATES_DTYPE)
        merged = np.concatenate(chunks[::-1])
        return merged[max(0, len(merged) - count) :].copy()

    def rates_range(self, symbol: str, timeframe: int, start: int, end: int, now_msc: int) -> Bars:
        """Bars with ``start <= open time <= end`` (server seconds), cut at now.

        Like a terminal keeping at most ``maxbars`` bars per chart, a range longer than
        100,000 bars of the timeframe returns only its last 100,000 bars' span.
        """
        end = min(end, now_msc // 1000)
        chunks: list[Bars] = []
        if timeframe in FIXED_TIMEFRAMES:
            start = max(start, end - MAXBARS * FIXED_TIMEFRAMES[timeframe])
            return self.bars_between(symbol, timeframe, start, end, now_msc)
        period = _period_start(timeframe, max(start // DAY, HISTORY_START_DAY))
        while period * DAY <= end:
            bar = self._calendar_bar(symbol, timeframe, period, now_msc)
            if bar is not None:
                chunks.append(bar)
            period = _period_end(timeframe, period)
        if not chunks:
            return np.zeros(0, dtype=RATES_DTYPE)
        merged = np.concatenate(chunks)
        keep = (merged["time"] >= start) & (merged["time"] <= end)
        return merged[keep]

    def bars_between(self, symbol: str, timeframe: int, start: int, end: int, now_msc: int) -> Bars:
        """Bars of a fixed timeframe with ``start <= open time <= end`` (server seconds), cut
        at now, however many (no chart limit: a backtest reads its whole period)."""
        end = min(end, now_msc // 1000)
        days = range(max(start // DAY, HISTORY_START_DAY), end // DAY + 1)
        chunks = [self.day_bars(symbol, timeframe, day, now_msc) for day in days]
        if not chunks:
            return np.zeros(0, dtype=RATES_DTYPE)
        return _between(np.concatenate(chunks), start, end + 1)

    def _calendar_bar(self, symbol: str, timeframe: int, start: int, now_msc: int) -> Bars | None:
        stop = min(_period_end(timeframe, start), now_msc // _DAY_MS + 1)
        days = [self.day_bars(symbol, TIMEFRAME_D1, d, now_msc) for d in range(start, stop)]
        daily = np.concatenate(days) if days else np.zeros(0, dtype=RATES_DTYPE)
        if len(daily) == 0:
            return None
        return aggregate(daily, np.full(len(daily), start * DAY, dtype=np.int64))

    def m1_between(self, symbol: str, start: int, stop: int, now_msc: int) -> Bars:
        """M1 bars opening in ``[start, stop)`` (server seconds)."""
        days = range(start // DAY, (stop - 1) // DAY + 1)
        if stop * 1000 <= (now_msc // 60_000) * 60_000:
            # Only complete minutes: the feed's bars as they are (no forming bar to build).
            chunks = [self.feed.day_bars(symbol, day) for day in days]
        else:
            chunks = [self.day_bars(symbol, TIMEFRAME_M1, day, now_msc) for day in days]
        merged = np.concatenate(chunks) if chunks else np.zeros(0, dtype=RATES_DTYPE)
        return _between(merged, start, stop)

    # --- ticks ------------------------------------------------------------------------
    def ticks_from(self, symbol: str, start_msc: int, count: int, now_msc: int) -> Ticks:
        """Up to ``count`` ticks with ``start <= time_msc <= now``, oldest first."""
        out: list[Ticks] = []
        have = 0
        minute = max(start_msc // 60_000, HISTORY_START_DAY * MINUTES_PER_DAY)
        last_minute = now_msc // 60_000
        while have < count and minute <= last_minute:
            day = minute // MINUTES_PER_DAY
            bars = self.feed.day_bars(symbol, day)
            bar_minutes = bars["time"] // 60
            lo = int(np.searchsorted(bar_minutes, minute))
            hi = int(np.searchsorted(bar_minutes, last_minute, side="right"))
            if lo >= hi:
                minute = (day + 1) * MINUTES_PER_DAY
                continue
            # Enough whole minutes to cover what is still needed (the first may start early).
            volumes = np.cumsum(bars["tick_volume"][lo:hi])
            need = count - have + int(bars["tick_volume"][lo])
            n = min(int(np.searchsorted(volumes, need)) + 1, hi - lo)
            stop = int(bar_minutes[lo + n - 1]) + 1
            ticks = self.feed.minute_ticks(symbol, int(bar_minutes[lo]), stop)
            ticks = ticks[(ticks["time_msc"] >= start_msc) & (ticks["time_msc"] <= now_msc)]
            out.append(ticks[: count - have])
            have += len(out[-1])
            minute = stop
        if not out:
            return np.zeros(0, dtype=TICKS_DTYPE)
        return np.concatenate(out)

    def ticks_between(self, symbol: str, start_msc: int, end_msc: int, now_msc: int) -> Ticks:
        """Ticks with ``start <= time_msc <= min(end, now)``."""
        end_msc = min(end_msc, now_msc)
        first = max(start_msc // 60_000, HISTORY_START_DAY * MINUTES_PER_DAY)
        if end_msc < start_msc:
            return np.zeros(0, dtype=TICKS_DTYPE)
        ticks = self.feed.minute_ticks(symbol, first, end_msc // 60_000 + 1)
        return ticks[(ticks["time_msc"] >= start_msc) & (ticks["time_msc"] <= end_msc)]

    def last_tick(self, symbol: str, now_msc: int) -> NDArray[np.void] | None:
        """The latest tick at or before ``now`` (the last quote of Friday at the weekend)."""
        return self.last_tick_span(symbol, now_msc)[0]

    def last_tick_span(self, symbol: str, now_msc: int) -> tuple[NDArray[np.void] | None, int, int]:
        """(:meth:`last_tick` at ``now``, ``lo``, ``hi``): the same tick is the last one at
        every time in ``[lo, hi)``.

        Why it holds: the answer depends only on the ticks of ``now``'s minute up to ``now``
        and, when there are none, on the bars before that minute (a function of the minute).
        So it stays the same from ``max(tick time, minute start)`` until the minute's next
        tick after ``now``, or the minute's end; always ``lo <= now < hi``.
        """
        minute = now_msc // 60_000
        start, end = minute * 60_000, (minute + 1) * 60_000
        ticks = self.feed.minute_ticks(symbol, minute, minute + 1)
        cut = int(np.searchsorted(ticks["time_msc"], now_msc, side="right"))
        hi = int(ticks["time_msc"][cut]) if cut < len(ticks) else end
        if cut:
            return ticks[cut - 1 : cut].copy(), max(start, int(ticks["time_msc"][cut - 1])), hi
        day = minute // MINUTES_PER_DAY
        for back in range(_LOOKBACK_DAYS):
            bars = self.feed.day_bars(symbol, day - back)
            bars = bars[: np.searchsorted(bars["time"], minute * 60)]
            if len(bars):
                last = int(bars["time"][-1]) // 60
                return self.feed.minute_ticks(symbol, last, last + 1)[-1:].copy(), start, hi
        return None, start, hi

    def session(self, symbol: str, now_msc: int) -> tuple[Bars, Bars]:
        """(today's D1 bar so far, the previous trading day's D1 bar); either may be empty."""
        day = now_msc // _DAY_MS
        today = self.day_bars(symbol, TIMEFRAME_D1, day, now_msc)
        for back in range(1, _LOOKBACK_DAYS):
            previous = self.day_bars(symbol, TIMEFRAME_D1, day - back, now_msc)
            if len(previous):
                return today, previous
        return today, np.zeros(0, dtype=RATES_DTYPE)
