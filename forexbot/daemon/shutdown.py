"""The stop sequence's pieces: winding trading down without losing an order, and saying where a
stop hangs."""

from __future__ import annotations

import asyncio
import faulthandler

import structlog

from forexbot.api.server import ApiServer
from forexbot.connectors.connector import MT5Connector
from forexbot.daemon.lifecycle import Stop
from forexbot.database.writers import BarWriter
from forexbot.engine.positions import PositionManager
from forexbot.events.bus import EventBus
from forexbot.strategies.manager import StrategyManager

_log = structlog.get_logger("forexbot.daemon.shutdown")

#: After this many seconds of stopping, the daemon logs what every task is waiting on.
STOP_REPORT_AFTER = 10.0


def report_slow_stop() -> None:
    """Log the stack of every task: a stop this slow is a bug to find."""
    stacks = {}
    for task in asyncio.all_tasks():
        frames = task.get_stack(limit=8)
        stacks[task.get_name()] = [
            f"{f.f_code.co_filename}:{f.f_lineno} {f.f_code.co_name}" for f in frames
        ]
    _log.error("the daemon is slow to stop", after_seconds=STOP_REPORT_AFTER, tasks=stacks)
    faulthandler.dump_traceback(all_threads=True)  # the threads too (the terminal worker)


def wind_down_steps(
    connector: MT5Connector,
    strategies: StrategyManager,
    bar_writer: BarWriter,
    bus: EventBus,
    positions: PositionManager,
    api: ApiServer,
) -> list[tuple[str, Stop]]:
    """The steps that stop trading without losing an order, in the order they must run
    (steps 2 to 5 of :mod:`forexbot.daemon.app`'s docstring): no new bars, no new signals,
    what is approved executed and recorded, a last sync, then the API. Each is its own stop
    step, so one that fails does not skip the next."""

    async def drain() -> None:
        # Orders in flight settle within this; the whole stop stays under systemd's goal.
        undelivered = await bus.close(timeout=8.0)
        if undelivered:
            _log.error("events left undelivered at shutdown", undelivered=undelivered)

    async def last_reconciliation() -> None:
        try:
            await positions.sync()
        except Exception as exc:  # best effort: the next start reconciles anyway
            _log.warning("the last reconciliation failed", error=str(exc))

    return [
        ("polling stopped", connector.stop_polling),
        ("strategies stopped", strategies.stop),  # queued bars would give stale signals
        ("market data flushed", bar_writer.flush),
        ("event bus drained", drain),
        ("position sync stopped", positions.stop),
        ("last reconciliation", last_reconciliation),
        ("market data writer closed", bar_writer.close),
        ("api stopped", api.stop),
    ]
