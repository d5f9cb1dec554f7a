"""Specification of :func:`forexbot.events.give_way.wait_while`."""

from __future__ import annotations

import asyncio

from forexbot.events.give_way import wait_while


async def test_it_returns_without_yielding_when_nothing_is_busy() -> None:
    other = asyncio.ensure_future(asyncio.sleep(0))

    await wait_while(lambda: False, at_most=10.0)

    assert not other.done()  # the loop was not given a turn
    await other


async def test_it_returns_once_the_work_is_done() -> None:
    busy = [True]

    async def finish() -> None:
        await asyncio.sleep(0.01)
        busy[0] = False

    finisher = asyncio.ensure_future(finish())
    await wait_while(lambda: busy[0], at_most=60.0)

    assert busy == [False]
    await finisher


async def test_it_gives_up_at_its_bound() -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()

    await wait_while(lambda: True, at_most=0.05)

    assert loop.time() - started >= 0.05
