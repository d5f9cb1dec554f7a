"""Pending orders: placement rules, triggers on the right side, modify, remove, expiry."""

from __future__ import annotations

from typing import Any

from mt5sim_testkit import advance_until

import forexbot.connectors.mt5sim as mt5
from forexbot.clock import ManualClock
from forexbot.connectors.mt5sim.terminal import SimulatedTerminal

V100 = "Volatility 100 Index"
GAP = 1.5


def _pending(terminal: SimulatedTerminal, order_type: int, price: float, **extra: Any) -> Any:
    request = {
        "action": mt5.TRADE_ACTION_PENDING,
        "symbol": V100,
        "volume": 0.5,
        "type": order_type,
        "price": price,
        "type_filling": mt5.ORDER_FILLING_RETURN,
    }
    request.update(extra)
    return terminal.order_send(request)


def _quote(terminal: SimulatedTerminal) -> mt5.Tick:
    terminal.symbol_select(V100)
    tick = terminal.symbol_info_tick(V100)
    assert tick is not None
    return tick


def test_placed_order_waits_in_orders_get(terminal: SimulatedTerminal) -> None:
    tick = _quote(terminal)
    price = round(tick.ask - GAP, 2)
    result = _pending(terminal, mt5.ORDER_TYPE_BUY_LIMIT, price, magic=4, comment="cid-9")
    assert (result.retcode, result.comment, result.deal) == (10008, "Order placed", 0)
    (order,) = terminal.orders_get() or ()
    assert (order.ticket, order.type, order.state, order.price_open) == (
        result.order,
        mt5.ORDER_TYPE_BUY_LIMIT,
        mt5.ORDER_STATE_PLACED,
        price,
    )
    assert (order.magic, order.comment, order.volume_current) == (4, "cid-9", 0.5)
    assert terminal.orders_total() == 1


def test_buy_limit_fills_at_ask_and_becomes_a_position_with_its_ticket(
    terminal: SimulatedTerminal, clock: ManualClock
) -> None:
    tick = _quote(terminal)
    price = round(tick.ask - GAP, 2)
    placed = _pending(terminal, mt5.ORDER_TYPE_BUY_LIMIT, price, tp=round(price + 50, 2))
    advance_until(clock, lambda: terminal.orders_total() == 0)
    (position,) = terminal.positions_get() or ()
    assert position.ticket == position.identifier == placed.order
    assert position.price_open <= price
    assert position.tp == round(price + 50, 2)
    (order,) = terminal.history_orders_get(ticket=placed.order) or ()
    assert order.state == mt5.ORDER_STATE_FILLED
    (deal,) = terminal.history_deals_get(ticket=placed.order) or ()
    ticks = terminal.copy_ticks_range(V100, deal.time - 1, deal.time, mt5.COPY_TICKS_ALL)
    assert ticks is not None
    assert deal.price == ticks["ask"][ticks["time_msc"] == deal.time_msc][0]


def test_sell_stop_triggers_when_bid_falls_to_it(
    terminal: SimulatedTerminal, clock: ManualClock
) -> None:
    tick = _quote(terminal)
    price = round(tick.bid - GAP, 2)
    placed = _pending(terminal, mt5.ORDER_TYPE_SELL_STOP, price)
    advance_until(clock, lambda: terminal.orders_total() == 0)
    (position,) = terminal.positions_get() or ()
    assert position.type == mt5.POSITION_TYPE_SELL
    assert position.ticket == placed.order
    assert position.price_open <= price


def test_pending_price_on_the_wrong_side_is_invalid_price(terminal: SimulatedTerminal) -> None:
    tick = _quote(terminal)
    assert _pending(terminal, mt5.ORDER_TYPE_BUY_LIMIT, round(tick.ask + GAP, 2)).retcode == 10015
    assert _pending(terminal, mt5.ORDER_TYPE_SELL_STOP, round(tick.bid + GAP, 2)).retcode == 10015


def test_pending_stops_are_measured_from_the_open_price(terminal: SimulatedTerminal) -> None:
    tick = _quote(terminal)
    price = round(tick.ask - GAP, 2)
    wrong = _pending(terminal, mt5.ORDER_TYPE_BUY_LIMIT, price, sl=round(price + 0.5, 2))
    right = _pending(terminal, mt5.ORDER_TYPE_BUY_LIMIT, price, sl=round(price - 0.5, 2))
    assert (wrong.retcode, right.retcode) == (10016, 10008)


def test_remove_cancels_the_order_into_history(terminal: SimulatedTerminal) -> None:
    tick = _quote(terminal)
    placed = _pending(terminal, mt5.ORDER_TYPE_BUY_LIMIT, round(tick.ask - GAP, 2))
    removed = terminal.order_send({"action": mt5.TRADE_ACTION_REMOVE, "order": placed.order})
    assert removed is not None
    assert removed.retcode == 10009
    assert terminal.orders_total() == 0
    (order,) = terminal.history_orders_get(ticket=placed.order) or ()
    assert order.state == mt5.ORDER_STATE_CANCELED


