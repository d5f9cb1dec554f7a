"""Fixtures of the phone app's browser tests: a daemon with three users and a phone-sized page
(:mod:`app_kit`). A test module that needs another daemon (other settings) or browser (its own
profile) defines its own fixture of the same name."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from app_kit import CHROMIUM, NO_CHROMIUM, app_daemon, phone_page
from daemon_kit import Daemon, Seeds
from playwright.async_api import Page


@pytest_asyncio.fixture(loop_scope="function")
async def daemon(workdir: Path, seeds: Seeds) -> AsyncIterator[tuple[Daemon, str]]:
    """The daemon on the simulated market, and the admin's one-time code secret."""
    async with app_daemon(workdir, seeds) as running:
        yield running


@pytest_asyncio.fixture(loop_scope="function")
async def page() -> AsyncIterator[Page]:
    """A phone-sized page in Debian's Chromium."""
    if CHROMIUM is None:
        pytest.skip(NO_CHROMIUM)
    async with phone_page() as opened:
        yield opened
