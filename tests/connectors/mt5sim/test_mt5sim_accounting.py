"""Hedging (positions by ticket) and netting (one position per symbol) accounting."""

from __future__ import annotations

import pytest
from conftest import Send
from mt5sim_testkit import market_request

import forexbot.connectors.mt5sim as mt5
from forexbot.clock import ManualClock
from forexbot.connectors.mt5sim.terminal import SimulatedTerminal

BUY, SELL = mt5.ORDER_TYPE_BUY, mt5.ORDER_TYPE_SELL


def test_hedging_opposite_order_without_position_opens_a_hedge(
    terminal: SimulatedTerminal, send: Send
) -> None:
    send("EURUSD", BUY, 0.1)
    send("EURUSD", SELL, 0.1)
    positions = terminal.positions_get(symbol="EURUSD") or ()
    assert sorted(p.type for p in positions) == [mt5.POSITION_TYPE_BUY, mt5.POSITION_TYPE_SELL]


def test_hedging_close_by_ticket(terminal: SimulatedTerminal, send: Send) -> None:
    first = send("EURUSD", BUY, 0.1)
    second = send("EURUSD", BUY, 0.2)
    tick = terminal.symbol_info_tick("EURUSD")
    closed = send("EURUSD", SELL, 0.1, position=first.order)
    assert tick is not None
    assert closed.retcode == 10009
    assert closed.price == tick.bid
    assert [p.ticket for p in terminal.positions_get() or ()] == [second.order]
    deal = (terminal.history_deals_get(position=first.order) or ())[-1]
    assert (deal.entry, deal.volume, deal.position_id) == (mt5.DEAL_ENTRY_OUT, 0.1, first.order)
    assert deal.profit == round((tick.bid - first.price) * 10_000, 2)


def test_hedging_partial_close_keeps_the_rest_open(terminal: SimulatedTerminal, send: Send) -> None:
    opened = send("EURUSD", BUY, 0.5)
    send("EURUSD", SELL, 0.2, position=opened.order)
    (position,) = terminal.positions_get() or ()
    assert (position.ticket, position.volume, position.price_open) == (
        opened.order,
        0.3,
        opened.price,
    )
    send("EURUSD", SELL, 0.3, position=opened.order)
    assert terminal.positions_total() == 0


def test_closing_a_closed_position_is_position_closed(send: Send) -> None:
    opened = send("EURUSD", BUY, 0.1)
    send("EURUSD", SELL, 0.1, position=opened.order)
    assert send("EURUSD", SELL, 0.1, position=opened.order).retcode == 10036


def test_close_by_settles_two_opposite_positions_at_the_difference_of_their_prices(
    terminal: SimulatedTerminal, send: Send
) -> None:
    long = send("EURUSD", BUY, 0.3)
    short = send("EURUSD", SELL, 0.1)
    result = terminal.order_send(
        {"action": mt5.TRADE_ACTION_CLOSE_BY, "position": long.order, "position_by": short.order}
    )
    assert result is not None
    assert result.retcode == 10009
    (rest,) = terminal.positions_get() or ()
    assert (rest.ticket, rest.volume) == (long.order, 0.2)
    deals = [d for d in terminal.history_deals_get(0, 2**40) or () if d.entry == 3]
    assert len(deals) == 2
    assert sum(d.profit for d in deals) == pytest.approx(
        round((short.price - long.price) * 10_000, 2), abs=0.011
    )


def _net(terminal: SimulatedTerminal, order_type: int, volume: float) -> mt5.OrderSendResult:
    result = terminal.order_send(market_request("EURUSD", order_type, volume))
    assert result is not None
    assert result.retcode == 10009
    return result


def test_netting_same_side_adds_at_the_average_price(netting: SimulatedTerminal) -> None:
    first = _net(netting, BUY, 0.1)
    second = _net(netting, BUY, 0.3)
    (position,) = netting.positions_get() or ()
    assert (position.ticket, position.volume) == (first.order, 0.4)
    average = (first.price * 0.1 + second.price * 0.3) / 0.4
    assert position.price_open == pytest.approx(average, abs=1e-7)
    assert (netting.history_deals_get(ticket=second.order) or ())[0].entry == mt5.DEAL_ENTRY_IN


def test_netting_opposite_deal_reduces_then_closes(netting: SimulatedTerminal) -> None:
    first = _net(netting, BUY, 0.5)
    reduce = _net(netting, SELL, 0.2)
    (position,) = netting.positions_get() or ()
    assert (position.ticket, position.type, position.volume) == (first.order, BUY, 0.3)
    (deal,) = netting.history_deals_get(ticket=reduce.order) or ()
    assert (deal.entry, deal.position_id) == (mt5.DEAL_ENTRY_OUT, first.order)
    assert deal.profit == round((reduce.price - first.price) * 20_000, 2)
    _net(netting, SELL, 0.3)
    assert netting.positions_total() == 0


def test_netting_larger_opposite_deal_reverses_the_position(netting: SimulatedTerminal) -> None:
    first = _net(netting, BUY, 0.2)
    reverse = _net(netting, SELL, 0.5)
    (position,) = netting.positions_get() or ()
    assert (position.identifier, position.type, position.volume, position.price_open) == (
        first.order,
        mt5.POSITION_TYPE_SELL,
        0.3,
        reverse.price,
    )
    (deal,) = netting.history_deals_get(ticket=reverse.order) or ()
    assert (deal.entry, deal.volume) == (mt5.DEAL_ENTRY_INOUT, 0.5)
    assert deal.profit == round((reverse.price - first.price) * 20_000, 2)


def test_netting_account_reports_netting_margin_mode(netting: SimulatedTerminal) -> None:
    info = netting.account_info()
    assert info is not None
    assert info.margin_mode == mt5.ACCOUNT_MARGIN_MODE_RETAIL_NETTING


def test_commission_is_charged_per_lot_on_each_deal(clock: ManualClock) -> None:
    term = SimulatedTerminal(seed=1, clock=clock, commission_per_lot=3.5)
    term.initialize()
    opened = term.order_send(market_request("EURUSD", BUY, 2.0))
    assert opened is not None
    (deal,) = term.history_deals_get(ticket=opened.order) or ()
    info = term.account_info()
    assert deal.commission == -7.0
    assert info is not None
    assert info.balance == 9_993.0
