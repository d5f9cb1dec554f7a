"""One market read for many kernel backtests: the trials of an optimisation share it.

Every trial of an optimisation runs the same backtest with other strategy parameters: the
same symbol, period, costs and account. :func:`~forexbot.backtest.kernel.run_kernel` reads the
market from a simulated terminal for each one (~12 s for 1M M1 bars, against ~0.1 s for the
kernel's loop); here it is read **once**, as plain arrays, and each trial only computes its
signals, screens them and runs the kernel's loop over slices of those arrays. Rules:

* **What is read** (:func:`read_shared_market`): the strategy's bars with the largest warm-up
  any candidate needs, and for every bar close of the tested period what the kernel would read
  there — the decision time in server msc, the quote (the last tick at or before it, its time,
  and whether the terminal's market is open), the M1 bars from the first tested close to the
  end, the end of the test, and which server midnights traded (swaps). These are the arrays
  :class:`~forexbot.backtest.kernel_market.KernelMarket` gives; no terminal is kept, so the
  market can be pickled once to a worker or put once in Ray's object store (numpy arrays are
  then read zero-copy, read-only).
* **A trial** (:func:`run_shared`) is :func:`~forexbot.backtest.kernel.run_kernel`'s sequence
  on slices: the bars cut to its own warm-up (what :func:`~forexbot.backtest.prices.read_prices`
  would return for it), the M1 bars and midnights from its first decision, the quotes only
  where its screen admitted a signal. Its result is the kernel's, hence the event path's
  (``tests/backtest/test_optimize_shared_market.py`` holds it to both).
* **Scope**: what :func:`~forexbot.backtest.kernel.supports` accepts, on a symbol quoted in the
  account currency (a symbol based on it converts swaps at a midnight quote, which is not
  read here). :func:`shareable` says why not; the optimiser then runs that trial as before.
  A spec that differs from the market's in anything but its parameters is refused
  (:class:`~forexbot.backtest.kernel_rules.KernelUnsupported`), as is one needing more
  warm-up than was read.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from forexbot.backtest.kernel import (
    KernelResult,
    Trial,
    run_prepared,
    strategy_instance,
    supports,
)
from forexbot.backtest.kernel_market import EndOfTest, KernelMarket, M1Path, Quotes, midnights
from forexbot.backtest.kernel_rules import KernelUnsupported
from forexbot.backtest.prices import PriceSeries, read_prices
from forexbot.backtest.runner import LAST_MOMENT, BacktestSpec, _terminal
from forexbot.clock import ManualClock
from forexbot.connectors.mt5sim.symbols import Catalogue
from forexbot.connectors.mt5sim.symbols import SymbolSpec as TerminalSpec
from forexbot.connectors.mt5sim.timeutil import server_offset
from forexbot.domain.market import SymbolSpec
from forexbot.strategies import create

__all__ = ["SharedMarket", "read_shared_market", "reads", "run_shared", "shareable"]

#: How many times this process read a shared market (tests count the reads).
_read_count = [0]


def reads() -> int:
    """Shared markets read by this process so far."""
    return _read_count[0]


def shareable(spec: BacktestSpec) -> str | None:
    """``None`` when trials of ``spec`` can share one market read, else why not."""
    reason = supports(spec)
    if reason is not None:
        return reason
    symbol = Catalogue().get(spec.symbol)
    if symbol is None or symbol.currency_profit != spec.currency:
        return "only symbols quoted in the account currency share a market"
    return None


@dataclass(frozen=True, slots=True)
class SharedMarket:
    """A backtest's market as arrays (see the module docstring). The per-close arrays are
    indexed by bar of ``prices`` from ``prices.first`` (the first tested bar)."""

    spec: BacktestSpec
    warmup: int
    prices: PriceSeries
    offsets: NDArray[np.float64]  # server - UTC seconds at each tested bar's close
    quotes: Quotes  # at each tested bar's close (server msc)
    m1: M1Path  # from the first tested bar's close to the end of the test
    end: EndOfTest
    nights: NDArray[np.int64]  # server midnights (msc) from the first tested bar's close
    traded: NDArray[np.bool_]  # whether the day ending at each midnight traded
    terminal_spec: TerminalSpec
    symbol_spec: SymbolSpec
    stop_out: float
    read_seconds: float

    @property
    def bars(self) -> int:
        """Bars of the tested period."""
        return len(self.prices) - self.prices.first

    def nbytes(self) -> int:
        """The arrays' size in bytes (what a worker holds, or the object store)."""
        arrays = [
            *(getattr(self.prices, f.name) for f in dataclasses.fields(self.prices)),
            self.offsets,
            *(getattr(self.quotes, f.name) for f in dataclasses.fields(self.quotes)),
            *(getattr(self.m1, f.name) for f in dataclasses.fields(self.m1)),
            self.nights,
            self.traded,
        ]
        return sum(a.nbytes for a in arrays if isinstance(a, np.ndarray))

    def accepts(self, spec: BacktestSpec) -> bool:
        """Whether ``spec`` is this market's backtest with other parameters."""
        return bool(dataclasses.replace(spec, params=self.spec.params) == self.spec)


