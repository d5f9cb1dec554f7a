"""BridgeTerminal over a real rpyc connection to a bridge server subprocess serving mt5sim.

The bridged answers must be the simulator's own: same named-tuple types and fields, arrays
equal byte for byte (compared on a fixed past date, since the simulator runs on real time),
failures as None/False + last_error, orders that really trade.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest
from bridge_testkit import HOST, SEED, V75, BridgeProcess

import forexbot.connectors.mt5sim as mt5
from forexbot.connectors.bridge.classic import ClassicBridgeTerminal
from forexbot.connectors.bridge.client import BridgeTerminal, create_bridge_terminal
from forexbot.connectors.mt5sim.terminal import SimulatedTerminal
from forexbot.connectors.terminal_api import TerminalApi

STATIC_SYMBOL_FIELDS = (
    "name",
    "description",
    "path",
    "digits",
    "point",
    "trade_tick_size",
    "trade_contract_size",
    "volume_min",
    "volume_max",
    "volume_step",
    "trade_stops_level",
    "trade_freeze_level",
    "filling_mode",
    "trade_mode",
    "trade_exemode",
    "trade_calc_mode",
    "swap_long",
    "swap_short",
    "currency_base",
    "currency_profit",
    "currency_margin",
)


@pytest.fixture
def local() -> Iterator[SimulatedTerminal]:
    """The same simulator in-process, with the server's seed."""
    terminal = SimulatedTerminal(seed=SEED)
    assert terminal.initialize()
    yield terminal
    terminal.shutdown()


@pytest.fixture
def remote(bridge: BridgeProcess) -> Iterator[BridgeTerminal]:
    terminal = BridgeTerminal(HOST, bridge.port, timeout=10.0)
    assert terminal.initialize(), terminal.last_error()
    yield terminal
    terminal.shutdown()


def test_it_satisfies_the_terminal_protocol() -> None:
    terminal: TerminalApi = BridgeTerminal(HOST, 1)
    classic: TerminalApi = ClassicBridgeTerminal(HOST, 1)
    assert terminal is not classic


def test_calls_before_initialize_fail_like_metatrader(bridge: BridgeProcess) -> None:
    terminal = BridgeTerminal(HOST, bridge.port)
    assert terminal.account_info() is None
    assert terminal.symbol_select("EURUSD", True) is False
    assert terminal.last_error() == (-10004, "No IPC connection")


def test_nothing_listening_is_no_ipc_not_an_exception(unused_tcp_port: int) -> None:
    terminal = BridgeTerminal(HOST, unused_tcp_port, timeout=2.0)
    assert terminal.initialize() is False
    assert terminal.last_error() == (-10004, "No IPC connection")
    assert terminal.positions_get() is None


def test_account_and_terminal_answers_are_the_simulators(
    remote: BridgeTerminal, local: SimulatedTerminal
) -> None:
    account = remote.account_info()
    expected = local.account_info()
    assert type(account).__name__ == "AccountInfo"
    assert account._fields == expected._fields
    assert account == expected
    assert account._asdict()["currency"] == "USD"
    assert remote.last_error() == (1, "Success")
    assert remote.version() == local.version()
    assert remote.terminal_info()._fields == local.terminal_info()._fields
    assert remote.symbols_total() == local.symbols_total()
    assert [s.name for s in remote.symbols_get(group="*USD*")] == [
        s.name for s in local.symbols_get(group="*USD*")
    ]


@pytest.mark.parametrize("symbol", ["EURUSD", "XAUUSD", V75])
def test_symbol_specifications_are_the_simulators(
    remote: BridgeTerminal, local: SimulatedTerminal, symbol: str
) -> None:
    info, expected = remote.symbol_info(symbol), local.symbol_info(symbol)
    assert type(info).__name__ == "SymbolInfo"
    assert info._fields == expected._fields
    for field in STATIC_SYMBOL_FIELDS:
        assert getattr(info, field) == getattr(expected, field), field
    assert info.trade_contract_size == info[info._fields.index("trade_contract_size")]


def test_history_arrays_are_byte_identical(
    remote: BridgeTerminal, local: SimulatedTerminal
) -> None:
    day = datetime(2020, 1, 10, tzinfo=UTC)
    for tf in (mt5.TIMEFRAME_M1, mt5.TIMEFRAME_H1):
        rates = remote.copy_rates_range("EURUSD", tf, day, day + timedelta(days=1))
        expected = local.copy_rates_range("EURUSD", tf, day, day + timedelta(days=1))
        assert isinstance(rates, np.ndarray)
        assert rates.dtype == expected.dtype == mt5.RATES_DTYPE
        assert len(rates) > 0
        assert rates.tobytes() == expected.tobytes()
        assert rates.flags.writeable
    noon = datetime(2020, 1, 10, 12, tzinfo=UTC)
    rates = remote.copy_rates_from(V75, mt5.TIMEFRAME_M5, noon, 50)
    assert rates.tobytes() == local.copy_rates_from(V75, mt5.TIMEFRAME_M5, noon, 50).tobytes()
    ticks = remote.copy_ticks_range("EURUSD", noon, noon + timedelta(minutes=5), -1)
    expected_ticks = local.copy_ticks_range("EURUSD", noon, noon + timedelta(minutes=5), -1)
    assert ticks.dtype == mt5.TICKS_DTYPE
    assert len(ticks) > 0
    assert ticks.tobytes() == expected_ticks.tobytes()
    # the same instant with another offset and as an int epoch: same bars
    plus2 = datetime(2020, 1, 10, 14, tzinfo=timezone(timedelta(hours=2)))
    assert remote.copy_rates_from("EURUSD", mt5.TIMEFRAME_M1, plus2, 10).tobytes() == (
        remote.copy_rates_from("EURUSD", mt5.TIMEFRAME_M1, int(noon.timestamp()), 10).tobytes()
    )


