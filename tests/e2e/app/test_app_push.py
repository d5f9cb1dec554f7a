"""End to end: a push alert for a fill made in the app, from a real daemon to a push service
in the test process, decrypted there with the subscribing browser's keys (RFC 8291).

Headless Chromium has no push service, so the test plays the browser's part of the
subscription (its P-256 key and auth secret, :mod:`notifications.push_service`) and registers
it for the trader ``tom`` through ``POST /api/notifications/subscriptions``, as the app does
with ``PushManager.subscribe``'s answer; the push endpoint is on 127.0.0.1, which the daemon
allows over plain HTTP for loopback hosts only. Then ``tom`` opens a trade in the app, and the
push that arrives must be that fill: its type, symbol, side, volume and trade id as the app
showed them, signed with the daemon's VAPID key. A wrong password for ``tom`` afterwards
reaches the same device as a ``failed_login`` alert, and ``/metrics`` counts both pushes.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from app_kit import (
    CHROMIUM,
    NO_CHROMIUM,
    WAIT_MS,
    Screens,
    app_daemon,
    bearer,
    check_screenshots,
    sign_in,
)
from daemon_kit import PASSWORD, Daemon, Seeds
from notifications.push_service import Browser, PushService, Received, running_push_service
from playwright.async_api import Page, expect
from polling import eventually

pytestmark = pytest.mark.e2e

if CHROMIUM is None:
    pytest.skip(NO_CHROMIUM, allow_module_level=True)


@pytest_asyncio.fixture(loop_scope="function")
async def daemon(workdir: Path, seeds: Seeds) -> AsyncIterator[Daemon]:
    # The test's push service listens on 127.0.0.1 over http, which the daemon refuses unless told.
    loopback = {"FOREXBOT_NOTIFICATIONS__ALLOW_LOOPBACK_PUSH": "true"}
    async with app_daemon(workdir, seeds, **loopback) as (running, _):
        yield running


@pytest_asyncio.fixture(loop_scope="function")
async def push() -> AsyncIterator[PushService]:
    async with running_push_service() as service:
        yield service


async def subscribe(base: str, browser: Browser, endpoint: str) -> str:
    """Register ``browser``'s subscription for ``tom``, as the app does; the daemon's VAPID
    public key."""
    async with aiohttp.ClientSession() as http:
        headers = await bearer(http, base)
        subscription = browser.subscription(endpoint) | {"device": "test phone"}
        async with http.post(
            f"{base}/api/notifications/subscriptions", json=subscription, headers=headers
        ) as resp:
            assert resp.status == 201, await resp.text()
        async with http.get(f"{base}/api/notifications/vapid-key", headers=headers) as resp:
            assert resp.status == 200, await resp.text()
            return str((await resp.json())["public_key"])


async def pushed(push: PushService, browser: Browser, alert_type: str) -> tuple[Received, Any]:
    """The first push of ``alert_type`` received, and its decrypted payload."""

    def found() -> tuple[Received, Any] | None:
        for received in push.received:
            payload = browser.decrypt(received.body)
            if payload["type"] == alert_type:
                return received, payload
        return None

    return await eventually(
        found,
        timeout=WAIT_MS / 1000,
        what=f"a {alert_type} push",
        interval=0.1,
        detail=lambda: f"received: {[browser.decrypt(r.body)['type'] for r in push.received]}",
    )


async def metric(base: str, sample: str) -> float:
    async with aiohttp.ClientSession() as http, http.get(f"{base}/metrics") as resp:
        text = await resp.text()
    found = re.search(rf"^{re.escape(sample)} (\S+)$", text, re.M)
    assert found is not None, f"{sample} not in /metrics"
    return float(found.group(1))


async def test_a_trade_opened_in_the_app_arrives_as_an_encrypted_fill_push(
    daemon: Daemon, push: PushService, page: Page, tmp_path: Path
) -> None:
    browser = Browser()
    public_key = await subscribe(daemon.base, browser, push.endpoint("tom-phone"))
    screens = Screens(page, tmp_path)

    # The trader opens a buy of EURUSD in the app.
    await page.goto(f"{daemon.base}/app/")
    await sign_in(page, "tom")
    await expect(page.get_by_test_id("dash-connection")).to_have_attribute(
        "data-state", "connected", timeout=WAIT_MS
    )
    await page.get_by_test_id("tab-positions").click()
    await expect(page.get_by_test_id("positions-empty")).to_be_visible(timeout=WAIT_MS)
    await page.get_by_test_id("new-trade-toggle").click()
    await page.get_by_test_id("new-trade-symbol").select_option("EURUSD")
    quote = page.get_by_test_id("new-trade-quote")
    await expect(quote).to_have_text(re.compile(r"^Bid \d+\.\d+ · Ask \d+\.\d+$"), timeout=WAIT_MS)
    bid = float(re.findall(r"\d+\.\d+", await quote.text_content() or "")[0])
    await page.get_by_test_id("new-trade-side").select_option("buy")
    await page.get_by_test_id("new-trade-sl").fill(f"{bid - 0.02:.5f}")
    await page.get_by_test_id("new-trade-submit").click()
    await page.get_by_test_id("confirm-ok").click()
    result = page.get_by_test_id("new-trade-result")
    await expect(result).to_have_text(
        re.compile(r"^Opened: buy [\d.]+ EURUSD at [\d.]+ \(trade \d+\)\.$"), timeout=WAIT_MS
    )
    shown = re.fullmatch(
        r"Opened: buy ([\d.]+) EURUSD at [\d.]+ \(trade (\d+)\)\.",
        await result.text_content() or "",
    )
    assert shown is not None
    volume, trade_id = shown.group(1), int(shown.group(2))
    await screens.take("trade-opened")

    # The push service received the fill, encrypted for this browser and signed by the daemon.
    received, payload = await pushed(push, browser, "fill")
    assert received.path == "/push/tom-phone"
    assert received.headers["Content-Encoding"] == "aes128gcm"
    assert received.vapid_claims(public_key)["aud"] == push.base_url
    assert payload["title"] == "EURUSD buy filled"
    assert payload["tag"] == f"fill:{trade_id}"
    assert payload["silent"] is False
    data = payload["data"]
    assert (data["trade_id"], data["symbol"], data["side"]) == (trade_id, "EURUSD", "buy")
    assert float(data["volume"]) == float(volume)

    # A wrong password for tom reaches the same device, saying from where.
    async with aiohttp.ClientSession() as http:
        wrong = {"username": "tom", "password": "not " + PASSWORD}
        async with http.post(f"{daemon.base}/api/auth/login", json=wrong) as resp:
            assert resp.status == 401
    _, warning = await pushed(push, browser, "failed_login")
    assert warning["body"] == "Wrong password for tom from 127.0.0.1"
    assert "not " + PASSWORD not in str(warning)

    assert await metric(daemon.base, 'forexbot_pushes_sent_total{type="fill"}') == 1
    assert await metric(daemon.base, 'forexbot_pushes_sent_total{type="failed_login"}') == 1
    check_screenshots(screens)
