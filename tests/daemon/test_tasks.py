"""Specification of :func:`forexbot.daemon.tasks.stop_task`."""

from __future__ import annotations

import asyncio

from forexbot.daemon.tasks import stop_task


async def test_a_task_that_loses_a_cancellation_is_cancelled_again_until_it_stops() -> None:
    cancellations = 0

    async def stubborn() -> None:
        nonlocal cancellations
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                cancellations += 1
                if cancellations == 1:
                    continue  # the first one is lost, as in code that swallows it
                raise

    task = asyncio.get_running_loop().create_task(stubborn())
    await asyncio.sleep(0)

    assert await stop_task(task, timeout=2.0) is True
    assert task.cancelled()
    assert cancellations == 2


async def test_a_task_that_never_stops_is_given_up_after_the_timeout() -> None:
    async def immortal() -> None:
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                continue

    task = asyncio.get_running_loop().create_task(immortal())
    await asyncio.sleep(0)
    loop = asyncio.get_running_loop()
    started = loop.time()

    assert await stop_task(task, timeout=0.3) is False
    assert 0.3 <= loop.time() - started < 1.0
    assert not task.done()
    task.get_coro().close()  # type: ignore[union-attr]


async def test_a_finished_task_is_stopped_at_once() -> None:
    async def quick() -> int:
        return 1

    task = asyncio.get_running_loop().create_task(quick())
    await task

    assert await stop_task(task) is True
