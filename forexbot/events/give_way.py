"""Giving way to busy bus subscribers: wait while a predicate over the bus says busy.

Used where one kind of work yields to another on the same loop (the strategies to the order
path, a settlement to the strategies). The bus has no wake-up for "no longer busy", so the
wait polls every half millisecond — far below a burst's work — and is bounded: a subscriber
stuck busy must not stop the one giving way for ever.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

#: How often (seconds) a waiter looks again.
POLL_SECONDS = 0.0005


async def wait_while(busy: Callable[[], bool], at_most: float) -> None:
    """Return once ``busy()`` is false, or after ``at_most`` seconds of the loop's clock.
    Returns at once, without yielding, when it is not busy."""
    if not busy():
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + at_most
    while busy() and loop.time() < deadline:  # noqa: ASYNC110 - bus state has no event
        await asyncio.sleep(POLL_SECONDS)
