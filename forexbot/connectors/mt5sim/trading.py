"""The trade server: ``order_send`` and ``order_check`` for every trade action.

Each action handler validates the request in MetaTrader's order of concerns (request shape,
prices, trade mode, session, volume, filling, position, requote, stops, money) and, when asked
to execute, changes the account through the :class:`Ledger`. ``order_check`` runs the same
handler without executing, so the two can never disagree.

Market orders fill at the current quote: a buy at Ask, a sell at Bid (``slippage_points``
worse when set: a backtest's cost model). Requests come from the
Python API, so orders, deals and positions carry reason EXPERT. A request for a symbol that is
not in Market Watch gets 10021 "No prices": the terminal receives no quotes for it.
"""

from __future__ import annotations

from forexbot.connectors.mt5_constants import (
    DEAL_ENTRY_OUT_BY,
    DEAL_REASON_EXPERT,
    ORDER_STATE_FILLED,
    ORDER_TYPE_BUY,
    ORDER_TYPE_CLOSE_BY,
    ORDER_TYPE_SELL,
    POSITION_TYPE_BUY,
    SYMBOL_TRADE_EXECUTION_INSTANT,
    SYMBOL_TRADE_EXECUTION_REQUEST,
    TRADE_ACTION_CLOSE_BY,
    TRADE_ACTION_DEAL,
    TRADE_ACTION_MODIFY,
    TRADE_ACTION_PENDING,
    TRADE_ACTION_REMOVE,
    TRADE_ACTION_SLTP,
    TRADE_RETCODE_DONE,
    TRADE_RETCODE_FROZEN,
    TRADE_RETCODE_INVALID,
    TRADE_RETCODE_INVALID_CLOSE_VOLUME,
    TRADE_RETCODE_INVALID_FILL,
    TRADE_RETCODE_INVALID_STOPS,
    TRADE_RETCODE_INVALID_VOLUME,
    TRADE_RETCODE_MARKET_CLOSED,
    TRADE_RETCODE_NO_CHANGES,
    TRADE_RETCODE_NO_MONEY,
    TRADE_RETCODE_PLACED,
    TRADE_RETCODE_POSITION_CLOSED,
    TRADE_RETCODE_PRICE_OFF,
    TRADE_RETCODE_REQUOTE,
)

from .desk import EPSILON, Outcome, UnknownSymbol
from .ledger import Fill, opposite, split_swap
from .pending import PendingOrders
from .retcodes import retcode_comment
from .structures import OrderCheckResult, OrderSendResult, TradeRequest
from .symbols import SymbolSpec
from .validation import (
    filling_ok,
    frozen,
    stops_ok,
    trade_mode_retcode,
    volume_ok,
)

__all__ = ["TradeDesk", "UnknownSymbol"]


