"""End to end: the phone app in Debian's Chromium, at a phone's size, against a real daemon.

The first test: a trader signs in, reads the dashboard (the terminal connected, paper mode,
the paper account's balance, the equity moving live), loses the network and sees the figures
marked stale until it comes back, and logs out. An admin is asked for the one-time code, is refused
with a wrong one in words, and gets in with the right one. The second: a trader opens a
trade from the app, follows it in Positions, has an invalid SL refused next to the field,
moves the SL, closes half and then the rest, and finds it in Trades with its history; the
tabs and the back button move between screens; a viewer sees positions without any action.
The third: on the Control tab a trader switches a strategy on and off, is told in words why
push alerts cannot be enabled (headless Chromium has no push service), sets an alert to
silent, and trips the kill switch with a reason after confirming, which the dashboard shows;
a viewer sees it all without a button; an admin has an out-of-range limit refused next to its
field and resumes trading.
Every screen is photographed under
the test's output directory, and each photograph is checked not to be blank.

Playwright drives the system's ``chromium`` (``make test`` installs it); no browser is
downloaded.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pyotp
import pytest
from app_kit import (
    CHROMIUM,
    MONEY,
    NO_CHROMIUM,
    WAIT_MS,
    Screens,
    check_screenshots,
    distinct_colours,
    open_trade,
    sign_in,
    wrong_code,
)
from daemon_kit import Daemon
from playwright.async_api import Page, expect
from polling import eventually

pytestmark = pytest.mark.e2e

if CHROMIUM is None:
    pytest.skip(NO_CHROMIUM, allow_module_level=True)


async def test_a_trader_and_an_admin_use_the_app_on_a_phone(
    daemon: tuple[Daemon, str], page: Page, tmp_path: Path
) -> None:
    running, admin_secret = daemon
    app = f"{running.base}/app/"
    screens = Screens(page, tmp_path)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on(
        "console",
        lambda msg: problems.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    performance_sockets: list[Any] = []
    performance_frames: list[str] = []

    def watch(socket: Any) -> None:
        if "/ws/performance" in socket.url:
            performance_sockets.append(socket)
            socket.on("framereceived", lambda frame: performance_frames.append(str(frame)))

    page.on("websocket", watch)

    # The daemon's greeting announces the app.
    lines = running.log_path.read_text().splitlines()
    events = [json.loads(line) for line in lines if line.startswith("{")]
    ready = [e for e in events if e.get("event") == "forexbot ready"]
    assert [e["app"] for e in ready] == [app]

    # A trader signs in.
    await page.goto(app)
    await expect(page.get_by_test_id("signin-username")).to_be_visible()
    await screens.take("signin")
    await sign_in(page, "tom")

    # The dashboard: connected, paper, the paper account's balance, live figures.
    connection = page.get_by_test_id("dash-connection")
    await expect(connection).to_have_attribute("data-state", "connected", timeout=WAIT_MS)
    await expect(connection).to_have_text(re.compile(r"^connected$", re.I))
    await expect(page.get_by_test_id("dash-mode")).to_have_text(re.compile(r"^paper$", re.I))
    await expect(page.get_by_test_id("dash-balance")).to_have_text("10,000.00 USD")
    await expect(page.get_by_test_id("dash-kill-switch")).to_have_attribute(
        "data-state", "inactive"
    )
    await expect(page.get_by_test_id("dash-stale")).to_have_count(0)
    await eventually(lambda: performance_frames, timeout=10, what="a /ws/performance message")

    await open_trade(running.base)
    await expect(page.get_by_test_id("dash-positions")).to_have_text("1", timeout=WAIT_MS)
    equity = page.get_by_test_id("dash-equity")
    seen: set[str] = set()

    async def equity_moved() -> bool:
        text = (await equity.text_content() or "").strip()
        assert MONEY.match(text), text
        seen.add(text)
        return len(seen) >= 2

    await eventually(equity_moved, timeout=30, what="the equity to change on screen", interval=0.2)
    for name in ("dash-margin", "dash-free-margin", "dash-floating"):
        assert MONEY.match((await page.get_by_test_id(name).text_content() or "").strip()), name
    await screens.take("dashboard")

    # The stream drops (the phone goes offline): the figures are marked stale...
    sockets_before = len(performance_sockets)
    await page.context.set_offline(True)
    await expect(page.get_by_test_id("dash-stale")).to_be_visible(timeout=WAIT_MS)
    await screens.take("dashboard-stale")
    # ...until it reconnects.
    await page.context.set_offline(False)
    await expect(page.get_by_test_id("dash-stale")).to_be_hidden(timeout=WAIT_MS)
    assert len(performance_sockets) > sockets_before, "the stream reconnected"

    # Log out: back to the sign-in screen.
    await page.get_by_test_id("logout").click()
    await expect(page.get_by_test_id("signin-username")).to_be_visible()

    # An admin is asked for the one-time code...
    await sign_in(page, "ada")
    code = page.get_by_test_id("signin-otp")
    await expect(code).to_be_visible()
    await screens.take("signin-code")
    # ...a wrong one is refused in words...
    totp = pyotp.TOTP(admin_secret)
    await code.fill(wrong_code(totp))
    await page.get_by_test_id("signin-submit").click()
    error = page.get_by_test_id("signin-error")
    await expect(error).to_be_visible()
    assert re.search(r"[a-z]{3,} [a-z]{2,}", (await error.text_content() or "")), "in words"
    await screens.take("signin-refused")
    # ...the right one lets them in.
    await code.fill(totp.now())
    await page.get_by_test_id("signin-submit").click()
    await expect(page.get_by_test_id("dash-connection")).to_have_attribute(
        "data-state", "connected", timeout=WAIT_MS
    )
    await screens.take("dashboard-admin")

    assert problems == []
    blank = tmp_path / "blank.png"
    await page.goto("about:blank")
    await page.screenshot(path=str(blank))
    assert distinct_colours(blank) == 1
    check_screenshots(screens)


def price(text: str | None) -> float:
    return float((text or "").strip())


async def test_a_trader_opens_moves_and_closes_a_trade_from_the_app(
    daemon: tuple[Daemon, str], page: Page, tmp_path: Path
) -> None:
    running, _ = daemon
    app = f"{running.base}/app/"
    screens = Screens(page, tmp_path)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("dialog", lambda dialog: problems.append(f"a browser dialog: {dialog.message}"))
    await page.goto(app)
    await sign_in(page, "tom")
    await expect(page.get_by_test_id("dash-connection")).to_have_attribute(
        "data-state", "connected", timeout=WAIT_MS
    )
    await expect(page.get_by_test_id("tab-dashboard")).to_have_attribute("aria-current", "page")

    # Positions: none yet.
    await page.get_by_test_id("tab-positions").click()
    await expect(page).to_have_url(re.compile(r"#/positions$"))
    await expect(page.get_by_test_id("tab-positions")).to_have_attribute("aria-current", "page")
    await expect(page.get_by_test_id("tab-dashboard")).not_to_have_attribute("aria-current", "page")
    await expect(page.get_by_test_id("positions-empty")).to_be_visible(timeout=WAIT_MS)

    # Open a buy of EURUSD from the app, the volume sized by the risk rules.
    await page.get_by_test_id("new-trade-toggle").click()
    await page.get_by_test_id("new-trade-symbol").select_option("EURUSD")
    quote = page.get_by_test_id("new-trade-quote")
    await expect(quote).to_have_text(re.compile(r"^Bid \d+\.\d+ · Ask \d+\.\d+$"), timeout=WAIT_MS)
    bid = float(re.findall(r"\d+\.\d+", await quote.text_content() or "")[0])
    await page.get_by_test_id("new-trade-side").select_option("buy")
    await page.get_by_test_id("new-trade-sl").fill(f"{bid - 0.02:.5f}")
    await page.get_by_test_id("new-trade-submit").click()
    dialog = page.get_by_test_id("confirm")
    await expect(dialog).to_be_visible()
    await expect(dialog).to_contain_text("sized by the risk rules")
    await screens.take("confirm-open")
    await page.get_by_test_id("confirm-ok").click()
    result = page.get_by_test_id("new-trade-result")
    await expect(result).to_have_text(
        re.compile(r"^Opened: buy [\d.]+ EURUSD at [\d.]+ \(trade \d+\)\.$"), timeout=WAIT_MS
    )
    found = re.search(r"\(trade (\d+)\)", await result.text_content() or "")
    assert found is not None
    trade_id = found.group(1)

    # It shows in Positions, with its P/L.
    position = page.get_by_test_id("position")
    await expect(position).to_have_count(1, timeout=WAIT_MS)
    await expect(position).to_have_attribute("data-symbol", "EURUSD")
    volume_text = await position.get_by_test_id("position-volume").text_content() or ""
    volume = float(volume_text.split()[0])
    assert volume >= 0.02, volume_text
    assert MONEY.match((await position.get_by_test_id("position-pnl").text_content() or "").strip())
    await screens.take("positions")

    # An SL above the bid of a buy is refused, next to the field, in words.
    sl_input = position.get_by_test_id("position-sl-input")
    await sl_input.fill(f"{bid + 0.05:.5f}")
    await position.get_by_test_id("position-stops-submit").click()
    refusal = position.get_by_test_id("position-sl-input-error")
    await expect(refusal).to_be_visible(timeout=WAIT_MS)
    await expect(refusal).to_contain_text("must be below the bid")
    await expect(sl_input).to_have_attribute("aria-invalid", "true")
    await screens.take("position-sl-refused")

    # A valid SL (a cent below the price now) moves it.
    new_sl = round(price(await position.get_by_test_id("position-price").text_content()) - 0.01, 5)
    await sl_input.fill(f"{new_sl:.5f}")
    await position.get_by_test_id("position-stops-submit").click()
    await expect(position.get_by_test_id("position-notice")).to_have_text("Stops moved.")
    await expect(refusal).to_be_hidden()

    async def sl_shown() -> bool:
        text = await position.get_by_test_id("position-sl").text_content()
        return abs(price(text) - new_sl) < 1e-9 if text and text != "—" else False

    await eventually(sl_shown, timeout=20, what="the new SL on the card", interval=0.2)

    # Offline, the figures are marked stale and the actions paused until the data is back.
    await page.context.set_offline(True)
    await expect(page.get_by_test_id("positions-stale")).to_be_visible(timeout=WAIT_MS)
    await expect(position.get_by_test_id("position-close")).to_be_disabled()
    await page.context.set_offline(False)
    await expect(page.get_by_test_id("positions-stale")).to_be_hidden(timeout=WAIT_MS)
    await expect(position.get_by_test_id("position-close")).to_be_enabled()

    # Close half: the volume offered is half the position on the step.
    half = int(volume * 100 / 2) / 100
    close_volume = position.get_by_test_id("position-close-volume")
    assert float(await close_volume.input_value()) == half
    await position.get_by_test_id("position-close-part").click()
    await expect(dialog).to_contain_text(f"Close {half} lots of EURUSD?")
    await page.get_by_test_id("confirm-ok").click()
    left = round(volume - half, 2)
    await expect(position.get_by_test_id("position-volume")).to_have_text(
        f"{left:g} lots", timeout=WAIT_MS
    )

    # Close the rest: asked first; "Cancel" keeps it open.
    await position.get_by_test_id("position-close").click()
    await page.get_by_test_id("confirm-cancel").click()
    await expect(dialog).to_have_count(0)
    await expect(position).to_have_count(1)
    await position.get_by_test_id("position-close").click()
    await screens.take("confirm-close")
    await page.get_by_test_id("confirm-ok").click()
    await expect(page.get_by_test_id("positions-empty")).to_be_visible(timeout=WAIT_MS)

    # Trades: the trade, and its detail with the whole lifecycle.
    await page.get_by_test_id("tab-trades").click()
    await expect(page).to_have_url(re.compile(r"#/trades$"))
    row = page.locator(f'[data-testid="trade-row"][data-trade-id="{trade_id}"]')
    await expect(row).to_be_visible(timeout=WAIT_MS)
    await expect(row).to_contain_text("closed")
    await expect(page.get_by_test_id("trades-count")).to_have_text("1 trade")
    await screens.take("trades")
    await page.get_by_test_id("trades-filters").click()
    await page.get_by_test_id("trades-filter-status").select_option("open")
    await page.get_by_test_id("trades-filter-apply").click()
    await expect(page.get_by_test_id("trades-count")).to_have_text("0 trades")
    await expect(row).to_have_count(0)
    # A half-typed date is refused in words, never dropped as if no date were given.
    from_date = page.get_by_test_id("trades-filter-from")
    await from_date.click()
    await page.keyboard.type("12")
    await page.get_by_test_id("trades-filter-apply").click()
    await expect(page.get_by_test_id("trades-filter-from-error")).to_have_text(
        "Finish the date (day, month and year) or clear it."
    )
    await from_date.fill("")
    await page.get_by_test_id("trades-filter-status").select_option("closed")
    await page.get_by_test_id("trades-filter-apply").click()
    await expect(page.get_by_test_id("trades-filter-from-error")).to_be_hidden()
    await row.click()
    await expect(page).to_have_url(re.compile(rf"#/trades/{trade_id}$"))
    await expect(page.get_by_test_id("tab-trades")).to_have_attribute("aria-current", "page")
    await expect(page.get_by_test_id("trade-status")).to_have_text("closed", timeout=WAIT_MS)
    steps = page.get_by_test_id("trade-transition")
    tos = [await s.get_attribute("data-to") for s in await steps.all()]
    assert tos[:3] == ["intent", "submitted", "open"], tos
    assert tos[-1] == "closed", tos
    assert tos.count("closing") == 2, tos  # the half, then the rest
    await screens.take("trade")

    # Back and forward move between screens like pages.
    await page.go_back()
    await expect(page).to_have_url(re.compile(r"#/trades$"))
    await expect(page.get_by_test_id("trades-list")).to_be_visible()
    await page.go_back()
    await expect(page).to_have_url(re.compile(r"#/positions$"))
    await expect(page.get_by_test_id("positions-list")).to_be_attached()
    await page.go_forward()
    await expect(page.get_by_test_id("tab-trades")).to_have_attribute("aria-current", "page")

    # A viewer sees the positions, and nothing to act with.
    await open_trade(running.base)
    await page.get_by_test_id("tab-dashboard").click()
    await page.get_by_test_id("logout").click()
    await sign_in(page, "vic")
    await page.get_by_test_id("tab-positions").click()
    await expect(page.get_by_test_id("position")).to_have_count(1, timeout=WAIT_MS)
    await expect(page.get_by_test_id("position-pnl")).to_have_text(MONEY)
    await expect(page.get_by_test_id("new-trade-toggle")).to_have_count(0)
    await expect(page.get_by_test_id("position-close")).to_have_count(0)
    await expect(page.get_by_test_id("position-sl-input")).to_have_count(0)
    await screens.take("positions-viewer")
    await page.emulate_media(color_scheme="dark")
    await screens.take("positions-viewer-dark")

    assert problems == []
    check_screenshots(screens)


async def test_strategies_risk_and_alerts_from_the_control_tab(
    daemon: tuple[Daemon, str], page: Page, tmp_path: Path
) -> None:
    running, admin_secret = daemon
    screens = Screens(page, tmp_path)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("dialog", lambda dialog: problems.append(f"a browser dialog: {dialog.message}"))
    await page.context.grant_permissions(["notifications"])
    await page.goto(f"{running.base}/app/")
    await sign_in(page, "tom")
    await expect(page.get_by_test_id("dash-kill-switch")).to_have_attribute(
        "data-state", "inactive", timeout=WAIT_MS
    )
    await page.get_by_test_id("tab-control").click()
    await expect(page).to_have_url(re.compile(r"#/control$"))

    # A trader turns the (disabled) strategy on and off again.
    strategy = page.get_by_test_id("strategy").first
    state = strategy.get_by_test_id("strategy-state")
    await expect(state).to_have_text("Disabled", timeout=WAIT_MS)
    await strategy.get_by_test_id("strategy-toggle").click()
    await expect(state).to_have_text("Enabled")
    await strategy.get_by_test_id("strategy-toggle").click()
    await expect(state).to_have_text("Disabled")

    # Alerts: headless Chromium has no push service, so enabling is answered in words (the
    # subscription itself is covered server-side, where tests decrypt real pushes).
    enable = page.get_by_test_id("alerts-enable")
    if await enable.count():
        await enable.click()
        status = page.get_by_test_id("alerts-status")
        await expect(status).to_be_visible(timeout=WAIT_MS)
        assert re.search(r"[A-Za-z]{3,} [a-z]{2,}", await status.text_content() or ""), "in words"
    await page.get_by_test_id("alerts-pref-fill").select_option("silent")
    await expect(page.get_by_test_id("alerts-pref-fill")).to_be_enabled()
    await screens.take("control")

    # The kill switch wants a reason, asks first, and halts.
    await page.get_by_test_id("kill-switch").click()
    await expect(page.get_by_test_id("kill-reason-error")).to_be_visible()
    await expect(page.get_by_test_id("confirm")).to_have_count(0)
    await page.get_by_test_id("kill-reason").fill("leaving for the weekend")
    await page.get_by_test_id("kill-switch").click()
    await expect(page.get_by_test_id("confirm")).to_be_visible()
    await screens.take("kill-switch-confirm")
    await page.get_by_test_id("confirm-ok").click()
    await expect(page.get_by_test_id("risk-kill-state")).to_have_text("Tripped", timeout=WAIT_MS)
    await expect(page.get_by_test_id("risk-resume")).to_have_count(0)  # an admin's to do
    await page.get_by_test_id("tab-dashboard").click()
    await expect(page.get_by_test_id("dash-kill-switch")).to_have_text("Tripped", timeout=WAIT_MS)

    # The preference stayed.
    await page.get_by_test_id("tab-control").click()
    await expect(page.get_by_test_id("alerts-pref-fill")).to_have_value("silent", timeout=WAIT_MS)

    # A viewer reads it all and has nothing to press.
    await page.get_by_test_id("tab-dashboard").click()
    await page.get_by_test_id("logout").click()
    await sign_in(page, "vic")
    await expect(page.get_by_test_id("dash-kill-switch")).to_have_text("Tripped", timeout=WAIT_MS)
    await page.get_by_test_id("tab-control").click()
    await expect(page.get_by_test_id("risk-kill-state")).to_have_text("Tripped", timeout=WAIT_MS)
    await expect(page.get_by_test_id("strategy")).not_to_have_count(0)
    await expect(page.get_by_test_id("risk-limit")).not_to_have_count(0)
    for action in ("strategy-toggle", "kill-switch", "risk-resume", "limits-form"):
        await expect(page.get_by_test_id(action)).to_have_count(0)
    await screens.take("control-viewer")

    # An admin has a limit out of range refused next to its field, and resumes trading.
    await page.get_by_test_id("tab-dashboard").click()
    await page.get_by_test_id("logout").click()
    await sign_in(page, "ada")
    await page.get_by_test_id("signin-otp").fill(pyotp.TOTP(admin_secret).now())
    await page.get_by_test_id("signin-submit").click()
    await expect(page.get_by_test_id("dash-kill-switch")).to_have_text("Tripped", timeout=WAIT_MS)
    await page.get_by_test_id("tab-control").click()
    limit = page.get_by_test_id("limit-max_daily_loss_percent")
    await expect(limit).to_be_visible(timeout=WAIT_MS)
    await limit.fill("1000")
    await page.get_by_test_id("limits-submit").click()
    await expect(page.get_by_test_id("limit-max_daily_loss_percent-error")).to_be_visible()
    await screens.take("control-admin")
    await page.get_by_test_id("risk-resume").click()
    await page.get_by_test_id("confirm-ok").click()
    await expect(page.get_by_test_id("risk-kill-state")).to_have_text("Off", timeout=WAIT_MS)
    await page.get_by_test_id("tab-dashboard").click()
    await expect(page.get_by_test_id("dash-kill-switch")).to_have_text("Off", timeout=WAIT_MS)

    assert problems == []
    check_screenshots(screens)
