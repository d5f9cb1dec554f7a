"""The kernel's loop: the fill and risk rules applied decision by decision.

The rules are listed in :mod:`forexbot.backtest.kernel`; this module applies them to the
arrays :mod:`~forexbot.backtest.kernel_market` read. It is written for speed in plain
Python: scalars and lists in the loop, numpy only over long stretches of bars, the terminal's
own functions (money, stop validation, stop normalisation, sizing) where a rule needs more
than an comparison. Every float operation is the one the event path does, in its order, so
prices and money come out bit for bit (the parity tests compare them with ``==``).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from numpy.typing import NDArray

from forexbot.backtest.kernel_market import EndOfTest, KernelMarket, M1Path, midnights
from forexbot.backtest.runner import BacktestSpec
from forexbot.backtest.statistics import ClosedTrade
from forexbot.connectors.mt5_constants import (
    ORDER_TYPE_BUY,
    ORDER_TYPE_SELL,
    SYMBOL_CALC_MODE_FOREX,
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

F64 = NDArray[np.float64]
DAY_MS = DAY * 1000
#: Windows of at most this many M1 bars are scanned in Python, longer ones with numpy.
SHORT_SCAN = 48


class KernelUnsupported(ForexbotError):
    """The backtest needs a rule the kernel does not reproduce (run the event path)."""


@dataclass(slots=True)
class Position:
    """The one open position."""

    id: int
    side: int  # +1 buy, -1 sell
    volume: float
    price: float
    sl: float
    tp: float
    open_msc: int
    open_utc: float
    commission: float
    next_bar: int  # the first M1 bar not checked yet
    swept_msc: int  # midnights before this are charged
    swap: float = 0.0
    stop_out_safe: bool = False  # no price in the whole test can bring the stop-out


def utc_of(server_msc: int) -> float:
    """A terminal time (server msc) as the engine stores it: the connector's UTC seconds,
    through a datetime (microseconds) when it is not a whole second."""
    seconds = server_msc / 1000.0
    offset = server_offset(seconds - 3 * 3600)
    offset = server_offset(seconds - offset)
    if server_msc % 1000 == 0:
        return float(server_msc // 1000 - offset)
    return datetime.fromtimestamp(seconds - offset, tz=UTC).timestamp()


class Rules:
    """One run of the rules over prepared arrays; :attr:`trades` is the result."""

    def __init__(
        self,
        spec: BacktestSpec,
        market: KernelMarket,
        m1: M1Path,
        strategy_name: str,
        closes_on_opposite: bool,
    ) -> None:
        self.spec = spec
        self.risk = spec.risk
        self.market = market
        self.m1 = m1
        self.name = strategy_name
        self.reverse = closes_on_opposite
        self.symbol = market.terminal_spec
        self.dspec = market.spec
        self.digits = self.symbol.digits
        self.money = Money(Catalogue(), spec.currency, spec.leverage, self._no_quote)
        self.balance = spec.balance
        self.pos: Position | None = None
        self.next_id = 1
        self.trades: list[ClosedTrade] = []
        self.rejected: Counter[str] = Counter()
        self.orders_rejected = 0
        self.both_levels = 0  # exits from a bar that reached both the SL and the TP
        self.slip = spec.slippage_points * self.symbol.point
        self.per_lot = spec.commission_per_lot
        sym = self.symbol
        self.swaps = (
            not spec.swap_free
            and sym.swap_mode == SYMBOL_SWAP_MODE_POINTS
            and bool(sym.swap_long or sym.swap_short)
        )
        self._start = m1.start
        # The widest move any position can see, for the stop-out screen of each position.
        has_bars = len(m1.start) > 0
        self._range = float(m1.ask_high.max() - m1.bid_low.min()) if has_bars else 0.0
        days = len(np.unique(m1.start // DAY)) + 3
        worst_swap = max(abs(sym.swap_long), abs(sym.swap_short)) * 3
        # The most a lot can be charged in a day (a triple rollover), and the test's days.
        self._swap_day = worst_swap * sym.point * sym.contract_size if self.swaps else 0.0
        self._test_days = days
        tolerance = sym.point * 1e-3
        self._tolerance = tolerance
        self._spread_limit = self.risk.max_spread_points.get(self.dspec.name)
        self._margin_in_account = sym.currency_margin == spec.currency
        long_leg, short_leg = legs(self.dspec)
        self._exposed = long_leg != spec.currency or short_leg not in (None, spec.currency)
        self._profit_in_account = sym.currency_profit == spec.currency
        # An account-currency amount is at most this many profit-currency units (stop-out
        # screen): 1, or 1 / the lowest price for a symbol based on the account currency.
        low = float(m1.bid_low.min()) if has_bars else 0.0
        self._max_rate = 1.0 if self._profit_in_account or low <= 0 else 1.0 / low
        # A fixed volume's own checks do not change from one signal to the next.
        self._fixed: tuple[RejectCode | None, float] | None = None
        if spec.volume is not None:
            problem = checks.manual_volume(spec.volume, self.dspec)
            rounded = self.dspec.round_volume(spec.volume) if problem is None else 0.0
            self._fixed = (None if problem is None else problem.code, rounded)

    @staticmethod
    def _no_quote(_symbol: str) -> tuple[float, float] | None:
        # supports() admits only symbols whose money converts at their own price
        raise KernelUnsupported("a currency conversion through another symbol's quote")

    # -- money ------------------------------------------------------------------------------

    def _commission(self, volume: float) -> float:
        return -round(self.per_lot * volume, 2) if self.per_lot else 0.0

    def _margin(self, side: int, volume: float, price: float) -> float:
        """:meth:`Money.margin`; a forex symbol's (lots / leverage × rate, converted at the
        price when margined in its base) with the same operations, inline."""
        sym = self.symbol
        if sym.calc_mode != SYMBOL_CALC_MODE_FOREX:
            order_type = ORDER_TYPE_BUY if side > 0 else ORDER_TYPE_SELL
            return self.money.margin(order_type, sym, volume, price) or 0.0
        amount = volume * sym.contract_size / self.spec.leverage * sym.margin_rate
        rate = 1.0 if self._margin_in_account else price
        return round(amount * rate, 2)

    def _profit(self, side: int, volume: float, opened: float, closed: float) -> float:
        """:meth:`Money.profit`: in the account currency at rate 1, or converted at the close
        price when the symbol is based on the account currency (USDJPY on USD: 1 / price)."""
        sign = 1.0 if side > 0 else -1.0
        amount = sign * (closed - opened) * self.symbol.contract_size * volume
        rate = 1.0 if self._profit_in_account else 1.0 / closed
        return round(amount * rate, 2)

    def _close(
        self, pos: Position, price: float, at_msc: int, reason: str, at_utc: float | None = None
    ) -> None:
        """Close ``pos`` at ``price`` (``at_utc``: the time in UTC when the caller knows it)."""
        profit = self._profit(pos.side, pos.volume, pos.price, price)
        commission = -round(self.per_lot * pos.volume, 2) if self.per_lot else 0.0
        self.balance = round(self.balance + profit + pos.swap + commission, 2)
        self.trades.append(
            ClosedTrade(
                pos.id,
                self.name,
                self.spec.symbol,
                "buy" if pos.side > 0 else "sell",
                pos.volume,
                pos.open_utc,
                utc_of(at_msc) if at_utc is None else at_utc,
                pos.price,
                round(price * pos.volume / pos.volume, 8),
                round(profit, 2),
                round(pos.swap, 2),
                round(pos.commission + commission, 2),
                reason,
            )
        )
        self.pos = None

    # -- the market between decisions --------------------------------------------------------

    def _charge_swaps(self, pos: Position, until_msc: int) -> None:
        """Rollovers at midnights in ``[swept, until)``."""
        if until_msc <= pos.swept_msc:
            return
        if self.swaps and (until_msc - 1) // DAY_MS * DAY_MS >= pos.swept_msc:
            sym = self.symbol
            for midnight in midnights(pos.swept_msc, until_msc - 1).tolist():
                if not self.market.traded_on(midnight):
                    continue
                day = midnight // DAY_MS - 1
                days = 3 if (weekday(day) + 1) % 7 == sym.swap_rollover3days else 1
                points = sym.swap_long if pos.side > 0 else sym.swap_short
                amount = points * sym.point * sym.contract_size * pos.volume * days
                rate = 1.0 if self._profit_in_account else self._midnight_rate(midnight)
                pos.swap = round(pos.swap + amount * rate, 2)
        pos.swept_msc = until_msc

    def _midnight_rate(self, midnight_msc: int) -> float:
        """The rollover's conversion (swaps.charge): 1 / the bid quoted at that moment."""
        quote = self.market.quotes(np.array([midnight_msc], dtype=np.int64))
        bid = float(quote.bid[0])
        if math.isnan(bid) or bid <= 0:
            raise KernelUnsupported("a rollover without a quote to convert it")
        return 1.0 / bid

    def _stop_out_reached(
        self, pos: Position, worst: F64 | list[float], lo: int = 0, hi: int = 0
    ) -> bool:
        """Whether the margin level may reach the stop-out at one of the ``worst`` prices
        (allowing for swaps): the kernel does not reproduce a stop-out."""
        if pos.stop_out_safe or not len(worst):
            return False
        sym = self.symbol
        lowest = min((w - pos.price) * pos.side for w in worst)
        margin = self._margin(pos.side, pos.volume, pos.price)
        loss = lowest * sym.contract_size * pos.volume * self._max_rate
        start = self._start
        days = int(start[hi - 1] - start[lo]) // DAY + 1 if hi > lo else 1
        allow = abs(pos.swap) + self._swap_day * pos.volume * (days + 1) * self._max_rate
        equity = self.balance + loss - allow - 1.0
        return equity * 100.0 <= self.market.stop_out * margin * 1.01

    def advance(self, until_msc: int, bar: int | None = None) -> None:
        """Replay the M1 bars opening before ``until`` (a whole minute) for the position;
        ``bar`` is the first bar opening at or after ``until`` when the caller knows it."""
        pos = self.pos
        if pos is None:
            return
        lo = pos.next_bar
        hi = int(self._start.searchsorted(until_msc // 1000)) if bar is None else bar
        if hi > lo:
            found = self._scan(pos, lo, hi) if hi - lo <= SHORT_SCAN else self._scan_np(pos, lo, hi)
            if found is not None:
                stamp, price, reason = found
                self._charge_swaps(pos, stamp)
                self._close(pos, price, stamp, reason)
                return
            pos.next_bar = hi
        self._charge_swaps(pos, until_msc)

    def _scan(self, pos: Position, lo: int, hi: int) -> tuple[int, float, str] | None:
        """The first SL/TP of bars ``lo .. hi-1`` (matching's ``position_event``), in Python."""
        m1 = self.m1
        buy = pos.side > 0
        sl, tp = pos.sl, pos.tp
        if buy:
            low, high = m1.bid_low[lo:hi].tolist(), m1.bid_high[lo:hi].tolist()
        else:
            low, high = m1.ask_low[lo:hi].tolist(), m1.ask_high[lo:hi].tolist()
        for j in range(hi - lo):
            if buy:
                s_hit = bool(sl) and low[j] <= sl
                t_hit = bool(tp) and high[j] >= tp
            else:
                s_hit = bool(sl) and high[j] >= sl
                t_hit = bool(tp) and low[j] <= tp
            if s_hit or t_hit:
                if self._stop_out_reached(pos, (low if buy else high)[:j], lo, hi):
                    raise KernelUnsupported("the margin level may reach the stop-out")
                opened = m1.bid_open[lo + j] if buy else m1.ask_open[lo + j]
                return self._exit(pos, int(m1.stamp[lo + j]), float(opened), s_hit, t_hit)
        if self._stop_out_reached(pos, low if buy else high, lo, hi):
            raise KernelUnsupported("the margin level may reach the stop-out")
        return None

    def _scan_np(self, pos: Position, lo: int, hi: int) -> tuple[int, float, str] | None:
        """:meth:`_scan` with numpy, for long windows."""
        m1 = self.m1
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
        e = int(np.argmax(hit)) if hit.size else 0
        found = bool(hit.size) and bool(hit[e])
        worst = low if buy else high
        if self._stop_out_reached(pos, worst[:e] if found else worst, lo, hi):
            raise KernelUnsupported("the margin level may reach the stop-out")
        if not found:
            return None
        s_hit = bool(sl_hit[e]) if sl_hit is not None else False
        t_hit = bool(tp_hit[e]) if tp_hit is not None else False
        return self._exit(pos, int(m1.stamp[lo + e]), float(opened[e]), s_hit, t_hit)

    def _exit(
        self, pos: Position, stamp: int, opened: float, s_hit: bool, t_hit: bool
    ) -> tuple[int, float, str]:
        """Which level a bar hit first and the fill (the level, or the open past it)."""
        kind = "sl" if s_hit else "tp"
        if s_hit and t_hit:  # the level nearer the bar's open first
            self.both_levels += 1
            kind = "sl" if abs(opened - pos.sl) <= abs(opened - pos.tp) else "tp"
        level = pos.sl if kind == "sl" else pos.tp
        sign = 1.0 if pos.side > 0 else -1.0
        past = sign * (opened - level) <= 0 if kind == "sl" else sign * (opened - level) >= 0
        return stamp, opened if past else level, "stop_loss" if kind == "sl" else "take_profit"

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
        hit = after & (sl_hit | tp_hit)
        e = int(np.argmax(hit)) if hit.size else 0
        found = bool(hit.size) and bool(hit[e])
        before = after & (np.arange(len(price)) < e) if found else after
        if self._stop_out_reached(pos, price[before]):
            raise KernelUnsupported("the margin level may reach the stop-out")
        if found:
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
        at_utc: float,
        bar: int,
        side: int,
        sl: float,
        tp: float,
        volume: float | None,
        risk_multiplier: float,
        refused: RejectCode | None,
        quote: tuple[float, float, float] | None,
        market_open: bool,
    ) -> None:
        """One admitted signal at ``at_msc`` (``at_utc`` in UTC; ``bar``: the first M1 bar
        opening then or later); ``quote`` is (bid, ask, its age in seconds)."""
        if refused is None:
            if quote is None:
                refused = RejectCode.NO_QUOTE
            elif quote[2] > self.risk.max_quote_age_seconds:
                refused = RejectCode.STALE_QUOTE
        if refused is not None:
            self.rejected[refused.value] += 1
            return
        assert quote is not None
        bid, ask = quote[0], quote[1]
        pos = self.pos
        if self.reverse and pos is not None:
            if pos.side != side and market_open:
                price = self._exit_fill(pos.side, bid, ask)
                self._close(pos, price, at_msc, "reversal", at_utc)
            elif pos.side == side:
                self.rejected[RejectCode.POSITION_HELD.value] += 1
                return
        code, lots = self._evaluate(side, sl, tp, volume, risk_multiplier, bid, ask)
        if code is not None:
            self.rejected[code.value] += 1
            return
        trade_id = self.next_id
        self.next_id += 1
        self._order(trade_id, at_msc, at_utc, bar, side, sl, tp, lots, bid, ask, market_open)

    def _exit_fill(self, side: int, bid: float, ask: float) -> float:
        """A market close of a ``side`` position: a buy sells at the bid, a sell buys at the
        ask, ``slippage_points`` worse."""
        price = bid if side > 0 else ask
        if self.slip:
            price = round(price - self.slip if side > 0 else price + self.slip, self.digits)
        return price

    def _evaluate(
        self,
        side: int,
        sl: float,
        tp: float,
        volume: float | None,
        risk_multiplier: float,
        bid: float,
        ask: float,
    ) -> tuple[RejectCode | None, float]:
        s = self.risk
        spec = self.dspec
        point = spec.point
        tolerance = self._tolerance
        entry, trigger = (ask, bid) if side > 0 else (bid, ask)
        points = (ask - bid) / point
        if self._spread_limit is not None and points > self._spread_limit + 1e-6:
            return RejectCode.SPREAD_TOO_WIDE, 0.0
        distance = (trigger - sl) * side
        if distance <= 0:
            return RejectCode.INVALID_STOP, 0.0
        if distance < spec.stops_level * point - tolerance:
            return RejectCode.STOP_TOO_CLOSE, 0.0
        if tp:
            target = (tp - trigger) * side
            if target <= tolerance:
                return RejectCode.INVALID_TAKE_PROFIT, 0.0
            if target < spec.stops_level * point - tolerance:
                return RejectCode.TAKE_PROFIT_TOO_CLOSE, 0.0
        stop_points = abs(entry - sl) / point
        share = points / stop_points * 100 if stop_points else 100.0
        if share > s.max_spread_stop_percent:
            return RejectCode.SPREAD_TOO_WIDE, 0.0
        if self.pos is not None:
            if s.max_open_positions <= 1:
                return RejectCode.MAX_OPEN_POSITIONS, 0.0
            return RejectCode.MAX_POSITIONS_PER_SYMBOL, 0.0
        equity = self.balance  # nothing open
        if volume is None:
            sizing = size_position(
                equity, s.risk_per_trade_percent, entry, sl, spec, risk_multiplier
            )
            if sizing.refusal is not None:
                return sizing.refusal.code, 0.0
            volume = sizing.volume
        else:
            if self._fixed is not None and volume == self.spec.volume:
                problem_code, volume = self._fixed
            else:
                problem = checks.manual_volume(volume, spec)
                problem_code = None if problem is None else problem.code
                volume = spec.round_volume(volume) if problem is None else 0.0
            if problem_code is not None:
                return problem_code, 0.0
            risk_amount = volume * loss_per_lot(entry, sl, spec)
            max_risk = equity * s.risk_per_trade_percent / 100.0 * risk_multiplier
            if risk_amount > max_risk + 1e-9:
                return RejectCode.RISK_PER_TRADE_EXCEEDED, 0.0
        if self._exposure_breached(side, volume, entry, equity):
            return RejectCode.MAX_CURRENCY_EXPOSURE, 0.0
        required = self._margin(side, volume, entry)
        if required > equity:  # the free margin, with nothing open
            return RejectCode.INSUFFICIENT_MARGIN, 0.0
        if required > equity * s.max_margin_usage_percent / 100:
            return RejectCode.MARGIN_LIMIT, 0.0
        return None, volume

    def _exposure_breached(self, side: int, volume: float, entry: float, equity: float) -> bool:
        """The exposure rule with nothing else held: each leg's notional against the limit."""
        spec = self.dspec
        if spec.tick_size <= 0 or not self._exposed:
            return False
        amount = abs(volume * entry * spec.tick_value / spec.tick_size * side)
        limit = equity * self.risk.max_exposure_per_currency_percent / 100
        return amount > limit and amount > 0.0 + 1e-9

    def _stops(
        self, side: int, sl: float, tp: float, bid: float, ask: float
    ) -> tuple[float, float]:
        """SL/TP as the execution manager sends them (:func:`normalise_stops`)."""
        spec = self.dspec
        new_sl = round(sl, self.digits) if sl else 0.0
        new_tp = round(tp, self.digits) if tp else 0.0
        reference = bid if side > 0 else ask
        edge = max(spec.stops_level, 1) * spec.point - spec.point * 1e-3
        near_sl = new_sl and 0 < (reference - new_sl) * side < edge
        near_tp = new_tp and 0 < (new_tp - reference) * side < edge
        if near_sl or near_tp:  # moved out to the stops level's edge: the function itself
            tick = Tick(self.spec.symbol, 0.0, bid, ask)
            stops = normalise_stops(Side(side), sl, tp, tick, spec)
            return stops.sl, stops.tp
        return new_sl, new_tp

    def _order(
        self,
        trade_id: int,
        at_msc: int,
        at_utc: float,
        bar: int,
        side: int,
        sl: float,
        tp: float,
        volume: float,
        bid: float,
        ask: float,
        market_open: bool,
    ) -> None:
        """The terminal fills or refuses the approved order."""
        sl, tp = self._stops(side, sl, tp, bid, ask)
        if not market_open:
            self.orders_rejected += 1
            return
        buy = side > 0
        price = ask if buy else bid
        if self.slip:
            price = round(price + self.slip if buy else price - self.slip, self.digits)
        sl_r, tp_r = round(sl, self.digits), round(tp, self.digits)
        if not stops_ok(self.symbol, buy, bid if buy else ask, sl_r, tp_r):
            self.orders_rejected += 1
            return
        margin = self._margin(side, volume, price)
        if margin > self.balance + EPSILON:
            self.orders_rejected += 1
            return
        commission = -round(self.per_lot * volume, 2) if self.per_lot else 0.0
        self.balance = round(self.balance + 0.0 + 0.0 + commission, 2)
        sym = self.symbol
        reach = volume * (sym.contract_size * self._range + self._swap_day * self._test_days)
        worst = self.balance - reach * self._max_rate - 1.0
        self.pos = Position(
            id=trade_id,
            side=side,
            volume=volume,
            price=price,
            sl=sl_r,
            tp=tp_r,
            open_msc=at_msc,
            open_utc=at_utc,
            commission=commission,
            next_bar=bar,
            swept_msc=at_msc,
            stop_out_safe=worst * 100.0 > self.market.stop_out * margin * 1.01,
        )

    def finish(self, end: EndOfTest) -> None:
        """The end of the test: the bars, the last minute's ticks, then close at the quote."""
        self.advance(end.minute_msc)
        self._advance_ticks(end)
        pos = self.pos
        q = end.quote
        bid = float(q.bid[0])
        if pos is None or math.isnan(bid) or not bool(q.market_open[0]):
            return
        price = self._exit_fill(pos.side, bid, float(q.ask[0]))
        self._close(pos, price, end.at_msc, "end_of_test")


def _either(a: NDArray[np.bool_] | None, b: NDArray[np.bool_] | None, n: int) -> NDArray[np.bool_]:
    if a is None:
        return np.zeros(n, dtype=np.bool_) if b is None else b
    return a if b is None else a | b
