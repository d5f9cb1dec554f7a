"""Market orders: fills at the right side of the quote, and each of MetaTrader's refusals."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from conftest import Send
from mt5sim_testkit import SATURDAY, market_request

import forexbot.connectors.mt5sim as mt5
from forexbot.clock import ManualClock
from forexbot.connectors.mt5sim.symbols import FILLING_FOK_BIT, Catalogue
from forexbot.connectors.mt5sim.terminal import SimulatedTerminal
from forexbot.connectors.mt5sim.validation import filling_ok

BUY, SELL = mt5.ORDER_TYPE_BUY, mt5.ORDER_TYPE_SELL


def test_market_buy_fills_at_ask(terminal: SimulatedTerminal, send: Send) -> None:
    tick = terminal.symbol_info_tick("EURUSD")
    result = send("EURUSD", BUY, 0.1)
    assert tick is not None
    assert (result.retcode, result.comment) == (10009, "Request executed")
    assert (result.price, result.bid, result.ask, result.volume) == (
        tick.ask,
        tick.bid,
        tick.ask,
        0.1,
    )


def test_market_sell_fills_at_bid(terminal: SimulatedTerminal, send: Send) -> None:
    tick = terminal.symbol_info_tick("EURUSD")
    result = send("EURUSD", SELL, 0.1)
    assert tick is not None
    assert result.price == tick.bid


def test_order_ticket_becomes_the_position_ticket_and_identifier(
    terminal: SimulatedTerminal, send: Send
) -> None:
    result = send("EURUSD", BUY, 0.2, magic=77, comment="cid-123")
    (position,) = terminal.positions_get() or ()
    assert position.ticket == position.identifier == result.order
    assert (position.type, position.volume, position.price_open) == (BUY, 0.2, result.price)
    assert (position.magic, position.comment, position.reason) == (
        77,
        "cid-123",
        mt5.POSITION_REASON_EXPERT,
    )


def test_comment_and_magic_are_stored_on_order_and_deal(
    terminal: SimulatedTerminal, send: Send
) -> None:
    result = send("EURUSD", BUY, 0.1, magic=9, comment="client-order-1")
    (order,) = terminal.history_orders_get(ticket=result.order) or ()
    (deal,) = terminal.history_deals_get(ticket=result.order) or ()
    assert (order.magic, order.comment, order.state) == (
        9,
        "client-order-1",
        mt5.ORDER_STATE_FILLED,
    )
    assert (deal.ticket, deal.magic, deal.comment, deal.entry) == (
        result.deal,
        9,
        "client-order-1",
        0,
    )


def test_result_echoes_the_request(send: Send) -> None:
    result = send("EURUSD", BUY, 0.1, deviation=20, magic=5)
    assert result.request == mt5.TradeRequest(
        action=1, magic=5, symbol="EURUSD", volume=0.1, type=BUY, deviation=20
    )


@pytest.mark.parametrize("volume", [0.001, 0.015, 501.0])
def test_volume_outside_min_max_or_step_is_invalid_volume(send: Send, volume: float) -> None:
    assert send("EURUSD", BUY, volume).retcode == mt5.TRADE_RETCODE_INVALID_VOLUME


def test_stops_on_the_wrong_side_are_invalid_stops(terminal: SimulatedTerminal, send: Send) -> None:
    tick = terminal.symbol_info_tick("EURUSD")
    assert tick is not None
    assert send("EURUSD", BUY, 0.1, sl=tick.bid + 0.001).retcode == 10016
    assert send("EURUSD", BUY, 0.1, tp=tick.bid - 0.001).retcode == 10016
    assert send("EURUSD", SELL, 0.1, sl=tick.ask - 0.001).retcode == 10016
    assert send("EURUSD", SELL, 0.1, tp=tick.ask + 0.001).retcode == 10016


def test_stops_within_the_stops_level_are_invalid_stops(
    terminal: SimulatedTerminal, send: Send
) -> None:
    terminal.symbol_select("GBPJPY")
    info, tick = terminal.symbol_info("GBPJPY"), terminal.symbol_info_tick("GBPJPY")
    assert info is not None
    assert tick is not None
    assert info.trade_stops_level == 10
    too_close = round(tick.bid - 9 * info.point, 3)
    far_enough = round(tick.bid - 10 * info.point, 3)
    assert send("GBPJPY", BUY, 0.1, sl=too_close).retcode == mt5.TRADE_RETCODE_INVALID_STOPS
    assert send("GBPJPY", BUY, 0.1, sl=far_enough).retcode == mt5.TRADE_RETCODE_DONE


def test_stops_exactly_at_the_price_are_invalid_even_with_a_zero_stops_level(
    terminal: SimulatedTerminal, send: Send
) -> None:
    """Ruling R1 (docs/mt5sim.md): a level of 0 lets a stop sit one point from the price, not
    at it (it would meet its own trigger condition at once); a pending price at the market is
    likewise refused."""
    info, tick = terminal.symbol_info("EURUSD"), terminal.symbol_info_tick("EURUSD")
    assert info is not None
    assert tick is not None
    assert info.trade_stops_level == 0
    point = info.point
    assert send("EURUSD", BUY, 0.1, sl=tick.bid).retcode == mt5.TRADE_RETCODE_INVALID_STOPS
    assert send("EURUSD", BUY, 0.1, tp=tick.bid).retcode == mt5.TRADE_RETCODE_INVALID_STOPS
    assert send("EURUSD", SELL, 0.1, sl=tick.ask).retcode == mt5.TRADE_RETCODE_INVALID_STOPS
    assert send("EURUSD", SELL, 0.1, tp=tick.ask).retcode == mt5.TRADE_RETCODE_INVALID_STOPS
    assert terminal.positions_total() == 0
    opened = send("EURUSD", BUY, 0.1, sl=round(tick.bid - point, 5), tp=round(tick.bid + point, 5))
    assert opened.retcode == mt5.TRADE_RETCODE_DONE
    at_bid = {"action": mt5.TRADE_ACTION_SLTP, "position": opened.order, "sl": tick.bid}
    moved = terminal.order_send(at_bid)
    assert moved is not None
    assert moved.retcode == mt5.TRADE_RETCODE_INVALID_STOPS
    pending = {
        "action": mt5.TRADE_ACTION_PENDING,
        "symbol": "EURUSD",
        "volume": 0.1,
        "type": mt5.ORDER_TYPE_BUY_LIMIT,
        "type_filling": mt5.ORDER_FILLING_RETURN,
    }
    at_ask = terminal.order_send({**pending, "price": tick.ask})
    below_ask = terminal.order_send({**pending, "price": round(tick.ask - point, 5)})
    assert at_ask is not None
    assert below_ask is not None
    assert (at_ask.retcode, below_ask.retcode) == (10015, mt5.TRADE_RETCODE_PLACED)


def test_forex_market_is_closed_at_the_weekend(
    terminal: SimulatedTerminal, clock: ManualClock, send: Send
) -> None:
    clock.set(SATURDAY)
    assert send("EURUSD", BUY, 0.1).retcode == mt5.TRADE_RETCODE_MARKET_CLOSED
    terminal.symbol_select("Volatility 75 Index")
    assert send("Volatility 75 Index", BUY, 0.01).retcode == mt5.TRADE_RETCODE_DONE


def test_weekend_tick_is_fridays_last_quote(
    terminal: SimulatedTerminal, clock: ManualClock
) -> None:
    clock.set(SATURDAY)
    tick = terminal.symbol_info_tick("EURUSD")
    assert tick is not None
    friday_close_server = int(SATURDAY + 7200) // 86_400 * 86_400  # Saturday 00:00 server
    assert friday_close_server - 60 <= tick.time < friday_close_server


def test_not_enough_free_margin_is_no_money(send: Send) -> None:
    # 100 lots of EURUSD need ~100,000 USD at leverage 100; the account has 10,000.
    assert send("EURUSD", BUY, 100.0).retcode == mt5.TRADE_RETCODE_NO_MONEY


def test_instant_execution_fills_market_orders_fill_or_kill_whatever_type_filling(
    send: Send,
) -> None:
    # MQL5 "Fill policy": Instant/Request execution always uses FOK for market orders, which
    # is why MetaQuotes' order_send example (ORDER_FILLING_RETURN on USDJPY) executes.
    for filling in (mt5.ORDER_FILLING_FOK, mt5.ORDER_FILLING_IOC, mt5.ORDER_FILLING_RETURN):
        assert send("EURUSD", BUY, 0.1, type_filling=filling).retcode == 10009
    assert send("EURUSD", BUY, 0.1, type_filling=7).retcode == 10030  # not a filling type


def test_market_execution_needs_the_symbols_filling_bits(
    terminal: SimulatedTerminal, send: Send
) -> None:
    terminal.symbol_select("Boom 500 Index")  # market execution: FOK | IOC, and RETURN
    assert send("Boom 500 Index", BUY, 0.2, type_filling=mt5.ORDER_FILLING_IOC).retcode == 10009
    assert send("Boom 500 Index", BUY, 0.2, type_filling=5).retcode == 10030
    boom = Catalogue().get("Boom 500 Index")
    assert boom is not None
    fok_only = dataclasses.replace(boom, filling_mode=FILLING_FOK_BIT)
    assert filling_ok(fok_only, mt5.ORDER_FILLING_IOC, pending=False) is False
    assert filling_ok(fok_only, mt5.ORDER_FILLING_FOK, pending=False) is True
    assert filling_ok(fok_only, mt5.ORDER_FILLING_RETURN, pending=False) is True


def test_symbol_without_prices_gives_price_off(send: Send) -> None:
    result = send("EURJPY", BUY, 0.1)  # known symbol, not in Market Watch: no quotes
    assert (result.retcode, result.comment, result.order, result.deal) == (10021, "No prices", 0, 0)


def test_closing_more_than_the_position_is_invalid_close_volume(send: Send) -> None:
    opened = send("EURUSD", BUY, 0.1)
    assert send("EURUSD", SELL, 0.2, position=opened.order).retcode == 10038


def test_requote_when_enabled_and_price_moved_beyond_deviation(clock: ManualClock) -> None:
    term = SimulatedTerminal(seed=3, clock=clock, requotes=True)
    term.initialize()
    tick = term.symbol_info_tick("EURUSD")
    assert tick is not None
    stale = round(tick.ask - 0.0010, 5)
    result = term.order_send(market_request("EURUSD", BUY, 0.1, price=stale, deviation=5))
    assert result is not None
    assert (result.retcode, result.bid, result.ask) == (10004, tick.bid, tick.ask)
    ok = term.order_send(market_request("EURUSD", BUY, 0.1, price=stale, deviation=200))
    assert ok is not None
    assert ok.retcode == 10009


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"volume": 1}, (-2, 'Invalid "volume" argument')),
        ({"volume": "0.1"}, (-2, 'Invalid "volume" argument')),
        ({"volume": None}, (-2, 'Invalid "volume" argument')),
        ({"comment": "x" * 32}, (-2, 'Invalid "comment" argument')),
        ({"comment": 5}, (-2, 'Invalid "comment" argument')),
        ({"type": 0.0}, (-2, 'Invalid "type" argument')),
    ],
)
def test_malformed_request_returns_none_with_the_argument_named(
    terminal: SimulatedTerminal, fields: dict[str, Any], error: tuple[int, str]
) -> None:
    request = market_request("EURUSD", BUY, 0.1)
    request.update(fields)
    assert terminal.order_send(request) is None
    assert terminal.last_error() == error


def test_missing_volume_returns_none(terminal: SimulatedTerminal) -> None:
    request = market_request("EURUSD", BUY, 0.1)
    del request["volume"]
    assert terminal.order_send(request) is None
    assert terminal.last_error() == (-2, 'Invalid "volume" argument')


def test_a_31_character_comment_is_accepted(send: Send) -> None:
    assert send("EURUSD", BUY, 0.1, comment="c" * 31).retcode == 10009


def test_order_check_passes_with_retcode_zero_and_reports_the_margin(
    terminal: SimulatedTerminal,
) -> None:
    tick = terminal.symbol_info_tick("EURUSD")
    check = terminal.order_check(market_request("EURUSD", BUY, 0.1))
    assert tick is not None
    assert check is not None
    assert (check.retcode, check.comment) == (0, "Done")
    assert check.margin == pytest.approx(0.1 * 100_000 / 100 * tick.ask, abs=0.01)
    assert check.margin_free == pytest.approx(10_000 - check.margin, abs=0.01)
    assert terminal.positions_total() == 0


def test_order_check_reports_the_refusal(terminal: SimulatedTerminal) -> None:
    check = terminal.order_check(market_request("EURUSD", BUY, 0.013))
    assert check is not None
    assert (check.retcode, check.comment) == (10014, "Invalid volume")
