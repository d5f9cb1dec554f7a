"""What the backtest kernel reads from the simulated terminal, as arrays, before it runs.

The kernel (:mod:`forexbot.backtest.kernel`) never asks the terminal anything while it runs:
everything the fill and risk rules look at is read here, once, from the same simulated
terminal the event-driven backtest builds (same data, same fixed spread, same generated or
replayed ticks):

* the strategy's bars (:func:`~forexbot.backtest.prices.read_prices`, as the runner reads them);
* the **M1 bars** of the tested period in server time, as the terminal's bar fill model walks
  them (:meth:`PricePath.from_bars <forexbot.connectors.mt5sim.pricepath.PricePath.from_bars>`:
  bid open/low/high from the bar, ask = bid + the bar's spread on the price grid);
* the **quote at each decision time** (the last tick at or before it, what
  ``symbol_info_tick`` gives at that moment: with generated ticks it is the previous
  minute's last tick unless a tick falls on the very millisecond) and its time, and whether
  the terminal's market is open then (``order_send`` refuses with 10018 when it is not);
* the **ticks of the period's last minute** and the quote a millisecond before its end, where
  the runner closes what is still open (the matcher replays that partial minute on ticks).

Reading the quotes is reading the market, not running the rules: it is counted in the
kernel's ``data`` time, like generating the market is in the runner's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from forexbot.connectors.conversions import symbol_spec_of
from forexbot.connectors.mt5sim.feed import ticks_of_minutes
from forexbot.connectors.mt5sim.pricepath import PricePath
from forexbot.connectors.mt5sim.replay import ReplayFeed
from forexbot.connectors.mt5sim.series import MarketData
from forexbot.connectors.mt5sim.symbols import SymbolSpec as TerminalSpec
from forexbot.connectors.mt5sim.terminal import SimulatedTerminal
from forexbot.connectors.mt5sim.timeutil import DAY, MINUTES_PER_DAY, to_server_msc
from forexbot.domain.market import SymbolSpec

#: A day's quotes are read one by one when it has fewer times than its minutes / this.
_SPARSE = 8

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
B = NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Quotes:
    """Quotes at given server times (msc): bid, ask, the tick's own time, and whether the
    terminal's market is open at that time (NaN bid when there is no tick at all)."""

    at_msc: I64
    bid: F64
    ask: F64
    tick_msc: I64
    market_open: B


@dataclass(frozen=True, slots=True)
class M1Path:
    """The M1 bars of the tested period as the bar fill model walks them (server time)."""

    start: I64  # bar open, server seconds
    stamp: I64  # the bar's events happen at its last millisecond (server msc)
    bid_open: F64
    bid_low: F64
    bid_high: F64
    ask_open: F64
    ask_low: F64
    ask_high: F64


@dataclass(frozen=True, slots=True)
class EndOfTest:
    """The period's last minute, replayed on ticks, and the quote the runner closes at."""

    at_msc: int  # a millisecond before the last bar's close (server msc)
    minute_msc: int  # the start of the minute it falls in: bars before it, ticks from it
    tick_msc: I64
    tick_bid: F64
    tick_ask: F64
    quote: Quotes


