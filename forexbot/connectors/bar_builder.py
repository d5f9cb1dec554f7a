"""Building bars from ticks, the way MetaTrader does.

Rules:

* A bar covers ``[open_time, open_time + period)``; its open, high, low and close are bid
  prices, ``tick_volume`` counts ticks and ``spread`` is the smallest spread seen, in points.
* Periods are aligned on broker *server* time, as the terminal aligns them: with a server at
  UTC+2, a D1 bar opens at 22:00 UTC and H4 bars at 22:00, 02:00, 06:00… UTC. Bar times are
  still reported in UTC.
* A period without ticks has no bar (MetaTrader shows no bar for a closed market).
* A bar is final — and reported once — when a tick of a later period arrives or when the clock
  passes its end (:meth:`BarBuilder.close_due`), whichever comes first, so a quiet market does not
  hold back the strategies.
* The connector seeds the forming bar with the terminal's own at start-up, so the first bar
  closed live is complete even though the daemon started in the middle of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from forexbot.domain.market import Bar, Tick, Timeframe


@dataclass(slots=True)
class _FormingBar:
    time: int
    open: float
    high: float
    low: float
    close: float
    tick_volume: int
    spread: int
    real_volume: int

    def freeze(self, symbol: str, timeframe: Timeframe) -> Bar:
        return Bar(
            symbol=symbol,
            timeframe=timeframe,
            time=self.time,
            open=self.open,
            high=self.high,
            low=self.low,
            close=self.close,
            tick_volume=self.tick_volume,
            spread=self.spread,
            real_volume=self.real_volume,
        )


class BarBuilder:
    """Aggregates one symbol's ticks into bars of several timeframes."""

    def __init__(
        self,
        symbol: str,
        point: float,
        timeframes: Iterable[Timeframe],
        server_offset: int = 0,
    ) -> None:
        self.symbol = symbol
        self._point = point
        self.server_offset = server_offset
        self._timeframes = tuple(timeframes)
        self._forming: dict[Timeframe, _FormingBar] = {}
        self._last_closed: dict[Timeframe, int] = {}

    def seed(self, bar: Bar) -> None:
        """Start from the terminal's forming bar (its ticks before we started polling)."""
        self._forming[bar.timeframe] = _FormingBar(
            bar.time,
            bar.open,
            bar.high,
            bar.low,
            bar.close,
            bar.tick_volume,
            bar.spread,
            bar.real_volume,
        )

    def continue_from(self, latest: Mapping[Timeframe, Sequence[Bar]], now: float) -> None:
        """Continue the terminal's bars: ``latest`` holds, per timeframe, its last closed bar
        and the forming one (oldest first, as ``copy_rates_from_pos(..., 0, 2)`` gives them).
        A bar whose period has ended by ``now`` is closed, not forming: a quiet market sends
        no tick to close it."""
        for tf, bars in latest.items():
            if not bars:
                continue
            forming = bars[-1]
            if forming.time + tf.seconds > now:
                self.seed(forming)
                if len(bars) > 1:
                    self.mark_closed(tf, bars[-2].time)
            else:
                self.mark_closed(tf, forming.time)

    def mark_closed(self, timeframe: Timeframe, open_time: int) -> None:
        """Remember that the bar opening at ``open_time`` is already known (from history), so a
        late tick of that period never reopens it."""
        self._last_closed[timeframe] = open_time

    def on_tick(self, tick: Tick) -> list[Bar]:
        """Add a tick; return the bars it closed (oldest first)."""
        closed: list[Bar] = []
        spread = round((tick.ask - tick.bid) / self._point)
        for tf in self._timeframes:
            open_time = self.open_time(tf, tick.time)
            if open_time <= self._last_closed.get(tf, -1):
                continue  # a late tick of a bar already final
            bar = self._forming.get(tf)
            if bar is not None and open_time < bar.time:
                continue  # out of order: older than the forming bar
            if bar is not None and bar.time != open_time:
                closed.append(self._close(tf, bar))
                bar = None
            if bar is None:
                self._forming[tf] = _FormingBar(
                    open_time, tick.bid, tick.bid, tick.bid, tick.bid, 1, spread, int(tick.volume)
                )
                continue
            bar.high = max(bar.high, tick.bid)
            bar.low = min(bar.low, tick.bid)
            bar.close = tick.bid
            bar.tick_volume += 1
            bar.spread = min(bar.spread, spread)
            bar.real_volume += int(tick.volume)
        closed.sort(key=lambda b: (b.time, b.timeframe.seconds))
        return closed

    def open_time(self, timeframe: Timeframe, utc: float) -> int:
        """UTC open time of the ``timeframe`` bar containing ``utc``, aligned on server time."""
        return timeframe.open_time(utc + self.server_offset) - self.server_offset

    def next_close(self) -> float | None:
        """When (UTC) the first forming bar ends: the earliest moment a bar can close. None
        while nothing is forming (the next tick opens a bar, it closes none)."""
        ends = [bar.time + tf.seconds for tf, bar in self._forming.items()]
        return min(ends) if ends else None

    def forming_until(self, deadline: float) -> list[Bar]:
        """The forming bars whose period ends (UTC) at or before ``deadline``, as they stand:
        what each would be if no other tick came before its end."""
        return [
            bar.freeze(self.symbol, tf)
            for tf, bar in self._forming.items()
            if bar.time + tf.seconds <= deadline
        ]

    def period_end(self, utc: float, server_offset: int) -> float:
        """When (UTC) the first of the periods containing ``utc`` ends, periods aligned on
        ``server_offset``. Reads only the (fixed) timeframes: safe from another thread."""
        return min(
            tf.open_time(utc + server_offset) - server_offset + tf.seconds
            for tf in self._timeframes
        )

    def close_due(self, now: float) -> list[Bar]:
        """Close every forming bar whose period ended at or before ``now``."""
        closed = []
        for tf in self._timeframes:
            bar = self._forming.get(tf)
            if bar is not None and bar.time + tf.seconds <= now:
                closed.append(self._close(tf, bar))
        return closed

    def _close(self, tf: Timeframe, bar: _FormingBar) -> Bar:
        del self._forming[tf]
        self._last_closed[tf] = bar.time
        return bar.freeze(self.symbol, tf)
