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
sync intervals of whole minutes, and a symbol whose profit currency is the account's (its
margin currency the account's or its own base). A stop-out inside the run is not reproduced:
the kernel raises :class:`KernelUnsupported` when the margin level would reach it.

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
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from forexbot.backtest.equity import mark_to_market
from forexbot.backtest.kernel_market import EndOfTest, KernelMarket, M1Path, midnights
from forexbot.backtest.prices import PriceSeries, read_prices
from forexbot.backtest.runner import LAST_MOMENT, BacktestSpec, _terminal
from forexbot.backtest.statistics import ClosedTrade, EquityCurve, Statistics, compute_statistics
from forexbot.clock import ManualClock
from forexbot.config.models import RiskSettings
from forexbot.connectors.mt5_constants import (
    ORDER_TYPE_BUY,
    ORDER_TYPE_SELL,
    SYMBOL_SWAP_MODE_POINTS,
)
from forexbot.connectors.mt5sim.desk import EPSILON
from forexbot.connectors.mt5sim.money import Money
from forexbot.connectors.mt5sim.symbols import Catalogue
from forexbot.connectors.mt5sim.timeutil import DAY, server_offset, weekday
from forexbot.connectors.mt5sim.validation import stops_ok
from forexbot.domain.market import Tick
from forexbot.domain.rejection import RejectCode
from forexbot.domain.trading import Side
from forexbot.engine import risk_checks as checks
from forexbot.engine.exposure import legs
from forexbot.engine.orders import normalise_stops
from forexbot.engine.sizing import loss_per_lot, size_position
from forexbot.errors import ForexbotError
from forexbot.market_condition.series import ConditionSeries
from forexbot.market_condition.sessions import NEW_YORK, WEEKEND_BOUNDARY
from forexbot.strategies import create
from forexbot.strategies.base_strategy import signal_on
from forexbot.strategies.manager import StrategyInstance, admit
from forexbot.strategies.regime import is_synthetic_index

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
DAY_MS = DAY * 1000


class KernelUnsupported(ForexbotError):
    """The backtest needs a rule the kernel does not reproduce (run the event path)."""


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
    ]
    for failed, reason in reasons:
        if failed:
            return reason
    symbol = Catalogue().get(spec.symbol)
    if symbol is None:
        return f"unknown symbol {spec.symbol!r}"
    if symbol.currency_profit != spec.currency:
        return "only symbols whose profit currency is the account's"
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
    orders_rejected: int
    #: Exits decided by the intrabar rule (a bar reached both the SL and the TP).
    both_levels: int
    elapsed_seconds: float
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(slots=True)
class _Position:
    id: int
    side: int  # +1 buy, -1 sell
    volume: float
    price: float
    sl: float
    tp: float
    open_msc: int
    commission: float
    swap: float = 0.0
    next_bar: int = 0  # the first M1 bar not checked yet
    swept_msc: int = 0  # midnights before this are charged


def forex_open(utc_seconds: I64) -> NDArray[np.bool_]:
    """:func:`~forexbot.market_condition.sessions.forex_open` at many UTC times at once."""
    local = pd.DatetimeIndex(pd.to_datetime(utc_seconds, unit="s", utc=True)).tz_convert(NEW_YORK)
    day = np.asarray(local.day_of_week)
    minutes = np.asarray(local.hour) * 60 + np.asarray(local.minute)
    seconds = minutes * 60 + np.asarray(local.second)
    boundary = WEEKEND_BOUNDARY.hour * 3600 + WEEKEND_BOUNDARY.minute * 60
    friday, saturday, sunday = 4, 5, 6
    out = np.ones(len(utc_seconds), dtype=np.bool_)
    out[day == saturday] = False
    out[(day == friday) & (seconds >= boundary)] = False
    out[(day == sunday) & (seconds < boundary)] = False
    return out


def _utc(server_msc: int) -> float:
    """A terminal time (server msc) as the engine stores it: the connector's UTC seconds
    through a datetime (microseconds)."""
    seconds = server_msc / 1000.0
    offset = server_offset(seconds - 3 * 3600)
    offset = server_offset(seconds - offset)
    return datetime.fromtimestamp(seconds - offset, tz=UTC).timestamp()


