"""The in-process event bus.

Rules it enforces (each has a test in ``tests/events/``):

* **Publishing never blocks and never waits for a subscriber.** :meth:`EventBus.publish` is a
  plain function: it puts the event on each matching subscriber's own queue and returns.
* **Each subscriber has its own queue and its own task**, so a slow or failing subscriber delays
  nobody else, and each subscriber sees events in publication order.
* **A handler exception is isolated**: it is logged with the event and counted in
  :attr:`SubscriberStats.failed`; the subscriber goes on with the next event.
* **Bounded queues.** A subscription made with ``coalesce_by`` (market data: quotes) keeps at most
  one pending event per key (the latest tick per symbol) once its queue holds ``maxsize`` events,
  so its memory stays bounded whatever the publication rate. A lossless subscription (orders,
  trades: the default) never drops: past ``maxsize`` it is marked *lagging*, a warning is logged
  and counted, and events are still kept, because losing a fill is worse than using memory.
* **Fair to the loop.** A subscriber yields to the event loop at least once per millisecond of
  handling, so one with a backlog of CPU-bound work cannot starve the others, the API or
  shutdown.
* **Clean shutdown.** :meth:`EventBus.close` stops accepting events, lets every subscriber drain
  its queue within a deadline, then cancels what is left and reports per subscriber how many
  events were still pending.
* **Batches on request.** A subscription made with :meth:`EventBus.subscribe_batch` takes every
  event queued when it is ready, in order, in one call (execution writes the intents that
  queued while it was busy in one transaction); it is lossless and counts each event.
* **Work a handler leaves running counts.** A task a handler started to finish an event's work
  after returning (execution settling an order it sent) is given to :meth:`EventBus.track`:
  until it ends the bus is not :meth:`~EventBus.idle` (a drain, :meth:`~EventBus.close`, waits
  for it), yet the subscriber is not :meth:`~EventBus.busy` — it takes its next event.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import structlog

from forexbot.daemon.tasks import stop_task
from forexbot.events.types import Event

E = TypeVar("E", bound=Event)
Handler = Callable[[E], Awaitable[None]]
BatchHandler = Callable[[list[E]], Awaitable[None]]

_log = structlog.get_logger("forexbot.events")

_MAX_RUN_WITHOUT_YIELD = 0.001  # seconds a subscriber may keep the loop between events


@dataclass(slots=True)
class SubscriberStats:
    """Counters of one subscription, read by metrics and tests."""

    name: str
    delivered: int = 0
    failed: int = 0
    coalesced: int = 0
    lagging_episodes: int = 0
    pending: int = 0
    max_pending: int = 0


class _Subscription(Generic[E]):
    """One subscriber: its queue, its task and its counters."""

    def __init__(
        self,
        name: str,
        event_type: type[E],
        handler: Handler[E] | None,
        maxsize: int,
        coalesce_by: Callable[[E], Hashable] | None,
        batch_handler: BatchHandler[E] | None = None,
    ) -> None:
        self.name = name
        self.event_type = event_type
        self.handler = handler
        self.batch_handler = batch_handler
        self.maxsize = maxsize
        self.coalesce_by = coalesce_by
        self.stats = SubscriberStats(name=name)
        # Plain FIFO of events not yet handled.
        self._fifo: deque[E] = deque()
        # Once the FIFO is full, a coalescing subscriber parks the latest event per key here.
        self._latest: OrderedDict[Hashable, E] = OrderedDict()
        self._ready = asyncio.Event()
        self._lagging = False
        self._busy = False
        self._in_hand = 0  # events the handler holds (a batch: all of them)
        self.task: asyncio.Task[None] | None = None

    def pending(self) -> int:
        return len(self._fifo) + len(self._latest)

    def offer(self, event: E) -> None:
        if len(self._fifo) < self.maxsize and not self._latest:
            self._fifo.append(event)
        elif self.coalesce_by is not None:
            key = self.coalesce_by(event)
            if key in self._latest:
                self.stats.coalesced += 1
                # Keep the key's place in line but replace its value by the newest.
                self._latest[key] = event
            else:
                self._latest[key] = event
        else:
            self._fifo.append(event)
            if not self._lagging:
                self._lagging = True
                self.stats.lagging_episodes += 1
                _log.warning(
                    "subscriber lagging",
                    subscriber=self.name,
                    pending=len(self._fifo),
                    maxsize=self.maxsize,
                )
        depth = self.pending()
        self.stats.pending = depth
        self.stats.max_pending = max(self.stats.max_pending, depth)
        self._ready.set()

    def _next(self) -> E | None:
        if self._fifo:
            event = self._fifo.popleft()
            if self._lagging and len(self._fifo) <= self.maxsize // 2:
                self._lagging = False
            return event
        if self._latest:
            _, event = self._latest.popitem(last=False)
            return event
        return None

    async def run(self) -> None:
        last_yield = time.perf_counter()
        while True:
            event = self._next()
            if event is None:
                self.stats.pending = 0
                self._ready.clear()
                await self._ready.wait()
                last_yield = time.perf_counter()
                continue
            self._busy = True
            self._in_hand = 1
            try:
                if self.batch_handler is not None:
                    events = [event, *self._fifo]
                    self._fifo.clear()
                    self._lagging = False
                    self._in_hand = len(events)
                    self.stats.pending = 0
                    await self.batch_handler(events)
                else:
                    self.stats.pending = self.pending()
                    assert self.handler is not None
                    await self.handler(event)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise  # this subscriber is being stopped
                # Something the handler awaited was cancelled: a failure of that event, not
                # the end of the subscriber (which would silently stop, e.g., execution).
                self.stats.failed += self._in_hand
                _log.error(
                    "event handler was cancelled from inside",
                    subscriber=self.name,
                    event_type=type(event).__name__,
                )
            except Exception:
                self.stats.failed += self._in_hand
                _log.exception(
                    "event handler failed",
                    subscriber=self.name,
                    event_type=type(event).__name__,
                    events=self._in_hand,
                )
            else:
                self.stats.delivered += self._in_hand
            finally:
                self._busy = False
                self._in_hand = 0
            # A handler that never awaits (CPU work on a bar) would otherwise run its whole
            # backlog without letting the loop breathe: the API, the poller and shutdown wait.
            # Yielding once per millisecond of work bounds that, at no cost for quick events.
            now = time.perf_counter()
            if now - last_yield > _MAX_RUN_WITHOUT_YIELD:
                await asyncio.sleep(0)
                last_yield = time.perf_counter()

    def is_idle(self) -> bool:
        return not self._busy and self.pending() == 0

    def undelivered(self) -> int:
        """Events queued plus those being handled, if any."""
        return self.pending() + self._in_hand


class EventBus:
    """Publish/subscribe of typed events inside the event loop.

    Subscriptions are by exact event class. ``start`` must run inside the loop before events
    flow; subscriptions made after ``start`` start their task at once.
    """

    def __init__(self, default_maxsize: int = 10_000) -> None:
        self._default_maxsize = default_maxsize
        self._subscriptions: dict[type[Event], list[_Subscription[Any]]] = {}
        self._all: list[_Subscription[Any]] = []
        self._started = False
        self._closed = False
        # Tasks handlers left running, by the subscriber that started them (see track).
        self._tracked: dict[asyncio.Task[Any], str] = {}
        self.published = 0
        self.rejected_after_close = 0

    def subscribe(
        self,
        event_type: type[E],
        handler: Handler[E],
        *,
        name: str,
        maxsize: int | None = None,
        coalesce_by: Callable[[E], Hashable] | None = None,
    ) -> SubscriberStats:
        """Deliver every published ``event_type`` to ``handler``; returns its live counters."""
        size = maxsize if maxsize is not None else self._default_maxsize
        if size < 1:
            raise ValueError(f"maxsize must be ≥ 1, got {size}")
        return self._add(_Subscription(name, event_type, handler, size, coalesce_by))

    def _add(self, sub: _Subscription[Any]) -> SubscriberStats:
        if self._closed:
            raise RuntimeError("the event bus is closed")
        self._subscriptions.setdefault(sub.event_type, []).append(sub)
        self._all.append(sub)
        if self._started:
            self._start_task(sub)
        return sub.stats

    def subscribe_batch(
        self, event_type: type[E], handler: BatchHandler[E], *, name: str
    ) -> SubscriberStats:
        """Deliver every published ``event_type`` to ``handler``, as the list of all those
        queued when it is ready (at least one, in publication order); lossless, unbounded
        like a default subscription past its ``maxsize``. Returns its live counters."""
        return self._add(
            _Subscription(name, event_type, None, self._default_maxsize, None, handler)
        )

    def unsubscribe(self, stats: SubscriberStats) -> int:
        """Remove the subscription whose counters are ``stats``; its pending events are
        discarded and their number returned (the caller decides whether that is worth a log
        line: stale market data at shutdown is, silently, not)."""
        discarded = 0
        for sub in list(self._all):
            if sub.stats is stats:
                self._all.remove(sub)
                self._subscriptions[sub.event_type].remove(sub)
                discarded += sub.pending()
                if sub.task is not None:
                    sub.task.cancel()
        return discarded

    def publish(self, event: Event) -> None:
        """Queue ``event`` for every subscriber of its class. Never blocks, never raises for a
        subscriber's sake; after :meth:`close` the event is counted and ignored."""
        if self._closed:
            self.rejected_after_close += 1
            return
        self.published += 1
        for sub in self._subscriptions.get(type(event), ()):
            sub.offer(event)

    def start(self) -> None:
        """Start a task per subscriber. Must be called from inside the running loop."""
        self._started = True
        for sub in self._all:
            if sub.task is None:
                self._start_task(sub)

    def _start_task(self, sub: _Subscription[Any]) -> None:
        sub.task = asyncio.get_running_loop().create_task(
            sub.run(), name=f"bus-subscriber:{sub.name}"
        )

    def stats(self) -> list[SubscriberStats]:
        """Counters of every subscription."""
        return [sub.stats for sub in self._all]

    def track(self, task: asyncio.Task[Any], name: str) -> None:
        """Count ``task``, started by subscriber ``name``'s handler, as that event's work not
        done yet: the bus is not idle until it ends (the subscriber is not busy for it)."""
        if task.done():
            return
        self._tracked[task] = name
        task.add_done_callback(self._untrack)

    def _untrack(self, task: asyncio.Task[Any]) -> None:
        self._tracked.pop(task, None)

    def idle(self) -> bool:
        """Whether no subscriber has an event queued or in its handler right now, and no
        tracked task is running."""
        return not self._tracked and all(sub.is_idle() for sub in self._all)

    def busy(self, *names: str) -> bool:
        """Whether any of the named subscribers has an event queued or in its handler."""
        return any(not sub.is_idle() for sub in self._all if sub.name in names)

    async def close(self, timeout: float = 5.0) -> dict[str, int]:
        """Drain each subscriber for up to ``timeout`` seconds, then stop accepting events and
        cancel what is left. Returns ``{subscriber: events left undelivered}`` (empty when
        everything drained) and logs the leftovers, so a shutdown never hides lost work.

        Events that handlers publish *while draining* (an approved signal becoming an order
        intent, a fill becoming a trade event) are still delivered: the caller stops the
        outside sources (the poller) before closing. Closing again does nothing.
        """
        if self._closed:  # closed already: what was left was reported then
            return {}
        deadline = time.monotonic() + timeout
        while not self.idle() and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        self._closed = True
        leftover = {s.name: s.undelivered() for s in self._all if s.undelivered()}
        for name in self._tracked.values():  # their owner stops them (execution: its stop)
            leftover[name] = leftover.get(name, 0) + 1
        tasks = [s.task for s in self._all if s.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*(stop_task(task, timeout=2.0) for task in tasks))
        if leftover:
            _log.error("event bus closed with undelivered events", undelivered=leftover)
        return leftover
