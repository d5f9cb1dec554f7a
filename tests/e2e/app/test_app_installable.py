"""End to end: Chromium itself finds the phone app installable, and its service worker takes
over the page.

The audit is Chromium's own, through the DevTools protocol: ``Page.getInstallabilityErrors``
is what decides whether the browser offers "Install app" (a manifest with a name, 192 and 512
px icons, a start URL and a standalone display, served from a secure origin; loopback counts
as one). Lighthouse 12 and later dropped its PWA category, so this is the installability
check; ``bench/app_load.py --lighthouse`` scores the performance.

The browser runs on a profile of its own (``launch_persistent_context``): Playwright's usual
contexts are off the record, where Chromium answers ``in-incognito`` and installs nothing.

Playwright drives the system's ``chromium`` (``make test`` installs it); no browser is
downloaded.
"""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from app_kit import CHROMIUM, NO_CHROMIUM, PHONE
from daemon_kit import Daemon, daemon_env, free_port, scratch_dir
from PIL import Image
from playwright.async_api import BrowserContext, CDPSession, Page, async_playwright

pytestmark = pytest.mark.e2e

if CHROMIUM is None:
    pytest.skip(NO_CHROMIUM, allow_module_level=True)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def daemon() -> AsyncIterator[Daemon]:
    """One daemon for the module: its tests only read what it serves (each browser has a
    profile of its own, so a service worker one test installs is not there for the next)."""
    workdir = scratch_dir()
    data_dir = workdir / "data"
    running = Daemon(data_dir, free_port(), workdir / "daemon.log", daemon_env(data_dir))
    try:
        await running.start()
        yield running
    finally:
        running.kill()
        if not os.environ.get("FOREXBOT_KEEP_E2E"):
            shutil.rmtree(workdir, ignore_errors=True)


@pytest_asyncio.fixture(loop_scope="function")
async def browser(tmp_path: Path) -> AsyncIterator[BrowserContext]:
    """A phone-sized Chromium on a profile of its own (not off the record)."""
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    async with async_playwright() as driver:
        context = await driver.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=CHROMIUM or "chromium",
            headless=True,
            args=args,
            **PHONE,
        )
        try:
            yield context
        finally:
            await context.close()


async def installability_errors(cdp: CDPSession) -> list[str]:
    answer: dict[str, Any] = await cdp.send("Page.getInstallabilityErrors")
    return [str(error["errorId"]) for error in answer["installabilityErrors"]]


async def open_page(browser: BrowserContext) -> tuple[Page, CDPSession]:
    page = browser.pages[0] if browser.pages else await browser.new_page()
    return page, await browser.new_cdp_session(page)


async def test_chromium_finds_the_app_installable(daemon: Daemon, browser: BrowserContext) -> None:
    page, cdp = await open_page(browser)
    # The audit is real: a page of the daemon's without a manifest is not installable.
    await page.goto(f"{daemon.base}/api/health")
    assert "no-manifest" in await installability_errors(cdp)

    await page.goto(f"{daemon.base}/app/")
    await page.evaluate("navigator.serviceWorker.ready")
    assert await installability_errors(cdp) == []


async def test_the_manifest_names_the_app_its_icons_start_and_standalone_display(
    daemon: Daemon, browser: BrowserContext
) -> None:
    page, cdp = await open_page(browser)
    app = f"{daemon.base}/app/"
    await page.goto(app)
    answer: dict[str, Any] = await cdp.send("Page.getAppManifest")
    assert answer["url"] == f"{app}manifest.webmanifest"
    assert answer["errors"] == []
    manifest = answer["manifest"]
    assert manifest["name"] == "forexbot"
    assert manifest["startUrl"] == app
    assert manifest["scope"] == app
    assert manifest["display"] == "kStandalone"
    icons = {icon["sizes"]: icon for icon in manifest["icons"]}
    assert set(icons) == {"192x192", "512x512"}
    for sizes, icon in icons.items():
        assert icon["type"] == "image/png"
        fetched = await page.request.get(icon["url"])
        assert fetched.status == 200, icon["url"]
        with Image.open(io.BytesIO(await fetched.body())) as image:
            assert f"{image.width}x{image.height}" == sizes, icon["url"]


async def test_the_service_worker_activates_and_controls_the_app_after_a_reload(
    daemon: Daemon, browser: BrowserContext
) -> None:
    page, _ = await open_page(browser)
    app = f"{daemon.base}/app/"
    await page.goto(app)
    # The first visit registers it; the page loaded before it existed is not controlled.
    state = await page.evaluate(
        """async () => {
            const registration = await navigator.serviceWorker.ready;
            const worker = registration.active;
            if (worker.state !== "activated") {
                await new Promise((done) => worker.addEventListener("statechange", () => {
                    if (worker.state === "activated") done();
                }));
            }
            return {state: worker.state, scope: registration.scope, script: worker.scriptURL};
        }"""
    )
    assert state == {"state": "activated", "scope": app, "script": f"{app}sw.js"}
    await page.reload()
    controller = await page.evaluate(
        """() => navigator.serviceWorker.controller
            && {state: navigator.serviceWorker.controller.state,
                script: navigator.serviceWorker.controller.scriptURL}"""
    )
    assert controller == {"state": "activated", "script": f"{app}sw.js"}
