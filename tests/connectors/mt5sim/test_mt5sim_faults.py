"""Fault injection: disconnects, IPC timeouts, slow calls, requotes and rejects, on demand."""

from __future__ import annotations

import pathlib
import threading
import time

import pytest
from conftest import Send
from mt5sim_testkit import SEED, THURSDAY, market_request

import forexbot.connectors.mt5sim as mt5
from forexbot.clock import ManualClock
from forexbot.connectors.mt5sim.errors import SimulatorError
from forexbot.connectors.mt5sim.faults import Faults
from forexbot.connectors.mt5sim.terminal import SimulatedTerminal

NO_IPC = (-10004, "No IPC connection")
INIT_FAILED = (-10003, "IPC initialize failed")
IPC_TIMEOUT = (-10005, "IPC timeout")
BUY = mt5.ORDER_TYPE_BUY
V100 = "Volatility 100 Index"


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("account_info", ()),
        ("symbol_info_tick", ("EURUSD",)),
        ("copy_rates_from_pos", ("EURUSD", mt5.TIMEFRAME_M1, 0, 10)),
        ("positions_get", ()),
        ("order_send", (market_request("EURUSD", BUY, 0.1),)),
        ("history_deals_get", (0, 2_000_000_000)),
    ],
)
def test_disconnected_terminal_answers_none_with_no_ipc(
    terminal: SimulatedTerminal, name: str, args: tuple[object, ...]
) -> None:
    terminal.faults.disconnect()
    assert getattr(terminal, name)(*args) is None
    assert terminal.last_error() == NO_IPC


def test_disconnected_terminal_answers_false_to_boolean_calls(terminal: SimulatedTerminal) -> None:
    terminal.faults.disconnect()
    assert terminal.symbol_select("EURGBP") is False
    assert terminal.market_book_add("EURUSD") is False
    assert terminal.last_error() == NO_IPC


def test_initialize_fails_until_reconnected_then_calls_need_initialize(
    terminal: SimulatedTerminal,
) -> None:
    terminal.faults.disconnect()
    assert terminal.initialize() is False
    assert terminal.last_error() == INIT_FAILED
    terminal.faults.reconnect()
    assert terminal.positions_total() is None  # like after a terminal restart ...
    assert terminal.last_error() == NO_IPC
    assert terminal.initialize() is True  # ... until the client initialises again
    assert terminal.positions_total() == 0


def test_a_disconnect_loses_nothing_and_stops_hit_meanwhile_are_applied(
    clock: ManualClock, terminal: SimulatedTerminal
) -> None:
    terminal.symbol_select(V100)
    tick = terminal.symbol_info_tick(V100)
    assert tick is not None
    keep = terminal.order_send(market_request(V100, BUY, 0.5))
    hit = terminal.order_send(market_request(V100, BUY, 0.5, tp=round(tick.bid + 1.5, 2)))
    terminal.faults.disconnect()
    clock.advance(2 * 3600)
    terminal.faults.reconnect()
    assert terminal.initialize()
    assert [p.ticket for p in terminal.positions_get() or ()] == [keep.order]
    deal = (terminal.history_deals_get(position=hit.order) or ())[-1]
    assert deal.reason == mt5.DEAL_REASON_TP
    assert THURSDAY + 7200 < deal.time < THURSDAY + 7200 + 7200  # during the outage (server)


def test_ipc_timeout_fails_the_next_calls_with_10005(terminal: SimulatedTerminal) -> None:
    terminal.faults.ipc_timeout(calls=2)
    assert terminal.account_info() is None
    assert terminal.last_error() == IPC_TIMEOUT
    assert terminal.symbol_info_tick("EURUSD") is None
    assert terminal.last_error() == IPC_TIMEOUT
    assert terminal.account_info() is not None
    assert terminal.last_error() == (1, "Success")


def test_ipc_timeout_for_a_while_fails_every_call_until_it_passes(
    terminal: SimulatedTerminal,
) -> None:
    terminal.faults.ipc_timeout(seconds=0.2)
    assert terminal.version() is None
    assert terminal.positions_total() is None
    assert terminal.last_error() == IPC_TIMEOUT
    time.sleep(0.25)
    assert terminal.version() is not None


def test_initialize_can_time_out_too(clock: ManualClock) -> None:
    term = SimulatedTerminal(seed=SEED, clock=clock)
    term.faults.ipc_timeout(calls=1)
    assert term.initialize() is False
    assert term.last_error() == IPC_TIMEOUT
    assert term.initialize() is True


def test_order_send_executed_but_reply_lost_reports_the_timeout_once(
    terminal: SimulatedTerminal,
) -> None:
    terminal.faults.ipc_timeout(calls=1, order_executes=True)
    request = market_request("EURUSD", BUY, 0.1, comment="cid-42")
    assert terminal.order_send(request) is None
    assert terminal.last_error() == IPC_TIMEOUT
    # The order went through: a client that checks before retrying finds exactly one.
    (position,) = terminal.positions_get(symbol="EURUSD") or ()
    assert (position.volume, position.comment) == (0.1, "cid-42")
    deals = terminal.history_deals_get(position=position.ticket) or ()
    assert [d.entry for d in deals] == [mt5.DEAL_ENTRY_IN]
    assert terminal.order_send(market_request("EURUSD", BUY, 0.1)).retcode == 10009


def test_other_calls_in_an_executing_timeout_window_fail(terminal: SimulatedTerminal) -> None:
    terminal.faults.ipc_timeout(calls=1, order_executes=True)
    assert terminal.positions_get() is None
    assert terminal.last_error() == IPC_TIMEOUT


