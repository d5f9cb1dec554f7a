"""End to end: the phone app's Analysis tab in Debian's Chromium, at a phone's size, against a
real daemon on the simulated market.

A trader's trade is opened and closed through the API; then the trader opens Analysis and
reads every watched symbol's market condition in words (verdict, trend, volatility,
liquidity, sessions and why), the signals section's empty state (the strategies are disabled
in this daemon, so none come; the list's rendering is covered by the Node checks), and this
week's performance by strategy and by symbol. EURUSD opens its detail: the chart, switched to
M15, marks the trade's entry and exit at their prices (read from the SVG's data attributes,
not from pixels), and the condition on its timeframe is given with its reasons. The screen
goes stale offline and recovers. A viewer sees the same screen. Neither page scrolls
sideways, even at 360 px; list and detail are photographed in light and dark and checked not blank.

Then the strategies are switched on with the screen open: the first signal shows live, and
its risk decision follows on the same stream, without the list being read again.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from app_kit import (
    CHROMIUM,
    NO_CHROMIUM,
    WAIT_MS,
    Screens,
    bearer,
    check_screenshots,
    enable_strategies,
    open_trade,
    sign_in,
)
from daemon_kit import Daemon
from playwright.async_api import Page, expect
from polling import eventually

pytestmark = pytest.mark.e2e

if CHROMIUM is None:
    pytest.skip(NO_CHROMIUM, allow_module_level=True)


async def traded_and_closed(base: str) -> dict[str, Any]:
    """A buy of EURUSD by the trader, opened and closed through the API: the trade as the
    daemon recorded it once closed (entry and exit prices and times)."""
    trade_id = (await open_trade(base))["id"]
    async with aiohttp.ClientSession() as http:
        headers = await bearer(http, base)
        async with http.delete(f"{base}/api/trades/{trade_id}", headers=headers) as resp:
            assert resp.status in (200, 202), await resp.text()

        async def closed() -> dict[str, Any] | None:
            async with http.get(f"{base}/api/trades/{trade_id}", headers=headers) as resp:
                trade: dict[str, Any] = await resp.json()
            return trade if trade["status"] == "closed" and trade["exit_price"] else None

        return await eventually(closed, timeout=20, what="the trade closed", interval=0.2)


async def fits_the_phone(page: Page) -> bool:
    """The page does not scroll sideways, at this phone's width nor at the narrowest (360 px)."""
    wide = await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    size = page.viewport_size
    assert size is not None
    await page.set_viewport_size({"width": 360, "height": size["height"]})
    narrow = await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    await page.set_viewport_size(size)
    return bool(wide and narrow)


async def read_the_list(page: Page) -> None:
    """The Analysis tab: EURUSD's condition in words, the signals' empty state, this week's
    performance by strategy and by symbol."""
    await page.get_by_test_id("tab-analysis").click()
    await expect(page).to_have_url(re.compile(r"#/analysis$"))
    await expect(page.get_by_test_id("tab-analysis")).to_have_attribute("aria-current", "page")
    eurusd = page.locator('[data-testid="condition"][data-symbol="EURUSD"]')
    verdict = eurusd.get_by_test_id("condition-verdict").first
    await expect(verdict).to_have_text(
        re.compile(r"^(Favourable|Not favourable)$"), timeout=WAIT_MS
    )
    await expect(verdict).to_have_attribute("data-state", re.compile(r"^(un)?favourable$"))
    await expect(eurusd.get_by_test_id("condition-facts").first).to_have_text(
        re.compile(
            r"^(Bullish|Bearish|Ranging) trend · (Low|Normal|High) volatility · "
            r"(Thin|Normal|Deep) liquidity · .+$"
        )
    )
    await expect(eurusd.get_by_test_id("condition-why").first).to_have_text(
        re.compile(r"^Why: [a-z]+ [a-z]+.*\.$")
    )
    await expect(page.get_by_test_id("signals-empty")).to_have_text(
        "No signals yet: no strategy has signalled since the daemon started. "
        "New ones appear here as they come."
    )
    await page.get_by_test_id("performance-period-weekly").click()
    await expect(page.get_by_test_id("performance-period-weekly")).to_have_attribute(
        "aria-pressed", "true"
    )
    await expect(page.get_by_test_id("performance-status")).to_have_text(
        "This week: 1 closed trade.", timeout=WAIT_MS
    )
    by_strategy = page.get_by_test_id("performance-by-strategy")
    by_symbol = page.get_by_test_id("performance-by-symbol")
    await expect(by_strategy.get_by_test_id("performance-row")).to_have_attribute(
        "data-name", "manual"
    )
    await expect(by_symbol.get_by_test_id("performance-row")).to_have_attribute(
        "data-name", "EURUSD"
    )
    await expect(by_symbol.get_by_test_id("performance-row").locator("td").first).to_have_text("1")
    assert await fits_the_phone(page), "the list scrolls sideways"


