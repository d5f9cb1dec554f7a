"""The paper account survives a restart, and stops hit during the downtime are caught up."""

from __future__ import annotations

import json
import pathlib

import pytest
from mt5sim_testkit import THURSDAY, market_request

import forexbot.connectors.mt5sim as mt5
from forexbot.clock import ManualClock
from forexbot.connectors.mt5sim.errors import SimulatorStateError
from forexbot.connectors.mt5sim.terminal import SimulatedTerminal

V100 = "Volatility 100 Index"


def _open(
    path: pathlib.Path, clock: ManualClock, seed: int = 5, balance: float = 10_000.0
) -> SimulatedTerminal:
    term = SimulatedTerminal(seed=seed, clock=clock, state_path=path, balance=balance)
    assert term.initialize()
    return term


def test_state_file_is_versioned_json_written_on_creation(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "paper" / "account.json"
    _open(path, ManualClock(THURSDAY))
    data = json.loads(path.read_text())
    assert (data["version"], data["seed"], data["balance"], data["currency"]) == (
        1,
        5,
        10_000.0,
        "USD",
    )
    assert [d["type"] for d in data["deals"]] == [mt5.DEAL_TYPE_BALANCE]
    assert not list(path.parent.glob("*.tmp"))


def test_account_survives_a_restart(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "account.json"
    clock = ManualClock(THURSDAY)
    first = _open(path, clock)
    opened = first.order_send(market_request("EURUSD", mt5.ORDER_TYPE_BUY, 0.3, comment="keep"))
    assert opened is not None
    first.shutdown()
    second = _open(path, clock, seed=999, balance=1.0)  # a loaded account keeps its own values
    (position,) = second.positions_get() or ()
    assert (position.ticket, position.volume, position.comment) == (opened.order, 0.3, "keep")
    assert second.seed == 5
    info = second.account_info()
    assert info is not None
    assert info.balance == 10_000.0
    again = second.order_send(market_request("EURUSD", mt5.ORDER_TYPE_BUY, 0.1))
    assert again is not None
    assert again.order == opened.order + 1
    assert again.deal == opened.deal + 1


def test_take_profit_hit_during_downtime_is_caught_up_on_load(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "account.json"
    clock = ManualClock(THURSDAY)
    first = _open(path, clock)
    first.symbol_select(V100)
    tick = first.symbol_info_tick(V100)
    assert tick is not None
    tp = round(tick.bid + 1.5, 2)
    opened = first.order_send(market_request(V100, mt5.ORDER_TYPE_BUY, 0.5, tp=tp))
    assert opened is not None
    assert opened.retcode == 10009
    first.shutdown()  # the daemon stops ...
    clock.advance(2 * 3600)  # ... for two hours
    second = _open(path, clock)
    assert second.positions_total() == 0
    deal = (second.history_deals_get(position=opened.order) or ())[-1]
    assert deal.reason == mt5.DEAL_REASON_TP
    assert deal.price >= tp
    down_from, down_to = tick.time, int(clock.time() + 7200)
    assert down_from < deal.time < down_to
    info = second.account_info()
    assert info is not None
    assert info.balance == round(10_000 + deal.profit, 2)


def test_long_downtime_is_replayed_on_m1_bars(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "account.json"
    clock = ManualClock(THURSDAY)
    first = _open(path, clock)
    first.symbol_select(V100)
    tick = first.symbol_info_tick(V100)
    assert tick is not None
    sl, tp = round(tick.bid - 40.0, 2), round(tick.bid + 40.0, 2)  # hit some days later
    opened = first.order_send(market_request(V100, mt5.ORDER_TYPE_BUY, 0.5, sl=sl, tp=tp))
    assert opened is not None
    assert opened.retcode == 10009
    first.shutdown()
    clock.advance(10 * 86_400)  # more than a day: replayed bar by bar
    second = _open(path, clock)
    deals = second.history_deals_get(position=opened.order) or ()
    assert [d.entry for d in deals] == [mt5.DEAL_ENTRY_IN, mt5.DEAL_ENTRY_OUT]
    exit_deal = deals[-1]
    assert exit_deal.time_msc % 60_000 == 0  # a bar event carries its M1 bar's open time
    bars = second.copy_rates_range(V100, mt5.TIMEFRAME_M1, tick.time + 60, exit_deal.time)
    assert bars is not None
    earlier, trigger = bars[:-1], bars[-1]
    assert trigger["time"] == exit_deal.time
    assert (earlier["low"] > sl).all()
    assert (earlier["high"] < tp).all()
    if exit_deal.reason == mt5.DEAL_REASON_SL:
        assert trigger["low"] <= sl
        assert exit_deal.price == min(sl, trigger["open"])  # the level, or a gap's open
    else:
        assert exit_deal.reason == mt5.DEAL_REASON_TP
        assert trigger["high"] >= tp
        assert exit_deal.price == max(tp, trigger["open"])


def test_corrupt_state_file_raises_a_forexbot_error(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "account.json"
    path.write_text("{not json")
    with pytest.raises(SimulatorStateError):
        SimulatedTerminal(clock=ManualClock(THURSDAY), state_path=path)
    path.write_text(json.dumps({"version": 99}))
    with pytest.raises(SimulatorStateError, match="version"):
        SimulatedTerminal(clock=ManualClock(THURSDAY), state_path=path)


def test_saved_clock_time_is_the_utc_time_the_account_stopped(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "account.json"
    assert SimulatedTerminal.saved_clock_time(path) is None
    summer = 1_720_692_000.0  # 2024-07-11 10:00 UTC: server time is UTC+3
    clock = ManualClock(summer)
    term = _open(path, clock)
    clock.advance(90.5)
    term.shutdown()
    assert SimulatedTerminal.saved_clock_time(path) == summer + 90.5