class TradeDesk(PendingOrders):
    """Validates and executes trade requests against the ledger at ``ledger.now_msc``."""

    # --- entry points -----------------------------------------------------------------
    def send(self, request: TradeRequest) -> OrderSendResult:
        outcome = self._dispatch(request, execute=True)
        ok = outcome.retcode in (TRADE_RETCODE_DONE, TRADE_RETCODE_PLACED)
        fill = outcome.fill
        return OrderSendResult(
            retcode=outcome.retcode,
            deal=fill.deal if fill else 0,
            order=fill.order if fill else outcome.order,
            volume=outcome.volume if ok else 0.0,
            price=outcome.price if ok else 0.0,
            bid=outcome.bid,
            ask=outcome.ask,
            comment=retcode_comment(outcome.retcode),
            request_id=self.ledger.state.request_id(),
            retcode_external=0,
            request=request,
        )

    def refuse(self, request: TradeRequest, retcode: int) -> OrderSendResult:
        """A refusal decided before execution (an injected reject or requote).

        A requote carries the current bid/ask, the prices the dealer would now offer.
        """
        target = self.ledger.state.positions.get(request.position)
        symbol = request.symbol or (target.symbol if target else "")
        quote = None
        if symbol:
            self._spec(symbol)  # an unknown symbol fails in the terminal, before the server
            quote = self._quote(symbol) if retcode == TRADE_RETCODE_REQUOTE else None
        return OrderSendResult(
            retcode=retcode,
            deal=0,
            order=0,
            volume=0.0,
            price=0.0,
            bid=quote[0] if quote else 0.0,
            ask=quote[1] if quote else 0.0,
            comment=retcode_comment(retcode),
            request_id=self.ledger.state.request_id(),
            retcode_external=0,
            request=request,
        )

    def check(self, request: TradeRequest) -> OrderCheckResult:
        outcome = self._dispatch(request, execute=False)
        ok = outcome.retcode in (TRADE_RETCODE_DONE, TRADE_RETCODE_PLACED)
        profit, used = self.ledger.totals()
        equity = round(self.ledger.state.balance + self.ledger.state.credit + profit, 2)
        margin = round(used + outcome.margin, 2)
        return OrderCheckResult(
            retcode=0 if ok else outcome.retcode,
            balance=self.ledger.state.balance,
            equity=equity,
            profit=profit,
            margin=margin,
            margin_free=round(equity - margin, 2),
            margin_level=round(equity / margin * 100, 2) if margin else 0.0,
            comment="Done" if ok else retcode_comment(outcome.retcode),
            request=request,
        )

    def _dispatch(self, request: TradeRequest, *, execute: bool) -> Outcome:
        handlers = {
            TRADE_ACTION_DEAL: self._deal,
            TRADE_ACTION_PENDING: self._pending,
            TRADE_ACTION_SLTP: self._sltp,
            TRADE_ACTION_MODIFY: self._modify,
            TRADE_ACTION_REMOVE: self._remove,
            TRADE_ACTION_CLOSE_BY: self._close_by,
        }
        handler = handlers.get(request.action)
        if handler is None:
            return Outcome(TRADE_RETCODE_INVALID)
        return handler(request, execute)

    # --- TRADE_ACTION_DEAL --------------------------------------------------------------
    def _deal(self, request: TradeRequest, execute: bool) -> Outcome:
        state = self.ledger.state
        target = state.positions.get(request.position) if request.position else None
        symbol = request.symbol or (target.symbol if target else "")
        spec = self._spec(symbol)
        if request.type not in (ORDER_TYPE_BUY, ORDER_TYPE_SELL):
            return Outcome(TRADE_RETCODE_INVALID)
        buy = request.type == ORDER_TYPE_BUY
        quote = self._quote(symbol)
        if quote is None:
            return Outcome(TRADE_RETCODE_PRICE_OFF)
        bid, ask = quote
        if request.position:
            if target is None:
                return Outcome(TRADE_RETCODE_POSITION_CLOSED)
            if target.symbol != symbol or (target.type == POSITION_TYPE_BUY) == buy:
                return Outcome(TRADE_RETCODE_INVALID)
        netted = None if state.hedging else (target or state.position_on(symbol))
        same_side = netted is not None and (netted.type == POSITION_TYPE_BUY) == buy
        if state.hedging:
            opening_volume = 0.0 if target else request.volume
        elif netted is None or same_side:
            opening_volume = request.volume
        else:
            opening_volume = max(0.0, request.volume - netted.volume)
        refusal = trade_mode_retcode(spec, buy, opening=opening_volume > 0)
        if refusal is not None:
            return Outcome(refusal)
        if not self._market_open(symbol):
            return Outcome(TRADE_RETCODE_MARKET_CLOSED)
        if not volume_ok(spec, request.volume):
            return Outcome(TRADE_RETCODE_INVALID_VOLUME)
        if target is not None and request.volume > target.volume + EPSILON:
            return Outcome(TRADE_RETCODE_INVALID_CLOSE_VOLUME)
        if not filling_ok(spec, request.type_filling, pending=False):
            return Outcome(TRADE_RETCODE_INVALID_FILL)
        price = ask if buy else bid
        if self._requoted(spec, request, price):
            return Outcome(TRADE_RETCODE_REQUOTE, bid=bid, ask=ask)
        if self.slippage_points:  # a backtest's cost model: every market fill a bit worse
            slip = self.slippage_points * spec.point
            price = round(price + slip if buy else price - slip, spec.digits)
        sl, tp = round(request.sl, spec.digits), round(request.tp, spec.digits)
        if opening_volume > 0 and not stops_ok(spec, buy, bid if buy else ask, sl, tp):
            return Outcome(TRADE_RETCODE_INVALID_STOPS)
        money = self.ledger.money
        need = money.margin(request.type, spec, opening_volume, price) or 0.0
        if netted is not None and opening_volume > 0:
            need -= self.ledger.position_margin(netted) if not same_side else 0.0
        if opening_volume > 0 and need > self._free_margin() + EPSILON:
            return Outcome(TRADE_RETCODE_NO_MONEY)
        if not execute:
            return Outcome(TRADE_RETCODE_DONE, margin=max(need, 0.0), bid=bid, ask=ask)
        order = self._order(request, spec)._replace(price_open=price)
        fill = self.ledger.apply_deal(
            order,
            request.type,
            request.volume,
            price,
            self.ledger.now_msc,
            target=target,
            deal_reason=DEAL_REASON_EXPERT,
            sl=sl,
            tp=tp,
        )
        return Outcome(TRADE_RETCODE_DONE, fill, fill.order, request.volume, price, bid, ask)

    def _requoted(self, spec: SymbolSpec, request: TradeRequest, price: float) -> bool:
        """Instant/request execution refuses a requested price further than ``deviation``."""
        if not self.requotes or request.price <= 0:
            return False
        if spec.exemode not in (SYMBOL_TRADE_EXECUTION_INSTANT, SYMBOL_TRADE_EXECUTION_REQUEST):
            return False
        return abs(request.price - price) > request.deviation * spec.point + spec.point * 1e-3

    # --- positions ----------------------------------------------------------------------
    def _sltp(self, request: TradeRequest, execute: bool) -> Outcome:
        state = self.ledger.state
        if request.position:
            position = state.positions.get(request.position)
            if position is None:
                return Outcome(TRADE_RETCODE_POSITION_CLOSED)
        else:
            position = state.position_on(request.symbol)
            if position is None or state.hedging:
                return Outcome(TRADE_RETCODE_INVALID)
        spec = self._spec(position.symbol)
        quote = self._live_quote(spec)
        if isinstance(quote, Outcome):
            return quote
        bid, ask = quote
        buy = position.type == POSITION_TYPE_BUY
        market = bid if buy else ask
        sl, tp = round(request.sl, spec.digits), round(request.tp, spec.digits)
        if sl == position.sl and tp == position.tp:
            return Outcome(TRADE_RETCODE_NO_CHANGES)
        if (sl != position.sl and frozen(spec, market, position.sl)) or (
            tp != position.tp and frozen(spec, market, position.tp)
        ):
            return Outcome(TRADE_RETCODE_FROZEN)
        if not stops_ok(spec, buy, market, sl, tp):
            return Outcome(TRADE_RETCODE_INVALID_STOPS)
        if execute:
            now = self.ledger.now_msc
            state.positions[position.ticket] = position._replace(
                sl=sl, tp=tp, time_update=now // 1000, time_update_msc=now
            )
        return Outcome(TRADE_RETCODE_DONE, bid=bid, ask=ask)

    def _close_by(self, request: TradeRequest, execute: bool) -> Outcome:
        """Close a position by an opposite one (hedging): both shrink by the smaller volume.

        The closed part of ``position`` is valued at ``position_by``'s open price and
        ``position_by``'s part at its own open price, so the pair realises exactly the
        difference of the two open prices, with no spread paid (deal entry OUT_BY).
        """
        state = self.ledger.state
        if not state.hedging:
            return Outcome(TRADE_RETCODE_INVALID)
        first = state.positions.get(request.position)
        second = state.positions.get(request.position_by)
        if first is None or second is None:
            return Outcome(TRADE_RETCODE_POSITION_CLOSED)
        if first.symbol != second.symbol or first.type == second.type:
            return Outcome(TRADE_RETCODE_INVALID)
        spec = self._spec(first.symbol)
        if not self._market_open(spec.name):
            return Outcome(TRADE_RETCODE_MARKET_CLOSED)
        volume = min(first.volume, second.volume)
        price = second.price_open
        if not execute:
            return Outcome(TRADE_RETCODE_DONE, volume=volume, price=price)
        now = self.ledger.now_msc
        order = self._order(request, spec)._replace(
            type=ORDER_TYPE_CLOSE_BY,
            state=ORDER_STATE_FILLED,
            time_done=now // 1000,
            time_done_msc=now,
            position_id=first.identifier,
            position_by_id=second.identifier,
            volume_initial=volume,
            volume_current=0.0,
            price_open=price,
            price_current=price,
            sl=0.0,
            tp=0.0,
        )
        state.history_orders.append(order)
        deals = []
        for position in (first, second):
            profit = self.ledger.money.profit(
                position.type, spec, volume, position.price_open, price
            )
            swap, kept_swap = split_swap(position, volume)
            deal = self.ledger.book_deal(
                order,
                opposite(position.type),
                entry=DEAL_ENTRY_OUT_BY,
                position_id=position.identifier,
                reason=DEAL_REASON_EXPERT,
                volume=volume,
                price=price,
                time_msc=now,
                profit=profit or 0.0,
                swap=swap,
            )
            deals.append(deal)
            remaining = round(position.volume - volume, 8)
            if remaining > 0:
                state.positions[position.ticket] = position._replace(
                    volume=remaining, swap=kept_swap, time_update=now // 1000, time_update_msc=now
                )
            else:
                del state.positions[position.ticket]
        fill = Fill(order.ticket, deals[0].ticket, volume, price, first.identifier)
        return Outcome(TRADE_RETCODE_DONE, fill, order.ticket, volume, price)
