"""A daemon whose start fails half-way stops everything that had started, in reverse.

The failure is the API failing to serve after the terminal, the event bus and the trading
engine have started — the last step before "ready", so every other component is running."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from forexbot.api.server import ApiServer
from forexbot.config.loader import load_settings
from forexbot.daemon.app import Daemon
from forexbot.daemon.instance_lock import DataDirLock
from forexbot.database.trading_locks import AdvisoryLock, database_lock_name
from forexbot.errors import ListenError

pytestmark = pytest.mark.db

SIM_START = "2026-11-23T08:00:00Z"  # a Monday: the forex market is open


class ServeRefused(ListenError):
    """What the patched ``ApiServer.start`` raises."""


async def _refuse_to_serve(self: ApiServer) -> None:
    raise ServeRefused("the API could not serve")


async def test_a_start_failing_after_trading_started_stops_every_component(
    tmp_path: Path, empty_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ApiServer, "start", _refuse_to_serve)
    settings = load_settings(
        environ={},
        overrides={"api.port": 0, "terminal.sim_start": SIM_START, "terminal.sim_speed": 60},
    )
    data_dir = tmp_path / "data"
    threads_before = {t.ident for t in threading.enumerate()}
    daemon = Daemon(settings, data_dir, environ={"DATABASE_URL": empty_database_url})

    with pytest.raises(ServeRefused):
        await daemon.run()

    left = [t.get_name() for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert left == []  # bus subscribers, poller, position sync, watchdog: all ended
    new_threads = [t.name for t in threading.enumerate() if t.ident not in threads_before]
    assert [name for name in new_threads if name.startswith("mt5-worker")] == []
    lock = DataDirLock(data_dir)
    lock.acquire()  # the data directory was released
    lock.release()
    book = AdvisoryLock(empty_database_url, database_lock_name(settings.terminal.magic))
    await book.acquire()  # so was the trade book
    await book.release()
