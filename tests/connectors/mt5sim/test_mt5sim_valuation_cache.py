"""The account's figures are kept between calls, never approximated: ``account_info`` equals
MetaTrader's valuation recomputed from scratch (fresh quotes from a fresh feed, the money rules
of the reference) after every tick, trade and time advance, to the last bit."""

from __future__ import annotations

import random
from typing import Any

import pytest
from mt5sim_testkit import SEED, THURSDAY, market_request

import forexbot.connectors.mt5sim as mt5
from forexbot.clock import ManualClock
from forexbot.connectors.mt5sim.feed import GeneratedFeed
from forexbot.connectors.mt5sim.money import CURRENCY_DIGITS, Money
from forexbot.connectors.mt5sim.series import MarketData
from forexbot.connectors.mt5sim.symbols import Catalogue
from forexbot.connectors.mt5sim.terminal import SimulatedTerminal
from forexbot.connectors.mt5sim.timeutil import to_server_msc

# Majors, crosses converted through another pair, gold and a synthetic index.
SYMBOLS = ("EURUSD", "GBPUSD", "USDJPY", "EURGBP", "GBPJPY", "AUDNZD", "XAUUSD", "Step Index")


def recomputed(
    terminal: SimulatedTerminal, clock: ManualClock, currency: str, market: MarketData
) -> tuple[float, float]:
    """(profit, margin) of the open positions, valued from nothing at the clock's time over
    ``market`` (a feed of its own, not the terminal's)."""
    catalogue = Catalogue()
    now = to_server_msc(clock.time())

    def quotes(symbol: str) -> tuple[float, float] | None:
        tick = market.last_tick(symbol, now)
        return None if tick is None else (float(tick["bid"][0]), float(tick["ask"][0]))

    money = Money(catalogue, currency, 100, quotes)
    profit = margin = 0.0
    for position in terminal.positions_get() or ():
        spec = catalogue.get(position.symbol)
        assert spec is not None
        quote = quotes(position.symbol)
        floating = position.profit
        if quote is not None:
            price = quote[0] if position.type == mt5.POSITION_TYPE_BUY else quote[1]
            floating = (
                money.profit(position.type, spec, position.volume, position.price_open, price)
                or 0.0
            )
        profit += floating + position.swap
        margin += money.margin(position.type, spec, position.volume, position.price_open) or 0.0
    return round(profit, CURRENCY_DIGITS), round(margin, CURRENCY_DIGITS)


def step(terminal: SimulatedTerminal, clock: ManualClock, rng: random.Random) -> None:
    """One random event: a small or large time advance, an opening, a (partial) close or an
    SL change."""
    action = rng.choice(("tick", "tick", "minute", "hours", "open", "open", "close", "modify"))
    positions: Any = terminal.positions_get() or ()
    if action == "tick":
        clock.advance(rng.choice((0.001, 0.25, 1.0, 7.0)))
    elif action == "minute":
        clock.advance(60.0)
    elif action == "hours":
        clock.advance(rng.choice((3_600.0, 20_000.0)))
    elif action == "open" or not positions:
        symbol = rng.choice(SYMBOLS)
        side = rng.choice((mt5.ORDER_TYPE_BUY, mt5.ORDER_TYPE_SELL))
        terminal.order_send(market_request(symbol, side, rng.choice((0.1, 0.2, 1.0))))
    elif action == "close":
        position = rng.choice(positions)
        side = mt5.ORDER_TYPE_SELL if position.type == mt5.POSITION_TYPE_BUY else mt5.ORDER_TYPE_BUY
        volume = position.volume if rng.random() < 0.5 else round(position.volume / 2, 2)
        terminal.order_send(market_request(position.symbol, side, volume, position=position.ticket))
    else:
        position = rng.choice(positions)
        terminal.order_send(
            {
                "action": mt5.TRADE_ACTION_SLTP,
                "symbol": position.symbol,
                "position": position.ticket,
                "sl": 0.0,
                "tp": 0.0,
            }
        )


@pytest.mark.parametrize("currency", ["USD", "EUR"])
def test_account_info_equals_a_valuation_from_scratch_after_every_event(currency: str) -> None:
    clock = ManualClock(THURSDAY)
    terminal = SimulatedTerminal(seed=SEED, clock=clock, currency=currency, balance=1_000_000.0)
    assert terminal.initialize()
    rng = random.Random(currency)
    catalogue = Catalogue()
    market = MarketData(GeneratedFeed(SEED, catalogue), catalogue)
    checked = 0
    try:
        for _ in range(160):
            step(terminal, clock, rng)
            for _ in range(2):  # a second call at the same instant answers from what was kept
                info = terminal.account_info()
                assert info is not None
                profit, margin = recomputed(terminal, clock, currency, market)
                assert (info.profit, info.margin) == (profit, margin)
                assert info.equity == round(info.balance + info.credit + profit, CURRENCY_DIGITS)
                checked += bool(terminal.positions_total())
    finally:
        terminal.shutdown()
    assert checked > 200  # most checks were made with open positions
