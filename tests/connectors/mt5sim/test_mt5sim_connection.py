"""The terminal's call protocol: None + last_error when disconnected, MetaTrader's errors."""

from __future__ import annotations

import pytest
from mt5sim_testkit import market_request

import forexbot.connectors.mt5sim as mt5
from forexbot.clock import ManualClock
from forexbot.connectors.mt5sim.terminal import SimulatedTerminal

NO_IPC = (-10004, "No IPC connection")

QUERIES = [
    ("account_info", ()),
    ("terminal_info", ()),
    ("version", ()),
    ("symbols_total", ()),
    ("symbols_get", ()),
    ("symbol_info", ("EURUSD",)),
    ("symbol_info_tick", ("EURUSD",)),
    ("copy_rates_from_pos", ("EURUSD", mt5.TIMEFRAME_M1, 0, 10)),
    ("copy_rates_from", ("EURUSD", mt5.TIMEFRAME_M1, 1_709_800_000, 10)),
    ("copy_rates_range", ("EURUSD", mt5.TIMEFRAME_M1, 1_709_700_000, 1_709_800_000)),
    ("copy_ticks_from", ("EURUSD", 1_709_800_000, 10, mt5.COPY_TICKS_ALL)),
    ("copy_ticks_range", ("EURUSD", 1_709_700_000, 1_709_800_000, mt5.COPY_TICKS_ALL)),
    ("orders_total", ()),
    ("orders_get", ()),
    ("positions_total", ()),
    ("positions_get", ()),
    ("order_calc_margin", (mt5.ORDER_TYPE_BUY, "EURUSD", 0.1, 1.1)),
    ("order_calc_profit", (mt5.ORDER_TYPE_BUY, "EURUSD", 0.1, 1.1, 1.2)),
    ("order_check", (market_request("EURUSD", mt5.ORDER_TYPE_BUY, 0.1),)),
    ("order_send", (market_request("EURUSD", mt5.ORDER_TYPE_BUY, 0.1),)),
    ("history_orders_total", (0, 2_000_000_000)),
    ("history_orders_get", (0, 2_000_000_000)),
    ("history_deals_total", (0, 2_000_000_000)),
    ("history_deals_get", (0, 2_000_000_000)),
    ("market_book_get", ("EURUSD",)),
]


@pytest.mark.parametrize(("name", "args"), QUERIES)
def test_every_call_before_initialize_returns_none_with_no_ipc(
    clock: ManualClock, name: str, args: tuple[object, ...]
) -> None:
    term = SimulatedTerminal(seed=1, clock=clock)
    assert getattr(term, name)(*args) is None
    assert term.last_error() == NO_IPC


def test_boolean_calls_before_initialize_return_false(clock: ManualClock) -> None:
    term = SimulatedTerminal(seed=1, clock=clock)
    assert term.symbol_select("EURUSD") is False
    assert term.login(5_000_001) is False
    assert term.last_error() == NO_IPC


def test_calls_after_shutdown_return_none_with_no_ipc(terminal: SimulatedTerminal) -> None:
    assert terminal.account_info() is not None
    terminal.shutdown()
    assert terminal.positions_get() is None
    assert terminal.last_error() == NO_IPC
    assert terminal.initialize()
    assert terminal.positions_get() == ()


def test_successful_call_reports_success(terminal: SimulatedTerminal) -> None:
    terminal.symbol_info("NOPE")
    terminal.account_info()
    assert terminal.last_error() == (1, "Success")


def test_unknown_symbol_is_not_found(terminal: SimulatedTerminal) -> None:
    assert terminal.symbol_info("EURXYZ") is None
    assert terminal.last_error() == (-4, "Terminal: Not found")
    assert terminal.copy_rates_from_pos("EURXYZ", mt5.TIMEFRAME_M1, 0, 10) is None
    assert terminal.last_error() == (-4, "Terminal: Not found")
    assert terminal.order_send(market_request("EURXYZ", mt5.ORDER_TYPE_BUY, 0.1)) is None
    assert terminal.last_error() == (-4, "Terminal: Not found")


def test_default_market_watch_holds_the_majors_only(terminal: SimulatedTerminal) -> None:
    visible = terminal.symbols_get()
    assert visible is not None
    assert {s.name for s in visible if s.select} == {
        "EURUSD",
        "GBPUSD",
        "USDJPY",
        "USDCHF",
        "AUDUSD",
        "USDCAD",
        "NZDUSD",
    }


def test_tick_of_a_symbol_outside_market_watch_needs_symbol_select(
    terminal: SimulatedTerminal,
) -> None:
    assert terminal.symbol_info_tick("Volatility 75 Index") is None
    assert terminal.last_error() == (-1, "Terminal: Call failed")
    assert terminal.symbol_select("Volatility 75 Index")
    tick = terminal.symbol_info_tick("Volatility 75 Index")
    assert tick is not None
    assert tick.ask > tick.bid > 0
    info = terminal.symbol_info("Volatility 75 Index")
    assert info is not None
    assert info.select
    assert info.visible