async def read_eurusd(page: Page, trade: dict[str, Any]) -> None:
    """EURUSD's detail: the chart on M15 with the trade's entry and exit at their prices,
    and the condition with its reasons."""
    await page.locator('[data-testid="condition"][data-symbol="EURUSD"]').click()
    await expect(page).to_have_url(re.compile(r"#/analysis/EURUSD$"))
    await expect(page.get_by_test_id("tab-analysis")).to_have_attribute("aria-current", "page")
    await expect(page.get_by_test_id("symbol-verdict").first).to_have_text(
        re.compile(r"^(Favourable|Not favourable)$"), timeout=WAIT_MS
    )
    await expect(page.get_by_test_id("symbol-reason").first).to_have_text(
        re.compile(r"^[A-Z][a-z]+ [a-z]+")
    )
    await expect(page.get_by_test_id("symbol-indicators").first).to_contain_text("RSI 14")
    await page.get_by_test_id("chart-tf-M15").click()
    await expect(page.get_by_test_id("chart-tf-M15")).to_have_attribute("aria-pressed", "true")
    chart = page.get_by_test_id("price-chart")
    await expect(chart).to_have_attribute("data-timeframe", "M15", timeout=WAIT_MS)
    await expect(chart).to_have_attribute("role", "img")
    mine = f'[data-testid="chart-marker"][data-trade-id="{trade["id"]}"]'
    entry = chart.locator(f'{mine}[data-kind="entry"]')
    exit_ = chart.locator(f'{mine}[data-kind="exit"]')
    await expect(entry).to_have_count(1, timeout=WAIT_MS)
    await expect(entry).to_have_attribute("data-side", "buy")
    assert float(await entry.get_attribute("data-price") or "nan") == trade["entry_price"]
    await expect(exit_).to_have_count(1)
    assert float(await exit_.get_attribute("data-price") or "nan") == trade["exit_price"]
    label = await chart.get_attribute("aria-label") or ""
    assert re.match(r"^EURUSD M15, \d+ bars from .+ UTC: low [\d.]+, high [\d.]+, ", label), label
    assert "1 buy entry, 0 sell entries, 1 exit" in label, label
    low = float(await chart.get_attribute("data-min") or "nan")
    high = float(await chart.get_attribute("data-max") or "nan")
    assert low < trade["entry_price"] < high
    assert low < trade["exit_price"] < high
    assert int(await chart.get_attribute("data-bars") or "0") > 1
    assert await fits_the_phone(page), "the detail scrolls sideways"


async def test_a_trader_and_a_viewer_read_the_analysis_screen(
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
    trade = await traded_and_closed(running.base)

    await page.goto(f"{running.base}/app/")
    await sign_in(page, "tom")
    await expect(page.get_by_test_id("dash-connection")).to_have_attribute(
        "data-state", "connected", timeout=WAIT_MS
    )
    await read_the_list(page)
    await screens.take("analysis")

    # Offline, what is shown stays under the stale banner until the data is back.
    await page.context.set_offline(True)
    await expect(page.get_by_test_id("analysis-stale")).to_be_visible(timeout=WAIT_MS)
    await expect(page.get_by_test_id("analysis-stale")).to_contain_text("Live data lost")
    await page.context.set_offline(False)
    await expect(page.get_by_test_id("analysis-stale")).to_be_hidden(timeout=WAIT_MS)

    await read_eurusd(page, trade)
    await screens.take("analysis-eurusd")
    await page.emulate_media(color_scheme="dark")
    await screens.take("analysis-eurusd-dark")
    await page.get_by_test_id("symbol-back").click()
    await expect(page).to_have_url(re.compile(r"#/analysis$"))
    await expect(page.get_by_test_id("condition").first).to_be_visible(timeout=WAIT_MS)
    await screens.take("analysis-dark")
    await page.emulate_media(color_scheme="light")

    # A viewer reads the same screen.
    await page.get_by_test_id("tab-dashboard").click()
    await page.get_by_test_id("logout").click()
    await sign_in(page, "vic")
    await expect(page.get_by_test_id("dash-connection")).to_have_attribute(
        "data-state", "connected", timeout=WAIT_MS
    )
    await read_the_list(page)
    await read_eurusd(page, trade)
    await screens.take("analysis-eurusd-viewer")

    assert problems == []
    check_screenshots(screens)


async def test_a_live_signal_gets_its_risk_decision_without_the_list_read_again(
    daemon: tuple[Daemon, str], page: Page
) -> None:
    running, _ = daemon
    reads: list[str] = []
    listed = "/api/signals?limit=50"  # the list's read (the dashboard reads limit=1)
    page.on("request", lambda r: reads.append(r.url) if listed in r.url else None)
    await page.goto(f"{running.base}/app/")
    await sign_in(page, "tom")
    await page.get_by_test_id("tab-analysis").click()
    await expect(page.get_by_test_id("signals-empty")).to_be_visible(timeout=WAIT_MS)

    await enable_strategies(running.base)
    first = page.get_by_test_id("signal").first
    await expect(first).to_be_visible(timeout=60_000)
    await expect(first.get_by_test_id("signal-decision")).to_have_text(
        re.compile(
            r"^(Approved by the risk rules: order sent for [\d.]+ lots"
            r"|Refused by the risk rules: .+)\.$"
        ),
        timeout=WAIT_MS,
    )
    assert len(reads) == 1, reads  # the first read only: the decision came on /ws/signals
