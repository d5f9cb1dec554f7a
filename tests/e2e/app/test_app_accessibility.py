"""End to end: every screen of the phone app passes axe-core with no serious or critical
violation, for a trader and for an admin, in the light and in the dark colour scheme.

The screens: sign-in (and the admin's one-time-code step, with a code refused), the
dashboard's figures marked stale (offline), every tab the bottom bar links to (read from the
page, so a tab added later is checked without touching this test), the first screen each tab
links to below itself (a trade's detail, a symbol's analysis), and on Positions a position
with its SL/TP editor (and a refused level next to its field), the in-page confirmation of
closing it and the new-trade form. The scheme is switched in place (the app's colours are
CSS variables under ``prefers-color-scheme``), with reduced motion so no colour is read
mid-transition. A screen is audited once it has sent no API request for a moment.

Where axe comes from: the PyPI package ``axe-playwright-python`` (pinned in the ``dev``
extra), which ships axe-core's ``axe.min.js`` (axe 4.12.1 in its 0.1.8); ``make test``
installs it with the other test dependencies, from the one registry the suite already needs.
Only that file is used: it is evaluated in the page (the DevTools protocol is not subject to
the app's CSP) and ``axe.run`` is called directly. npm was the other way (``axe-core`` pinned
in a lock file), but Debian's ``nodejs`` package comes without npm, so it would add a second
package manager to the test set-up for one file.

Playwright drives the system's ``chromium`` (``make test`` installs it); no browser is
downloaded.
"""

from __future__ import annotations

import asyncio
import re
import time
from importlib.resources import files
from typing import Any, Literal

import pyotp
import pytest
from app_kit import (
    CHROMIUM,
    NO_CHROMIUM,
    WAIT_MS,
    open_trade,
    phone_page,
    sign_in,
    wrong_code,
)
from daemon_kit import Daemon
from playwright.async_api import Page, Request, expect

pytestmark = pytest.mark.e2e

if CHROMIUM is None:
    pytest.skip(NO_CHROMIUM, allow_module_level=True)

AXE_SCRIPT = (files("axe_playwright_python") / "axe.min.js").read_text(encoding="utf-8")
BLOCKING = ("serious", "critical")
SCHEMES: tuple[Literal["light", "dark"], ...] = ("light", "dark")
#: How long the app must send no API request for a screen to count as drawn.
QUIET_S = 0.7
SETTLE_TIMEOUT_S = 15.0


class ApiTraffic:
    """The API requests in flight, to tell when a screen has finished loading its data (the
    streams are WebSockets, not requests; the positions' 2 s re-read leaves quiet gaps)."""

    def __init__(self, page: Page) -> None:
        self.pending: set[Request] = set()
        self.last = time.monotonic()
        page.on("request", self._start)
        page.on("requestfinished", self._end)
        page.on("requestfailed", self._end)

    def _start(self, request: Request) -> None:
        if "/api/" in request.url:
            self.pending.add(request)
            self.last = time.monotonic()

    def _end(self, request: Request) -> None:
        if request in self.pending:
            self.pending.discard(request)
            self.last = time.monotonic()

    async def settle(self) -> None:
        """Until no request has been in flight for ``QUIET_S``, counted from now at the
        earliest (a screen just shown may not have sent its first request yet)."""
        self.last = max(self.last, time.monotonic())
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        while self.pending or time.monotonic() - self.last < QUIET_S:
            assert time.monotonic() < deadline, f"API requests never ended: {self.pending}"
            await asyncio.sleep(0.1)


def readable(screen: str, violation: dict[str, Any]) -> list[str]:
    """One line per element that fails a rule: where, which rule, and axe's reason."""
    lines = []
    for node in violation["nodes"]:
        target = " ".join(str(t) for t in node["target"])
        why = " ".join(str(node.get("failureSummary") or "").split())
        lines.append(
            f"[{screen}] {violation['id']} ({violation['impact']}): {violation['help']}"
            f"\n    at {target}: {why}\n    {violation['helpUrl']}"
        )
    return lines


class Audit:
    """axe-core run on each screen in both schemes; the serious and critical findings kept."""

    def __init__(self, page: Page, who: str) -> None:
        self.page = page
        self.who = who
        self.traffic = ApiTraffic(page)
        self.findings: list[str] = []
        self.audited: list[str] = []

    async def check(self, screen: str) -> None:
        await self.traffic.settle()
        if not await self.page.evaluate("() => typeof window.axe === 'object'"):
            await self.page.evaluate(AXE_SCRIPT)
        for scheme in SCHEMES:
            await self.page.emulate_media(color_scheme=scheme, reduced_motion="reduce")
            dark = await self.page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches")
            assert dark == (scheme == "dark"), scheme
            result = await self.page.evaluate(
                "() => axe.run(document, {resultTypes: ['violations']})"
            )
            name = f"{self.who}, {screen}, {scheme}"
            self.audited.append(name)
            for violation in result["violations"]:
                if violation["impact"] in BLOCKING:
                    self.findings.extend(readable(name, violation))