def read_shared_market(spec: BacktestSpec, warmup: int) -> SharedMarket:
    """Read ``spec``'s market once, with ``warmup`` bars before the start (the largest any
    trial needs: :func:`warmup_of`). :class:`KernelUnsupported` outside :func:`shareable`."""
    reason = shareable(spec)
    if reason is not None:
        raise KernelUnsupported(reason)
    started = time.perf_counter()
    terminal = _terminal(spec, ManualClock(spec.start))
    terminal.initialize()
    try:
        prices = read_prices(terminal, spec.symbol, spec.timeframe, spec.start, spec.end, warmup)
        market = KernelMarket(terminal, spec.symbol)
        closes = prices.close_time[prices.first :].astype(np.float64)
        offsets = np.array([server_offset(t) for t in closes.tolist()], dtype=np.float64)
        at_msc = ((closes + offsets) * 1000).astype(np.int64)
        end = market.end_of_test(float(prices.close_time[-1]) - LAST_MOMENT)
        first_msc = int(at_msc[0])
        m1 = market.m1(first_msc // 1000, end.minute_msc // 1000, end.at_msc)
        quotes = market.quotes(at_msc)
        nights = midnights(first_msc, end.at_msc + 1)
        traded = np.array([market.traded_on(m) for m in nights.tolist()], dtype=np.bool_)
        shared = SharedMarket(
            spec=spec,
            warmup=warmup,
            prices=prices,
            offsets=offsets,
            quotes=quotes,
            m1=m1,
            end=end,
            nights=nights,
            traded=traded,
            terminal_spec=market.terminal_spec,
            symbol_spec=market.spec,
            stop_out=market.stop_out,
            read_seconds=time.perf_counter() - started,
        )
    finally:
        terminal.shutdown()
    _read_count[0] += 1
    return shared


def warmup_of(spec: BacktestSpec) -> int:
    """The warm-up ``run_kernel`` reads for ``spec`` (its strategy's window or the detector's)."""
    return max(spec.detector.min_bars, create(spec.strategy, **dict(spec.params)).window_bars)


class _ReadMarket(KernelMarket):
    """What the kernel's loops ask a :class:`KernelMarket`, answered from a shared read.

    The loops ask for the symbol's specs, the stop-out level and whether a midnight's day
    traded; the quotes and bars are handed to them already read. Anything else would need
    the terminal, which is not here."""

    def __init__(self, shared: SharedMarket, nights: NDArray[np.int64]) -> None:
        # No terminal: KernelMarket.__init__ is deliberately not called.
        self.symbol = shared.spec.symbol
        self.terminal_spec = shared.terminal_spec
        self.spec = shared.symbol_spec
        self.stop_out = shared.stop_out
        self._traded: dict[int, bool] = dict(
            zip(nights.tolist(), shared.traded.tolist(), strict=True)
        )

    def traded_on(self, midnight_msc: int) -> bool:
        return self._traded[midnight_msc]

    def is_open(self, server_seconds: float) -> bool:
        raise KernelUnsupported("a shared market has no terminal to ask")

    def m1(self, server_start: int, server_stop: int, now_msc: int) -> M1Path:
        raise KernelUnsupported("a shared market has no terminal to ask")

    def quotes(self, at_msc: NDArray[np.int64]) -> Quotes:
        raise KernelUnsupported("a shared market has no terminal to ask")


def _tail(prices: PriceSeries, lo: int) -> PriceSeries:
    """``prices`` from bar ``lo`` (views, no copy)."""
    return dataclasses.replace(
        prices,
        time=prices.time[lo:],
        open=prices.open[lo:],
        high=prices.high[lo:],
        low=prices.low[lo:],
        close=prices.close[lo:],
        tick_volume=prices.tick_volume[lo:],
        spread=prices.spread[lo:],
        real_volume=prices.real_volume[lo:],
        first=prices.first - lo,
    )


def _m1_from(m1: M1Path, server_start: int) -> M1Path:
    """The M1 bars opening at or after ``server_start`` (views)."""
    k = int(np.searchsorted(m1.start, server_start))
    return M1Path(*(getattr(m1, f.name)[k:] for f in dataclasses.fields(m1)))


def run_shared(
    shared: SharedMarket, spec: BacktestSpec, *, compiled: bool | None = None
) -> KernelResult:
    """``run_kernel(spec)`` on the shared market (same trades, rejections and statistics).
    :class:`KernelUnsupported` when ``spec`` is not the market's backtest with other
    parameters, or needs more warm-up than was read."""
    if not shared.accepts(spec):
        raise KernelUnsupported("the spec differs from the shared market's beyond its parameters")
    started = time.perf_counter()
    strategy, instance = strategy_instance(spec)
    window = max(spec.detector.min_bars, strategy.window_bars)
    if window > shared.warmup:
        raise KernelUnsupported(f"needs {window} warm-up bars; {shared.warmup} were read")
    prices = _tail(shared.prices, max(0, shared.prices.first - window))
    trial = Trial.of(spec, strategy, instance, prices, {"data": 0.0})
    mark = time.perf_counter()
    tested = trial.decisions - prices.first  # index into the per-close arrays
    at_msc = shared.quotes.at_msc[tested]
    end = shared.end
    first_msc = int(at_msc[0]) if len(at_msc) else end.minute_msc
    m1 = _m1_from(shared.m1, first_msc // 1000)
    trial.timings["data"] += time.perf_counter() - mark
    return run_prepared(
        trial,
        _ReadMarket(shared, shared.nights),
        m1,
        end,
        shared.offsets[tested],
        at_msc,
        lambda admitted: _quotes_where(shared.quotes, tested, admitted),
        started,
        compiled,
    )


def _quotes_where(quotes: Quotes, rows: NDArray[np.int64], wanted: NDArray[np.bool_]) -> Quotes:
    """The shared quotes at ``rows`` where ``wanted`` (as the kernel reads them: NaN, no tick,
    closed elsewhere)."""
    n = len(rows)
    picked = rows[wanted]
    bid, ask = np.full(n, np.nan), np.full(n, np.nan)
    tick_msc = np.zeros(n, dtype=np.int64)
    market_open = np.zeros(n, dtype=np.bool_)
    bid[wanted], ask[wanted] = quotes.bid[picked], quotes.ask[picked]
    tick_msc[wanted], market_open[wanted] = quotes.tick_msc[picked], quotes.market_open[picked]
    return Quotes(quotes.at_msc[rows], bid, ask, tick_msc, market_open)
