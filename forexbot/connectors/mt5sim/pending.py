"""Pending orders: placing (TRADE_ACTION_PENDING), modifying (MODIFY) and removing (REMOVE).

A placed order answers 10008 and waits in ``orders_get()`` (state PLACED) until the market
reaches it (see :mod:`matching`) or it expires: ORDER_TIME_DAY at the end of the server day,
SPECIFIED at ``expiration``, SPECIFIED_DAY at the end of ``expiration``'s day. RETURN filling
is always accepted for pending orders; FOK/IOC need the symbol's filling bits.

MODIFY takes the request's ``price``, ``sl``, ``tp``, ``type_time`` and ``expiration`` (and
``stoplimit`` for stop-limit orders) as the order's new values, as MetaQuotes lists them as the
operation's required fields: a ``price`` of 0 is refused with 10015 (Invalid price), not read as
"keep the old price"; ``sl``/``tp`` of 0 remove the levels (docs/mt5sim.md, ruling R2).
"""

from __future__ import annotations

from typing import NamedTuple

from forexbot.connectors.mt5_constants import (
    ORDER_STATE_CANCELED,
    ORDER_STATE_PLACED,
    ORDER_TIME_DAY,
    ORDER_TIME_GTC,
    ORDER_TIME_SPECIFIED,
    ORDER_TIME_SPECIFIED_DAY,
    ORDER_TYPE_BUY_STOP_LIMIT,
    ORDER_TYPE_SELL_STOP_LIMIT,
    TRADE_RETCODE_DONE,
    TRADE_RETCODE_FROZEN,
    TRADE_RETCODE_INVALID,
    TRADE_RETCODE_INVALID_EXPIRATION,
    TRADE_RETCODE_INVALID_FILL,
    TRADE_RETCODE_INVALID_PRICE,
    TRADE_RETCODE_INVALID_STOPS,
    TRADE_RETCODE_INVALID_VOLUME,
    TRADE_RETCODE_MARKET_CLOSED,
    TRADE_RETCODE_NO_CHANGES,
    TRADE_RETCODE_PLACED,
    TRADE_RETCODE_PRICE_OFF,
)

from .desk import PENDING_TYPES, DeskBase, Outcome
from .money import is_buy
from .structures import TradeOrder, TradeRequest
from .symbols import SymbolSpec
from .timeutil import DAY
from .validation import (
    filling_ok,
    frozen,
    pending_price_ok,
    stops_ok,
    trade_mode_retcode,
    volume_ok,
)


class _Target(NamedTuple):
    """The placed order a MODIFY or REMOVE acts on, its symbol and the quote it acts at."""

    order: TradeOrder
    spec: SymbolSpec
    bid: float
    ask: float