def test_an_order_round_trip(remote: BridgeTerminal) -> None:
    assert remote.symbol_select(V75, True)
    request = {
        "action": mt5.TRADE_ACTION_DEAL,
        "symbol": V75,
        "volume": 0.001,
        "type": mt5.ORDER_TYPE_BUY,
        "type_filling": mt5.ORDER_FILLING_FOK,
        "magic": 777,
        "comment": "bridge round trip",
    }
    check = remote.order_check(request)
    assert type(check).__name__ == "OrderCheckResult"
    result = remote.order_send(request)
    assert result.retcode == mt5.TRADE_RETCODE_DONE == 10009
    assert type(result.request).__name__ == "TradeRequest"
    assert result.request.comment == "bridge round trip"
    positions = remote.positions_get(symbol=V75)
    assert [p.ticket for p in positions] == [result.order]
    assert positions[0].comment == "bridge round trip"
    assert remote.positions_total() == 1
    close = remote.order_send(
        {
            "action": mt5.TRADE_ACTION_DEAL,
            "symbol": V75,
            "volume": 0.001,
            "type": mt5.ORDER_TYPE_SELL,
            "position": result.order,
            "type_filling": mt5.ORDER_FILLING_FOK,
            "magic": 777,
        }
    )
    assert close.retcode == 10009
    assert remote.positions_get() == ()
    deals = remote.history_deals_get(position=result.order)
    assert len(deals) == 2
    assert {d.entry for d in deals} == {mt5.DEAL_ENTRY_IN, mt5.DEAL_ENTRY_OUT}


def test_failures_come_back_as_none_and_last_error(remote: BridgeTerminal) -> None:
    assert remote.symbol_info("NO SUCH SYMBOL") is None
    code, _ = remote.last_error()
    assert code in (-4, -1)
    assert remote.order_send({"action": mt5.TRADE_ACTION_DEAL, "symbol": "EURUSD"}) is None
    assert remote.last_error() == (-2, 'Invalid "volume" argument')
    assert remote.copy_rates_from_pos("EURUSD", 32768, 0, 10) is None
    assert remote.last_error()[0] == -2


def test_an_unsendable_argument_raises_type_error_like_the_module(remote: BridgeTerminal) -> None:
    with pytest.raises(TypeError):
        remote.symbol_info(object())  # type: ignore[arg-type]
    assert remote.account_info() is not None  # the connection is still fine


def test_constants_are_served(remote: BridgeTerminal) -> None:
    constants = remote.constants()
    assert constants is not None
    assert constants["TRADE_RETCODE_DONE"] == 10009
    assert constants["TIMEFRAME_H1"] == 16385
    assert "RATES_DTYPE" not in constants


def test_the_account_survives_a_killed_server(bridge: BridgeProcess) -> None:
    terminal = BridgeTerminal(HOST, bridge.port, timeout=5.0)
    stale = BridgeTerminal(HOST, bridge.port, timeout=5.0)
    assert terminal.initialize()
    assert stale.initialize()
    assert terminal.symbol_select(V75, True)
    order = {
        "action": mt5.TRADE_ACTION_DEAL,
        "symbol": V75,
        "volume": 0.001,
        "type": mt5.ORDER_TYPE_SELL,
        "type_filling": mt5.ORDER_FILLING_FOK,
        "comment": "survives kill",
    }
    ticket = terminal.order_send(order).order
    bridge.kill()
    assert terminal.positions_get() is None
    assert terminal.last_error() == (-10004, "No IPC connection")
    assert terminal.initialize() is False
    bridge.start()
    assert terminal.initialize(), terminal.last_error()
    assert terminal.connects == 2
    assert [p.ticket for p in terminal.positions_get()] == [ticket]
    terminal.shutdown()
    # a client that never noticed the restart: initialize() replaces its dead connection
    assert stale.initialize(), stale.last_error()
    assert [p.ticket for p in stale.positions_get()] == [ticket]
    stale.shutdown()


def test_sigterm_stops_the_server_cleanly(bridge: BridgeProcess) -> None:
    bridge.stop()
    assert bridge.process is not None
    assert bridge.process.returncode == 0
    assert "bridge server stopped" in bridge.log.read_text()


def test_factory_selects_the_client() -> None:
    assert isinstance(create_bridge_terminal(HOST, 1), BridgeTerminal)
    classic = create_bridge_terminal(HOST, 1, classic=True, module="x")
    assert isinstance(classic, ClassicBridgeTerminal)
    with pytest.raises(ValueError, match="secret"):
        create_bridge_terminal(HOST, 1, "s3cret", classic=True)
