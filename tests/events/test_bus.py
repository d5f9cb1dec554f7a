"""Specification of :class:`forexbot.events.bus.EventBus` (rules in the module docstring)."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest
import pytest_asyncio
from polling import eventually
from structlog.testing import LogCapture
from trade_records import trade_record

from forexbot.domain.market import Tick
from forexbot.events.bus import EventBus
from forexbot.events.types import Event, TickEvent, TradeEvent


@dataclass(frozen=True, slots=True)
class Ping(Event):
    n: int


@dataclass(frozen=True, slots=True)
class SubPing(Ping):
    """A subclass: subscriptions are by exact class, so Ping subscribers must not see it."""


@dataclass(frozen=True, slots=True)
class Pong(Event):
    n: int


def tick(symbol: str, bid: float, t: float = 0.0) -> TickEvent:
    return TickEvent(Tick(symbol=symbol, time=t, bid=bid, ask=bid + 0.0002))


async def settle() -> None:
    """Give every subscriber task a few turns of the loop."""
    for _ in range(20):
        await asyncio.sleep(0)


def recorder(sink: list) -> Callable[[Event], Awaitable[None]]:
    async def handle(event: Event) -> None:
        sink.append(event)

    return handle


def gated(sink: list, gate: asyncio.Event) -> Callable[[Event], Awaitable[None]]:
    """A slow handler: records the event, then waits until ``gate`` opens."""

    async def handle(event: Event) -> None:
        sink.append(event)
        await gate.wait()

    return handle


@pytest_asyncio.fixture(loop_scope="function")
async def bus():
    b = EventBus()
    yield b
    await b.close(timeout=0.5)


async def test_event_is_delivered_to_every_subscriber_of_its_class(bus: EventBus) -> None:
    first: list[Ping] = []
    second: list[Ping] = []
    bus.subscribe(Ping, recorder(first), name="first")
    bus.subscribe(Ping, recorder(second), name="second")
    bus.start()

    for n in range(3):
        bus.publish(Ping(n))
    await eventually(
        lambda: len(first) == 3 and len(second) == 3,
        timeout=5.0,
        what="both subscribers to get three pings",
    )

    assert [e.n for e in first] == [0, 1, 2]
    assert [e.n for e in second] == [0, 1, 2]


async def test_subscriber_of_another_class_receives_nothing(bus: EventBus) -> None:
    pings: list[Event] = []
    pongs: list[Event] = []
    bus.subscribe(Ping, recorder(pings), name="pings")
    bus.subscribe(Pong, recorder(pongs), name="pongs")
    bus.start()

    bus.publish(Ping(1))
    await eventually(
        lambda: len(pings) == 1, timeout=5.0, what="the ping subscriber to get its ping"
    )
    await settle()

    assert pongs == []


async def test_subscription_to_a_base_class_does_not_receive_subclass_events(
    bus: EventBus,
) -> None:
    base: list[Event] = []
    pings: list[Event] = []
    sub_pings: list[Event] = []
    bus.subscribe(Event, recorder(base), name="base")
    bus.subscribe(Ping, recorder(pings), name="pings")
    bus.subscribe(SubPing, recorder(sub_pings), name="sub-pings")
    bus.start()

    bus.publish(SubPing(7))
    await eventually(
        lambda: len(sub_pings) == 1, timeout=5.0, what="the subclass subscriber to get its event"
    )
    await settle()

    assert base == []
    assert pings == []
    assert sub_pings == [SubPing(7)]


async def test_each_subscriber_sees_events_in_publication_order(bus: EventBus) -> None:
    seen: list[int] = []

    async def handle(event: Ping) -> None:
        if event.n % 7 == 0:
            await asyncio.sleep(0)  # interleave with the publisher
        seen.append(event.n)

    bus.subscribe(Ping, handle, name="ordered")
    bus.start()

    for n in range(500):
        bus.publish(Ping(n))
        if n % 50 == 0:
            await asyncio.sleep(0)
    await eventually(lambda: len(seen) == 500, timeout=5.0, what="the 500 pings")

    assert seen == list(range(500))


async def test_events_published_before_start_are_delivered_after_start(bus: EventBus) -> None:
    seen: list[Ping] = []
    bus.subscribe(Ping, recorder(seen), name="early")

    bus.publish(Ping(1))
    bus.publish(Ping(2))
    bus.start()
    await eventually(
        lambda: len(seen) == 2, timeout=5.0, what="the two pings published before start"
    )

    assert [e.n for e in seen] == [1, 2]


async def test_publish_is_a_plain_function_that_never_awaits_a_slow_handler(
    bus: EventBus,
) -> None:
    gate = asyncio.Event()
    seen: list[Ping] = []
    stats = bus.subscribe(Ping, gated(seen, gate), name="slow")
    bus.start()
    bus.publish(Ping(-1))
    await eventually(lambda: len(seen) == 1, timeout=5.0, what="the slow handler's first event")
    # The handler is now blocked on the gate. A callback scheduled now runs at the loop's next
    # turn: if publish awaited anything, the loop would get control and run it.
    loop_turns: list[str] = []
    asyncio.get_running_loop().call_soon(loop_turns.append, "turn")

    results = [bus.publish(Ping(n)) for n in range(10_000)]

    assert not inspect.iscoroutinefunction(bus.publish)
    assert results == [None] * 10_000  # nothing to await
    assert loop_turns == []  # 10k publications and the loop never had control
    assert len(seen) == 1  # the handler ran none of them: it is still on its first event
    assert stats.pending == 10_000
    assert bus.published == 10_001

    gate.set()
    await eventually(lambda: len(seen) == 10_001, timeout=5.0, what="the slow handler to catch up")
    assert loop_turns == ["turn"]
    assert [e.n for e in seen] == [-1, *range(10_000)]


async def test_a_slow_subscriber_does_not_delay_the_others(bus: EventBus) -> None:
    gate = asyncio.Event()
    slow: list[Ping] = []
    fast: list[Ping] = []
    bus.subscribe(Ping, gated(slow, gate), name="slow")
    bus.subscribe(Ping, recorder(fast), name="fast")
    bus.start()

    for n in range(100):
        bus.publish(Ping(n))
    await eventually(
        lambda: len(fast) == 100, timeout=5.0, what="the fast subscriber to get its 100 pings"
    )

    assert len(slow) == 1
    gate.set()


async def test_a_failing_handler_does_not_stop_other_subscribers(bus: EventBus) -> None:
    healthy: list[Ping] = []

    async def broken(event: Ping) -> None:
        raise RuntimeError(f"boom {event.n}")

    broken_stats = bus.subscribe(Ping, broken, name="broken")
    healthy_stats = bus.subscribe(Ping, recorder(healthy), name="healthy")
    bus.start()

    for n in range(10):
        bus.publish(Ping(n))
    await eventually(
        lambda: broken_stats.failed == 10 and len(healthy) == 10,
        timeout=5.0,
        what="ten failures and ten healthy deliveries",
    )

    assert [e.n for e in healthy] == list(range(10))
    assert healthy_stats.delivered == 10
    assert healthy_stats.failed == 0


async def test_a_handler_failure_is_counted_and_the_subscriber_goes_on(bus: EventBus) -> None:
    calls: list[int] = []

    async def flaky(event: Ping) -> None:
        calls.append(event.n)
        if event.n == 3:
            raise ValueError("bad event")

    stats = bus.subscribe(Ping, flaky, name="flaky")
    bus.start()

    for n in range(10):
        bus.publish(Ping(n))
    await eventually(lambda: len(calls) == 10, timeout=5.0, what="the ten calls")
    await settle()

    assert calls == list(range(10))
    assert stats.failed == 1
    assert stats.delivered == 9


async def test_coalescing_subscriber_keeps_a_bounded_queue_with_the_latest_tick_per_symbol(
    bus: EventBus,
) -> None:
    gate = asyncio.Event()
    seen: list[TickEvent] = []
    symbols = ("EURUSD", "GBPUSD", "USDJPY")
    stats = bus.subscribe(
        TickEvent, gated(seen, gate), name="quotes", maxsize=5, coalesce_by=lambda e: e.symbol
    )
    bus.start()
    bus.publish(tick("EURUSD", 0.5))
    # In flight: the handler is stuck.
    await eventually(
        lambda: len(seen) == 1, timeout=5.0, what="the slow handler to take its first tick"
    )

    last_bid: dict[str, float] = {}
    for i in range(1000):
        symbol = symbols[i % 3]
        bid = 1.0 + i / 10_000
        bus.publish(tick(symbol, bid))
        last_bid[symbol] = bid

    # 5 queued in full, then one pending event per symbol: bounded whatever the rate.
    assert stats.pending == 5 + len(symbols)
    assert stats.max_pending == 5 + len(symbols)
    assert stats.coalesced == 1000 - 5 - len(symbols)

    gate.set()
    await eventually(
        lambda: stats.pending == 0 and stats.delivered == 1 + 5 + len(symbols),
        timeout=5.0,
        what="the coalesced queue to drain",
    )
    await settle()

    assert len(seen) == 1 + 5 + len(symbols)
    for symbol in symbols:
        received = [e.tick.bid for e in seen if e.symbol == symbol]
        assert received[-1] == last_bid[symbol]


async def test_coalescing_subscriber_gets_every_event_again_once_it_caught_up(
    bus: EventBus,
) -> None:
    gate = asyncio.Event()
    seen: list[TickEvent] = []
    stats = bus.subscribe(
        TickEvent, gated(seen, gate), name="quotes", maxsize=2, coalesce_by=lambda e: e.symbol
    )
    bus.start()
    for i in range(20):
        bus.publish(tick("EURUSD", 1.0 + i))
    gate.set()
    await eventually(
        lambda: stats.pending == 0 and len(seen) == stats.delivered,
        timeout=5.0,
        what="the coalesced queue to drain",
    )
    await settle()
    before = len(seen)

    for i in range(3):
        bus.publish(tick("EURUSD", 100.0 + i))
    await eventually(
        lambda: len(seen) == before + 3,
        timeout=5.0,
        what="the three ticks published after the catch-up",
    )

    assert [e.tick.bid for e in seen[-3:]] == [100.0, 101.0, 102.0]


async def test_lossless_subscriber_never_drops_past_maxsize(bus: EventBus) -> None:
    gate = asyncio.Event()
    seen: list[Ping] = []
    stats = bus.subscribe(Ping, gated(seen, gate), name="trades", maxsize=5)
    bus.start()
    bus.publish(Ping(-1))
    await eventually(
        lambda: len(seen) == 1, timeout=5.0, what="the slow handler to take its first ping"
    )

    for n in range(100):
        bus.publish(Ping(n))

    assert stats.pending == 100
    assert stats.lagging_episodes == 1
    assert stats.coalesced == 0

    gate.set()
    await eventually(lambda: len(seen) == 101, timeout=5.0, what="the lossless queue to drain")
    assert [e.n for e in seen] == [-1, *range(100)]


@pytest.mark.parametrize("maxsize", [1, 4])
async def test_each_lagging_episode_of_a_lossless_subscriber_is_counted(
    bus: EventBus, maxsize: int
) -> None:
    gate = asyncio.Event()
    seen: list[Ping] = []
    stats = bus.subscribe(Ping, gated(seen, gate), name="trades", maxsize=maxsize)
    bus.start()

    for episode in range(2):
        gate.clear()
        start = len(seen)
        for n in range(3 * maxsize + 1):
            bus.publish(Ping(n))
        await eventually(
            lambda start=start: len(seen) == start + 1,
            timeout=5.0,
            what="the handler to take the episode's first ping",
        )
        gate.set()
        await eventually(
            lambda start=start: len(seen) == start + 3 * maxsize + 1,
            timeout=5.0,
            what="the episode's pings to drain",
        )
        await settle()
        assert stats.lagging_episodes == episode + 1


async def test_close_drains_pending_events_and_reports_nothing_left() -> None:
    bus = EventBus()
    seen: list[Ping] = []

    async def slowish(event: Ping) -> None:
        await asyncio.sleep(0.001)
        seen.append(event)

    bus.subscribe(Ping, slowish, name="slowish")
    bus.start()
    for n in range(50):
        bus.publish(Ping(n))

    leftover = await bus.close(timeout=5.0)

    assert leftover == {}
    assert [e.n for e in seen] == list(range(50))


async def test_close_with_a_stuck_handler_reports_undelivered_events_within_timeout() -> None:
    bus = EventBus()
    never = asyncio.Event()
    stuck: list[Ping] = []
    fine: list[Ping] = []
    stuck_stats = bus.subscribe(Ping, gated(stuck, never), name="stuck")
    bus.subscribe(Ping, recorder(fine), name="fine")
    bus.start()
    for n in range(5):
        bus.publish(Ping(n))
    await eventually(
        lambda: len(stuck) == 1 and len(fine) == 5,
        timeout=5.0,
        what="the stuck handler's first ping and the fine subscriber's five",
    )

    started = time.monotonic()
    leftover = await bus.close(timeout=0.2)
    elapsed = time.monotonic() - started

    # Four queued plus the one being handled when the deadline passed.
    assert leftover == {"stuck": 5}
    assert elapsed < 0.2 + 1.0
    assert stuck_stats.delivered == 0


async def test_closing_again_returns_at_once_and_reports_nothing_twice(
    logs: LogCapture,
) -> None:
    bus = EventBus()
    never = asyncio.Event()
    stuck: list[Ping] = []
    bus.subscribe(Ping, gated(stuck, never), name="stuck")
    bus.start()
    for n in range(3):
        bus.publish(Ping(n))
    await eventually(lambda: len(stuck) == 1, timeout=5.0, what="the stuck handler's ping")
    assert await bus.close(timeout=0.1) == {"stuck": 3}

    # The subscriber was cancelled with events queued: a second close must not wait on it.
    again = asyncio.create_task(bus.close(timeout=60.0))
    await asyncio.sleep(0)
    assert again.done()
    assert again.result() == {}
    reports = [e for e in logs.entries if e["event"] == "event bus closed with undelivered events"]
    assert len(reports) == 1


async def test_publish_after_close_is_ignored_and_counted() -> None:
    bus = EventBus()
    seen: list[Ping] = []
    bus.subscribe(Ping, recorder(seen), name="late")
    bus.start()
    bus.publish(Ping(0))
    await bus.close(timeout=1.0)

    bus.publish(Ping(1))
    bus.publish(Ping(2))
    await settle()

    assert bus.rejected_after_close == 2
    assert bus.published == 1
    assert [e.n for e in seen] == [0]


async def test_subscribe_after_close_is_refused() -> None:
    bus = EventBus()
    await bus.close(timeout=0.1)

    with pytest.raises(RuntimeError):
        bus.subscribe(Ping, recorder([]), name="too-late")


async def test_subscribe_after_start_starts_delivering(bus: EventBus) -> None:
    bus.start()
    seen: list[Ping] = []
    bus.subscribe(Ping, recorder(seen), name="late-joiner")

    bus.publish(Ping(1))
    await eventually(lambda: len(seen) == 1, timeout=5.0, what="the late joiner's ping")

    assert seen == [Ping(1)]


async def test_unsubscribe_stops_delivery(bus: EventBus) -> None:
    seen: list[Ping] = []
    other: list[Ping] = []
    stats = bus.subscribe(Ping, recorder(seen), name="leaving")
    bus.subscribe(Ping, recorder(other), name="staying")
    bus.start()
    bus.publish(Ping(1))
    await eventually(
        lambda: len(seen) == 1 and len(other) == 1, timeout=5.0, what="both subscribers' first ping"
    )

    bus.unsubscribe(stats)
    bus.publish(Ping(2))
    await eventually(
        lambda: len(other) == 2, timeout=5.0, what="the staying subscriber's second ping"
    )
    await settle()

    assert seen == [Ping(1)]
    assert stats not in bus.stats()


@pytest.mark.parametrize("maxsize", [0, -1])
def test_subscribe_refuses_maxsize_below_one(maxsize: int) -> None:
    bus = EventBus()

    with pytest.raises(ValueError, match="maxsize"):
        bus.subscribe(Ping, recorder([]), name="bad", maxsize=maxsize)

    assert bus.stats() == []


def test_bus_default_maxsize_below_one_is_refused_at_subscription() -> None:
    bus = EventBus(default_maxsize=0)

    with pytest.raises(ValueError, match="maxsize"):
        bus.subscribe(Ping, recorder([]), name="bad")


async def test_a_cpu_bound_subscriber_with_a_backlog_lets_other_tasks_run(bus: EventBus) -> None:
    """Its handler never awaits; the bus still yields between events, so a concurrent task
    (the API, the poller, shutdown) runs while the backlog drains, not only after it."""
    handled = 0
    progress_seen_by_other_task: list[int] = []

    async def busy(event: TickEvent) -> None:
        nonlocal handled
        handled += 1
        deadline = time.perf_counter() + 0.0002
        while time.perf_counter() < deadline:  # 0.2 ms of CPU work, no await
            pass

    async def other_task() -> None:
        for _ in range(5):
            progress_seen_by_other_task.append(handled)
            await asyncio.sleep(0)

    bus.subscribe(TickEvent, busy, name="busy")
    for i in range(1000):
        bus.publish(TickEvent(Tick("EURUSD", float(i), 1.1, 1.1001)))
    bus.start()
    await asyncio.gather(asyncio.sleep(0), other_task())
    assert progress_seen_by_other_task[-1] < 1000


async def test_unsubscribe_reports_the_events_it_discards(bus: EventBus) -> None:
    async def never_runs(event: TickEvent) -> None:
        raise AssertionError("not started")

    stats = bus.subscribe(TickEvent, never_runs, name="late")
    for i in range(7):
        bus.publish(TickEvent(Tick("EURUSD", float(i), 1.1, 1.1001)))
    assert bus.unsubscribe(stats) == 7


async def test_events_published_by_handlers_while_draining_are_delivered(bus: EventBus) -> None:
    """A signal approved during shutdown becomes an order intent, and that intent is handled."""
    second: list[TradeEvent] = []

    async def first(event: TickEvent) -> None:
        await asyncio.sleep(0.01)
        bus.publish(TradeEvent(trade_record()))

    async def on_trade(event: TradeEvent) -> None:
        second.append(event)

    bus.subscribe(TickEvent, first, name="first")
    bus.subscribe(TradeEvent, on_trade, name="second")
    bus.start()
    for i in range(3):
        bus.publish(TickEvent(Tick("EURUSD", float(i), 1.1, 1.1001)))
    assert await bus.close(timeout=2.0) == {}
    assert len(second) == 3


async def test_a_cancelled_await_inside_a_handler_fails_that_event_only(bus: EventBus) -> None:
    handled: list[float] = []

    async def handler(event: TickEvent) -> None:
        if event.tick.time == 0.0:
            never = asyncio.get_running_loop().create_future()
            never.cancel()
            await never  # raises CancelledError, but nobody is stopping this subscriber
        handled.append(event.tick.time)

    stats = bus.subscribe(TickEvent, handler, name="h")
    bus.start()
    for i in range(3):
        bus.publish(TickEvent(Tick("EURUSD", float(i), 1.1, 1.1001)))
    await asyncio.sleep(0.05)
    assert handled == [1.0, 2.0]
    assert stats.failed == 1