def test_slow_calls_sleep_before_answering(terminal: SimulatedTerminal) -> None:
    terminal.faults.slow_calls(0.2, calls=1)
    started = time.monotonic()
    assert terminal.account_info() is not None
    slow = time.monotonic() - started
    started = time.monotonic()
    assert terminal.account_info() is not None
    fast = time.monotonic() - started
    assert slow >= 0.2
    assert fast < 0.1


def test_a_slow_call_does_not_hold_the_terminal_lock_while_it_sleeps(
    terminal: SimulatedTerminal,
) -> None:
    terminal.faults.slow_calls(0.5, calls=1)
    sleeper = threading.Thread(target=terminal.account_info)
    sleeper.start()
    time.sleep(0.05)  # the sleeper is now asleep, before the lock
    started = time.monotonic()
    assert terminal.positions_total() == 0  # not slowed (budget spent), not blocked
    assert time.monotonic() - started < 0.3
    sleeper.join()


def test_requote_returns_10004_with_fresh_prices_and_executes_nothing(
    terminal: SimulatedTerminal, send: Send
) -> None:
    terminal.faults.requote_probability = 1.0
    tick = terminal.symbol_info_tick("EURUSD")
    result = send("EURUSD", BUY, 0.1, price=1.0, deviation=5)
    assert tick is not None
    assert (result.retcode, result.comment, result.order, result.deal) == (10004, "Requote", 0, 0)
    assert (result.bid, result.ask) == (tick.bid, tick.ask)
    assert terminal.positions_total() == 0


def test_requotes_concern_market_deals_only(terminal: SimulatedTerminal, send: Send) -> None:
    terminal.faults.requote_probability = 1.0
    tick = terminal.symbol_info_tick("EURUSD")
    assert tick is not None
    pending = market_request("EURUSD", mt5.ORDER_TYPE_BUY_LIMIT, 0.1, price=tick.ask - 0.005)
    pending["action"] = mt5.TRADE_ACTION_PENDING
    assert terminal.order_send(pending).retcode == 10008


def test_reject_returns_10006_for_any_request(terminal: SimulatedTerminal, send: Send) -> None:
    terminal.faults.reject_probability = 1.0
    result = send("EURUSD", BUY, 0.1)
    assert (result.retcode, result.comment, result.order) == (10006, "Request rejected", 0)
    assert terminal.positions_total() == 0
    assert terminal.orders_total() == 0


def test_fault_draws_are_seeded(clock: ManualClock) -> None:
    def retcodes() -> list[int]:
        faults = Faults(requote_probability=0.3, reject_probability=0.3, seed=99)
        term = SimulatedTerminal(seed=SEED, clock=clock, faults=faults)
        assert term.initialize()
        request = market_request("EURUSD", BUY, 0.01)
        return [term.order_send(request).retcode for _ in range(20)]

    first = retcodes()
    assert first == retcodes()
    assert {10004, 10006, 10009} <= set(first)


def test_clear_switches_every_fault_off(terminal: SimulatedTerminal, send: Send) -> None:
    terminal.faults.reject_probability = 1.0
    terminal.faults.ipc_timeout(calls=5)
    terminal.faults.clear()
    assert send("EURUSD", BUY, 0.1).retcode == 10009


@pytest.mark.parametrize(
    "config",
    [{"requote_probability": 1.5}, {"reject_probability": -0.1}, {"slow_call_seconds": -1.0}],
)
def test_fault_configuration_is_validated(config: dict[str, float]) -> None:
    with pytest.raises(SimulatorError):
        Faults(**config)  # type: ignore[arg-type]


def test_shutdown_and_initialize_keep_positions_orders_and_history(
    terminal: SimulatedTerminal, send: Send
) -> None:
    opened = send("EURUSD", BUY, 0.2)
    tick = terminal.symbol_info_tick("EURUSD")
    assert tick is not None
    pending = market_request("EURUSD", mt5.ORDER_TYPE_BUY_LIMIT, 0.1, price=tick.ask - 0.005)
    pending["action"] = mt5.TRADE_ACTION_PENDING
    placed = terminal.order_send(pending)
    before = (terminal.history_deals_get(0, 2_000_000_000), terminal.account_info())
    terminal.shutdown()
    assert terminal.initialize()
    assert [p.ticket for p in terminal.positions_get() or ()] == [opened.order]
    assert [o.ticket for o in terminal.orders_get() or ()] == [placed.order]
    assert (terminal.history_deals_get(0, 2_000_000_000), terminal.account_info()) == before


def test_a_new_terminal_on_the_same_state_file_keeps_everything(
    tmp_path: pathlib.Path, clock: ManualClock
) -> None:
    path = tmp_path / "account.json"
    first = SimulatedTerminal(seed=SEED, clock=clock, state_path=path)
    assert first.initialize()
    opened = first.order_send(market_request("EURUSD", BUY, 0.2))
    tick = first.symbol_info_tick("EURUSD")
    assert tick is not None
    pending = market_request("EURUSD", mt5.ORDER_TYPE_BUY_LIMIT, 0.1, price=tick.ask - 0.005)
    pending["action"] = mt5.TRADE_ACTION_PENDING
    placed = first.order_send(pending)
    deals = first.history_deals_get(0, 2_000_000_000)
    orders = first.history_orders_get(0, 2_000_000_000)
    del first  # a crash: no shutdown()
    second = SimulatedTerminal(seed=SEED, clock=clock, state_path=path)
    assert second.initialize()
    assert [p.ticket for p in second.positions_get() or ()] == [opened.order]
    assert [o.ticket for o in second.orders_get() or ()] == [placed.order]
    assert second.history_deals_get(0, 2_000_000_000) == deals
    assert second.history_orders_get(0, 2_000_000_000) == orders
