"""Swaps at the daily rollover: points per lot, triple on Wednesday, realised on close.

Server midnight is 22:00 UTC in March (server = UTC+2). EURUSD's swaps are -7.2 (long) and
+1.9 (short) points per lot: 7.20 USD and 1.90 USD for 1 lot (point 0.00001 x 100,000).
"""

from __future__ import annotations

import pytest
from conftest import Send
from mt5sim_testkit import SEED, THURSDAY, market_request

import forexbot.connectors.mt5sim as mt5
from forexbot.clock import ManualClock
from forexbot.connectors.mt5sim.terminal import SimulatedTerminal

WEDNESDAY = THURSDAY - 86_400
FRIDAY = THURSDAY + 86_400
TO_MIDNIGHT = 12 * 3600  # 10:00 UTC + 12 h = 22:00 UTC = 00:00 server
BUY, SELL = mt5.ORDER_TYPE_BUY, mt5.ORDER_TYPE_SELL


def _open(
    when: float, symbol: str, side: int, volume: float
) -> tuple[SimulatedTerminal, ManualClock, int]:
    clock = ManualClock(when)
    term = SimulatedTerminal(seed=SEED, clock=clock)
    assert term.initialize()
    term.symbol_select(symbol)
    result = term.order_send(market_request(symbol, side, volume))
    assert result.retcode == 10009
    return term, clock, result.order


def _swap(term: SimulatedTerminal, ticket: int) -> float:
    (position,) = term.positions_get(ticket=ticket) or ()
    return position.swap


def test_a_buy_accrues_swap_long_at_the_rollover_and_not_before() -> None:
    term, clock, ticket = _open(THURSDAY, "EURUSD", BUY, 1.0)
    clock.advance(TO_MIDNIGHT - 1)
    assert _swap(term, ticket) == 0.0
    clock.advance(2)
    assert _swap(term, ticket) == -7.2


def test_a_sell_accrues_swap_short() -> None:
    term, clock, ticket = _open(THURSDAY, "EURUSD", SELL, 1.0)
    clock.advance(TO_MIDNIGHT + 1)
    assert _swap(term, ticket) == 1.9


def test_the_wednesday_rollover_is_charged_three_times() -> None:
    term, clock, ticket = _open(WEDNESDAY, "EURUSD", BUY, 1.0)
    clock.advance(TO_MIDNIGHT + 1)
    assert _swap(term, ticket) == -21.6


def test_weekend_midnights_charge_no_forex_swap() -> None:
    term, clock, ticket = _open(FRIDAY, "EURUSD", BUY, 0.5)
    clock.advance(TO_MIDNIGHT + 1)  # Friday's rollover: charged
    assert _swap(term, ticket) == -3.6
    clock.advance(2 * 86_400)  # Saturday's and Sunday's: the market did not trade
    assert _swap(term, ticket) == -3.6
    clock.advance(86_400)  # Monday's
    assert _swap(term, ticket) == -7.2


def test_synthetic_indices_are_charged_every_day() -> None:
    # Volatility 100: -7.5 points of 0.01 per lot: 0.75 USD a day for 10 lots (1 unit each).
    term, clock, ticket = _open(FRIDAY, "Volatility 100 Index", BUY, 10.0)
    clock.advance(TO_MIDNIGHT + 1 + 86_400)  # Friday's (x3: rollover3days = 5) and Saturday's
    assert _swap(term, ticket) == -3.0


def test_a_yen_swap_is_converted_at_the_quote() -> None:
    term, clock, ticket = _open(THURSDAY, "USDJPY", BUY, 1.0)
    clock.advance(TO_MIDNIGHT + 1)
    midnight = int(THURSDAY) + TO_MIDNIGHT + 7200  # server time
    ticks = term.copy_ticks_range("USDJPY", midnight - 600, midnight - 1, mt5.COPY_TICKS_ALL)
    assert ticks is not None
    jpy = 14.6 * 0.001 * 100_000  # swap_long points x point x contract
    assert _swap(term, ticket) == round(jpy / float(ticks["bid"][-1]), 2)


def test_closing_realises_the_swap_in_the_deal_and_the_balance(
    terminal: SimulatedTerminal, clock: ManualClock, send: Send
) -> None:
    opened = send("EURUSD", BUY, 1.0)
    clock.advance(TO_MIDNIGHT + 60)
    closed = send("EURUSD", SELL, 1.0, position=opened.order)
    deal = (terminal.history_deals_get(ticket=closed.order) or ())[0]
    info = terminal.account_info()
    assert info is not None
    assert deal.swap == -7.2
    assert info.balance == round(10_000.0 + deal.profit - 7.2, 2)


def test_a_partial_close_realises_the_swap_in_proportion(
    terminal: SimulatedTerminal, clock: ManualClock, send: Send
) -> None:
    opened = send("EURUSD", BUY, 1.0)
    clock.advance(TO_MIDNIGHT + 60)
    closed = send("EURUSD", SELL, 0.4, position=opened.order)
    deal = (terminal.history_deals_get(ticket=closed.order) or ())[0]
    assert deal.swap == -2.88
    assert _swap(terminal, opened.order) == -4.32


def test_equity_counts_the_accrued_swap(
    terminal: SimulatedTerminal, clock: ManualClock, send: Send
) -> None:
    send("EURUSD", BUY, 1.0)
    clock.advance(TO_MIDNIGHT + 60)
    (position,) = terminal.positions_get() or ()
    info = terminal.account_info()
    assert info is not None
    assert info.profit == pytest.approx(position.profit + position.swap, abs=0.01)
    assert info.equity == pytest.approx(info.balance + info.profit, abs=0.01)