class _Screen:
    """Steps 4-5 of the module docstring for every decision: the regime screen and the
    market-condition filter's refusal (or ``None``)."""

    def __init__(
        self,
        instance: StrategyInstance,
        prices: PriceSeries,
        frame: pd.DataFrame,
        signals: pd.DataFrame,
        spec: BacktestSpec,
    ) -> None:
        self.instance = instance
        self._prices = prices
        self._frame = frame
        self._signals = signals
        self._spec = spec

    def run(self, decisions: I64) -> tuple[NDArray[np.bool_], list[RejectCode | None]]:
        spec, settings = self._spec, self._spec.risk
        synthetic = is_synthetic_index(spec.symbol)
        regime = self.instance.strategy.regime
        only_open = (
            regime.accepts_anything
            and settings.allowed_sessions is None
            and not settings.blocked_liquidity
            and not settings.blocked_volatility
        )
        admitted = np.ones(len(decisions), dtype=np.bool_)
        refused: list[RejectCode | None] = [None] * len(decisions)
        if only_open:
            # The condition exists from the detector's min_bars; only market_open can refuse.
            closes = self._prices.close_time[decisions]
            market_open = np.ones(len(decisions), dtype=np.bool_)
            if not synthetic:
                market_open = forex_open(closes)
            known = decisions + 1 >= spec.detector.min_bars
            for k in np.flatnonzero(known & ~market_open).tolist():
                refused[k] = RejectCode.MARKET_CLOSED
            self.instance.signals += len(decisions)
            return admitted, refused
        conditions = ConditionSeries(
            self._frame, spec.symbol, spec.timeframe, spec.detector, synthetic=synthetic
        )
        rows = self._signals.iloc[decisions].to_dict("records")
        for k, (i, row) in enumerate(zip(decisions.tolist(), rows, strict=True)):
            signal = signal_on(self.instance.strategy.name, self._prices.bar(i), row)
            if signal is None:  # a decision is a signal bar: never
                admitted[k] = False
                continue
            passed = admit(self.instance, signal, conditions.at(i))
            if passed is None:
                admitted[k] = False
                continue
            rejection = checks.market_condition(passed.market_condition, settings)
            refused[k] = None if rejection is None else rejection.code
        return admitted, refused


