"""The kernel's two loops over the same prepared decisions: Python and compiled.

:func:`python_loop` runs :class:`~forexbot.backtest.kernel_rules.Rules`;
:func:`compiled_loop` packs the same inputs into arrays for
:func:`forexbot.backtest.kernel_jit.run` and turns its output back into trades and counts.
:func:`compiles` says which runs the compiled loop covers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from forexbot.backtest.kernel_market import EndOfTest, KernelMarket, M1Path, Quotes, midnights
from forexbot.backtest.kernel_rules import KernelUnsupported, Rules, utc_of
from forexbot.backtest.runner import BacktestSpec
from forexbot.backtest.statistics import ClosedTrade
from forexbot.connectors.mt5_constants import SYMBOL_CALC_MODE_FOREX, SYMBOL_SWAP_MODE_POINTS
from forexbot.connectors.mt5sim.desk import EPSILON
from forexbot.connectors.mt5sim.timeutil import DAY, weekday
from forexbot.domain.rejection import RejectCode
from forexbot.engine import risk_checks as checks
from forexbot.engine.exposure import legs

try:  # the compiled loop is optional: the Python loop runs every spec the kernel supports
    from forexbot.backtest import kernel_jit
except ImportError:  # pragma: no cover - numba not installed
    kernel_jit = None  # type: ignore[assignment]


def compiled_available() -> bool:
    """Whether numba is installed (the compiled loop can run)."""
    return kernel_jit is not None


def compiles(spec: BacktestSpec, market: KernelMarket) -> bool:
    """Whether the compiled loop covers the run: a fixed volume on a forex symbol quoted in
    the account currency (else the Python loop runs)."""
    sym = market.terminal_spec
    return (
        spec.volume is not None
        and sym.calc_mode == SYMBOL_CALC_MODE_FOREX
        and sym.currency_profit == spec.currency
    )


@dataclass(frozen=True, slots=True)
class Run:
    """The decisions, as the loops take them."""

    at_msc: NDArray[np.int64]
    at_utc: NDArray[np.float64]
    bars: NDArray[np.int64]
    sides: NDArray[np.int64]
    sls: NDArray[np.float64]
    tps: NDArray[np.float64]
    admitted: NDArray[np.bool_]
    refused: list[RejectCode | None]
    ages: NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Outcome:
    trades: tuple[ClosedTrade, ...]
    rejected: dict[str, int]
    orders_rejected: int
    both_levels: int


def python_loop(
    spec: BacktestSpec,
    market: KernelMarket,
    m1: M1Path,
    quotes: Quotes,
    end: EndOfTest,
    run: Run,
    name: str,
    reverse: bool,
) -> Outcome:
    """The loop of :mod:`~forexbot.backtest.kernel_rules`."""
    rules = Rules(spec, market, m1, name, reverse)
    sides, sls, tps = run.sides.tolist(), run.sls.tolist(), run.tps.tolist()
    bids, asks = quotes.bid.tolist(), quotes.ask.tolist()
    ages, opens = run.ages.tolist(), quotes.market_open.tolist()
    bars, utc, admitted = run.bars.tolist(), run.at_utc.tolist(), run.admitted.tolist()
    volume, multiplier = spec.volume, spec.risk_multiplier
    for k, when in enumerate(run.at_msc.tolist()):
        rules.advance(when, bars[k])
        if not admitted[k]:
            continue
        bid = bids[k]
        quote = None if math.isnan(bid) else (bid, asks[k], ages[k])  # no tick at all
        rules.decide(
            when,
            utc[k],
            bars[k],
            sides[k],
            sls[k],
            tps[k],
            volume,
            multiplier,
            run.refused[k],
            quote,
            opens[k],
        )
    rules.finish(end)
    return Outcome(
        tuple(rules.trades), dict(rules.rejected), rules.orders_rejected, rules.both_levels
    )


def compiled_loop(
    spec: BacktestSpec,
    market: KernelMarket,
    m1: M1Path,
    quotes: Quotes,
    end: EndOfTest,
    run: Run,
    name: str,
    reverse: bool,
) -> Outcome:
    """The loop of :mod:`~forexbot.backtest.kernel_jit` (the same rules, compiled)."""
    if kernel_jit is None:
        raise KernelUnsupported("numba is not installed: the compiled loop cannot run")
    if not compiles(spec, market):
        raise KernelUnsupported(
            "the compiled loop takes a fixed volume, a symbol quoted in the account currency"
        )
    assert spec.volume is not None
    sym, dspec, risk = market.terminal_spec, market.spec, spec.risk
    problem = checks.manual_volume(spec.volume, dspec)
    volume = dspec.round_volume(spec.volume) if problem is None else 0.0
    volume_code = -1 if problem is None else kernel_jit.INDEX[problem.code]
    first = int(run.at_msc[0]) if len(run.at_msc) else end.minute_msc
    nights = midnights(first, end.at_msc + 1)
    traded = np.array([market.traded_on(m) for m in nights.tolist()], dtype=np.bool_)
    days = nights // (DAY * 1000) - 1
    triple = (np.array([weekday(d) for d in days.tolist()], dtype=np.int64) + 1) % 7
    swap_days = np.where(triple == sym.swap_rollover3days, 3, 1).astype(np.int64)
    has_bars = len(m1.start) > 0
    price_range = float(m1.ask_high.max() - m1.bid_low.min()) if has_bars else 0.0
    n_days = len(np.unique(m1.start // DAY)) + 3
    swaps = not spec.swap_free and sym.swap_mode == SYMBOL_SWAP_MODE_POINTS
    swaps = swaps and bool(sym.swap_long or sym.swap_short)
    worst_swap = max(abs(sym.swap_long), abs(sym.swap_short)) * 3  # a triple rollover, a lot
    swap_day = worst_swap * sym.point * sym.contract_size if swaps else 0.0
    spread_limit = risk.max_spread_points.get(dspec.name)
    fp = np.array(
        [
            sym.point,
            sym.contract_size,
            float(spec.leverage),
            sym.margin_rate,
            volume,
            spec.slippage_points * sym.point,
            spec.commission_per_lot,
            spec.balance,
            risk.max_quote_age_seconds,
            -1.0 if spread_limit is None else float(spread_limit),
            risk.max_spread_stop_percent,
            risk.risk_per_trade_percent,
            spec.risk_multiplier,
            risk.max_exposure_per_currency_percent,
            risk.max_margin_usage_percent,
            dspec.tick_size,
            dspec.tick_value,
            sym.swap_long,
            sym.swap_short,
            market.stop_out,
            price_range,
            swap_day,
            EPSILON,
            float(n_days),
        ],
        dtype=np.float64,
    )
    long_leg, _ = legs(dspec)
    ip = np.array(
        [
            sym.digits,
            dspec.stops_level,
            int(reverse),
            risk.max_open_positions,
            int(sym.currency_margin == spec.currency),
            int(long_leg != spec.currency),
            volume_code,
            int(swaps),
        ],
        dtype=np.int64,
    )
    refused = np.array(
        [-1 if code is None else kernel_jit.INDEX[code] for code in run.refused], dtype=np.int64
    )
    n = len(run.at_msc)
    out_f = np.zeros((n + 1, 7), dtype=np.float64)
    out_i = np.zeros((n + 1, 5), dtype=np.int64)
    counts = np.zeros(len(kernel_jit.CODES), dtype=np.int64)
    has_quote = ~np.isnan(quotes.bid)
    q = end.quote
    end_bar = int(np.searchsorted(m1.start, end.minute_msc // 1000))
    outcome, n_trades, _, refused_orders, both = kernel_jit.run(
        run.at_msc,
        run.at_utc,
        run.bars,
        run.sides,
        run.sls,
        run.tps,
        run.admitted,
        refused,
        has_quote,
        np.nan_to_num(quotes.bid),
        np.nan_to_num(quotes.ask),
        run.ages,
        quotes.market_open,
        m1.start,
        m1.stamp,
        m1.bid_open,
        m1.bid_low,
        m1.bid_high,
        m1.ask_open,
        m1.ask_low,
        m1.ask_high,
        nights,
        traded,
        swap_days,
        end.at_msc,
        end.minute_msc,
        end_bar,
        end.tick_msc,
        end.tick_bid,
        end.tick_ask,
        not math.isnan(float(q.bid[0])),
        float(np.nan_to_num(q.bid[0])),
        float(np.nan_to_num(q.ask[0])),
        bool(q.market_open[0]),
        fp,
        ip,
        out_f,
        out_i,
        counts,
    )
    if outcome == kernel_jit.STOP_OUT:
        raise KernelUnsupported("the margin level may reach the stop-out")
    trades = []
    label = {1: "buy", -1: "sell"}
    for row_i, row_f in zip(out_i[:n_trades].tolist(), out_f[:n_trades].tolist(), strict=True):
        close_utc = row_f[1] if not math.isnan(row_f[1]) else utc_of(row_i[3])
        trades.append(
            ClosedTrade(
                row_i[0],
                name,
                spec.symbol,
                label[row_i[1]],
                volume,
                row_f[0],
                close_utc,
                row_f[2],
                row_f[3],
                row_f[4],
                row_f[5],
                row_f[6],
                kernel_jit.REASONS[row_i[4]],
            )
        )
    rejected = {kernel_jit.CODES[i].value: int(c) for i, c in enumerate(counts.tolist()) if c}
    return Outcome(tuple(trades), rejected, int(refused_orders), int(both))