async def tab_links(page: Page) -> list[tuple[str, str]]:
    """The bottom bar's tabs as the page has them: (label, hash)."""
    bar = page.get_by_role("navigation", name="Screens")
    await expect(bar).to_be_visible()
    links = await bar.get_by_role("link").all()
    return [
        ((await a.text_content() or "").strip(), await a.get_attribute("href") or "") for a in links
    ]


async def audit_the_app(page: Page, app: str, who: str, admin_secret: str | None) -> Audit:
    """Walk ``who`` through every screen, auditing each."""
    audit = Audit(page, who)
    await page.emulate_media(reduced_motion="reduce")
    await page.goto(app)
    await expect(page.get_by_test_id("signin-username")).to_be_visible()
    await audit.check("sign-in")
    await sign_in(page, who)
    if admin_secret is not None:
        await expect(page.get_by_test_id("signin-otp")).to_be_visible()
        await audit.check("sign-in, one-time code")
        totp = pyotp.TOTP(admin_secret)
        await page.get_by_test_id("signin-otp").fill(wrong_code(totp))
        await page.get_by_test_id("signin-submit").click()
        await expect(page.get_by_test_id("signin-error")).to_be_visible()
        await audit.check("sign-in, a refused code")
        await page.get_by_test_id("signin-otp").fill(totp.now())
        await page.get_by_test_id("signin-submit").click()
    await expect(page.get_by_test_id("dash-connection")).to_have_attribute(
        "data-state", "connected", timeout=WAIT_MS
    )

    # The dashboard's figures marked stale while the stream is down.
    await page.context.set_offline(True)
    await expect(page.get_by_test_id("dash-stale")).to_be_visible(timeout=WAIT_MS)
    await audit.check("the dashboard, stale")
    await page.context.set_offline(False)
    await expect(page.get_by_test_id("dash-stale")).to_be_hidden(timeout=WAIT_MS)

    tabs = await tab_links(page)
    assert {"Dashboard", "Positions", "Trades", "Control"} <= {label for label, _ in tabs}
    details: list[tuple[str, str]] = []
    for label, href in tabs:
        await page.evaluate("(hash) => { location.hash = hash; }", href)
        current = page.locator(f'nav.tabbar a[href="{href}"]')
        await expect(current).to_have_attribute("aria-current", "page")
        await audit.check(f"{label} tab")
        if href != "#/":  # the first screen the tab links to below itself, if any
            deeper = page.locator(f'main a[href^="{href}/"]').first
            if await deeper.count():
                details.append((label, await deeper.get_attribute("href") or ""))
    # A trade's detail (its lifecycle) and any other such screen, e.g. a symbol's analysis.
    assert any(re.fullmatch(r"#/trades/\d+", href) for _, href in details), details
    for label, href in details:
        await page.evaluate("(hash) => { location.hash = hash; }", href)
        await audit.check(f"{label} tab, {href}")

    # Positions: the open position's card with its SL/TP editor, a level refused next to its
    # field, the confirmation of closing it, and the new-trade form.
    await page.get_by_test_id("tab-positions").click()
    position = page.get_by_test_id("position").first
    await expect(position).to_be_visible(timeout=WAIT_MS)
    await position.get_by_test_id("position-sl-input").fill("9")
    await position.get_by_test_id("position-stops-submit").click()
    await expect(position.get_by_test_id("position-sl-input-error")).to_be_visible(timeout=WAIT_MS)
    await audit.check("a position's SL/TP editor, a refused SL")
    await position.get_by_test_id("position-close").click()
    await expect(page.get_by_test_id("confirm")).to_be_visible()
    await audit.check("closing a position, the confirmation")
    await page.get_by_test_id("confirm-cancel").click()
    await expect(page.get_by_test_id("confirm")).to_have_count(0)
    await page.get_by_test_id("new-trade-toggle").click()
    await expect(page.get_by_test_id("new-trade-submit")).to_be_visible()
    await expect(page.get_by_test_id("new-trade-quote")).to_have_text(
        re.compile(r"^Bid "), timeout=WAIT_MS
    )
    await audit.check("the new-trade form")

    return audit


async def test_every_screen_has_no_serious_accessibility_violation(
    daemon: tuple[Daemon, str],
) -> None:
    running, admin_secret = daemon
    await open_trade(running.base)  # a position, and a trade with a history, to look at

    async def walk(who: str, secret: str | None) -> Audit:
        async with phone_page() as page:
            return await audit_the_app(page, f"{running.base}/app/", who, secret)

    # Each on a phone of their own at the same time: most of a walk is waiting for the app to
    # go quiet, and neither changes what the other sees (they only look, cancel, and have a
    # level refused).
    audits = await asyncio.gather(walk("tom", None), walk("ada", admin_secret))
    audited = [name for audit in audits for name in audit.audited]
    findings = [line for audit in audits for line in audit.findings]
    # sign-in, the stale dashboard, 4 tabs, 4 screens below them (and the admin's code
    # steps), in 2 schemes, for 2 people
    assert len(audited) >= 2 * 2 * 10, audited
    assert not findings, f"{len(findings)} serious or critical:\n" + "\n".join(findings)
