"""End to end: the phone app's dashboard in Debian's Chromium, at a phone's size, against a real
daemon on the simulated market.

A trader signs in and watches the quotes card: EURUSD's bid changes within seconds (from
``/ws/quotes``). No strategy is enabled, so the last signal says there is none yet. A trade
opened through the API moves today's P/L away from its first value (equity from
``/ws/performance`` minus the day's starting equity), and the intraday equity curve, read from
``GET /api/account/equity?range=day`` and extended live, is drawn with at least two points
(asserted on the SVG's data attributes, not its pixels). Switching to 30 days shows the
month's curve. Once the strategies are switched on, the first signal shows live in the last
signal card (strategy, symbol, side, entry, how long ago). Light and dark screenshots are
taken under the test's output directory and checked not to be blank.

Playwright drives the system's ``chromium`` (``make test`` installs it); no browser is
downloaded.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from app_kit import (
    CHROMIUM,
    MONEY,
    NO_CHROMIUM,
    WAIT_MS,
    Screens,
    check_screenshots,
    enable_strategies,
    open_trade,
    sign_in,
)
from daemon_kit import Daemon
from playwright.async_api import Locator, Page, expect
from polling import eventually

pytestmark = pytest.mark.e2e

if CHROMIUM is None:
    pytest.skip(NO_CHROMIUM, allow_module_level=True)

PRICE = re.compile(r"^\d+\.\d{5}$")
POINTS = re.compile(r"^\d+$")


async def text_of(locator: Locator) -> str:
    return (await locator.text_content() or "").strip()


async def points_drawn(chart: Locator) -> int:
    return int(await chart.get_attribute("data-points") or "0")


async def test_a_trader_watches_quotes_todays_pnl_and_the_equity_curve_live(
    daemon: tuple[Daemon, str], page: Page, tmp_path: Path
) -> None:
    running, _ = daemon
    screens = Screens(page, tmp_path)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on(
        "console",
        lambda msg: problems.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    subscriptions: list[Any] = []
    acknowledged: list[Any] = []

    def watch(socket: Any) -> None:
        if "/ws/quotes" in socket.url:
            socket.on("framesent", lambda frame: subscriptions.append(json.loads(frame)))
            socket.on(
                "framereceived",
                lambda frame: (
                    acknowledged.append(json.loads(frame)) if '"subscribed"' in frame else None
                ),
            )

    page.on("websocket", watch)
    await page.goto(f"{running.base}/app/")
    await sign_in(page, "tom")
    await expect(page.get_by_test_id("dash-connection")).to_have_attribute(
        "data-state", "connected", timeout=WAIT_MS
    )

    # Quotes: EURUSD (first on the watchlist) with its bid, ask and spread, the bid moving.
    row = page.locator('[data-testid="quote"][data-symbol="EURUSD"]')
    bid = row.get_by_test_id("quote-bid")
    await expect(bid).to_have_text(PRICE, timeout=WAIT_MS)
    await expect(row.get_by_test_id("quote-ask")).to_have_text(PRICE)
    await expect(row.get_by_test_id("quote-spread")).to_have_text(POINTS)
    bids: set[str] = set()

    async def bid_moved() -> bool:
        text = await text_of(bid)
        assert PRICE.match(text), text
        bids.add(text)
        return len(bids) >= 2

    await eventually(bid_moved, timeout=15, what="EURUSD's bid to change", interval=0.2)
    # The card subscribed to its symbols only (the first of the watchlist: no position yet).
    shown = await page.get_by_test_id("quote").evaluate_all(
        "rows => rows.map(r => r.dataset.symbol)"
    )
    assert shown[0] == "EURUSD", shown
    assert len(shown) <= 3, shown
    assert subscriptions == [{"action": "subscribe", "symbols": shown}]
    assert [a["symbols"] for a in acknowledged] == [sorted(shown)]
    assert await row.get_by_test_id("quote-bid").locator("..").get_attribute("data-change") in (
        "up",
        "down",
    )

    # No strategy runs: no signal yet, said in words.
    await expect(page.get_by_test_id("dash-signal-none")).to_have_text(
        "No signal yet.", timeout=WAIT_MS
    )
    await expect(page.get_by_test_id("dash-signal")).to_be_hidden()

    # Today's P/L: known, then moved by a trade opened through the API.
    pnl = page.get_by_test_id("dash-today-pnl")
    await expect(pnl).to_have_text(MONEY, timeout=WAIT_MS)
    first_pnl = await text_of(pnl)
    await open_trade(running.base)
    await expect(page.get_by_test_id("dash-positions")).to_have_text("1", timeout=WAIT_MS)

    async def pnl_moved() -> str | None:
        text = await text_of(pnl)
        assert MONEY.match(text), text
        return text if text != first_pnl else None

    await eventually(pnl_moved, timeout=30, what="today's P/L to move", interval=0.2)

    # The intraday curve: drawn with two points or more, and said in words.
    card = page.get_by_test_id("dash-equity-card")
    chart = page.get_by_test_id("dash-equity-chart")
    await expect(card).to_have_attribute("data-range", "day")
    await expect(page.get_by_test_id("dash-range-day")).to_have_attribute("aria-pressed", "true")

    async def curve_drawn() -> int | None:
        count = await points_drawn(chart)
        return count if count >= 2 else None

    count = await eventually(curve_drawn, timeout=30, what="the intraday curve", interval=0.3)
    line = await chart.locator("path.lc-equity").get_attribute("d") or ""
    assert re.match(r"^M[\d.]+ [\d.]+(L[\d.]+ [\d.]+)+$", line), line
    label = await chart.get_attribute("aria-label") or ""
    assert re.match(r"^Equity, today: \d+ points, from .+ USD to .+ USD; low .+, high .+\.$", label)
    for key in ("first", "last", "min", "max"):
        assert float(await chart.get_attribute(f"data-{key}") or "nan") > 0, key
    await expect(page.get_by_test_id("dash-equity-chart-last")).to_have_text(
        re.compile(r"^Now [\d,]+\.\d{2} USD$")
    )
    assert count >= 2
    await screens.take("dashboard-live")

    # 30 days: the month's curve (the daemon is minutes old: its points so far).
    await page.get_by_test_id("dash-range-month").click()
    await expect(page.get_by_test_id("dash-range-month")).to_have_attribute("aria-pressed", "true")
    await expect(page.get_by_test_id("dash-range-day")).to_have_attribute("aria-pressed", "false")
    await expect(card).to_have_attribute("data-range", "month")
    await expect(chart).to_have_attribute(
        "aria-label", re.compile(r"^Equity, last 30 days: \d+ points?, "), timeout=WAIT_MS
    )
    assert await points_drawn(chart) >= 1
    await screens.take("dashboard-month")
    await page.emulate_media(color_scheme="dark")
    await screens.take("dashboard-month-dark")

    # The strategies switched on: the first signal shows live, from /ws/signals.
    await enable_strategies(running.base)
    signal = page.get_by_test_id("dash-signal")
    await expect(signal).to_be_visible(timeout=60_000)
    await expect(page.get_by_test_id("dash-signal-none")).to_be_hidden()
    await expect(page.get_by_test_id("dash-signal-side")).to_have_text(re.compile(r"^(Buy|Sell)$"))
    await expect(page.get_by_test_id("dash-signal-strategy")).to_have_text("ma_rsi · M1")
    assert await signal.get_attribute("data-symbol") == await text_of(
        page.get_by_test_id("dash-signal-symbol")
    )
    await expect(page.get_by_test_id("dash-signal-entry")).to_have_text(re.compile(r"^\d+\.\d+$"))
    await expect(page.get_by_test_id("dash-signal-ago")).to_have_text(
        re.compile(r"^(just now|\d+ (seconds?|minutes?|hours?|days?) ago)$")
    )
    await screens.take("dashboard-signal-dark")

    await expect(page.get_by_test_id("dash-stale")).to_have_count(0)
    assert problems == []
    check_screenshots(screens)