def test_modify_moves_the_price_and_stops(terminal: SimulatedTerminal) -> None:
    tick = _quote(terminal)
    placed = _pending(terminal, mt5.ORDER_TYPE_BUY_LIMIT, round(tick.ask - GAP, 2))
    new_price = round(tick.ask - 2 * GAP, 2)
    modified = terminal.order_send(
        {
            "action": mt5.TRADE_ACTION_MODIFY,
            "order": placed.order,
            "price": new_price,
            "sl": round(new_price - 1, 2),
        }
    )
    assert modified is not None
    assert modified.retcode == 10009
    (order,) = terminal.orders_get() or ()
    assert (order.price_open, order.sl) == (new_price, round(new_price - 1, 2))


def test_modify_without_a_price_is_invalid_price_and_leaves_the_order(
    terminal: SimulatedTerminal,
) -> None:
    """Ruling R2 (docs/mt5sim.md): price is a required field of TRADE_ACTION_MODIFY; 0 (or
    leaving it out) is not "keep the old price" but an invalid price, 10015."""
    tick = _quote(terminal)
    price = round(tick.ask - GAP, 2)
    sl = round(price - 1, 2)
    placed = _pending(terminal, mt5.ORDER_TYPE_BUY_LIMIT, price, sl=sl)
    new_sl = round(price - 2, 2)
    without = {"action": mt5.TRADE_ACTION_MODIFY, "order": placed.order, "sl": new_sl}
    for request in (without, {**without, "price": 0.0}):
        result = terminal.order_send(request)
        assert result is not None
        assert (result.retcode, result.comment) == (10015, "Invalid price")
        checked = terminal.order_check(request)
        assert checked is not None
        assert checked.retcode == mt5.TRADE_RETCODE_INVALID_PRICE
    (order,) = terminal.orders_get() or ()
    assert (order.price_open, order.sl) == (price, sl)
    kept = terminal.order_send({**without, "price": price})
    assert kept is not None
    assert kept.retcode == mt5.TRADE_RETCODE_DONE
    (order,) = terminal.orders_get() or ()
    assert (order.price_open, order.sl) == (price, new_sl)


def test_modify_of_a_stop_limit_order_needs_its_stoplimit_price(
    terminal: SimulatedTerminal,
) -> None:
    tick = _quote(terminal)
    stop = round(tick.ask + GAP, 2)
    placed = _pending(terminal, mt5.ORDER_TYPE_BUY_STOP_LIMIT, stop, stoplimit=round(stop - 1, 2))
    assert placed.retcode == mt5.TRADE_RETCODE_PLACED
    new_stop = round(stop + 1, 2)
    request = {"action": mt5.TRADE_ACTION_MODIFY, "order": placed.order, "price": new_stop}
    refused = terminal.order_send(request)
    assert refused is not None
    assert refused.retcode == mt5.TRADE_RETCODE_INVALID_PRICE
    moved = terminal.order_send({**request, "stoplimit": round(new_stop - 1, 2)})
    assert moved is not None
    assert moved.retcode == mt5.TRADE_RETCODE_DONE
    (order,) = terminal.orders_get() or ()
    assert (order.price_open, order.price_stoplimit) == (new_stop, round(new_stop - 1, 2))


def test_order_with_a_specified_expiry_expires(
    terminal: SimulatedTerminal, clock: ManualClock
) -> None:
    tick = _quote(terminal)
    expiry = tick.time + 600
    placed = _pending(
        terminal,
        mt5.ORDER_TYPE_BUY_LIMIT,
        round(tick.ask - 200, 2),
        type_time=mt5.ORDER_TIME_SPECIFIED,
        expiration=expiry,
    )
    assert placed.retcode == 10008
    clock.advance(900)
    assert terminal.orders_total() == 0
    (order,) = terminal.history_orders_get(ticket=placed.order) or ()
    assert (order.state, order.time_done) == (mt5.ORDER_STATE_EXPIRED, expiry)


def test_expiry_in_the_past_is_invalid_expiration(terminal: SimulatedTerminal) -> None:
    tick = _quote(terminal)
    result = _pending(
        terminal,
        mt5.ORDER_TYPE_BUY_LIMIT,
        round(tick.ask - GAP, 2),
        type_time=mt5.ORDER_TIME_SPECIFIED,
        expiration=tick.time - 60,
    )
    assert result.retcode == mt5.TRADE_RETCODE_INVALID_EXPIRATION


def test_buy_stop_limit_becomes_a_buy_limit_when_the_stop_is_reached(
    terminal: SimulatedTerminal, clock: ManualClock
) -> None:
    tick = _quote(terminal)
    stop = round(tick.ask + GAP, 2)
    placed = _pending(terminal, mt5.ORDER_TYPE_BUY_STOP_LIMIT, stop, stoplimit=round(stop - 1, 2))
    assert placed.retcode == 10008

    def activated_or_filled() -> bool:
        orders = terminal.orders_get() or ()
        return not orders or orders[0].type == mt5.ORDER_TYPE_BUY_LIMIT

    advance_until(clock, activated_or_filled, step=10)
    orders = terminal.orders_get() or ()
    if orders:
        assert (orders[0].ticket, orders[0].price_open) == (placed.order, round(stop - 1, 2))
    else:
        (position,) = terminal.positions_get() or ()
        assert position.price_open <= round(stop - 1, 2)