class _Kernel:
    """One run of the rules (see the module docstring) over prepared arrays."""

    def __init__(
        self,
        spec: BacktestSpec,
        market: KernelMarket,
        m1: M1Path,
        strategy_name: str,
        closes_on_opposite: bool,
    ) -> None:
        self.spec = spec
        self.market = market
        self.m1 = m1
        self.name = strategy_name
        self.reverse = closes_on_opposite
        self.symbol = market.terminal_spec
        self.dspec = market.spec
        self.money = Money(Catalogue(), spec.currency, spec.leverage, self._no_quote)
        self.balance = spec.balance
        self.pos: _Position | None = None
        self.next_id = 1
        self.trades: list[ClosedTrade] = []
        self.rejected: Counter[str] = Counter()
        self.orders_rejected = 0
        self.both_levels = 0  # exits from a bar that reached both the SL and the TP
        self.slip = spec.slippage_points * self.symbol.point
        swap_points = (self.symbol.swap_long, self.symbol.swap_short)
        self.swaps = (
            not spec.swap_free
            and self.symbol.swap_mode == SYMBOL_SWAP_MODE_POINTS
            and any(swap_points)
        )

    @staticmethod
    def _no_quote(_symbol: str) -> tuple[float, float] | None:
        # supports() admits only symbols whose money converts at their own price
        raise KernelUnsupported("a currency conversion through another symbol's quote")

    # -- money ------------------------------------------------------------------------------

    def _commission(self, volume: float) -> float:
        per_lot = self.spec.commission_per_lot
        return -round(per_lot * volume, 2) if per_lot else 0.0

    def _margin(self, side: int, volume: float, price: float) -> float:
        order_type = ORDER_TYPE_BUY if side > 0 else ORDER_TYPE_SELL
        return self.money.margin(order_type, self.symbol, volume, price) or 0.0

    def _close(self, pos: _Position, price: float, at_msc: int, reason: str) -> None:
        order_type = ORDER_TYPE_BUY if pos.side > 0 else ORDER_TYPE_SELL
        profit = self.money.profit(order_type, self.symbol, pos.volume, pos.price, price) or 0.0
        commission = self._commission(pos.volume)
        self.balance = round(self.balance + profit + pos.swap + commission, 2)
        self.trades.append(
            ClosedTrade(
                id=pos.id,
                strategy=self.name,
                symbol=self.spec.symbol,
                side="buy" if pos.side > 0 else "sell",
                volume=pos.volume,
                open_time=_utc(pos.open_msc),
                close_time=_utc(at_msc),
                entry_price=pos.price,
                exit_price=round(price * pos.volume / pos.volume, 8),
                profit=round(profit, 2),
                swap=round(pos.swap, 2),
                commission=round(pos.commission + commission, 2),
                close_reason=reason,
            )
        )
        self.pos = None

    # -- the market between decisions --------------------------------------------------------

    def _charge_swaps(self, pos: _Position, until_msc: int) -> None:
        """Rollovers at midnights in ``[swept, until)`` (see rule 3)."""
        if until_msc <= pos.swept_msc:
            return
        if self.swaps:
            sym = self.symbol
            for midnight in midnights(pos.swept_msc, until_msc - 1).tolist():
                if not self.market.traded_on(midnight):
                    continue
                day = midnight // DAY_MS - 1
                days = 3 if (weekday(day) + 1) % 7 == sym.swap_rollover3days else 1
                points = sym.swap_long if pos.side > 0 else sym.swap_short
                amount = points * sym.point * sym.contract_size * pos.volume * days
                pos.swap = round(pos.swap + amount * 1.0, 2)
        pos.swept_msc = until_msc

    def _stop_out_possible(self, pos: _Position, worst: F64) -> bool:
        """Whether the margin level reaches the stop-out at any of ``worst`` prices (with a
        margin for the swaps accrued meanwhile): the kernel does not reproduce stop-outs."""
        if not len(worst):
            return False
        sym = self.symbol
        moved = (worst - pos.price) * pos.side
        lowest = float(np.min(moved)) * sym.contract_size * pos.volume
        margin = self._margin(pos.side, pos.volume, pos.price)
        equity = self.balance + lowest - abs(pos.swap) - 1.0
        return equity * 100.0 <= self.market.stop_out * margin * 1.01

    def _advance_bars(self, until_msc: int) -> None:
        """Replay the M1 bars opening before ``until`` (a whole minute) for the position."""
        pos = self.pos
        if pos is None:
            return
        m1 = self.m1
        lo = pos.next_bar
        hi = int(np.searchsorted(m1.start, until_msc // 1000, side="left"))
        if hi > lo:
            buy = pos.side > 0
            if buy:
                opened, low, high = m1.bid_open[lo:hi], m1.bid_low[lo:hi], m1.bid_high[lo:hi]
                sl_hit = low <= pos.sl if pos.sl else None
                tp_hit = high >= pos.tp if pos.tp else None
            else:
                opened, low, high = m1.ask_open[lo:hi], m1.ask_low[lo:hi], m1.ask_high[lo:hi]
                sl_hit = high >= pos.sl if pos.sl else None
                tp_hit = low <= pos.tp if pos.tp else None
            hit = _either(sl_hit, tp_hit, hi - lo)
            e = _first(hit)
            worst = low if buy else high
            if self._stop_out_possible(pos, worst[: hi - lo if e is None else e]):
                raise KernelUnsupported("the margin level may reach the stop-out")
            if e is not None:
                stamp = int(m1.stamp[lo + e])
                s_hit = bool(sl_hit[e]) if sl_hit is not None else False
                t_hit = bool(tp_hit[e]) if tp_hit is not None else False
                o = float(opened[e])
                kind = "sl" if s_hit else "tp"
                if s_hit and t_hit:  # the level nearer the bar's open first
                    self.both_levels += 1
                    kind = "sl" if abs(o - pos.sl) <= abs(o - pos.tp) else "tp"
                level = pos.sl if kind == "sl" else pos.tp
                sign = 1.0 if buy else -1.0
                past = sign * (o - level) <= 0 if kind == "sl" else sign * (o - level) >= 0
                self._charge_swaps(pos, stamp)
                reason = "stop_loss" if kind == "sl" else "take_profit"
                self._close(pos, o if past else level, stamp, reason)
                return
        pos.next_bar = max(lo, hi)
        self._charge_swaps(pos, until_msc)

    def _advance_ticks(self, end: EndOfTest) -> None:
        """The last minute on its ticks (a trigger fills at the tick's price)."""
        pos = self.pos
        if pos is None:
            return
        after = end.tick_msc > max(pos.open_msc, end.minute_msc - 1)
        buy = pos.side > 0
        price = end.tick_bid if buy else end.tick_ask
        none = np.zeros(len(price), dtype=np.bool_)
        sl_hit = (price <= pos.sl if buy else price >= pos.sl) if pos.sl else none
        tp_hit = (price >= pos.tp if buy else price <= pos.tp) if pos.tp else none
        e = _first(after & (sl_hit | tp_hit))
        before = after if e is None else after & (np.arange(len(price)) < e)
        if self._stop_out_possible(pos, price[before]):
            raise KernelUnsupported("the margin level may reach the stop-out")
        if e is not None:
            stamp = int(end.tick_msc[e])
            self._charge_swaps(pos, stamp)
            reason = "stop_loss" if bool(sl_hit[e]) else "take_profit"
            self._close(pos, float(price[e]), stamp, reason)
            return
        self._charge_swaps(pos, end.at_msc + 1)

    # -- decisions ---------------------------------------------------------------------------

    def decide(
        self,
        at_msc: int,
        side: int,
        sl: float,
        tp: float,
        volume: float | None,
        risk_multiplier: float,
        refused: RejectCode | None,
        tick: Tick | None,
        market_open: bool,
    ) -> None:
        """One admitted signal at ``at_msc`` (rules 5-8)."""
        s = self.spec.risk
        if refused is None:
            refused = self._quote_refusal(tick, at_msc, s)
        if self.reverse:
            if refused is not None:
                self.rejected[refused.value] += 1
                return
            pos = self.pos
            if pos is not None and pos.side != side and market_open:
                assert tick is not None
                self._close(pos, self._exit_fill(pos.side, tick), at_msc, "reversal")
            if self.pos is not None and self.pos.side == side:
                self.rejected[RejectCode.POSITION_HELD.value] += 1
                return
        if refused is not None:
            self.rejected[refused.value] += 1
            return
        assert tick is not None
        code, volume = self._evaluate(side, sl, tp, volume, risk_multiplier, tick, s)
        if code is not None:
            self.rejected[code.value] += 1
            return
        assert volume is not None
        trade_id = self.next_id
        self.next_id += 1
        self._order(trade_id, at_msc, side, sl, tp, volume, tick, market_open)

    def _quote_refusal(self, tick: Tick | None, at_msc: int, s: RiskSettings) -> RejectCode | None:
        if tick is None:
            return RejectCode.NO_QUOTE
        now = _utc(at_msc)
        return RejectCode.STALE_QUOTE if now - tick.time > s.max_quote_age_seconds else None

    def _exit_fill(self, side: int, tick: Tick) -> float:
        """A market close of a ``side`` position: a buy sells at the bid, a sell buys at the
        ask, ``slippage_points`` worse."""
        price = tick.bid if side > 0 else tick.ask
        if self.slip:
            price = round(price - self.slip if side > 0 else price + self.slip, self.symbol.digits)
        return price

    def _evaluate(
        self,
        side: int,
        sl: float,
        tp: float,
        volume: float | None,
        risk_multiplier: float,
        tick: Tick,
        s: RiskSettings,
    ) -> tuple[RejectCode | None, float | None]:
        spec = self.dspec
        point = spec.point
        tolerance = point * 1e-3
        bid, ask = tick.bid, tick.ask
        entry = ask if side > 0 else bid
        trigger = bid if side > 0 else ask
        points = (ask - bid) / point
        most = s.max_spread_points.get(spec.name)
        if most is not None and points > most + 1e-6:
            return RejectCode.SPREAD_TOO_WIDE, None
        distance = (trigger - sl) * side
        if distance <= 0:
            return RejectCode.INVALID_STOP, None
        if distance < spec.stops_level * point - tolerance:
            return RejectCode.STOP_TOO_CLOSE, None
        if tp:
            target = (tp - trigger) * side
            if target <= tolerance:
                return RejectCode.INVALID_TAKE_PROFIT, None
            if target < spec.stops_level * point - tolerance:
                return RejectCode.TAKE_PROFIT_TOO_CLOSE, None
        stop_points = abs(entry - sl) / point
        share = points / stop_points * 100 if stop_points else 100.0
        if share > s.max_spread_stop_percent:
            return RejectCode.SPREAD_TOO_WIDE, None
        held = 0 if self.pos is None else 1
        if held >= s.max_open_positions:
            return RejectCode.MAX_OPEN_POSITIONS, None
        if held >= 1:
            return RejectCode.MAX_POSITIONS_PER_SYMBOL, None
        equity = self.balance  # nothing open
        if volume is None:
            sizing = size_position(
                equity, s.risk_per_trade_percent, entry, sl, spec, risk_multiplier
            )
            if sizing.refusal is not None:
                return sizing.refusal.code, None
            volume = sizing.volume
        else:
            problem = checks.manual_volume(volume, spec)
            if problem is not None:
                return problem.code, None
            volume = spec.round_volume(volume)
            risk_amount = volume * loss_per_lot(entry, sl, spec)
            max_risk = equity * s.risk_per_trade_percent / 100.0 * risk_multiplier
            if risk_amount > max_risk + 1e-9:
                return RejectCode.RISK_PER_TRADE_EXCEEDED, None
        if self._exposure_breached(side, volume, entry, equity, s):
            return RejectCode.MAX_CURRENCY_EXPOSURE, None
        required = self._margin(side, volume, entry)
        if required > equity:  # free margin = equity with nothing open
            return RejectCode.INSUFFICIENT_MARGIN, None
        if required > equity * s.max_margin_usage_percent / 100:
            return RejectCode.MARGIN_LIMIT, None
        return None, volume

    def _exposure_breached(
        self, side: int, volume: float, entry: float, equity: float, s: RiskSettings
    ) -> bool:
        spec = self.dspec
        if spec.tick_size <= 0:
            return False
        amount = volume * entry * spec.tick_value / spec.tick_size * side
        long_leg, short_leg = legs(spec)
        exposure: dict[str, float] = {long_leg: amount}
        if short_leg is not None:
            exposure[short_leg] = exposure.get(short_leg, 0.0) - amount
        exposure.pop(self.spec.currency, None)
        limit = equity * s.max_exposure_per_currency_percent / 100
        return any(abs(v) > limit and abs(v) > 0.0 + 1e-9 for v in exposure.values())

    def _order(
        self,
        trade_id: int,
        at_msc: int,
        side: int,
        sl: float,
        tp: float,
        volume: float,
        tick: Tick,
        market_open: bool,
    ) -> None:
        """Rule 8: the terminal fills or refuses the approved order."""
        sym = self.symbol
        stops = normalise_stops(Side(side), sl, tp, tick, self.dspec)
        if not market_open:
            self.orders_rejected += 1
            return
        buy = side > 0
        price = tick.ask if buy else tick.bid
        if self.slip:
            price = round(price + self.slip if buy else price - self.slip, sym.digits)
        sl_r, tp_r = round(stops.sl, sym.digits), round(stops.tp, sym.digits)
        if not stops_ok(sym, buy, tick.bid if buy else tick.ask, sl_r, tp_r):
            self.orders_rejected += 1
            return
        if self._margin(side, volume, price) > self.balance + EPSILON:
            self.orders_rejected += 1
            return
        commission = self._commission(volume)
        self.balance = round(self.balance + 0.0 + 0.0 + commission, 2)
        first_bar = int(np.searchsorted(self.m1.start, at_msc // 1000, side="left"))
        self.pos = _Position(
            id=trade_id,
            side=side,
            volume=volume,
            price=price,
            sl=sl_r,
            tp=tp_r,
            open_msc=at_msc,
            commission=commission,
            next_bar=first_bar,
            swept_msc=at_msc,
        )

    def finish(self, end: EndOfTest) -> None:
        """Rule 9."""
        self._advance_bars(end.minute_msc)
        self._advance_ticks(end)
        pos = self.pos
        q = end.quote
        if pos is None or math.isnan(float(q.bid[0])) or not bool(q.market_open[0]):
            return
        tick = Tick(self.spec.symbol, 0.0, float(q.bid[0]), float(q.ask[0]))
        self._close(pos, self._exit_fill(pos.side, tick), end.at_msc, "end_of_test")


def _either(a: NDArray[np.bool_] | None, b: NDArray[np.bool_] | None, n: int) -> NDArray[np.bool_]:
    if a is None and b is None:
        return np.zeros(n, dtype=np.bool_)
    if a is None:
        assert b is not None
        return b
    return a if b is None else a | b


def _first(mask: NDArray[np.bool_]) -> int | None:
    if not mask.size:
        return None
    index = int(np.argmax(mask))
    return index if mask[index] else None


def run_kernel(spec: BacktestSpec) -> KernelResult:
    """The backtest of ``spec`` through the kernel; :class:`KernelUnsupported` when it is
    outside the kernel's scope (see :func:`supports`)."""
    reason = supports(spec)
    if reason is not None:
        raise KernelUnsupported(reason)
    started = time.perf_counter()
    strategy = create(spec.strategy, **dict(spec.params))
    instance = StrategyInstance(
        strategy,
        spec.symbol,
        spec.timeframe,
        risk_multiplier=spec.risk_multiplier,
        management=spec.management,
        volume=spec.volume,
    )
    window = max(spec.detector.min_bars, strategy.window_bars)
    terminal = _terminal(spec, ManualClock(spec.start))
    terminal.initialize()
    try:
        prices = read_prices(terminal, spec.symbol, spec.timeframe, spec.start, spec.end, window)
        market = KernelMarket(terminal, spec.symbol)
        timings = {"data": time.perf_counter() - started}
        mark = time.perf_counter()
        frame = prices.frame()
        signals = strategy.signals(frame)
        side = signals["signal"].to_numpy()
        all_decisions = np.flatnonzero(side)
        all_decisions = all_decisions[all_decisions >= prices.first]
        timings["signals"] = time.perf_counter() - mark
        mark = time.perf_counter()
        closes = prices.close_time
        decisions = all_decisions[all_decisions < len(prices) - 1]
        at_msc = np.array([_server_msc(float(closes[i])) for i in decisions.tolist()], np.int64)
        last = float(closes[-1]) - LAST_MOMENT
        end = market.end_of_test(last)
        first_msc = int(at_msc[0]) if len(at_msc) else end.minute_msc
        m1 = market.m1(first_msc // 1000, end.minute_msc // 1000, end.at_msc)
        quotes = market.quotes(at_msc)
        timings["data"] += time.perf_counter() - mark
        mark = time.perf_counter()
        admitted, refused = _Screen(instance, prices, frame, signals, spec).run(decisions)
        kernel = _Kernel(spec, market, m1, strategy.name, strategy.closes_on_opposite)
        sides = side[decisions].astype(np.int64).tolist()
        sls = signals["sl"].to_numpy(dtype=np.float64)[decisions].tolist()
        tps = signals["tp"].to_numpy(dtype=np.float64)[decisions].tolist()
        for k, when in enumerate(at_msc.tolist()):
            kernel._advance_bars(when)
            if not admitted[k]:
                continue
            bid = float(quotes.bid[k])
            tick = None
            if not math.isnan(bid):
                tick_time = _tick_time(int(quotes.tick_msc[k]), float(closes[decisions[k]]))
                tick = Tick(spec.symbol, tick_time, bid, float(quotes.ask[k]))
            kernel.decide(
                when,
                int(sides[k]),
                float(sls[k]),
                float(tps[k]),
                instance.volume,
                instance.risk_multiplier,
                refused[k],
                tick,
                bool(quotes.market_open[k]),
            )
        kernel.finish(end)
        timings["engine"] = time.perf_counter() - mark
        mark = time.perf_counter()
        trades = tuple(kernel.trades)
        curve = mark_to_market(prices, trades, market.spec, spec.balance, spec.start)
        statistics = compute_statistics(trades, curve, spec.balance, spec.start, spec.end)
        timings["statistics"] = time.perf_counter() - mark
    finally:
        terminal.shutdown()
    return KernelResult(
        spec=spec,
        statistics=statistics,
        trades=trades,
        equity=curve,
        prices=prices,
        signals=len(all_decisions),
        admitted=instance.signals,
        suppressed=dict(instance.suppressed_by),
        rejected=dict(kernel.rejected),
        orders_rejected=kernel.orders_rejected,
        both_levels=kernel.both_levels,
        elapsed_seconds=time.perf_counter() - started,
        timings=timings,
    )


def _server_msc(utc_seconds: float) -> int:
    return int((utc_seconds + server_offset(utc_seconds)) * 1000)


def _tick_time(tick_msc: int, now_utc: float) -> float:
    """A tick's time as the connector sees it: server msc / 1000 minus the offset it
    follows (the server's offset now)."""
    return tick_msc / 1000.0 - server_offset(now_utc)