def test_symbol_with_an_open_position_cannot_leave_market_watch(
    terminal: SimulatedTerminal,
) -> None:
    terminal.order_send(market_request("EURUSD", mt5.ORDER_TYPE_BUY, 0.1))
    assert terminal.symbol_select("EURUSD", False) is False
    assert terminal.symbol_select("GBPUSD", False) is True
    assert terminal.symbol_info_tick("GBPUSD") is None


def test_too_many_bars_or_a_bad_timeframe_are_invalid_params(terminal: SimulatedTerminal) -> None:
    assert terminal.copy_rates_from_pos("EURUSD", mt5.TIMEFRAME_M1, 0, 100_001) is None
    assert terminal.last_error() == (-2, "Terminal: Invalid params")
    assert terminal.copy_rates_from_pos("EURUSD", 32768, 0, 10) is None
    assert terminal.last_error() == (-2, "Terminal: Invalid params")
    assert terminal.copy_ticks_from("EURUSD", 1_709_800_000, 10, 99) is None
    assert terminal.last_error() == (-2, "Terminal: Invalid params")


def test_symbols_get_applies_the_group_filter_left_to_right(terminal: SimulatedTerminal) -> None:
    no_eur = terminal.symbols_get(group="*,!*EUR*")
    eur_but_gbp = terminal.symbols_get(group="*EUR*,!EURGBP")
    assert no_eur is not None
    assert eur_but_gbp is not None
    assert not [s for s in no_eur if "EUR" in s.name]
    assert len(no_eur) == 39 - 7  # all but the seven EUR pairs
    assert sorted(s.name for s in eur_but_gbp) == [
        "EURAUD", "EURCAD", "EURCHF", "EURJPY", "EURNZD", "EURUSD"
    ]  # fmt: skip


def test_catalogue_lists_forex_gold_and_deriv_synthetics(terminal: SimulatedTerminal) -> None:
    names = {s.name for s in terminal.symbols_get() or ()}
    assert {
        "EURUSD",
        "GBPJPY",
        "XAUUSD",
        "Volatility 100 Index",
        "Boom 500 Index",
        "Crash 1000 Index",
        "Step Index",
    } <= names
    # 7 majors, 21 minors (every cross of EUR, GBP, AUD, NZD, USD, CAD, CHF, JPY), gold and
    # 10 synthetic indices.
    assert terminal.symbols_total() == 39
    pairs = {s.name for s in terminal.symbols_get(group="*") or () if len(s.name) == 6}
    currencies = ("EUR", "GBP", "AUD", "NZD", "USD", "CAD", "CHF", "JPY")
    assert len({frozenset((a, b)) for a in currencies for b in currencies if a + b in pairs}) == 28


def test_symbol_info_reports_the_contract_and_quote(terminal: SimulatedTerminal) -> None:
    info = terminal.symbol_info("USDJPY")
    tick = terminal.symbol_info_tick("USDJPY")
    assert info is not None
    assert tick is not None
    assert (info.digits, info.point, info.trade_contract_size) == (3, 0.001, 100_000.0)
    assert (info.volume_min, info.volume_max, info.volume_step) == (0.01, 500.0, 0.01)
    assert (info.bid, info.ask) == (tick.bid, tick.ask)
    assert info.spread == round((tick.ask - tick.bid) / 0.001)
    assert info.bidlow <= info.bid <= info.bidhigh
    assert info.trade_tick_value == pytest.approx(100 / tick.bid, rel=1e-9)
    assert info.filling_mode == 1
    assert info.trade_exemode == mt5.SYMBOL_TRADE_EXECUTION_INSTANT
    v75 = terminal.symbol_info("Volatility 75 Index")
    assert v75 is not None
    assert v75.trade_calc_mode == mt5.SYMBOL_CALC_MODE_CFDLEVERAGE
    assert v75.trade_contract_size == 1.0


def test_account_info_of_a_fresh_demo_account(terminal: SimulatedTerminal) -> None:
    info = terminal.account_info()
    assert info is not None
    assert (info.login, info.server, info.currency, info.leverage) == (
        5_000_001,
        "Forexbot-Sim",
        "USD",
        100,
    )
    assert (info.balance, info.equity, info.margin, info.margin_free) == (
        10_000.0,
        10_000.0,
        0.0,
        10_000.0,
    )
    assert info.margin_mode == mt5.ACCOUNT_MARGIN_MODE_RETAIL_HEDGING
    assert info.trade_mode == mt5.ACCOUNT_TRADE_MODE_DEMO


def test_version_and_terminal_info(terminal: SimulatedTerminal) -> None:
    version = terminal.version()
    info = terminal.terminal_info()
    assert version is not None
    assert version[0] == 500
    assert info is not None
    assert info.connected
    assert info.maxbars == 100_000
