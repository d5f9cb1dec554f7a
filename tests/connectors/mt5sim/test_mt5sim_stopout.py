"""Margin level and stop-out: the broker closes the most losing position at the stop-out level.

The scenario: a 200 USD account at 1:1000 sells 1 lot of EURUSD and buys 0.2 lot of GBPUSD
(margin 139.70 USD, level 134.86 %). With seed 7 the euro rises and the level falls to the
50 % stop-out level about nine minutes later.
"""

from __future__ import annotations

import re

import pytest
from mt5sim_testkit import SEED, THURSDAY, market_request

import forexbot.connectors.mt5sim as mt5
from forexbot.clock import ManualClock
from forexbot.connectors.mt5sim.errors import SimulatorError
from forexbot.connectors.mt5sim.terminal import SimulatedTerminal

SO_COMMENT = re.compile(r"^so: (\d+\.\d\d)%/(\d+\.\d\d)/(\d+\.\d\d)$")


def _scenario(**options: float) -> tuple[SimulatedTerminal, ManualClock, int, int]:
    clock = ManualClock(THURSDAY)
    term = SimulatedTerminal(seed=SEED, clock=clock, balance=200.0, leverage=1000, **options)
    assert term.initialize()
    euro = term.order_send(market_request("EURUSD", mt5.ORDER_TYPE_SELL, 1.0))
    pound = term.order_send(market_request("GBPUSD", mt5.ORDER_TYPE_BUY, 0.2))
    assert (euro.retcode, pound.retcode) == (10009, 10009)
    return term, clock, euro.order, pound.order


def test_margin_level_is_equity_over_margin_in_percent() -> None:
    term, clock, _, _ = _scenario()
    clock.advance(120)
    info = term.account_info()
    assert info is not None
    assert info.margin == 139.70
    assert info.margin_level == round(info.equity / info.margin * 100, 2)
    assert info.margin_free == round(info.equity - info.margin, 2)


def test_account_reports_percent_stop_out_at_50_and_margin_call_at_100() -> None:
    term, _, _, _ = _scenario()
    info = term.account_info()
    assert info is not None
    assert (info.margin_so_mode, info.margin_so_call, info.margin_so_so) == (
        mt5.ACCOUNT_STOPOUT_MODE_PERCENT,
        100.0,
        50.0,
    )


def test_stop_out_closes_the_most_losing_position_with_reason_so() -> None:
    term, clock, euro, pound = _scenario()
    clock.advance(600)
    assert [p.ticket for p in term.positions_get() or ()] == [pound]
    closing = (term.history_deals_get(position=euro) or ())[-1]
    assert (closing.reason, closing.entry, closing.volume) == (
        mt5.DEAL_REASON_SO,
        mt5.DEAL_ENTRY_OUT,
        1.0,
    )
    order = (term.history_orders_get(ticket=closing.order) or ())[0]
    assert order.reason == mt5.ORDER_REASON_SO
    match = SO_COMMENT.match(closing.comment)
    assert match is not None
    level, equity, margin = (float(g) for g in match.groups())
    assert level <= 50.0
    assert margin == 139.70
    assert level == pytest.approx(equity / margin * 100, abs=0.01)
    # The pound was the smaller loser at that moment: its own profit then was above the euro's.
    tick = term.copy_ticks_range("GBPUSD", closing.time - 60, closing.time, mt5.COPY_TICKS_ALL)
    assert tick is not None
    pound_profit = (float(tick["bid"][-1]) - 1.28598) * 20_000
    assert pound_profit > closing.profit == -126.0


def test_after_a_stop_out_the_level_is_back_above_and_the_balance_took_the_loss() -> None:
    term, clock, _, _ = _scenario()
    clock.advance(600)
    info = term.account_info()
    assert info is not None
    assert info.balance == 200.0 - 126.0
    assert info.margin == 25.72  # the pound's 0.2 lot only
    assert info.margin_level > 50.0


def test_a_level_between_stop_out_and_margin_call_closes_nothing() -> None:
    term, clock, euro, pound = _scenario(stop_out=20.0, margin_call=100.0)
    clock.advance(600)
    info = term.account_info()
    assert info is not None
    assert [p.ticket for p in term.positions_get() or ()] == [euro, pound]
    assert 20.0 < info.margin_level < 100.0  # margin call: reported, nothing closed


def test_stop_out_is_found_when_a_long_gap_is_replayed_on_bars() -> None:
    term, clock, euro, _ = _scenario()
    term.shutdown()
    clock.advance(3 * 86_400)  # a restart after three days: replayed on M1 bars
    assert term.initialize()
    closing = (term.history_deals_get(position=euro) or ())[-1]
    assert closing.reason == mt5.DEAL_REASON_SO
    # Found in the same minute as tick by tick (10:08 server), filled at that M1 bar's worst
    # ask, which is no better than the tick-by-tick fill (1.14106).
    assert closing.time == THURSDAY + 7200 + 8 * 60
    assert closing.price == 1.14109
    match = SO_COMMENT.match(closing.comment)
    assert match is not None
    assert float(match.group(1)) <= 50.0


def test_stop_out_must_not_exceed_the_margin_call_level() -> None:
    with pytest.raises(SimulatorError, match="stop_out <= margin_call"):
        SimulatedTerminal(clock=ManualClock(THURSDAY), stop_out=120.0, margin_call=100.0)
