"""The daemon's start and stop: a start that fails half-way stops everything that had started,
in reverse; a stop winds trading down step by step, then closes everything in reverse.

The failed start is the API failing to serve after the terminal, the event bus and the
trading engine have started — the last step before "ready", so every other component runs."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from polling import eventually
from structlog.testing import LogCapture

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
    monkeypatch.chdir(tmp_path)  # no configuration file: the defaults
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


async def test_a_stop_winds_trading_down_step_by_step_then_closes_in_reverse(
    tmp_path: Path, empty_database_url: str, monkeypatch: pytest.MonkeyPatch, logs: LogCapture
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(
        environ={},
        overrides={"api.port": 0, "terminal.sim_start": SIM_START, "terminal.sim_speed": 60},
    )
    daemon = Daemon(settings, tmp_path / "data", environ={"DATABASE_URL": empty_database_url})
    run = asyncio.create_task(daemon.run())

    def ready() -> bool:
        if run.done():
            run.result()  # a failed start: its error, not a timeout
        return any(e["event"] == "forexbot ready" for e in logs.entries)

    await eventually(ready, timeout=60, what="the daemon to be ready")
    daemon.request_stop()
    await run

    steps = [e["step"] for e in logs.entries if e["event"] == "stop step done"]
    failed = [e["step"] for e in logs.entries if e["event"] == "a stop step failed"]
    assert failed == []
    assert steps == [
        "stopping announced",
        "lock watch ended",
        "market hours watch ended",
        "polling stopped",
        "strategies stopped",
        "market data flushed",
        "event bus drained",
        "position sync stopped",
        "last reconciliation",
        "market data writer closed",
        "api stopped",
        "trading stopped",
        "start-up heap unfrozen",
        "strategies stopped",
        "terminal closed",
        "market data writer closed",
        "event bus closed",
        "api stopped",
        "equity history written",
        "push alerts stopped",
        "backtests closed",
        "terminal worker stopped",
        "database connected",
        "trade-book lock taken",
        "database server stopped",
        "SIGINT handler removed",
        "SIGTERM handler removed",
        "api sockets closed",
        "data directory released",
    ]