class PendingOrders(DeskBase):
    """Handlers of the three pending-order actions."""

    def _expiration(self, request: TradeRequest) -> int | None:
        """The order's expiry in server seconds (0 = none), or None when invalid."""
        now = self.ledger.now_msc // 1000
        day_end = (now // DAY + 1) * DAY
        if request.type_time == ORDER_TIME_GTC:
            return 0
        if request.type_time == ORDER_TIME_DAY:
            return day_end
        if request.type_time == ORDER_TIME_SPECIFIED:
            return request.expiration if request.expiration > now else None
        if request.type_time == ORDER_TIME_SPECIFIED_DAY:
            end = (request.expiration // DAY + 1) * DAY
            return end if request.expiration > 0 and end > now else None
        return None

    def _pending_checks(
        self, request: TradeRequest, spec: SymbolSpec, bid: float, ask: float
    ) -> int | None:
        """Price and stops of a pending order (placement or modification)."""
        price = round(request.price, spec.digits)
        stoplimit = round(request.stoplimit, spec.digits)
        if not pending_price_ok(spec, request.type, price, stoplimit, bid, ask):
            return TRADE_RETCODE_INVALID_PRICE
        stop_limit = request.type in (ORDER_TYPE_BUY_STOP_LIMIT, ORDER_TYPE_SELL_STOP_LIMIT)
        opens_at = stoplimit if stop_limit else price
        sl, tp = round(request.sl, spec.digits), round(request.tp, spec.digits)
        if not stops_ok(spec, is_buy(request.type), opens_at, sl, tp):
            return TRADE_RETCODE_INVALID_STOPS
        if self._expiration(request) is None:
            return TRADE_RETCODE_INVALID_EXPIRATION
        return None

    def _pending(self, request: TradeRequest, execute: bool) -> Outcome:
        spec = self._spec(request.symbol)
        if request.type not in PENDING_TYPES:
            return Outcome(TRADE_RETCODE_INVALID)
        quote = self._quote(spec.name)
        if quote is None:
            return Outcome(TRADE_RETCODE_PRICE_OFF)
        bid, ask = quote
        refusal = trade_mode_retcode(spec, is_buy(request.type), opening=True)
        if refusal is not None:
            return Outcome(refusal)
        if not self._market_open(spec.name):
            return Outcome(TRADE_RETCODE_MARKET_CLOSED)
        if not volume_ok(spec, request.volume):
            return Outcome(TRADE_RETCODE_INVALID_VOLUME)
        if not filling_ok(spec, request.type_filling, pending=True):
            return Outcome(TRADE_RETCODE_INVALID_FILL)
        refusal = self._pending_checks(request, spec, bid, ask)
        if refusal is not None:
            return Outcome(refusal)
        price = round(request.price, spec.digits)
        if not execute:
            return Outcome(TRADE_RETCODE_PLACED, bid=bid, ask=ask)
        order = self._order(request, spec)._replace(
            state=ORDER_STATE_PLACED,
            time_expiration=self._expiration(request) or 0,
            price_current=ask if is_buy(request.type) else bid,
        )
        self.ledger.state.orders[order.ticket] = order
        return Outcome(TRADE_RETCODE_PLACED, None, order.ticket, request.volume, price, bid, ask)

    def _target(self, request: TradeRequest) -> _Target | Outcome:
        """The placed order ``request.order`` names, or the refusal MODIFY and REMOVE share, in
        MetaTrader's order: 10013 (no such order), 10021 (no quotes), 10018 (market closed),
        10029 (the market is within the freeze level of the order's price)."""
        order = self.ledger.state.orders.get(request.order)
        if order is None:
            return Outcome(TRADE_RETCODE_INVALID)
        spec = self._spec(order.symbol)
        quote = self._live_quote(spec)
        if isinstance(quote, Outcome):
            return quote
        bid, ask = quote
        if frozen(spec, ask if is_buy(order.type) else bid, order.price_open):
            return Outcome(TRADE_RETCODE_FROZEN)
        return _Target(order, spec, bid, ask)

    def _modify(self, request: TradeRequest, execute: bool) -> Outcome:
        target = self._target(request)
        if isinstance(target, Outcome):
            return target
        order, spec, bid, ask = target
        # price (and a stop-limit's stoplimit) are required: 0 is not "keep", it is refused
        # by the price check (10015), like a placement without a price. sl/tp 0 remove them.
        stop_limit = order.type in (ORDER_TYPE_BUY_STOP_LIMIT, ORDER_TYPE_SELL_STOP_LIMIT)
        effective = request._replace(
            symbol=order.symbol,
            type=order.type,
            volume=order.volume_current,
            stoplimit=request.stoplimit if stop_limit else order.price_stoplimit,
        )
        refusal = self._pending_checks(effective, spec, bid, ask)
        if refusal is not None:
            return Outcome(refusal)
        changed = order._replace(
            price_open=round(effective.price, spec.digits),
            price_stoplimit=round(effective.stoplimit, spec.digits),
            sl=round(effective.sl, spec.digits),
            tp=round(effective.tp, spec.digits),
            type_time=effective.type_time,
            time_expiration=self._expiration(effective) or 0,
        )
        if changed == order:
            return Outcome(TRADE_RETCODE_NO_CHANGES)
        if execute:
            self.ledger.state.orders[order.ticket] = changed
        price = changed.price_open
        return Outcome(
            TRADE_RETCODE_DONE, None, order.ticket, order.volume_current, price, bid, ask
        )

    def _remove(self, request: TradeRequest, execute: bool) -> Outcome:
        target = self._target(request)
        if isinstance(target, Outcome):
            return target
        order, bid, ask = target.order, target.bid, target.ask
        if execute:
            del self.ledger.state.orders[order.ticket]
            self.ledger.archive_order(order, ORDER_STATE_CANCELED, self.ledger.now_msc)
        return Outcome(TRADE_RETCODE_DONE, None, order.ticket, bid=bid, ask=ask)
