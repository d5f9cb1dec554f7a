"""The bars a backtest runs on, read from the simulated terminal like live history.

Whatever the data source (the generated feed, MT5 CSV exports, the ``market_data`` table), the
backtest replays it through a :class:`~forexbot.connectors.mt5sim.SimulatedTerminal`, and the
strategy's bars are read back from that terminal (``history_as_of``: what ``copy_rates_range``
will show at the end of the test): the same bars the live connector would build, timeframes
derived by the terminal's own rules. Times are converted
from broker server time to UTC bar by bar (daylight-saving changes included), because
strategies, the market detector and every stored time speak UTC.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from forexbot.connectors.mt5sim.terminal import SimulatedTerminal
from forexbot.connectors.mt5sim.timeutil import from_server_array, to_server_msc
from forexbot.domain.market import Bar, Timeframe
from forexbot.errors import ForexbotError

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


class BacktestDataError(ForexbotError):
    """The data asked for cannot be backtested (no bars in the period, unknown symbol…)."""


@dataclass(frozen=True, slots=True)
class PriceSeries:
    """One symbol's bars of one timeframe, oldest first; ``time`` is the UTC open time.

    ``first`` is the index of the first bar of the tested period: the bars before it are the
    warm-up history, seen by the strategy but never traded on.
    """

    symbol: str
    timeframe: Timeframe
    time: I64
    open: F64
    high: F64
    low: F64
    close: F64
    tick_volume: I64
    spread: I64
    real_volume: I64
    first: int

    def __len__(self) -> int:
        return len(self.time)

    @property
    def close_time(self) -> I64:
        """When each bar closes (UTC): the moment a strategy may act on it."""
        out: I64 = self.time + self.timeframe.seconds
        return out

    def frame(self) -> pd.DataFrame:
        """The DataFrame :meth:`~forexbot.strategies.base_strategy.Strategy.signals` takes:
        copies of the arrays (pandas does not track numpy arrays it is given without copying,
        so a strategy writing into the frame would write into the series)."""
        return pd.DataFrame(
            {
                "time": pd.to_datetime(self.time, unit="s", utc=True),
                "open": self.open,
                "high": self.high,
                "low": self.low,
                "close": self.close,
                "tick_volume": self.tick_volume,
                "spread": self.spread,
                "real_volume": self.real_volume,
            }
        )

    def bar(self, i: int) -> Bar:
        return Bar(
            symbol=self.symbol,
            timeframe=self.timeframe,
            time=int(self.time[i]),
            open=float(self.open[i]),
            high=float(self.high[i]),
            low=float(self.low[i]),
            close=float(self.close[i]),
            tick_volume=int(self.tick_volume[i]),
            spread=int(self.spread[i]),
            real_volume=int(self.real_volume[i]),
        )


def utc_of_ordered(server: I64) -> I64:
    """:func:`~forexbot.connectors.mt5sim.timeutil.from_server_array` of times in order.

    The shift (server minus UTC) is a function of the server hour that changes only at the
    two DST switches of a year, so it is looked up at the first and last hour of each server
    day; a day where they differ (a switch) has each of its hours looked up. ~1,000 lookups
    on a million M1 bars instead of ~23,000, and no ``np.unique`` (a sort of the array)."""
    if not len(server):
        return from_server_array(server)
    hours = server // 3600
    starts = np.flatnonzero(np.r_[True, hours[1:] != hours[:-1]])
    firsts = hours[starts] * 3600  # each run of one hour's times, by its start
    days = firsts // 86_400
    day_starts = np.flatnonzero(np.r_[True, days[1:] != days[:-1]])
    day_ends = np.r_[day_starts[1:], len(firsts)] - 1
    opening = firsts[day_starts] - from_server_array(firsts[day_starts])
    closing = firsts[day_ends] - from_server_array(firsts[day_ends])
    shifts = np.repeat(opening, day_ends - day_starts + 1)
    for d in np.flatnonzero(opening != closing).tolist():
        hour_runs = slice(int(day_starts[d]), int(day_ends[d]) + 1)
        shifts[hour_runs] = firsts[hour_runs] - from_server_array(firsts[hour_runs])
    out: I64 = server - np.repeat(shifts, np.diff(np.r_[starts, len(server)]))
    return out


def read_prices(
    terminal: SimulatedTerminal,
    symbol: str,
    timeframe: Timeframe,
    start: float,
    end: float,
    warmup_bars: int,
) -> PriceSeries:
    """The complete bars opening in ``[start, end)`` (UTC) and up to ``warmup_bars`` before,
    as the terminal will show them once ``end`` has come. Raises :class:`BacktestDataError` when
    the period has no bar."""
    if terminal.symbol_info(symbol) is None:
        raise BacktestDataError(f"unknown symbol {symbol!r}")
    server_start = to_server_msc(start) // 1000
    server_end = to_server_msc(end) // 1000
    period = timeframe.seconds
    tf = timeframe.mt5_value
    # Enough calendar time before the start for the warm-up, weekends and holidays included.
    lead = int(warmup_bars * period * 1.6) + 5 * 86_400 if warmup_bars else 0
    bars = terminal.history_as_of(symbol, tf, server_start - lead, server_end - 1, end)
    if bars is None:
        raise BacktestDataError(
            f"cannot read {symbol} {timeframe.name} bars: {terminal.last_error()}"
        )
    bars = bars[: int(np.searchsorted(bars["time"], server_end - period, side="right"))]
    first = int(np.searchsorted(bars["time"], server_start))
    if first == len(bars):
        raise BacktestDataError(
            f"no complete {symbol} {timeframe.name} bar between the start and the end of the test"
        )
    bars = bars[max(0, first - warmup_bars) :]
    return PriceSeries(
        symbol=symbol,
        timeframe=timeframe,
        time=utc_of_ordered(bars["time"].astype(np.int64)),
        open=bars["open"].astype(np.float64),
        high=bars["high"].astype(np.float64),
        low=bars["low"].astype(np.float64),
        close=bars["close"].astype(np.float64),
        tick_volume=bars["tick_volume"].astype(np.int64),
        spread=bars["spread"].astype(np.int64),
        real_volume=bars["real_volume"].astype(np.int64),
        first=min(first, warmup_bars),
    )
