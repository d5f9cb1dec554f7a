"""Margin and profit arithmetic, with the reference's figures, and currency conversion."""

from __future__ import annotations

import pytest

import forexbot.connectors.mt5sim as mt5
from forexbot.clock import ManualClock
from forexbot.connectors.mt5sim.terminal import SimulatedTerminal

BUY, SELL = mt5.ORDER_TYPE_BUY, mt5.ORDER_TYPE_SELL


def test_forex_margin_is_converted_from_the_base_currency_at_the_order_price(
    terminal: SimulatedTerminal,
) -> None:
    assert terminal.order_calc_margin(BUY, "EURUSD", 0.1, 1.0991) == 109.91


def test_forex_margin_of_a_usd_base_pair_needs_no_conversion(terminal: SimulatedTerminal) -> None:
    assert terminal.order_calc_margin(BUY, "USDJPY", 0.1, 108.0) == 100.0


def test_profit_in_jpy_is_converted_at_the_close_price(terminal: SimulatedTerminal) -> None:
    # The reference's example: USDJPY 1 lot, 300 points.
    assert terminal.order_calc_profit(BUY, "USDJPY", 1.0, 108.184, 108.484) == 276.54
    assert terminal.order_calc_profit(SELL, "USDJPY", 1.0, 108.179, 107.879) == 278.09


def test_losses_are_negative(terminal: SimulatedTerminal) -> None:
    assert terminal.order_calc_profit(BUY, "EURUSD", 1.0, 1.1000, 1.0950) == -500.0
    assert terminal.order_calc_profit(SELL, "EURUSD", 0.5, 1.1000, 1.1010) == -50.0


def test_cross_margin_converts_the_base_currency_through_the_catalogue(
    terminal: SimulatedTerminal,
) -> None:
    # EURJPY margin is in EUR: converted with EURUSD's current bid.
    eurusd = terminal.symbol_info_tick("EURUSD")
    assert eurusd is not None
    margin = terminal.order_calc_margin(BUY, "EURJPY", 1.0, 160.0)
    assert margin == round(1000 * eurusd.bid, 2)


def test_cross_profit_converts_the_quote_currency_through_the_catalogue(
    terminal: SimulatedTerminal,
) -> None:
    # GBPJPY profit is in JPY: converted with USDJPY's current ask.
    usdjpy = terminal.symbol_info_tick("USDJPY")
    assert usdjpy is not None
    profit = terminal.order_calc_profit(BUY, "GBPJPY", 1.0, 190.000, 190.100)
    assert profit == round(0.1 * 100_000 / usdjpy.ask, 2)


def test_synthetic_margin_is_cfd_leverage(terminal: SimulatedTerminal) -> None:
    # CFDLEVERAGE: lots * contract * price / leverage.
    assert terminal.order_calc_margin(BUY, "Volatility 75 Index", 0.01, 400_000.0) == 40.0
    assert terminal.order_calc_profit(BUY, "Volatility 75 Index", 0.01, 400_000.0, 401_000.0) == (
        10.0
    )
    assert terminal.order_calc_profit(SELL, "Step Index", 1.0, 8000.0, 7999.0) == 10.0


def test_gold_margin_is_in_ounces_converted_at_the_price(terminal: SimulatedTerminal) -> None:
    assert terminal.order_calc_margin(BUY, "XAUUSD", 1.0, 2000.0) == 2000.0


def test_eur_account_converts_usd_profit_with_eurusd(clock: ManualClock) -> None:
    term = SimulatedTerminal(seed=2, clock=clock, currency="EUR")
    term.initialize()
    eurusd = term.symbol_info_tick("EURUSD")
    assert eurusd is not None
    assert term.order_calc_margin(BUY, "EURUSD", 0.1, 1.1) == 100.0
    assert term.order_calc_profit(BUY, "AUDUSD", 1.0, 0.6500, 0.6510) == round(100 / eurusd.ask, 2)


def test_calc_functions_refuse_bad_arguments(terminal: SimulatedTerminal) -> None:
    assert terminal.order_calc_margin(mt5.ORDER_TYPE_BUY_LIMIT, "EURUSD", 0.1, 1.1) is None
    assert terminal.last_error() == (-2, "Terminal: Invalid params")
    assert terminal.order_calc_profit(BUY, "EURUSD", "1", 1.1, 1.2) is None  # type: ignore[arg-type]
    assert terminal.order_calc_margin(BUY, "NOPE", 0.1, 1.1) is None
    assert terminal.last_error() == (-4, "Terminal: Not found")


def test_floating_profit_and_margin_show_in_account_info(
    terminal: SimulatedTerminal, clock: ManualClock
) -> None:
    opened = terminal.order_send({"action": 1, "symbol": "EURUSD", "volume": 1.0, "type": BUY})
    assert opened is not None
    clock.advance(600)
    tick = terminal.symbol_info_tick("EURUSD")
    info = terminal.account_info()
    assert tick is not None
    assert info is not None
    expected = round((tick.bid - opened.price) * 100_000, 2)
    assert info.profit == pytest.approx(expected, abs=0.01)
    assert info.equity == pytest.approx(10_000 + expected, abs=0.01)
    assert info.margin == round(1000 * opened.price, 2)
    assert info.margin_level == round(info.equity / info.margin * 100, 2)
