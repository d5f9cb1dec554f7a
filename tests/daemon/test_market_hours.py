"""Market hours: which watched symbols trade, when the closed ones reopen, and what the daemon
says about it at start and on each change (rules in :mod:`forexbot.daemon.market_hours`)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from polling import eventually
from structlog.testing import LogCapture

import forexbot.connectors.mt5sim as mt5
from forexbot.clock import ManualClock
from forexbot.connectors.mt5sim.terminal import SimulatedTerminal
from forexbot.daemon.market_hours import MarketHoursWatch, market_hours, next_forex_open

WATCHLIST = ("EURUSD", "GBPUSD", "Volatility 75 Index")
V75 = "Volatility 75 Index"
# A winter week: New York on UTC-5, so the forex weekend is [Fri 22:00, Sun 22:00) UTC.
THURSDAY = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
FRIDAY_CLOSE = datetime(2026, 11, 27, 22, 0, tzinfo=UTC)
SATURDAY = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
SUNDAY_OPEN = datetime(2026, 11, 29, 22, 0, tzinfo=UTC)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def events(capture: LogCapture) -> list[dict[str, object]]:
    return [
        {k: v for k, v in entry.items() if k != "log_level"}
        for entry in capture.entries
        if str(entry["event"]).startswith("market")
    ]


def test_on_a_saturday_forex_is_closed_and_synthetic_indices_trade() -> None:
    hours = market_hours(WATCHLIST, SATURDAY)

    assert (hours.closed, hours.trading) == (("EURUSD", "GBPUSD"), (V75,))
    assert hours.reopens == SUNDAY_OPEN


def test_on_a_weekday_everything_trades() -> None:
    hours = market_hours(WATCHLIST, THURSDAY)

    assert (hours.closed, hours.trading, hours.reopens) == ((), WATCHLIST, None)


@pytest.mark.parametrize(
    ("at", "closed"),
    [
        ("2026-11-27T21:59:59", False),  # Friday 16:59:59 New York
        ("2026-11-27T22:00:00", True),  # Friday 17:00 New York
        ("2026-11-29T21:59:59", True),  # Sunday 16:59:59 New York
        ("2026-11-29T22:00:00", False),  # Sunday 17:00 New York
    ],
)
def test_forex_closes_and_reopens_at_17_00_new_york(at: str, closed: bool) -> None:
    assert ("EURUSD" in market_hours(WATCHLIST, utc(at)).closed) is closed


def test_in_summer_forex_reopens_at_21_00_utc() -> None:
    assert next_forex_open(utc("2026-07-04T12:00:00")) == utc("2026-07-05T21:00:00")


def test_on_friday_evening_the_reopening_is_the_coming_sunday() -> None:
    assert next_forex_open(FRIDAY_CLOSE) == SUNDAY_OPEN


def test_the_closed_market_in_one_sentence() -> None:
    assert market_hours(WATCHLIST, SATURDAY).describe() == (
        "market closed for EURUSD, GBPUSD until Sun 29 Nov 22:00 UTC; Volatility 75 Index trades"
    )


def test_a_watchlist_without_synthetic_indices_says_only_when_it_reopens() -> None:
    assert market_hours(("EURUSD",), SATURDAY).describe() == (
        "market closed for EURUSD until Sun 29 Nov 22:00 UTC"
    )


@pytest.mark.parametrize(
    "at",
    [
        "2026-11-27T21:59:00",
        "2026-11-27T22:00:00",
        "2026-11-28T12:00:00",
        "2026-11-29T21:59:00",
        "2026-11-29T22:00:00",
        "2024-03-10T20:59:00",  # the Sunday New York goes on summer time
        "2024-03-10T21:00:00",
    ],
)
def test_the_rule_agrees_with_the_simulated_terminal(at: str) -> None:
    """Closed here exactly when the simulated terminal refuses a market order with
    MARKET_CLOSED."""
    terminal = SimulatedTerminal(seed=7, clock=ManualClock(utc(at).timestamp()))
    assert terminal.initialize()
    hours = market_hours(("EURUSD", V75), utc(at))
    for symbol in ("EURUSD", V75):
        info = terminal.symbol_info(symbol)
        assert info is not None
        request = {
            "action": mt5.TRADE_ACTION_DEAL,
            "symbol": symbol,
            "volume": info.volume_min,
            "type": mt5.ORDER_TYPE_BUY,
        }
        result = terminal.order_send(request)
        assert result is not None
        refused = result.retcode == mt5.TRADE_RETCODE_MARKET_CLOSED
        assert refused is (symbol in hours.closed), (symbol, result.retcode)


async def test_a_daemon_started_on_a_saturday_says_the_market_is_closed(
    logs: LogCapture,
) -> None:
    watch = MarketHoursWatch(WATCHLIST, ManualClock(SATURDAY.timestamp()), interval=0.01)
    watch.start()
    await watch.stop()

    assert events(logs) == [
        {
            "event": "market closed",
            "symbols": ["EURUSD", "GBPUSD"],
            "until": "2026-11-29T22:00:00Z",
            "trading": [V75],
        }
    ]


async def test_a_daemon_started_on_a_weekday_says_nothing(logs: LogCapture) -> None:
    watch = MarketHoursWatch(WATCHLIST, ManualClock(THURSDAY.timestamp()), interval=0.01)
    watch.start()
    await watch.stop()

    assert events(logs) == []


async def test_the_reopening_is_said_when_it_happens(logs: LogCapture) -> None:
    clock = ManualClock(SATURDAY.timestamp())
    watch = MarketHoursWatch(WATCHLIST, clock, interval=0.01)
    watch.start()
    clock.set(SUNDAY_OPEN.timestamp())
    try:
        await eventually(lambda: len(events(logs)) == 2, timeout=5, what="the reopening")
    finally:
        await watch.stop()

    assert events(logs)[1] == {"event": "market open", "symbols": ["EURUSD", "GBPUSD"]}


async def test_the_weekend_close_is_said_when_it_happens(logs: LogCapture) -> None:
    clock = ManualClock(THURSDAY.timestamp())
    watch = MarketHoursWatch(("EURUSD",), clock, interval=0.01)
    watch.start()
    clock.set(FRIDAY_CLOSE.timestamp())
    try:
        await eventually(lambda: events(logs), timeout=5, what="the weekend close")
    finally:
        await watch.stop()

    assert events(logs) == [
        {"event": "market closed", "symbols": ["EURUSD"], "until": "2026-11-29T22:00:00Z"}
    ]
