"""Deal and order history: the deposit, IN/OUT deals, selection by window, ticket, position."""

from __future__ import annotations

from conftest import Send

import forexbot.connectors.mt5sim as mt5
from forexbot.clock import ManualClock
from forexbot.connectors.mt5sim.terminal import SimulatedTerminal

BUY, SELL = mt5.ORDER_TYPE_BUY, mt5.ORDER_TYPE_SELL
EVER = (0, 2**40)


def test_initial_deposit_is_a_balance_deal(terminal: SimulatedTerminal) -> None:
    (deal,) = terminal.history_deals_get(*EVER) or ()
    assert (deal.type, deal.symbol, deal.profit, deal.order, deal.position_id) == (
        mt5.DEAL_TYPE_BALANCE,
        "",
        10_000.0,
        0,
        0,
    )


def test_round_trip_leaves_an_in_and_an_out_deal_with_profit_on_out(
    terminal: SimulatedTerminal, clock: ManualClock, send: Send
) -> None:
    opened = send("EURUSD", BUY, 0.1, magic=1, comment="a")
    clock.advance(300)
    closed = send("EURUSD", SELL, 0.1, position=opened.order, magic=1, comment="a-close")
    deals = terminal.history_deals_get(position=opened.order) or ()
    assert [(d.entry, d.type, d.order) for d in deals] == [
        (mt5.DEAL_ENTRY_IN, mt5.DEAL_TYPE_BUY, opened.order),
        (mt5.DEAL_ENTRY_OUT, mt5.DEAL_TYPE_SELL, closed.order),
    ]
    assert deals[0].profit == 0.0
    assert deals[1].profit == round((closed.price - opened.price) * 10_000, 2)
    assert [d.reason for d in deals] == [mt5.DEAL_REASON_EXPERT] * 2
    orders = terminal.history_orders_get(position=opened.order) or ()
    assert [o.ticket for o in orders] == [opened.order, closed.order]
    assert {o.state for o in orders} == {mt5.ORDER_STATE_FILLED}


def test_history_deals_get_by_ticket_selects_the_orders_deals(
    terminal: SimulatedTerminal, send: Send
) -> None:
    opened = send("EURUSD", BUY, 0.1)
    (deal,) = terminal.history_deals_get(ticket=opened.order) or ()
    assert deal.ticket == opened.deal


def test_history_window_includes_both_ends_in_server_time(
    terminal: SimulatedTerminal, clock: ManualClock, send: Send
) -> None:
    first = send("EURUSD", BUY, 0.1)
    clock.advance(3600)
    second = send("GBPUSD", BUY, 0.1)
    (d1,) = terminal.history_deals_get(ticket=first.order) or ()
    (d2,) = terminal.history_deals_get(ticket=second.order) or ()
    assert d2.time - d1.time == 3600
    assert d1.time == int(clock.time() - 3600 + 7200)
    window = terminal.history_deals_get(d1.time, d2.time) or ()
    assert [d.ticket for d in window if d.symbol] == [d1.ticket, d2.ticket]  # and the deposit
    assert terminal.history_deals_total(d1.time + 1, d2.time) == 1
    assert terminal.history_orders_total(d1.time, d1.time) == 1


def test_history_group_filter_selects_by_symbol(terminal: SimulatedTerminal, send: Send) -> None:
    send("EURUSD", BUY, 0.1)
    send("GBPUSD", BUY, 0.1)
    deals = terminal.history_deals_get(*EVER, group="*GBP*") or ()
    assert [d.symbol for d in deals] == ["GBPUSD"]


def test_history_without_window_ticket_or_position_is_invalid(terminal: SimulatedTerminal) -> None:
    assert terminal.history_deals_get() is None
    assert terminal.last_error() == (-2, "Terminal: Invalid params")


def test_positions_get_and_orders_get_filters(terminal: SimulatedTerminal, send: Send) -> None:
    eur = send("EURUSD", BUY, 0.1)
    send("GBPUSD", SELL, 0.1)
    assert [p.symbol for p in terminal.positions_get(symbol="EURUSD") or ()] == ["EURUSD"]
    assert [p.symbol for p in terminal.positions_get(group="*GBP*") or ()] == ["GBPUSD"]
    assert [p.ticket for p in terminal.positions_get(ticket=eur.order) or ()] == [eur.order]
    assert terminal.positions_get(symbol="USDJPY") == ()
    assert terminal.orders_get() == ()
    assert terminal.positions_total() == 2
