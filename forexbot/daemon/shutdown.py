"""The stop sequence's pieces: winding trading down without losing an order, ending background
tasks, and saying where a stop hangs."""

from __future__ import annotations

import asyncio
import faulthandler

import structlog

from forexbot.api.server import ApiServer
from forexbot.connectors.connector import MT5Connector
from forexbot.database.writers import BarWriter
from forexbot.engine.positions import PositionManager
from forexbot.events.bus import EventBus
from forexbot.strategies.manager import StrategyManager

_log = structlog.get_logger("forexbot.daemon.app")

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


async def end_task(task: asyncio.Task[None]) -> None:
    """Cancel a background task and wait for it; whatever it died of is logged, never raised
    (the stop sequence must run in full)."""
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    except Exception:
        _log.exception("a background task had failed", task=task.get_name())


async def wind_down(
    connector: MT5Connector,
    strategies: StrategyManager,
    bar_writer: BarWriter,
    bus: EventBus,
    positions: PositionManager,
    api: ApiServer,
) -> None:
    """Stop trading in the order that loses nothing (steps 2 to 4 of the module docstring):
    no new bars, no new signals, what is approved executed and recorded, a last sync."""
    await connector.stop_polling()
    strategies.stop()  # bars still queued would only produce stale signals
    await bar_writer.flush()
    # Orders in flight settle within this; the whole stop stays under systemd's goal.
    undelivered = await bus.close(timeout=8.0)
    if undelivered:
        _log.error("events left undelivered at shutdown", undelivered=undelivered)
    await positions.stop()
    try:
        await positions.sync()
    except Exception as exc:  # best effort: the next start reconciles anyway
        _log.warning("the last reconciliation failed", error=str(exc))
    await bar_writer.close()
    await api.stop()
