"""Quotes, valuation and the execution of deals against the paper account.

:meth:`Ledger.apply_deal` is the one place where a fill changes the account, whatever caused
it (a market order, a triggered pending order, a stop loss): it records the filled order and
the deal, moves the balance and opens, grows, reduces, closes or reverses a position. A
close-by, which pairs two positions, books its two deals with :meth:`Ledger.book_deal` (the
one place a deal moves the balance); an order that leaves the book without a fill is recorded
by :meth:`Ledger.archive_order`.

* **Hedging**: a deal without a target position opens a new position (ticket = the order's
  ticket); with a target (``position=`` in the request, or a triggered SL/TP) it closes that
  much of the target (entry OUT, profit on the closed volume).
* **Netting**: one position per symbol. A same-side deal adds to it (entry IN, volume-weighted
  open price); an opposite deal reduces or closes it (entry OUT) or, when larger, reverses it
  (entry INOUT: profit on the old volume, the rest opens the other way at the fill price; the
  position keeps its ticket and identifier).

**Valuation is cached, never approximated.** A quote is a pure function of (symbol, time):
:meth:`Ledger.quote` keeps, per symbol, the last quote with the span of time over which it is
provably the same (:meth:`MarketData.last_tick_span`), so a later time inside the span reuses
it. :meth:`Ledger.totals` keeps, per open position, its floating profit and margin together
with every quote read to compute them; the entry is reused only while the position is the very
same (immutable) tuple and each of those quotes is still equal, otherwise recomputed. The sums
are then made in the same order with the same operands, so the figures are bit-identical to a
recomputation from scratch; closed positions drop out at the next call.

Commission, when configured, is charged per lot on every deal, as a negative amount.
Swap accrues on the open position (see :mod:`swaps`) and is realised by the deal that closes
it, in proportion to the volume closed (the deal's ``swap``, added to the balance).
"""

from __future__ import annotations

from dataclasses import dataclass

from forexbot.connectors.mt5_constants import (
    DEAL_ENTRY_IN,
    DEAL_ENTRY_INOUT,
    DEAL_ENTRY_OUT,
    DEAL_TYPE_BUY,
    DEAL_TYPE_SELL,
    ORDER_STATE_FILLED,
    ORDER_TYPE_BUY,
    ORDER_TYPE_SELL,
    POSITION_REASON_EXPERT,
    POSITION_TYPE_BUY,
    POSITION_TYPE_SELL,
)

from .account import AccountState
from .money import CURRENCY_DIGITS, Money
from .series import MarketData
from .structures import TradeDeal, TradeOrder, TradePosition
from .symbols import Catalogue, SymbolSpec

VOLUME_DIGITS = 8
Quote = tuple[float, float] | None


@dataclass(frozen=True, slots=True)
class Fill:
    """What one execution produced: the order and deal tickets, volume and price."""

    order: int
    deal: int
    volume: float
    price: float
    position: int


@dataclass(frozen=True, slots=True)
class _Valuation:
    """One open position's floating profit and margin, and the quotes they were read from."""

    position: TradePosition
    profit: float
    margin: float
    reads: tuple[tuple[str, Quote], ...]


def opposite(order_type: int) -> int:
    return ORDER_TYPE_SELL if order_type == ORDER_TYPE_BUY else ORDER_TYPE_BUY