class KernelMarket:
    """The terminal's data for one backtest, read once (see the module docstring)."""

    def __init__(self, terminal: SimulatedTerminal, symbol: str) -> None:
        self._terminal = terminal
        self.symbol = symbol
        # The simulated terminal's own catalogue entry and market: the kernel reads the data
        # the terminal's matcher and trade desk read, not a copy of their rules.
        self._market: MarketData = terminal._market
        found = terminal._catalogue.get(symbol)
        if found is None:
            raise KeyError(symbol)
        self.terminal_spec: TerminalSpec = found
        info = terminal.symbol_info(symbol)
        self.spec: SymbolSpec = symbol_spec_of(info)
        self.stop_out: float = float(terminal._state.stop_out)
        # Replayed data read directly only when nothing is laid over it (a fixed spread, variants).
        feed = terminal.feed
        self._replay = feed if isinstance(feed, ReplayFeed) else None

    def is_open(self, server_seconds: float) -> bool:
        """The terminal's market-open rule (``order_send`` refuses 10018 when closed)."""
        return self._terminal.feed.is_open(self.symbol, server_seconds)

    def m1(self, server_start: int, server_stop: int, now_msc: int) -> M1Path:
        """M1 bars opening in ``[server_start, server_stop)`` (seconds), as of ``now``: of M1
        bars replayed, a view of the complete ones (the terminal's would be a copy of them)."""
        bars = None
        if self._replay is not None and server_stop * 1000 <= now_msc - now_msc % 60_000:
            bars = self._replay.m1_span(self.symbol, server_start, server_stop)
        if bars is None:
            bars = self._market.m1_between(self.symbol, server_start, server_stop, now_msc)
        spec = self.terminal_spec
        path = PricePath.from_bars(bars, spec.point, spec.digits)
        return M1Path(
            start=bars["time"].astype(np.int64),
            stamp=(path.t + 59_999).astype(np.int64),
            bid_open=path.bid_open.astype(np.float64),
            bid_low=path.bid_low.astype(np.float64),
            bid_high=path.bid_high.astype(np.float64),
            ask_open=path.ask_open.astype(np.float64),
            ask_low=path.ask_low.astype(np.float64),
            ask_high=path.ask_high.astype(np.float64),
        )

    def quotes(self, at_msc: I64) -> Quotes:
        """The last tick at or before each time (what the terminal quotes then).

        Where a day has many times (an optimisation's every bar close), its ticks are read
        at once, from the minute before the day's first time to the minute of its last (one
        vectorised generation instead of one per time); a time with no tick in that span takes
        the terminal's ``last_tick`` (the previous trading day's last quote). Where it has few
        (a strategy's signals), only each time's minute and the one before are read, the day's
        all at once (:func:`~forexbot.connectors.mt5sim.feed.ticks_of_minutes`: generated ticks
        in one vectorised call, not ~0.3 ms a minute); a time with no tick in those two minutes
        takes ``last_tick``, what ``symbol_info_tick`` gives. Replayed bars, whose ticks are
        synthesised minute by minute, give at a minute's start (every decision on M1 bars) the
        minute's opening tick, on the bar's open, all such times at once
        (:meth:`~forexbot.connectors.mt5sim.replay.ReplayFeed.opening_ticks`), and take
        ``last_tick`` at their other times. All are the last tick at or before the time."""
        n = len(at_msc)
        bid, ask = np.full(n, np.nan), np.full(n, np.nan)
        tick_msc = np.zeros(n, dtype=np.int64)
        rest = np.arange(n)
        opening = None
        if self._replay is not None:
            # At a minute's start of replayed bars (every decision on M1 bars) the minute's
            # opening tick, all at once; the other times as below.
            starts = np.flatnonzero(at_msc % 60_000 == 0)
            opening = self._replay.opening_ticks(self.symbol, at_msc[starts] // 60_000)
        if opening is not None:
            have, ticks = opening
            rows = starts[have]
            bid[rows], ask[rows] = ticks["bid"][have], ticks["ask"][have]
            tick_msc[rows] = ticks["time_msc"][have]
            rest = np.setdiff1d(rest, rows, assume_unique=True)
        if len(rest):
            rest_bid, rest_ask, rest_msc = self._read(at_msc[rest])
            bid[rest], ask[rest], tick_msc[rest] = rest_bid, rest_ask, rest_msc
        if self._replay is not None:
            market_open = self._replay.are_open(self.symbol, at_msc / 1000)
        else:
            market_open = np.zeros(n, dtype=np.bool_)
            for k, when in enumerate(at_msc.tolist()):
                market_open[k] = self.is_open(when / 1000)
        return Quotes(at_msc.astype(np.int64), bid, ask, tick_msc, market_open)

    def _read(self, at_msc: I64) -> tuple[F64, F64, I64]:
        """(bid, ask, tick time) of the last tick at or before each time (see :meth:`quotes`)."""
        n = len(at_msc)
        bid, ask = np.full(n, np.nan), np.full(n, np.nan)
        tick_msc = np.zeros(n, dtype=np.int64)
        minutes = at_msc // 60_000
        days = minutes // MINUTES_PER_DAY
        bounds = np.flatnonzero(np.r_[True, days[1:] != days[:-1], True])
        feed = self._terminal.feed
        for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            first, last = int(minutes[lo]) - 1, int(minutes[hi - 1])
            sparse = (hi - lo) * _SPARSE < last + 1 - first
            if sparse and self._replay is not None:
                for k in range(lo, hi):
                    tick = self._last_tick(int(at_msc[k]))
                    if tick is not None:
                        bid[k], ask[k] = float(tick["bid"][0]), float(tick["ask"][0])
                        tick_msc[k] = int(tick["time_msc"][0])
                continue
            if sparse:  # each time's minute and the one before, all read at once
                own = minutes[lo:hi]
                ticks = ticks_of_minutes(feed, self.symbol, np.union1d(own - 1, own))
                since = (own - 1) * 60_000
            else:
                ticks = feed.minute_ticks(self.symbol, first, last + 1)
                since = np.full(hi - lo, first * 60_000)
            found = np.searchsorted(ticks["time_msc"], at_msc[lo:hi], side="right") - 1
            have = found >= 0
            # A tick from before the minute preceding the time's is not the last one there
            # when the minutes between were not read: the terminal answers for it.
            have[have] = ticks["time_msc"][found[have]] >= since[have]
            rows = found[have]
            bid[lo:hi][have] = ticks["bid"][rows]
            ask[lo:hi][have] = ticks["ask"][rows]
            tick_msc[lo:hi][have] = ticks["time_msc"][rows]
            for k in (np.flatnonzero(~have) + lo).tolist():
                tick = self._market.last_tick(self.symbol, int(at_msc[k]))
                if tick is not None:
                    bid[k], ask[k] = float(tick["bid"][0]), float(tick["ask"][0])
                    tick_msc[k] = int(tick["time_msc"][0])
        return bid, ask, tick_msc

    def _last_tick(self, at_msc: int) -> NDArray[np.void] | None:
        """The terminal's ``last_tick`` at ``at_msc``; at a minute's start of replayed bars
        (where every decision on M1 bars falls) the minute's opening tick, which is that
        tick, read without synthesising the minute's other ticks (~0.1 ms each)."""
        if self._replay is not None and at_msc % 60_000 == 0:
            tick = self._replay.opening_tick(self.symbol, at_msc // 60_000)
            if tick is not None:
                return tick
        return self._market.last_tick(self.symbol, at_msc)

    def end_of_test(self, last_utc: float) -> EndOfTest:
        """The last minute's ticks up to ``last_utc`` and the quote then (see the runner)."""
        now = to_server_msc(last_utc)
        minute = (now // 60_000) * 60_000
        ticks = self._market.ticks_between(self.symbol, minute, now, now)
        return EndOfTest(
            at_msc=now,
            minute_msc=minute,
            tick_msc=ticks["time_msc"].astype(np.int64),
            tick_bid=ticks["bid"].astype(np.float64),
            tick_ask=ticks["ask"].astype(np.float64),
            quote=self.quotes(np.array([now], dtype=np.int64)),
        )

    def traded_on(self, midnight_msc: int) -> bool:
        """Whether the day ending at this server midnight traded (its swap is charged)."""
        return self.is_open(midnight_msc / 1000 - 1)


def midnights(first_msc: int, last_msc: int) -> I64:
    """Server midnights (msc) in ``[first, last]``."""
    day_ms = DAY * 1000
    lo = -(-first_msc // day_ms)
    hi = last_msc // day_ms
    return np.arange(lo, hi + 1, dtype=np.int64) * day_ms
