"""Specification of :meth:`forexbot.events.bus.EventBus.subscribe_batch`: a subscriber that takes
every event queued when it is ready, in one call (execution writes the intents that queued
meanwhile in one transaction)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio
from polling import eventually

from forexbot.events.bus import EventBus
from forexbot.events.types import Event


@dataclass(frozen=True, slots=True)
class Ping(Event):
    n: int


@pytest_asyncio.fixture(loop_scope="function")
async def bus() -> AsyncIterator[EventBus]:
    b = EventBus()
    yield b
    await b.close(timeout=0.5)


class HeldBatches:
    """A batch handler that records each call and holds the first until released."""

    def __init__(self) -> None:
        self.calls: list[list[int]] = []
        self.first_taken = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self, events: list[Ping]) -> None:
        self.calls.append([event.n for event in events])
        if len(self.calls) == 1:
            self.first_taken.set()
            await self.release.wait()


async def queue_behind_the_first(bus: EventBus, handler: HeldBatches) -> None:
    """Ping 1, taken alone and held by ``handler``; pings 2 to 4 published meanwhile."""
    bus.start()
    bus.publish(Ping(1))
    await handler.first_taken.wait()
    for n in (2, 3, 4):
        bus.publish(Ping(n))


async def test_events_queued_while_the_handler_works_come_in_one_call_in_order(
    bus: EventBus,
) -> None:
    handler = HeldBatches()
    stats = bus.subscribe_batch(Ping, handler, name="batches")
    await queue_behind_the_first(bus, handler)

    handler.release.set()
    await eventually(lambda: stats.delivered == 4, timeout=5.0, what="every ping")

    assert handler.calls == [[1], [2, 3, 4]]
    assert (stats.pending, stats.max_pending) == (0, 3)


async def test_a_batch_subscriber_is_busy_while_events_wait_or_are_in_hand(bus: EventBus) -> None:
    handler = HeldBatches()
    bus.subscribe_batch(Ping, handler, name="batches")
    bus.start()
    bus.publish(Ping(1))
    await handler.first_taken.wait()

    in_hand = bus.busy("batches")
    handler.release.set()
    await eventually(bus.idle, timeout=5.0, what="the bus to be idle")

    assert (in_hand, bus.busy("batches")) == (True, False)


async def test_a_failing_batch_is_counted_once_and_the_next_batch_is_delivered(
    bus: EventBus,
) -> None:
    seen: list[list[int]] = []

    async def fails_on_one(events: list[Ping]) -> None:
        seen.append([event.n for event in events])
        if events[0].n == 1:
            raise RuntimeError("broken batch")

    stats = bus.subscribe_batch(Ping, fails_on_one, name="batches")
    bus.start()
    bus.publish(Ping(1))
    await eventually(lambda: stats.failed == 1, timeout=5.0, what="the failure")
    bus.publish(Ping(2))
    await eventually(lambda: stats.delivered == 1, timeout=5.0, what="the next batch")

    assert seen == [[1], [2]]
    assert (stats.failed, stats.delivered) == (1, 1)


async def test_a_batch_subscription_after_close_is_refused(bus: EventBus) -> None:
    await bus.close(timeout=0.1)

    async def handler(_events: list[Ping]) -> None:
        return None

    with pytest.raises(RuntimeError, match="the event bus is closed"):
        bus.subscribe_batch(Ping, handler, name="late")


async def test_a_failing_batch_counts_each_of_its_events_as_failed(bus: EventBus) -> None:
    handler = HeldBatches()

    async def fails(events: list[Ping]) -> None:
        await handler(events)
        raise RuntimeError("broken batch")

    stats = bus.subscribe_batch(Ping, fails, name="batches")
    await queue_behind_the_first(bus, handler)
    handler.release.set()

    await eventually(lambda: stats.failed == 4, timeout=5.0, what="every ping failed")
    assert (handler.calls, stats.delivered) == ([[1], [2, 3, 4]], 0)


async def test_closing_reports_every_event_of_a_batch_in_hand_as_undelivered() -> None:
    bus = EventBus()
    handler = HeldBatches()  # never released
    bus.subscribe_batch(Ping, handler, name="batches")
    for n in (1, 2, 3):
        bus.publish(Ping(n))
    bus.start()
    await handler.first_taken.wait()

    left = await bus.close(timeout=0.05)

    assert (handler.calls, left) == ([[1, 2, 3]], {"batches": 3})
