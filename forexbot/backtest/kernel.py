"""The backtest fast path: the fill and risk rules of a backtest in one loop over its signals.

The event-driven backtest (:mod:`forexbot.backtest.runner`) runs every signal through the
live engine: the bus, the risk manager, the execution and position managers and the
simulated terminal, at ~2 ms a trade. This kernel gives the **same trades** — ids, sides,
volumes, open and close times and prices, profit, swap and commission to the cent, close
reasons — and the same rejection counts, for the backtests :func:`supports` accepts, from
arrays read once from the same simulated terminal (:mod:`forexbot.backtest.kernel_market`),
without the engine's objects. It reuses the pure pieces (the strategy's signals, the regime
screen :func:`~forexbot.strategies.manager.admit`, sizing, the terminal's money arithmetic,
stop normalisation and validation, the statistics); the rest it reproduces. Parity with the
event path is what proves it: ``tests/backtest/test_kernel_parity.py``.

**Scope** (:func:`supports` says why a spec is outside it; the runner then runs the event
path): the ``bars`` fill model, a hedging account, no trade management, at most one position
per symbol, an inert account guard (no cooldown, daily loss and drawdown limits at 100 %),
sync intervals of whole minutes, and a symbol quoted in the account currency (EURUSD on a USD
account) or based on it (USDJPY: profit and swaps converted at 1 / price, as the terminal
does), margined in the account currency or its own base. A stop-out inside the run is not
reproduced: the kernel raises :class:`KernelUnsupported` when the margin level would reach it.

**The rules reproduced**, in the order the event path applies them:

1. *Decisions.* A decision is the close of a bar with a signal, from the first tested bar;
   the signal of the very last bar is never acted on. The clock is the bar's close ``T``.
2. *The market up to ``T``* (the terminal's matcher, fill model ``bars``): an open position
   is checked on every M1 bar opening at or after its open time, each bar's events stamped at
   its last millisecond. A buy's SL triggers when the bar's bid low ≤ SL, its TP when the bid
   high ≥ TP; a sell's on the ask (bid + the bar's spread): high ≥ SL, low ≤ TP. A bar reaching
   both takes the level nearer its open first. The fill is the level, or the bar's open when
   it opened beyond the level. Close reasons ``stop_loss`` / ``take_profit``.
3. *Swaps* at every server midnight ``M`` with ``open time ≤ M < close time`` (a midnight on
   a decision time is charged in the walk after it, so a position opened at midnight pays it
   and one closed then does not), when the day ending at ``M`` traded: ``swap_long`` /
   ``swap_short`` points × point × contract × lots, three times on ``swap_rollover3days``,
   accrued to cents, realised by the closing deal. None on a swap-free account.
4. *Screening*: the signal passes the strategy's regime (``admit``, with the market condition
   of :class:`~forexbot.market_condition.series.ConditionSeries`, or only its ``market_open``
   when neither the regime nor the limits look at the rest), else it is suppressed.
5. *Risk prechecks*: the market condition filter (``market_closed`` — the forex weekend,
   ``session_not_allowed``, ``liquidity_blocked``, ``volatility_blocked``), then the quote:
   ``no_quote``, ``stale_quote`` when older than ``max_quote_age_seconds``.
6. *Stop and reverse* (strategies that close on the opposite signal): when the prechecks
   pass, the position on the other side is closed at the quote (a buy at the bid, a sell at
   the ask, ``slippage_points`` worse), reason ``reversal`` — unless the terminal's market is
   closed, when it stays open; a position on the signal's side refuses it (``position_held``).
7. *Risk rules*: ``spread_too_wide`` (max points), ``invalid_stop`` / ``stop_too_close``,
   ``invalid_take_profit`` / ``take_profit_too_close`` against the bid (buy) or ask (sell),
   the spread's share of the stop; ``max_open_positions`` / ``max_positions_per_symbol``; the
   volume (fixed: ``invalid_volume``, ``risk_per_trade_exceeded``; else sized by
   :func:`~forexbot.engine.sizing.size_position` on equity); ``max_currency_exposure``;
   ``insufficient_margin`` / ``margin_limit`` (the terminal's margin at the entry price).
   With no position left, equity is the balance.
8. *The order*: an approved order takes the next trade id; the terminal refuses it at a
   closed market, with stops inside the stops level, or without the margin (the trade is then
   rejected, its id spent); else it fills at the ask (buy) or bid (sell), ``slippage_points``
   worse, its SL/TP normalised as the execution manager does. Commission is charged on every
   deal, entry and exit.
9. *The end*: a millisecond before the last bar's close, the last minute is replayed on its
   ticks (a trigger fills at the tick's price), then what is open is closed at the quote,
   reason ``end_of_test`` (if the terminal's market is open then).

Money is the terminal's (:class:`~forexbot.connectors.mt5sim.money.Money`): profit and margin
rounded to cents, the balance moved by each deal's profit + swap + commission; a trade's
figures are its deals' sums as settlement stores them.

The modules: :mod:`~forexbot.backtest.kernel_market` reads the terminal's data,
:mod:`~forexbot.backtest.kernel_screen` screens the signals (rules 4-5),
:mod:`~forexbot.backtest.kernel_rules` runs the loop in Python, reusing the engine's and the
terminal's pure functions, and :mod:`~forexbot.backtest.kernel_jit` runs the same loop
compiled with numba for a fixed volume on a forex symbol (the bulk of optimisation sweeps;
about 3 µs a trade against the Python loop's ~12); this one checks the scope, runs them and
computes the statistics. Both loops are held to the event path by the same parity tests.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from forexbot.backtest.kernel_loops import (
    Run,
    compiled_available,
    compiled_loop,
    compiles,
    python_loop,
)
from forexbot.backtest.kernel_market import EndOfTest, KernelMarket, M1Path, Quotes
from forexbot.backtest.kernel_rules import KernelUnsupported
from forexbot.backtest.kernel_screen import Screen, forex_open
from forexbot.backtest.prices import PriceSeries, read_prices
from forexbot.backtest.runner import BACKTEST_EXECUTION, LAST_MOMENT, BacktestSpec, _terminal
from forexbot.backtest.statistics import ClosedTrade, EquityCurve, Statistics, compute_statistics
from forexbot.clock import ManualClock
from forexbot.connectors.mt5sim.symbols import Catalogue
from forexbot.connectors.mt5sim.timeutil import server_offset
from forexbot.domain.market import SymbolSpec
from forexbot.strategies import create
from forexbot.strategies.base_strategy import Strategy
from forexbot.strategies.manager import StrategyInstance

__all__ = ["KernelResult", "KernelUnsupported", "compiles", "forex_open", "run_kernel", "supports"]


def supports(spec: BacktestSpec) -> str | None:
    """``None`` when the kernel reproduces ``spec``'s backtest, else why not."""
    risk = spec.risk
    reasons = [
        (spec.fill_model != "bars", "only the 'bars' fill model"),
        (not spec.hedging, "only hedging accounts"),
        (spec.management.active, "no trade management (break-even, trailing)"),
        (risk.max_positions_per_symbol != 1, "only max_positions_per_symbol = 1"),
        (risk.cooldown_minutes > 0, "no losing-streak cooldown (cooldown_minutes = 0)"),
        (risk.max_daily_loss_percent < 100, "no daily loss limit (max_daily_loss_percent 100)"),
        (risk.max_drawdown_percent < 100, "no drawdown kill switch (max_drawdown_percent 100)"),
        (spec.sync_every_seconds % 60 != 0, "sync_every_seconds in whole minutes"),
        (spec.execution != BACKTEST_EXECUTION, "the backtest's execution settings"),
    ]
    for failed, reason in reasons:
        if failed:
            return reason
    symbol = Catalogue().get(spec.symbol)
    if symbol is None:
        return f"unknown symbol {spec.symbol!r}"
    if spec.currency not in (symbol.currency_profit, symbol.currency_base):
        return "only symbols quoted in or based on the account currency"
    own_base = (symbol.currency_base, symbol.currency_profit) == (
        symbol.currency_margin,
        spec.currency,
    )
    if symbol.currency_margin != spec.currency and not own_base:
        return "only symbols margined in the account currency or their own base"
    return None


