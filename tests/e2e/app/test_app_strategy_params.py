"""End to end: the phone app's forms on the Control tab, and the app opened with no network.

The first test: a trader edits the (disabled) ``ma_rsi`` instance's parameters in the form
built from its ``parameter_schema``: an out-of-range value is refused next to its field
without asking the server, a value the server refuses (fast period not below the slow one)
comes back in the server's words next to that field, cancel puts the values back, and a
valid change is saved and still there after a reload (re-read from the API). A viewer sees
the parameters and no edit button. An admin edits limits that are lists: the allowed
sessions (an empty allow-list refused in words) and the per-symbol spread limits (a row
added, a bad number refused next to its row), saved and still there after a reload.

The second: a trader changes the instance's risk multiplier and a trade management setting
(the trailing stop's start) in the "Risk & management" form built from the schemas the API
gives; an out-of-range value of each is refused next to its field before anything is sent,
only the changed values are sent, and they are still there after a reload. A break-even
typed with a decimal comma ("1,5") is saved as 1.5 (read back from the API), one typed with
grouping ("1,234.5") is refused before sending. A viewer reads them with no edit button.

The third: the app, installed once online (the service worker caches its shell), is
reloaded with no network: it opens, says it is offline and that trading is paused, offers no
trade action, and when the network returns it reads the live figures again by itself; so do
the Control and Trades tabs opened offline.

Every screen is photographed under the test's output directory and checked not to be blank.
Playwright drives the system's ``chromium`` (``make test`` installs it); no browser is
downloaded.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import aiohttp
import pyotp
import pytest
from app_kit import (
    CHROMIUM,
    MONEY,
    NO_CHROMIUM,
    WAIT_MS,
    Screens,
    bearer,
    check_screenshots,
    open_trade,
    sign_in,
)
from daemon_kit import Daemon
from playwright.async_api import Page, Request, expect

pytestmark = pytest.mark.e2e

if CHROMIUM is None:
    pytest.skip(NO_CHROMIUM, allow_module_level=True)

OFFLINE = "Offline — no live data; trading is paused until the connection returns."


def watch_problems(page: Page) -> list[str]:
    """Script errors and browser dialogs (the app asks in the page, never with a dialog)."""
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("dialog", lambda dialog: problems.append(f"a browser dialog: {dialog.message}"))
    return problems


def strategy_puts(page: Page) -> list[Request]:
    """The page's ``PUT /api/strategies/...`` requests, as they are sent (to prove what a form
    sent, or that it sent nothing)."""
    puts: list[Request] = []
    page.on(
        "request",
        lambda r: puts.append(r) if r.method == "PUT" and "/api/strategies/" in r.url else None,
    )
    return puts


async def strategy_from_api(base: str, instance_id: str) -> dict[str, Any]:
    """A strategy instance as the API has it now (read as the trader)."""
    async with aiohttp.ClientSession() as http:
        headers = await bearer(http, base)
        async with http.get(f"{base}/api/strategies", headers=headers) as resp:
            assert resp.status == 200, await resp.text()
            items: list[dict[str, Any]] = (await resp.json())["items"]
    return next(item for item in items if item["id"] == instance_id)


async def leave(page: Page) -> None:
    await page.get_by_test_id("tab-dashboard").click()
    await page.get_by_test_id("logout").click()
    await expect(page.get_by_test_id("signin-username")).to_be_visible()


async def test_strategy_parameters_and_list_limits_are_edited_in_forms(
    daemon: tuple[Daemon, str], page: Page, tmp_path: Path
) -> None:
    running, admin_secret = daemon
    screens = Screens(page, tmp_path)
    problems = watch_problems(page)
    puts = strategy_puts(page)
    await page.goto(f"{running.base}/app/")
    await sign_in(page, "tom")
    await page.get_by_test_id("tab-control").click()

    strategy = page.get_by_test_id("strategy").first
    fast_shown = strategy.locator('[data-testid="strategy-param"][data-name="fast_period"] dd')
    await expect(fast_shown).to_have_text("20", timeout=WAIT_MS)
    await strategy.get_by_test_id("strategy-edit").click()
    form = strategy.get_by_test_id("params-form")
    await expect(form).to_be_visible()
    fast = form.get_by_test_id("param-fast_period")
    await expect(fast).to_have_value("20")
    await expect(form.get_by_text("2 to 500, whole number")).to_be_visible()

    # Out of range: refused next to the field, and the server is not asked.
    await fast.fill("1")
    await form.get_by_test_id("params-save").click()
    await expect(form.get_by_test_id("param-fast_period-error")).to_have_text(
        "Out of range: 2 to 500."
    )
    await fast.fill("12.5")
    await form.get_by_test_id("params-save").click()
    await expect(form.get_by_test_id("param-fast_period-error")).to_have_text(
        "Give a whole number."
    )
    assert puts == []
    await screens.take("params-refused-here")

    # In range, but not below the slow period: the server's words, next to the field.
    await fast.fill("60")
    await form.get_by_test_id("params-save").click()
    refusal = form.get_by_test_id("param-fast_period-error")
    await expect(refusal).to_have_text(
        re.compile(r"fast_period \(60\) must be below slow_period \(50\)"), timeout=WAIT_MS
    )
    assert len(puts) == 1
    await screens.take("params-refused-by-server")

    # Cancel puts the values in force back.
    await form.get_by_test_id("params-cancel").click()
    await expect(form).to_be_hidden()
    await expect(fast_shown).to_have_text("20")
    await strategy.get_by_test_id("strategy-edit").click()
    await expect(fast).to_have_value("20")
    await expect(refusal).to_be_hidden()

    # A valid change is saved, shown, and still there after a reload.
    await fast.fill("15")
    await form.get_by_test_id("param-rsi_buy_level").fill("35.5")
    await form.get_by_test_id("params-save").click()
    await expect(strategy.get_by_test_id("params-result")).to_contain_text("Saved", timeout=WAIT_MS)
    await expect(form).to_be_hidden()
    await expect(fast_shown).to_have_text("15")
    assert puts[-1].post_data_json == {"params": {"fast_period": 15, "rsi_buy_level": 35.5}}
    await page.reload()
    strategy = page.get_by_test_id("strategy").first
    await expect(
        strategy.locator('[data-testid="strategy-param"][data-name="fast_period"] dd')
    ).to_have_text("15", timeout=WAIT_MS)
    await expect(
        strategy.locator('[data-testid="strategy-param"][data-name="rsi_buy_level"] dd')
    ).to_have_text("35.5")
    await strategy.get_by_test_id("strategy-params").locator("summary").click()
    await screens.take("params-saved")

    # A viewer reads the parameters and has no edit button.
    await leave(page)
    await sign_in(page, "vic")
    await page.get_by_test_id("tab-control").click()
    strategy = page.get_by_test_id("strategy").first
    await strategy.get_by_test_id("strategy-params").locator("summary").click(timeout=WAIT_MS)
    await expect(
        strategy.locator('[data-testid="strategy-param"][data-name="fast_period"] dd')
    ).to_have_text("15")
    for action in ("strategy-edit", "params-form", "limits-form"):
        await expect(page.get_by_test_id(action)).to_have_count(0)
    await screens.take("params-viewer")

    # An admin edits the lists: the sessions trading is allowed in, and spread limits.
    await leave(page)
    await sign_in(page, "ada")
    await page.get_by_test_id("signin-otp").fill(pyotp.TOTP(admin_secret).now())
    await page.get_by_test_id("signin-submit").click()
    await page.get_by_test_id("tab-control").click()
    sessions = page.get_by_test_id("limit-allowed_sessions")
    anytime = sessions.get_by_test_id("limit-allowed_sessions-any")
    await expect(anytime).to_be_checked(timeout=WAIT_MS)
    london = sessions.get_by_label("London")
    await expect(london).to_be_disabled()
    await anytime.uncheck()
    await page.get_by_test_id("limits-submit").click()
    await expect(page.get_by_test_id("limit-allowed_sessions-error")).to_have_text(
        re.compile(r"^Pick at least one")
    )
    await london.check()
    await sessions.get_by_label("New York").check()
    spread = page.get_by_test_id("limit-max_spread_points")
    await spread.get_by_test_id("limit-max_spread_points-add").click()
    row = spread.get_by_test_id("limit-max_spread_points-row").last
    await row.get_by_test_id("limit-max_spread_points-symbol").fill("EURUSD")
    await row.get_by_test_id("limit-max_spread_points-value").fill("0")
    await page.get_by_test_id("limits-submit").click()
    await expect(row.get_by_test_id("limit-max_spread_points-row-error")).to_have_text(
        "Give a whole number above 0."
    )
    await row.get_by_test_id("limit-max_spread_points-value").fill("25")
    await screens.take("limits-lists")
    await page.get_by_test_id("limits-submit").click()
    await expect(page.get_by_test_id("risk-notice")).to_have_text("Limits saved.", timeout=WAIT_MS)
    await page.reload()
    sessions = page.get_by_test_id("limit-allowed_sessions")
    await expect(sessions.get_by_label("London")).to_be_checked(timeout=WAIT_MS)
    await expect(sessions.get_by_label("New York")).to_be_checked()
    await expect(sessions.get_by_label("Tokyo")).not_to_be_checked()
    await expect(sessions.get_by_test_id("limit-allowed_sessions-any")).not_to_be_checked()
    row = page.get_by_test_id("limit-max_spread_points-row")
    await expect(row).to_have_count(1)
    await expect(row.get_by_test_id("limit-max_spread_points-symbol")).to_have_value("EURUSD")
    await expect(row.get_by_test_id("limit-max_spread_points-value")).to_have_value("25")

    assert problems == []
    check_screenshots(screens)


async def test_a_strategys_risk_multiplier_and_management_are_edited_in_a_form(
    daemon: tuple[Daemon, str], page: Page, tmp_path: Path
) -> None:
    running, _ = daemon
    screens = Screens(page, tmp_path)
    problems = watch_problems(page)
    puts = strategy_puts(page)
    await page.goto(f"{running.base}/app/")
    await sign_in(page, "tom")
    await page.get_by_test_id("tab-control").click()

    strategy = page.get_by_test_id("strategy").first
    summary = strategy.get_by_test_id("strategy-manage").locator("summary")
    await expect(summary).to_have_text("Risk ×1 · break-even off · trailing off", timeout=WAIT_MS)
    await strategy.get_by_test_id("strategy-manage-edit").click()
    form = strategy.get_by_test_id("manage-form")
    await expect(form).to_be_visible()
    multiplier = form.get_by_test_id("manage-risk_multiplier")
    trailing = form.get_by_test_id("manage-management.trailing_start_r")
    await expect(multiplier).to_have_value("1")
    await expect(trailing).to_have_value("")
    await expect(form.get_by_text("(above 0, up to 10)")).to_be_visible()

    # Out of range: refused next to each field, and the server is not asked.
    await multiplier.fill("12")
    await trailing.fill("0")
    await form.get_by_test_id("manage-save").click()
    await expect(form.get_by_test_id("manage-risk_multiplier-error")).to_have_text(
        "Out of range: above 0, up to 10."
    )
    await expect(form.get_by_test_id("manage-management.trailing_start_r-error")).to_have_text(
        "Out of range: above 0, up to 100."
    )
    assert puts == []
    await screens.take("management-refused-here")

    # In range: only the two changed values are sent, and the fold says them at a glance.
    await multiplier.fill("0.5")
    await trailing.fill("1.5")
    await form.get_by_test_id("manage-save").click()
    await expect(strategy.get_by_test_id("manage-result")).to_contain_text(
        "Saved: Risk multiplier 0.5, Trailing start R 1.5.", timeout=WAIT_MS
    )
    await expect(form).to_be_hidden()
    assert [r.post_data_json for r in puts] == [
        {"risk_multiplier": 0.5, "management": {"trailing_start_r": 1.5}}
    ]
    await expect(summary).to_have_text("Risk ×0.5 · break-even off · trailing from 1.5R")

    # Still there after a reload (read again from the API).
    await page.reload()
    strategy = page.get_by_test_id("strategy").first
    fold = strategy.get_by_test_id("strategy-manage")
    await expect(fold.locator("summary")).to_have_text(
        "Risk ×0.5 · break-even off · trailing from 1.5R", timeout=WAIT_MS
    )
    await fold.locator("summary").click()
    value = '[data-testid="strategy-manage-value"][data-name="{}"] dd'
    await expect(fold.locator(value.format("risk_multiplier"))).to_have_text("0.5")
    await expect(fold.locator(value.format("management.trailing_start_r"))).to_have_text("1.5")
    await expect(fold.locator(value.format("management.break_even_at_r"))).to_have_text("none")
    await screens.take("management-saved")

    # Typed with a decimal comma, a number is the one meant: break-even "1,234.5" is refused
    # next to its field before anything is sent; "1,5" is saved as 1.5 (read back from the
    # API) and shown back with a point.
    await strategy.get_by_test_id("strategy-manage-edit").click()
    form = strategy.get_by_test_id("manage-form")
    break_even = form.get_by_test_id("manage-management.break_even_at_r")
    await expect(break_even).to_have_attribute("inputmode", "decimal")
    sent = len(puts)
    await break_even.fill("1,234.5")
    await form.get_by_test_id("manage-save").click()
    await expect(form.get_by_test_id("manage-management.break_even_at_r-error")).to_have_text(
        "Give a number such as 1.5."
    )
    assert len(puts) == sent
    await break_even.fill("1,5")
    await form.get_by_test_id("manage-save").click()
    await expect(strategy.get_by_test_id("manage-result")).to_contain_text(
        "Saved: Break even at R 1.5.", timeout=WAIT_MS
    )
    assert [r.post_data_json for r in puts[sent:]] == [{"management": {"break_even_at_r": 1.5}}]
    instance_id = await strategy.get_attribute("data-id")
    assert instance_id is not None
    assert (await strategy_from_api(running.base, instance_id))["management"][
        "break_even_at_r"
    ] == 1.5
    await strategy.get_by_test_id("strategy-manage-edit").click()
    await expect(break_even).to_have_value("1.5")
    await form.get_by_test_id("manage-cancel").click()

    # A viewer reads them and has no edit button.
    await leave(page)
    await sign_in(page, "vic")
    await page.get_by_test_id("tab-control").click()
    fold = page.get_by_test_id("strategy").first.get_by_test_id("strategy-manage")
    await expect(fold.locator("summary")).to_have_text(
        "Risk ×0.5 · break-even at 1.5R · trailing from 1.5R", timeout=WAIT_MS
    )
    for action in ("strategy-manage-edit", "manage-form"):
        await expect(page.get_by_test_id(action)).to_have_count(0)

    assert problems == []
    check_screenshots(screens)


async def test_opened_with_no_network_the_app_says_so_and_recovers_by_itself(
    daemon: tuple[Daemon, str], page: Page, tmp_path: Path
) -> None:
    running, _ = daemon
    screens = Screens(page, tmp_path)
    problems = watch_problems(page)
    await page.goto(f"{running.base}/app/")
    await sign_in(page, "tom")
    await expect(page.get_by_test_id("dash-connection")).to_have_attribute(
        "data-state", "connected", timeout=WAIT_MS
    )
    # Installed: the service worker has cached the shell and controls the page.
    controlled: Any = await page.evaluate(
        "navigator.serviceWorker.ready.then(() => new Promise((done) => {"
        " if (navigator.serviceWorker.controller) return done(true);"
        " navigator.serviceWorker.addEventListener('controllerchange', () => done(true));"
        " setTimeout(() => done(false), 15000); }))"
    )
    assert controlled is True
    await open_trade(running.base)
    await page.get_by_test_id("tab-positions").click()
    await expect(page.get_by_test_id("position")).to_have_count(1, timeout=WAIT_MS)
    await expect(page.get_by_test_id("new-trade-toggle")).to_be_visible()

    # Reopened with no network: the shell opens and says why there is nothing to trade on.
    await page.context.set_offline(True)
    await page.reload()
    await expect(page.get_by_test_id("positions-error")).to_contain_text(OFFLINE, timeout=WAIT_MS)
    await expect(page.get_by_test_id("positions-stale")).to_be_visible()
    await expect(page.get_by_test_id("position")).to_have_count(0)
    await expect(page.get_by_test_id("new-trade-toggle")).to_have_count(0)
    for action in ("new-trade-submit", "position-close", "position-close-part"):
        await expect(page.locator(f'[data-testid="{action}"]:enabled')).to_have_count(0)
    await screens.take("offline-positions")
    await page.get_by_test_id("tab-dashboard").click()
    # Said once, in the banner, not by every card.
    await expect(page.get_by_test_id("dash-stale")).to_have_text(OFFLINE, timeout=WAIT_MS)
    await expect(page.get_by_text(OFFLINE).filter(visible=True)).to_have_count(1)
    await expect(page.get_by_test_id("dash-balance")).to_have_text("—")
    await screens.take("offline-dashboard")

    # The network returns: the figures come back without a touch.
    await page.context.set_offline(False)
    await expect(page.get_by_test_id("dash-balance")).to_have_text(MONEY, timeout=WAIT_MS)
    await expect(page.get_by_test_id("dash-connection")).to_have_attribute(
        "data-state", "connected", timeout=WAIT_MS
    )
    await expect(page.get_by_text(OFFLINE).filter(visible=True)).to_have_count(0, timeout=WAIT_MS)
    await expect(page.get_by_test_id("dash-stale")).to_have_count(0, timeout=WAIT_MS)

    # Positions too, opened offline and left open: the trade and the actions return.
    await page.context.set_offline(True)
    await page.get_by_test_id("tab-positions").click()
    await expect(page.get_by_test_id("positions-error")).to_contain_text(OFFLINE, timeout=WAIT_MS)
    await page.context.set_offline(False)
    position = page.get_by_test_id("position")
    await expect(position).to_have_count(1, timeout=WAIT_MS)
    await expect(position.get_by_test_id("position-close")).to_be_enabled(timeout=WAIT_MS)
    await expect(page.get_by_test_id("new-trade-toggle")).to_be_visible(timeout=WAIT_MS)
    await expect(page.get_by_test_id("positions-error")).to_be_hidden()
    await screens.take("online-again")

    # Control and Trades opened offline come back with their data by themselves too.
    await page.context.set_offline(True)
    await page.get_by_test_id("tab-control").click()
    await expect(page.get_by_test_id("strategies-error")).to_contain_text(OFFLINE, timeout=WAIT_MS)
    await expect(page.get_by_test_id("risk-error")).to_contain_text(OFFLINE)
    await expect(page.get_by_test_id("strategy")).to_have_count(0)
    await page.context.set_offline(False)
    await expect(page.get_by_test_id("strategy")).not_to_have_count(0, timeout=WAIT_MS)
    await expect(page.get_by_test_id("risk-kill-state")).to_have_text("Off", timeout=WAIT_MS)
    await expect(page.get_by_test_id("strategies-error")).to_be_hidden()
    await expect(page.get_by_test_id("risk-error")).to_be_hidden()
    await page.context.set_offline(True)
    await page.get_by_test_id("tab-trades").click()
    await expect(page.get_by_test_id("trades-error")).to_contain_text(OFFLINE, timeout=WAIT_MS)
    await expect(page.get_by_test_id("trade-row")).to_have_count(0)
    await page.context.set_offline(False)
    await expect(page.get_by_test_id("trade-row")).to_have_count(1, timeout=WAIT_MS)
    await expect(page.get_by_test_id("trades-error")).to_be_hidden()
    await screens.take("control-trades-online-again")

    assert problems == []
    check_screenshots(screens)
