"""Stopping asyncio tasks reliably.

``task.cancel()`` followed by ``await task`` hangs for ever when the cancellation is lost on
the way: before Python 3.12, ``asyncio.wait_for`` (used inside libraries such as asyncpg)
returns the result of an operation that completes in the same loop iteration as the
cancellation, and the task goes on as if nothing had happened. At shutdown that is a daemon
that does not stop. :func:`stop_task` cancels until the task is done, within a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog

_log = structlog.get_logger("forexbot.daemon.tasks")


async def stop_task(task: asyncio.Task[object], *, timeout: float = 5.0) -> bool:
    """Cancel ``task`` (again, if a cancellation is lost) until it is done, for at most
    ``timeout`` seconds; ``True`` when it stopped. Its own exception, if any, is logged."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not task.done() and loop.time() < deadline:
        task.cancel()
        await asyncio.wait({task}, timeout=0.1)
    if not task.done():
        _log.error("a task did not stop", task=task.get_name(), seconds=timeout)
        return False
    with contextlib.suppress(asyncio.CancelledError):
        exc = task.exception()
        if exc is not None:
            _log.error("a task ended with an error", task=task.get_name(), error=repr(exc))
    return True