class Ledger:
    """The account plus what it needs to value itself: quotes at ``now_msc`` and money rules."""

    def __init__(
        self,
        state: AccountState,
        catalogue: Catalogue,
        market: MarketData,
        *,
        commission_per_lot: float = 0.0,
        swap_free: bool = False,
    ) -> None:
        self.state = state
        self.catalogue = catalogue
        self.market = market
        self.commission_per_lot = commission_per_lot
        self.swap_free = swap_free  # a swap-free account: no rollover is ever charged
        self.now_msc = state.processed_msc
        self.money = Money(catalogue, state.currency, state.leverage, self.quote)
        # symbol -> (lo, hi, quote): the quote at every time in [lo, hi) (see module doc).
        self._quote_spans: dict[str, tuple[int, int, Quote]] = {}
        # ticket -> valuation of the open position, and the quote reads being recorded.
        self._valuations: dict[int, _Valuation] = {}
        self._reads: list[tuple[str, Quote]] | None = None
        # (now_msc, the open positions, their totals): the last totals, while neither moved.
        self._totals: tuple[int, tuple[TradePosition, ...], tuple[float, float]] | None = None

    def spec(self, symbol: str) -> SymbolSpec:
        spec = self.catalogue.get(symbol)
        if spec is None:
            raise KeyError(symbol)
        return spec

    def quote(self, symbol: str) -> Quote:
        """(bid, ask) of the last tick at or before ``now_msc``."""
        now = self.now_msc
        span = self._quote_spans.get(symbol)
        if span is not None and span[0] <= now < span[1]:
            quote = span[2]
        else:
            tick, lo, hi = self.market.last_tick_span(symbol, now)
            quote = None if tick is None else (float(tick["bid"][0]), float(tick["ask"][0]))
            self._quote_spans[symbol] = (lo, hi, quote)
        if self._reads is not None:
            self._reads.append((symbol, quote))
        return quote

    # --- valuation --------------------------------------------------------------------
    def valued(self, position: TradePosition) -> TradePosition:
        """``position`` with ``price_current`` and ``profit`` at the current quote."""
        mark = self._mark(position)
        if mark is None:
            return position
        return position._replace(price_current=mark[0], profit=mark[1])

    def _mark(self, position: TradePosition) -> tuple[float, float] | None:
        """(current price, floating profit) of ``position``; None without a quote."""
        quote = self.quote(position.symbol)
        if quote is None:
            return None
        price = quote[0] if position.type == POSITION_TYPE_BUY else quote[1]
        profit = self.money.profit(
            position.type,
            self.spec(position.symbol),
            position.volume,
            position.price_open,
            price,
        )
        return price, profit or 0.0

    def position_margin(self, position: TradePosition) -> float:
        spec = self.spec(position.symbol)
        return self.money.margin(position.type, spec, position.volume, position.price_open) or 0.0

    def totals(self) -> tuple[float, float]:
        """(floating profit, used margin) of all open positions, in account currency.

        A quote is a function of the time (see :meth:`quote`), and a position changed is a
        new ``TradePosition``: at the same ``now_msc`` with the same position objects the
        totals are the last ones (the risk checks ask right after the poll that moved time)."""
        now, positions = self.now_msc, tuple(self.state.positions.values())
        last = self._totals
        if (
            last is not None
            and last[0] == now
            and len(last[1]) == len(positions)
            and all(a is b for a, b in zip(last[1], positions, strict=True))
        ):
            return last[2]
        totals = self._value_all()
        self._totals = (now, positions, totals)
        return totals

    def _value_all(self) -> tuple[float, float]:
        cached, kept = self._valuations, {}
        profit = margin = 0.0
        for ticket, position in self.state.positions.items():
            entry = cached.get(ticket)
            if entry is None or entry.position is not position or not self._unmoved(entry):
                entry = self._valuation(position)
            kept[ticket] = entry
            profit += entry.profit + position.swap
            margin += entry.margin
        self._valuations = kept
        return round(profit, CURRENCY_DIGITS), round(margin, CURRENCY_DIGITS)

    def _valuation(self, position: TradePosition) -> _Valuation:
        """Value ``position`` now, recording the quotes read (its own, and conversions')."""
        reads: list[tuple[str, Quote]] = []
        self._reads = reads
        try:
            mark = self._mark(position)
            margin = self.position_margin(position)
        finally:
            self._reads = None
        profit = position.profit if mark is None else mark[1]
        return _Valuation(position, profit, margin, tuple(reads))

    def _unmoved(self, entry: _Valuation) -> bool:
        """Whether every quote ``entry`` was computed from is still the current one."""
        return all(self.quote(symbol) == quote for symbol, quote in entry.reads)

    def equity(self) -> float:
        return round(self.state.balance + self.state.credit + self.totals()[0], CURRENCY_DIGITS)

    # --- execution --------------------------------------------------------------------
    def archive_order(self, order: TradeOrder, final_state: int, time_msc: int) -> None:
        """Record ``order``, taken off the book without a fill (cancelled, expired, or
        rejected for want of margin when triggered), in the order history, done at
        ``time_msc``."""
        self.state.history_orders.append(
            order._replace(state=final_state, time_done=time_msc // 1000, time_done_msc=time_msc)
        )

    def apply_deal(
        self,
        order: TradeOrder,
        side: int,
        volume: float,
        price: float,
        time_msc: int,
        *,
        target: TradePosition | None,
        deal_reason: int,
        sl: float = 0.0,
        tp: float = 0.0,
    ) -> Fill:
        """Fill ``order`` (already ticketed) for ``volume`` at ``price`` on side ``side``.

        ``target`` is the position to close (hedging) or None to open one; on a netting
        account the symbol's position is the target whatever is passed.
        """
        state = self.state
        spec = self.spec(order.symbol)
        if not state.hedging:
            target = target or state.position_on(order.symbol)
        commission = 0.0
        if self.commission_per_lot:
            commission = -round(self.commission_per_lot * volume, CURRENCY_DIGITS)
        profit = swap = 0.0
        entry = DEAL_ENTRY_IN
        if target is None:
            position_id = order.ticket
            state.positions[order.ticket] = TradePosition(
                ticket=order.ticket,
                time=time_msc // 1000,
                time_msc=time_msc,
                time_update=time_msc // 1000,
                time_update_msc=time_msc,
                type=POSITION_TYPE_BUY if side == ORDER_TYPE_BUY else POSITION_TYPE_SELL,
                magic=order.magic,
                identifier=order.ticket,
                reason=POSITION_REASON_EXPERT,
                volume=volume,
                price_open=price,
                sl=sl,
                tp=tp,
                price_current=price,
                swap=0.0,
                profit=0.0,
                symbol=order.symbol,
                comment=order.comment,
                external_id="",
            )
        else:
            position_id = target.identifier
            entry, profit, swap = self._change_position(
                target, spec, side, volume, price, time_msc, sl, tp
            )
        state.history_orders.append(
            order._replace(
                time_done=time_msc // 1000,
                time_done_msc=time_msc,
                state=ORDER_STATE_FILLED,
                position_id=position_id,
                volume_current=0.0,
                price_current=price,
            )
        )
        deal = self.book_deal(
            order,
            side,
            entry=entry,
            position_id=position_id,
            reason=deal_reason,
            volume=volume,
            price=price,
            time_msc=time_msc,
            profit=profit,
            swap=swap,
            commission=commission,
        )
        return Fill(order.ticket, deal.ticket, volume, price, position_id)

    def book_deal(
        self,
        order: TradeOrder,
        side: int,
        *,
        entry: int,
        position_id: int,
        reason: int,
        volume: float,
        price: float,
        time_msc: int,
        profit: float,
        swap: float,
        commission: float = 0.0,
    ) -> TradeDeal:
        """Record the deal executing ``order`` on ``side`` (ORDER_TYPE_BUY or _SELL) and move
        the balance by what it realises: profit, swap and commission."""
        deal = TradeDeal(
            ticket=self.state.deal_ticket(),
            order=order.ticket,
            time=time_msc // 1000,
            time_msc=time_msc,
            type=DEAL_TYPE_BUY if side == ORDER_TYPE_BUY else DEAL_TYPE_SELL,
            entry=entry,
            magic=order.magic,
            position_id=position_id,
            reason=reason,
            volume=volume,
            price=price,
            commission=commission,
            swap=swap,
            profit=profit,
            fee=0.0,
            symbol=order.symbol,
            comment=order.comment,
            external_id="",
        )
        self.state.deals.append(deal)
        self.state.balance = round(self.state.balance + profit + swap + commission, CURRENCY_DIGITS)
        return deal

    def _change_position(
        self,
        position: TradePosition,
        spec: SymbolSpec,
        side: int,
        volume: float,
        price: float,
        time_msc: int,
        sl: float,
        tp: float,
    ) -> tuple[int, float, float]:
        """Apply a deal to an existing position; returns (entry, realised profit, swap)."""
        positions = self.state.positions
        seconds = time_msc // 1000
        same_side = (position.type == POSITION_TYPE_BUY) == (side == ORDER_TYPE_BUY)
        if same_side:  # netting add
            total = round(position.volume + volume, VOLUME_DIGITS)
            average = (position.price_open * position.volume + price * volume) / total
            positions[position.ticket] = position._replace(
                volume=total,
                price_open=round(average, spec.digits + 3),
                sl=sl or position.sl,
                tp=tp or position.tp,
                time_update=seconds,
                time_update_msc=time_msc,
            )
            return DEAL_ENTRY_IN, 0.0, 0.0
        closed = min(volume, position.volume)
        profit = self.money.profit(position.type, spec, closed, position.price_open, price) or 0.0
        swap, kept_swap = split_swap(position, closed)
        remaining = round(position.volume - volume, VOLUME_DIGITS)
        if remaining > 0:
            positions[position.ticket] = position._replace(
                volume=remaining, swap=kept_swap, time_update=seconds, time_update_msc=time_msc
            )
            return DEAL_ENTRY_OUT, profit, swap
        if remaining == 0:
            del positions[position.ticket]
            return DEAL_ENTRY_OUT, profit, swap
        positions[position.ticket] = position._replace(
            swap=0.0,
            type=POSITION_TYPE_BUY if side == ORDER_TYPE_BUY else POSITION_TYPE_SELL,
            volume=-remaining,
            price_open=price,
            sl=sl,
            tp=tp,
            time_update=seconds,
            time_update_msc=time_msc,
        )
        return DEAL_ENTRY_INOUT, profit, swap


def split_swap(position: TradePosition, closed: float) -> tuple[float, float]:
    """(swap realised by closing ``closed`` lots, swap the rest of the position keeps)."""
    if not position.swap or closed >= position.volume:
        return position.swap, 0.0
    realised = round(position.swap * closed / position.volume, CURRENCY_DIGITS)
    return realised, round(position.swap - realised, CURRENCY_DIGITS)
