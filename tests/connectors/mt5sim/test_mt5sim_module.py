"""The module surface: a script written for ``import MetaTrader5 as mt5`` runs unchanged."""

from __future__ import annotations

import threading
from datetime import datetime

import pytest
from mt5sim_testkit import THURSDAY, market_request

import forexbot.connectors.mt5sim as mt5
from forexbot.clock import ManualClock
from forexbot.connectors.mt5sim.terminal import SimulatedTerminal


@pytest.mark.usefixtures("module_surface")
def test_module_functions_before_initialize_return_none_with_no_ipc() -> None:
    assert mt5.get_terminal() is None
    assert mt5.account_info() is None
    assert mt5.symbol_info_tick("EURUSD") is None
    assert mt5.symbol_select("EURUSD") is False
    assert mt5.last_error() == (-10004, "No IPC connection")


@pytest.mark.usefixtures("module_surface")
def test_first_initialize_creates_a_default_terminal_seeded_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FOREXBOT_SIM_SEED", "4242")
    assert mt5.initialize()
    terminal = mt5.get_terminal()
    assert terminal is not None
    assert terminal.seed == 4242
    info = mt5.account_info()
    assert info is not None
    assert (info.balance, info.leverage, info.currency) == (10_000.0, 100, "USD")
    mt5.shutdown()
    assert mt5.positions_get() is None
    assert mt5.last_error() == (-10004, "No IPC connection")


@pytest.mark.usefixtures("module_surface")
def test_a_bad_seed_in_the_environment_fails_initialize(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOREXBOT_SIM_SEED", "abc")
    assert mt5.initialize() is False
    assert mt5.last_error()[0] == -10003


@pytest.mark.usefixtures("module_surface")
def test_metaquotes_documentation_example_runs_through_the_module() -> None:
    """initialize, account_info, tick, rates, buy with SL/TP, positions, close, history."""
    clock = ManualClock(THURSDAY)
    mt5.set_terminal(SimulatedTerminal(seed=1, clock=clock))
    assert mt5.initialize(login=25115284, password="password", server="MetaQuotes-Demo")
    print(mt5.version())
    account = mt5.account_info()
    assert account is not None
    assert account.balance == 10_000.0

    symbol = "EURUSD"
    info = mt5.symbol_info(symbol)
    assert info is not None
    if not info.visible:
        assert mt5.symbol_select(symbol, True)
    rates = mt5.copy_rates_from_pos(symbol, mt5.TIMEFRAME_M15, 0, 500)
    assert rates is not None
    assert len(rates) == 500
    assert rates.dtype == mt5.RATES_DTYPE
    point = info.point
    price = mt5.symbol_info_tick(symbol).ask  # type: ignore[union-attr]
    deviation = 20
    request = {
        "action": mt5.TRADE_ACTION_DEAL,
        "symbol": symbol,
        "volume": 0.1,
        "type": mt5.ORDER_TYPE_BUY,
        "price": price,
        "sl": price - 100 * point,
        "tp": price + 100 * point,
        "deviation": deviation,
        "magic": 234000,
        "comment": "python script open",
        "type_time": mt5.ORDER_TIME_GTC,
        "type_filling": mt5.ORDER_FILLING_FOK,
    }
    result = mt5.order_send(request)
    assert result is not None
    assert result.retcode == mt5.TRADE_RETCODE_DONE
    assert result.request._asdict()["comment"] == "python script open"
    clock.advance(60)

    positions = mt5.positions_get(symbol=symbol)
    assert positions is not None
    assert len(positions) == 1
    assert positions[0].ticket == result.order
    position_id = result.order
    close = {
        "action": mt5.TRADE_ACTION_DEAL,
        "symbol": symbol,
        "volume": 0.1,
        "type": mt5.ORDER_TYPE_SELL,
        "position": position_id,
        "price": mt5.symbol_info_tick(symbol).bid,  # type: ignore[union-attr]
        "deviation": deviation,
        "magic": 234000,
        "comment": "python script close",
        "type_time": mt5.ORDER_TIME_GTC,
        "type_filling": mt5.ORDER_FILLING_FOK,
    }
    closed = mt5.order_send(close)
    assert closed is not None
    assert closed.retcode == mt5.TRADE_RETCODE_DONE
    assert mt5.positions_total() == 0

    deals = mt5.history_deals_get(datetime(2020, 1, 1), datetime.now())
    assert deals is not None
    assert [d.entry for d in deals if d.position_id == position_id] == [0, 1]
    assert mt5.history_deals_get(position=position_id)[-1].comment == "python script close"  # type: ignore[index]
    mt5.shutdown()
    assert mt5.account_info() is None


def test_module_attributes() -> None:
    assert isinstance(mt5.__author__, str)
    assert mt5.__version__.startswith("5.0.")
    assert "order_send" in mt5.__all__
    assert "TRADE_ACTION_DEAL" in mt5.__all__


def test_concurrent_calls_from_threads_are_serialised(terminal: SimulatedTerminal) -> None:
    errors: list[BaseException] = []

    def trade() -> None:
        try:
            for _ in range(20):
                result = terminal.order_send(market_request("EURUSD", mt5.ORDER_TYPE_BUY, 0.01))
                assert result is not None
                assert result.retcode == 10009
                terminal.copy_rates_from_pos("EURUSD", mt5.TIMEFRAME_M1, 0, 50)
        except BaseException as exc:  # collected for the main thread
            errors.append(exc)

    threads = [threading.Thread(target=trade) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    positions = terminal.positions_get() or ()
    assert len(positions) == 80
    assert len({p.ticket for p in positions}) == 80
