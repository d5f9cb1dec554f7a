"""MetaTrader's trading functions: orders, positions, margin/profit, requests, history."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from forexbot.connectors.mt5_constants import (
    ORDER_TYPE_BUY,
    ORDER_TYPE_SELL,
    TRADE_ACTION_DEAL,
    TRADE_RETCODE_REJECT,
    TRADE_RETCODE_REQUOTE,
)

from .core import TerminalCore, numbers_ok, terminal_call
from .errors import (
    CALL_FAILED,
    INVALID_PARAMS,
    NOT_FOUND,
)
from .faults import IPC_TIMEOUT
from .history_index import HistoryIndex
from .queries import select_open, window
from .requests import InvalidRequest, parse_request
from .structures import (
    OrderCheckResult,
    OrderSendResult,
    TradeDeal,
    TradeOrder,
    TradePosition,
)
from .symbols import match_group
from .trading import UnknownSymbol


class _HistoryRecord(Protocol):
    @property
    def position_id(self) -> int: ...

    @property
    def symbol(self) -> str: ...


_H = TypeVar("_H", bound=_HistoryRecord)


class TradingAPI(TerminalCore):
    """orders_*, positions_*, order_calc_*, order_check/send, history_*."""

    @terminal_call(failure=None)
    def orders_total(self) -> int | None:
        return len(self._state.orders)

    @terminal_call(failure=None)
    def orders_get(
        self, symbol: str | None = None, group: str | None = None, ticket: int | None = None
    ) -> tuple[TradeOrder, ...] | None:
        orders = select_open(self._state.orders.values(), symbol, group, ticket)
        return tuple(self._priced_order(order) for order in orders)

    def _priced_order(self, order: TradeOrder) -> TradeOrder:
        quote = self._ledger.quote(order.symbol)
        if quote is None:
            return order
        return order._replace(price_current=quote[1] if order.type % 2 == 0 else quote[0])

    @terminal_call(failure=None)
    def positions_total(self) -> int | None:
        return len(self._state.positions)

    @terminal_call(failure=None)
    def positions_get(
        self, symbol: str | None = None, group: str | None = None, ticket: int | None = None
    ) -> tuple[TradePosition, ...] | None:
        positions = select_open(self._state.positions.values(), symbol, group, ticket)
        return tuple(self._ledger.valued(p) for p in positions)

    @terminal_call(failure=None)
    def order_calc_margin(
        self, action: int, symbol: str, volume: float, price: float
    ) -> float | None:
        if (spec := self._spec(symbol)) is None:
            return None
        if action not in (ORDER_TYPE_BUY, ORDER_TYPE_SELL) or not numbers_ok(volume, price):
            self._fail(INVALID_PARAMS)
            return None
        margin = self._ledger.money.margin(action, spec, float(volume), float(price))
        if margin is None:
            self._fail(CALL_FAILED)
        return margin

    @terminal_call(failure=None)
    def order_calc_profit(
        self, action: int, symbol: str, volume: float, price_open: float, price_close: float
    ) -> float | None:
        if (spec := self._spec(symbol)) is None:
            return None
        valid = numbers_ok(volume, price_open, price_close)
        if action not in (ORDER_TYPE_BUY, ORDER_TYPE_SELL) or not valid:
            self._fail(INVALID_PARAMS)
            return None
        profit = self._ledger.money.profit(
            action, spec, float(volume), float(price_open), float(price_close)
        )
        if profit is None:
            self._fail(CALL_FAILED)
        return profit

    @terminal_call(failure=None)
    def order_check(self, request: dict[str, object]) -> OrderCheckResult | None:
        try:
            return self._desk.check(parse_request(request))
        except InvalidRequest as refused:
            self._fail(refused.error)
        except UnknownSymbol:
            self._fail(NOT_FOUND)
        return None

    def order_send(self, request: dict[str, object]) -> OrderSendResult | None:
        """Send a trade request. Fault injection may reject or requote it, or execute it and
        lose the reply (None with -10005), or answer it late: see :mod:`faults`."""
        with self._lock:
            if not self._begin("order_send"):
                return None
            lost_reply = self._take_lost_reply()
            result = self._send(request)
            if lost_reply:
                self._fail(IPC_TIMEOUT)
                return None
        # Executed and saved; the answer is late (outside the lock, like a slow call).
        self.faults.reply_delay()
        return result

    def _send(self, request: dict[str, object]) -> OrderSendResult | None:
        try:
            parsed = parse_request(request)
            fault = self.faults.trade_fault(parsed.action == TRADE_ACTION_DEAL)
            if fault == "reject":
                return self._desk.refuse(parsed, TRADE_RETCODE_REJECT)
            if fault == "requote":
                return self._desk.refuse(parsed, TRADE_RETCODE_REQUOTE)
            result = self._desk.send(parsed)
        except InvalidRequest as refused:
            self._fail(refused.error)
            return None
        except UnknownSymbol:
            self._fail(NOT_FOUND)
            return None
        self._save()
        return result

    # --- history ----------------------------------------------------------------------
    def _history_filter(
        self,
        date_from: object,
        date_to: object,
        group: str | None,
        ticket: int | None,
        position: int | None,
    ) -> tuple[tuple[int, int] | None, bool]:
        """(window or None, valid): a window unless ``ticket``/``position`` select instead."""
        if ticket is not None or position is not None:
            return None, True
        bounds = window(date_from, date_to)
        return bounds, bounds is not None and (group is None or isinstance(group, str))

    def history_orders_total(self, date_from: object, date_to: object) -> int | None:
        orders = self.history_orders_get(date_from, date_to)
        return None if orders is None else len(orders)

    @terminal_call(failure=None)
    def history_orders_get(
        self,
        date_from: object = None,
        date_to: object = None,
        group: str | None = None,
        ticket: int | None = None,
        position: int | None = None,
    ) -> tuple[TradeOrder, ...] | None:
        """Finished orders: by setup time in the window, by ``ticket`` or by ``position``."""
        return self._select_history(
            self._state.history_orders,
            (date_from, date_to, group, ticket, position),
            order_of=lambda o: o.ticket,
            time_of=lambda o: o.time_setup,
        )

    def history_deals_total(self, date_from: object, date_to: object) -> int | None:
        deals = self.history_deals_get(date_from, date_to)
        return None if deals is None else len(deals)

    @terminal_call(failure=None)
    def history_deals_get(
        self,
        date_from: object = None,
        date_to: object = None,
        group: str | None = None,
        ticket: int | None = None,
        position: int | None = None,
    ) -> tuple[TradeDeal, ...] | None:
        """Deals: by time in the window, by the ``ticket`` of their order, or by ``position``."""
        return self._select_history(
            self._state.deals,
            (date_from, date_to, group, ticket, position),
            order_of=lambda d: d.order,
            time_of=lambda d: d.time,
        )

    def _select_history(
        self,
        records: Sequence[_H],
        query: tuple[object, object, str | None, int | None, int | None],
        *,
        order_of: Callable[[_H], int],
        time_of: Callable[[_H], int],
    ) -> tuple[_H, ...] | None:
        """MetaTrader's history selection: ``ticket`` (the order's ticket) wins, then
        ``position``, else the time window with an optional ``group`` filter."""
        date_from, date_to, group, ticket, position = query
        bounds, valid = self._history_filter(date_from, date_to, group, ticket, position)
        if not valid:
            self._fail(INVALID_PARAMS)
            return None
        index = self._history_index(records, order_of, time_of)
        if ticket is not None:
            return index.by_order(ticket)
        if position is not None:
            return index.by_position(position)
        assert bounds is not None
        return tuple(
            r for r in index.in_window(*bounds) if group is None or match_group(r.symbol, group)
        )

    def _history_index(
        self,
        records: Sequence[_H],
        order_of: Callable[[_H], int],
        time_of: Callable[[_H], int],
    ) -> HistoryIndex[_H]:
        """The index following ``records`` (rebuilt when the list was replaced: a reload)."""
        index: HistoryIndex[_H] | None = self._history_indexes.get(id(records))
        if index is None or not index.follows(records):
            index = HistoryIndex(records, order_of, time_of)
            self._history_indexes[id(records)] = index
        return index