@dataclass(frozen=True, slots=True)
class KernelResult:
    """What the kernel produced: the fields of a :class:`BacktestResult` it reproduces."""

    spec: BacktestSpec
    statistics: Statistics
    trades: tuple[ClosedTrade, ...]
    equity: EquityCurve
    prices: PriceSeries
    signals: int
    admitted: int
    suppressed: dict[str, int]
    rejected: dict[str, int]
    #: Approved orders the terminal refused (closed market, stops, margin): ids spent.
    orders_rejected: int
    #: Exits decided by the intrabar rule (a bar reached both the SL and the TP).
    both_levels: int
    #: Whether the compiled loop (:mod:`~forexbot.backtest.kernel_jit`) ran.
    compiled: bool
    elapsed_seconds: float
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def bars(self) -> int:
        """Bars of the tested period (the warm-up not counted)."""
        return len(self.prices) - self.prices.first


def run_kernel(spec: BacktestSpec, *, compiled: bool | None = None) -> KernelResult:
    """The backtest of ``spec`` through the kernel; :class:`KernelUnsupported` when it is
    outside the kernel's scope (see :func:`supports`). ``compiled``: the numba loop (True),
    the Python loop (False), or the numba loop when installed and :func:`compiles` (None)."""
    reason = supports(spec)
    if reason is not None:
        raise KernelUnsupported(reason)
    with collector_paused():
        return _run_kernel(spec, compiled)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for a run (and back on after, if it was on).

    A run allocates a few objects per decision, none in cycles; but each of the collector's
    full passes walks every object array alive, the strategy's signal reasons among them (a
    million strings on a million bars): ~0.3 s of such passes on MA+RSI over 1M M1 bars.
    Reference counting still frees everything as before; results do not depend on it."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _run_kernel(spec: BacktestSpec, compiled: bool | None) -> KernelResult:
    started = time.perf_counter()
    strategy, instance = strategy_instance(spec)
    window = max(spec.detector.min_bars, strategy.window_bars)
    terminal = _terminal(spec, ManualClock(spec.start))
    terminal.initialize()
    try:
        prices = read_prices(terminal, spec.symbol, spec.timeframe, spec.start, spec.end, window)
        market = KernelMarket(terminal, spec.symbol)
        timings = {"data": time.perf_counter() - started}
        trial = Trial.of(spec, strategy, instance, prices, timings)
        mark = time.perf_counter()
        decided_at = trial.decided_at
        offsets = np.array([server_offset(t) for t in decided_at.tolist()], dtype=np.float64)
        at_msc = ((decided_at + offsets) * 1000).astype(np.int64)
        end = market.end_of_test(float(prices.close_time[-1]) - LAST_MOMENT)
        first_msc = int(at_msc[0]) if len(at_msc) else end.minute_msc
        m1 = market.m1(first_msc // 1000, end.minute_msc // 1000, end.at_msc)
        timings["data"] += time.perf_counter() - mark
        return run_prepared(
            trial,
            market,
            m1,
            end,
            offsets,
            at_msc,
            lambda admitted: _quotes_where(market, at_msc, admitted),
            started,
            compiled,
        )
    finally:
        terminal.shutdown()


def strategy_instance(spec: BacktestSpec) -> tuple[Strategy, StrategyInstance]:
    """The spec's strategy and the instance that screens its signals."""
    strategy = create(spec.strategy, **dict(spec.params))
    instance = StrategyInstance(
        strategy,
        spec.symbol,
        spec.timeframe,
        risk_multiplier=spec.risk_multiplier,
        management=spec.management,
        volume=spec.volume,
    )
    return strategy, instance


@dataclass(frozen=True, slots=True)
class Trial:
    """A strategy's signals over the prices, and the decisions it makes from them: the bars
    with a signal from the first tested one, but the last (the test ends as it closes)."""

    spec: BacktestSpec
    strategy: Strategy
    instance: StrategyInstance
    prices: PriceSeries
    frame: pd.DataFrame
    signals: pd.DataFrame
    fired: NDArray[np.int64]
    decisions: NDArray[np.int64]
    timings: dict[str, float]

    @classmethod
    def of(
        cls,
        spec: BacktestSpec,
        strategy: Strategy,
        instance: StrategyInstance,
        prices: PriceSeries,
        timings: dict[str, float],
    ) -> Trial:
        """The signals of ``strategy`` over ``prices`` (their time goes to ``timings``)."""
        mark = time.perf_counter()
        frame = prices.frame()
        signals = strategy.signals(frame)
        fired = np.flatnonzero(signals["signal"].to_numpy())
        fired = fired[fired >= prices.first]
        decisions = fired[fired < len(prices) - 1]
        timings["signals"] = time.perf_counter() - mark
        return cls(spec, strategy, instance, prices, frame, signals, fired, decisions, timings)

    @property
    def decided_at(self) -> NDArray[np.float64]:
        """The decisions' times: their bars' closes (UTC epochs)."""
        return self.prices.close_time[self.decisions].astype(np.float64)


def run_prepared(
    trial: Trial,
    market: KernelMarket,
    m1: M1Path,
    end: EndOfTest,
    offsets: NDArray[np.float64],
    at_msc: NDArray[np.int64],
    quotes_of: Callable[[NDArray[np.bool_]], Quotes],
    started: float,
    compiled: bool | None,
) -> KernelResult:
    """Screen ``trial``'s decisions, run the loop over ``market`` and compute the statistics:
    the kernel's result. ``offsets`` and ``at_msc`` are the decisions' server offsets and
    server times; ``quotes_of(admitted)`` the quotes where a decision was admitted (a
    suppressed signal needs none). Whoever read the market (:func:`run_kernel`, a shared
    market of an optimisation) calls this with it."""
    spec, strategy, timings = trial.spec, trial.strategy, trial.timings
    decisions, signals = trial.decisions, trial.signals
    mark = time.perf_counter()
    screen = Screen(trial.instance, trial.prices, trial.frame, signals, spec)
    admitted, refused = screen.run(decisions)
    timings["conditions"] = time.perf_counter() - mark
    mark = time.perf_counter()
    quotes = quotes_of(admitted)
    decided_at = trial.decided_at
    # The quote's age as the risk manager computes it: now - the tick's UTC time.
    ages = decided_at - (quotes.tick_msc / 1000.0 - offsets)
    timings["data"] += time.perf_counter() - mark
    mark = time.perf_counter()
    run = Run(
        at_msc=at_msc,
        at_utc=decided_at,
        bars=np.searchsorted(m1.start, at_msc // 1000),
        sides=signals["signal"].to_numpy()[decisions].astype(np.int64),
        sls=signals["sl"].to_numpy(dtype=np.float64)[decisions],
        tps=signals["tp"].to_numpy(dtype=np.float64)[decisions],
        admitted=admitted,
        refused=refused,
        ages=ages,
    )
    if compiled is None:
        compiled = compiled_available() and compiles(spec, market)
    loop = compiled_loop if compiled else python_loop
    outcome = loop(spec, market, m1, quotes, end, run, strategy.name, strategy.closes_on_opposite)
    timings["engine"] = time.perf_counter() - mark
    mark = time.perf_counter()
    trades = outcome.trades
    curve = equity_curve(trial.prices, trades, market.spec, spec.balance, spec.start)
    statistics = compute_statistics(trades, curve, spec.balance, spec.start, spec.end)
    timings["statistics"] = time.perf_counter() - mark
    return KernelResult(
        spec=spec,
        statistics=statistics,
        trades=trades,
        equity=curve,
        prices=trial.prices,
        signals=len(trial.fired),
        admitted=trial.instance.signals,
        suppressed=dict(trial.instance.suppressed_by),
        rejected=outcome.rejected,
        orders_rejected=outcome.orders_rejected,
        both_levels=outcome.both_levels,
        compiled=compiled,
        elapsed_seconds=time.perf_counter() - started,
        timings=timings,
    )


def _quotes_where(
    market: KernelMarket, at_msc: NDArray[np.int64], wanted: NDArray[np.bool_]
) -> Quotes:
    """The quotes at the ``wanted`` times (NaN, closed, elsewhere)."""
    picked = np.flatnonzero(wanted)
    some = market.quotes(at_msc[picked])
    n = len(at_msc)
    bid, ask = np.full(n, np.nan), np.full(n, np.nan)
    tick_msc = np.zeros(n, dtype=np.int64)
    market_open = np.zeros(n, dtype=np.bool_)
    bid[picked], ask[picked] = some.bid, some.ask
    tick_msc[picked], market_open[picked] = some.tick_msc, some.market_open
    return Quotes(at_msc, bid, ask, tick_msc, market_open)


def equity_curve(
    prices: PriceSeries,
    trades: Sequence[ClosedTrade],
    spec: SymbolSpec,
    initial_balance: float,
    start: float,
) -> EquityCurve:
    """:func:`~forexbot.backtest.equity.mark_to_market` for trades one after another (never
    two open at once, as the kernel's are), without a Python loop over the trades and with
    the same floats: at a bar close, the balance plus the nets of the trades closed before it
    (added in trade order, as the loop adds them: a running sum), plus the floating profit of
    the trade open then (``factor × sign × (mark − entry)``, the same operations)."""
    closes_at = prices.close_time[prices.first :].astype(np.float64)
    bid = prices.close[prices.first :]
    ask = bid + prices.spread[prices.first :] * spec.point
    n = len(closes_at)
    if not trades:
        equity = np.full(n, initial_balance, dtype=np.float64)
        return EquityCurve(np.r_[start, closes_at], np.r_[initial_balance, equity])
    sign = np.array([1.0 if t.side == "buy" else -1.0 for t in trades])
    entry = np.array([t.entry_price for t in trades])
    exit_ = np.array([t.exit_price for t in trades])
    profit = np.array([t.profit for t in trades])
    volume = np.array([t.volume for t in trades])
    net = np.array([t.net for t in trades])
    move = sign * (exit_ - entry)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(
            np.abs(move) > spec.point * 1e-6, profit / move, volume * spec.contract_size
        )
    lo = np.searchsorted(closes_at, [t.open_time for t in trades], side="left")
    hi = np.searchsorted(closes_at, [t.close_time for t in trades], side="left")
    # Nets closed at or before each bar: a running sum in trade order from the balance.
    running = np.cumsum(np.r_[initial_balance, net])
    closed_before = np.searchsorted(hi, np.arange(n), side="right")
    equity = running[closed_before]
    lengths = hi - lo
    owner = np.repeat(np.arange(len(trades)), lengths)
    bars = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    bars += np.repeat(lo, lengths)
    mark = np.where(sign[owner] > 0, bid[bars], ask[bars])
    equity[bars] = equity[bars] + (factor * sign)[owner] * (mark - entry[owner])
    return EquityCurve(np.r_[start, closes_at], np.r_[initial_balance, equity])
