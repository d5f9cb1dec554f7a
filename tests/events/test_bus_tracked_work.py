"""Specification of :meth:`forexbot.events.bus.EventBus.track`: a task a handler leaves running
is work not done — the bus is not idle while it runs — but the subscriber is free for its next
event (rule "Work a handler leaves running counts" in the module docstring)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from polling import eventually

from forexbot.events.bus import EventBus
from forexbot.events.types import Event


@dataclass(frozen=True, slots=True)
class Job(Event):
    n: int


async def test_a_tracked_task_keeps_the_bus_from_idle_but_not_its_subscriber_busy() -> None:
    bus = EventBus()
    release = asyncio.Event()
    handled: list[int] = []

    async def handler(event: Job) -> None:
        handled.append(event.n)
        bus.track(asyncio.create_task(release.wait()), "worker")

    bus.subscribe(Job, handler, name="worker")
    bus.start()
    bus.publish(Job(1))
    bus.publish(Job(2))
    await eventually(lambda: len(handled) == 2, timeout=5.0, what="both jobs handled")
    await eventually(lambda: not bus.busy("worker"), timeout=5.0, what="the worker free")

    assert not bus.idle()
    release.set()
    await eventually(bus.idle, timeout=5.0, what="the bus idle")
    assert await bus.close(timeout=1.0) == {}


async def test_closing_waits_for_a_tracked_task() -> None:
    bus = EventBus()
    release = asyncio.Event()
    finished: list[str] = []

    async def work() -> None:
        await release.wait()
        finished.append("settled")

    bus.start()
    bus.track(asyncio.create_task(work()), "worker")
    closing = asyncio.create_task(bus.close(timeout=10.0))
    for _ in range(20):
        await asyncio.sleep(0)
    assert not closing.done()
    release.set()

    assert await closing == {}
    assert finished == ["settled"]


async def test_a_tracked_task_outlasting_the_close_is_reported_under_its_subscriber() -> None:
    bus = EventBus()
    bus.start()
    never = asyncio.create_task(asyncio.Event().wait())
    bus.track(never, "execution")

    assert await bus.close(timeout=0.0) == {"execution": 1}
    never.cancel()


async def test_a_finished_task_is_not_tracked() -> None:
    bus = EventBus()
    done = asyncio.create_task(asyncio.sleep(0))
    await done
    bus.track(done, "worker")

    assert bus.idle()
