"""What the phone app's browser tests share: a daemon on the simulated market with a trader
(``tom``), a viewer (``vic``) and an admin (``ada``), a phone-sized page in Debian's Chromium,
signing in, screenshots checked not to be blank.

Playwright drives the system's ``chromium`` (``make test`` installs it); no browser is
downloaded.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pyotp
from daemon_kit import ACCOUNTS, PASSWORD, Daemon, Seeds, daemon_env, free_port
from PIL import Image
from playwright.async_api import Page, async_playwright

CHROMIUM = shutil.which("chromium")
NO_CHROMIUM = "no chromium on this machine: `make test` (system-deps) installs Debian's package"

PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 3,
    "is_mobile": True,
    "has_touch": True,
    "locale": "en-GB",
}
# Only manual trades: the balance stays the paper account's start until the test trades. Once
# a test switches ``ma_rsi`` on, every RSI crossing of 50 in a trend signals (not only a
# rebound from 40 or 60): the first signal comes within seconds wherever the simulated
# market is, instead of up to half a minute when the test's steps miss one.
STRATEGIES = (
    "instances:\n  - strategy: ma_rsi\n    timeframe: M1\n    enabled: false\n"
    "    params: {rsi_buy_level: 50, rsi_sell_level: 50}\n"
)
QUICK = {
    "FOREXBOT_API__WS_PERFORMANCE_INTERVAL_SECONDS": "0.5",
    "FOREXBOT_API__WS_STATUS_INTERVAL_SECONDS": "0.5",
    "FOREXBOT_API__LOGIN_ATTEMPTS_PER_MINUTE": "100",
}
MONEY = re.compile(r"^[+-]?\d{1,3}(,\d{3})*\.\d{2} USD$")
SECRET_LINE = re.compile(r"^  secret: (\S+)$", re.M)
WAIT_MS = 20_000


def wrong_code(totp: pyotp.TOTP) -> str:
    """A six-digit code the server will not take now (it accepts one step early or late)."""
    now = time.time()
    taken = {totp.at(now + drift * 30) for drift in range(-2, 3)}
    return next(code for code in (f"{n:06d}" for n in range(1_000_000)) if code not in taken)


def distinct_colours(path: Path) -> int:
    """How many colours a screenshot has (a blank page has one)."""
    with Image.open(path) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is not None
    return len(colours)


def check_screenshots(screens: Screens) -> None:
    """Each screenshot is phone-wide (390 px at 3×) and not blank (a blank page has one
    colour; a screen has text, borders and figures)."""
    for shot in screens.taken:
        with Image.open(shot) as image:
            assert image.width == 390 * 3, shot.name
        assert distinct_colours(shot) >= 16, f"{shot.name} looks blank"


class Screens:
    """Screenshots of each screen, under the test's output directory."""

    def __init__(self, page: Page, directory: Path) -> None:
        self._page = page
        self.directory = directory
        self.taken: list[Path] = []

    async def take(self, name: str) -> None:
        path = self.directory / f"{len(self.taken) + 1:02d}-{name}.png"
        await self._page.screenshot(path=str(path), full_page=True, animations="disabled")
        self.taken.append(path)


@asynccontextmanager
async def app_daemon(
    workdir: Path, seeds: Seeds, **settings: str
) -> AsyncIterator[tuple[Daemon, str]]:
    """A daemon on the simulated market with a trader (``tom``), a viewer (``vic``) and an
    admin (``ada``); the admin's one-time code secret comes with it. ``settings`` are more
    ``FOREXBOT_*`` environment variables. The accounts are made once a session and each daemon
    starts on a copy of them (:class:`daemon_kit.Seeds`): its own database, nothing shared."""
    data_dir = workdir / "data"
    strategies = workdir / "strategies.yaml"
    strategies.write_text(STRATEGIES)
    env = daemon_env(data_dir, FOREXBOT_STRATEGY__FILE=str(strategies), **QUICK, **settings)
    del env["FOREXBOT_STRATEGY__TIMEFRAME"]  # the strategies file says its own
    printed, _, _ = await seeds.plant(data_dir, env, ACCOUNTS)
    found = SECRET_LINE.search(printed)
    assert found is not None, printed
    running = Daemon(data_dir, free_port(), workdir / "daemon.log", env)
    try:
        await running.start()
        yield running, found.group(1)
    finally:
        running.kill()


@asynccontextmanager
async def phone_page() -> AsyncIterator[Page]:
    """A phone-sized page in headless Chromium."""
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    async with async_playwright() as driver:
        browser = await driver.chromium.launch(
            executable_path=CHROMIUM or "chromium", headless=True, args=args
        )
        try:
            context = await browser.new_context(**PHONE)
            yield await context.new_page()
        finally:
            await browser.close()


async def sign_in(page: Page, username: str) -> None:
    await page.get_by_test_id("signin-username").fill(username)
    await page.get_by_test_id("signin-password").fill(PASSWORD)
    await page.get_by_test_id("signin-submit").click()


async def bearer(http: aiohttp.ClientSession, base: str, username: str = "tom") -> dict[str, str]:
    """The ``Authorization`` header of ``username`` (the trader by default), signed in through
    the API."""
    body = {"username": username, "password": PASSWORD}
    async with http.post(f"{base}/api/auth/login", json=body) as resp:
        assert resp.status == 200, await resp.text()
        return {"Authorization": f"Bearer {(await resp.json())['access_token']}"}


async def open_trade(base: str) -> dict[str, Any]:
    """A paper trade (a buy of EURUSD) by the trader, through the API, so the equity moves; the
    trade as the API answered."""
    async with aiohttp.ClientSession() as http:
        headers = await bearer(http, base)
        async with http.get(f"{base}/api/market/quote/EURUSD", headers=headers) as resp:
            assert resp.status == 200, await resp.text()
            bid = (await resp.json())["bid"]
        trade = {"symbol": "EURUSD", "side": "buy", "sl": round(bid - 0.02, 5)}
        async with http.post(f"{base}/api/trades", json=trade, headers=headers) as resp:
            assert resp.status == 201, await resp.text()
            opened: dict[str, Any] = await resp.json()
            return opened


async def enable_strategies(base: str) -> None:
    """Every strategy instance switched on through the API by the trader, so signals come."""
    async with aiohttp.ClientSession() as http:
        headers = await bearer(http, base)
        async with http.get(f"{base}/api/strategies", headers=headers) as resp:
            assert resp.status == 200, await resp.text()
            instances = (await resp.json())["items"]
        for instance in instances:
            path = f"/api/strategies/{quote(instance['id'], safe='')}/toggle"
            async with http.put(f"{base}{path}", headers=headers) as resp:
                assert resp.status == 200, await resp.text()
