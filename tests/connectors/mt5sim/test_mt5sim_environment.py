"""Logging in like a demo account, and the module terminal's environment variables."""

from __future__ import annotations

import pathlib

import pytest
from mt5sim_testkit import THURSDAY, market_request

import forexbot.connectors.mt5sim as mt5
from forexbot.clock import ManualClock
from forexbot.connectors.mt5sim.environment import terminal_from_environment
from forexbot.connectors.mt5sim.errors import SimulatorError
from forexbot.connectors.mt5sim.terminal import SimulatedTerminal


def test_initialize_accepts_demo_credentials_and_reports_that_account(
    clock: ManualClock,
) -> None:
    term = SimulatedTerminal(clock=clock)
    assert term.initialize(login=25115284, server="MetaQuotes-Demo", password="4zatlbqx")
    info = term.account_info()
    assert info is not None
    assert (info.login, info.server, info.balance) == (25115284, "MetaQuotes-Demo", 10_000.0)


def test_login_switches_the_reported_account_number(terminal: SimulatedTerminal) -> None:
    assert terminal.login(17221085)
    info = terminal.account_info()
    assert info is not None
    assert info.login == 17221085
    assert terminal.login(25115284, password="gqrtz0lbdm", server="MetaQuotes-Demo")
    info = terminal.account_info()
    assert info is not None
    assert (info.login, info.server) == (25115284, "MetaQuotes-Demo")


def test_credentials_of_the_wrong_type_are_invalid_params(clock: ManualClock) -> None:
    term = SimulatedTerminal(clock=clock)
    assert term.initialize(login="25115284") is False  # type: ignore[arg-type]
    assert term.last_error() == (-2, "Terminal: Invalid params")


def test_start_variable_starts_the_clock_there() -> None:
    term = terminal_from_environment({"FOREXBOT_SIM_START": "2024-03-07T10:00:00Z"})
    assert term.initialize()
    tick = term.symbol_info_tick("EURUSD")
    assert tick is not None
    assert THURSDAY + 7200 - 60 <= tick.time <= THURSDAY + 7200 + 5  # server time
    assert terminal_from_environment({"FOREXBOT_SIM_START": str(THURSDAY)}).initialize()


def test_speed_variable_runs_the_clock_faster() -> None:
    term = terminal_from_environment(
        {"FOREXBOT_SIM_START": str(THURSDAY), "FOREXBOT_SIM_SPEED": "3600"}
    )
    assert term.initialize()
    first = term.symbol_info_tick("EURUSD")
    for _ in range(10_000):  # about a tenth of a second: several simulated minutes
        latest = term.symbol_info_tick("EURUSD")
        assert latest is not None
        if first is not None and latest.time - first.time > 60:
            break
    else:
        pytest.fail("the clock did not run 3600 times faster")


def test_state_variable_keeps_the_account_across_processes(tmp_path: pathlib.Path) -> None:
    environ = {"FOREXBOT_SIM_STATE": str(tmp_path / "account.json"), "FOREXBOT_SIM_SEED": "5"}
    environ["FOREXBOT_SIM_START"] = str(THURSDAY)
    first = terminal_from_environment(environ)
    assert first.initialize()
    opened = first.order_send(market_request("EURUSD", mt5.ORDER_TYPE_BUY, 0.1))
    first.shutdown()
    second = terminal_from_environment(environ)  # resumes where the account stopped
    assert second.initialize()
    assert [p.ticket for p in second.positions_get() or ()] == [opened.order]
    assert second.seed == 5


def test_replay_variable_replays_exports() -> None:
    data = pathlib.Path(__file__).parent / "data"
    m1 = data / "EURUSD_M1_202403041000_202403041029.csv"
    ticks_file = data / "GBPUSD_ticks_202403041000_202403041001.csv"
    environ = {
        "FOREXBOT_SIM_START": str(THURSDAY),
        "FOREXBOT_SIM_REPLAY": f"EURUSD={m1} ; GBPUSD={ticks_file}",
    }
    term = terminal_from_environment(environ)
    assert term.initialize()
    monday = 19_786 * 86_400
    bars = term.copy_rates_range("EURUSD", mt5.TIMEFRAME_M1, monday, monday + 86_399)
    ticks = term.copy_ticks_range("GBPUSD", monday, monday + 86_399, mt5.COPY_TICKS_ALL)
    assert bars is not None
    assert ticks is not None
    assert (len(bars), len(ticks)) == (30, 55)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("FOREXBOT_SIM_REPLAY", "EURUSD"),
        ("FOREXBOT_SIM_SEED", "seven"),
        ("FOREXBOT_SIM_START", "next tuesday"),
        ("FOREXBOT_SIM_SPEED", "-2"),
    ],
)
def test_bad_variable_is_named_in_the_error(name: str, value: str) -> None:
    environ = {"FOREXBOT_SIM_START": str(THURSDAY), name: value}
    with pytest.raises(SimulatorError, match=name):
        terminal_from_environment(environ)


@pytest.mark.usefixtures("module_surface")
def test_module_initialize_fails_with_10003_naming_a_bad_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FOREXBOT_SIM_START", "yesterday-ish")
    assert mt5.initialize() is False
    code, message = mt5.last_error()
    assert code == -10003
    assert message.startswith("IPC initialize failed, FOREXBOT_SIM_START='yesterday-ish'")
