"""Writers that persist bus events in batches, off the trading path.

The trading path never waits for the database: a writer subscribes to the bus, collects events
and writes them in one round trip per batch, every ``flush_interval`` seconds or when a batch is
full. A failed write is logged and the batch kept for the next attempt (bounded, so a database
outage cannot exhaust memory; what is dropped past the bound is logged with its count).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Protocol

import structlog

from forexbot.domain.market import Bar
from forexbot.events.bus import EventBus
from forexbot.events.types import BarEvent

_log = structlog.get_logger("forexbot.database.writers")


class BarStore(Protocol):
    async def upsert_bars(self, bars: Sequence[Bar]) -> int: ...


class BarWriter:
    """Persists closed bars into ``market_data``."""

    def __init__(
        self,
        store: BarStore,
        bus: EventBus,
        flush_interval: float,
        batch_size: int = 1000,
        max_backlog: int = 100_000,
    ) -> None:
        self._store = store
        self._bus = bus
        self._flush_interval = flush_interval
        self._batch_size = batch_size
        self._max_backlog = max_backlog
        self._pending: list[Bar] = []
        self._lock = asyncio.Lock()
        self._timer: asyncio.TimerHandle | None = None
        self._flush_task: asyncio.Task[None] | None = None
        self.written = 0
        self.dropped = 0
        self.failures = 0

    def subscribe(self) -> None:
        self._bus.subscribe(BarEvent, self.on_bar, name="bar-writer")

    async def on_bar(self, event: BarEvent) -> None:
        self._pending.append(event.bar)
        if len(self._pending) >= self._batch_size:
            await self.flush()
        elif self._timer is None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self._flush_interval, self._schedule_flush)

    def _schedule_flush(self) -> None:
        self._timer = None
        self._flush_task = asyncio.get_running_loop().create_task(self.flush())

    async def flush(self) -> None:
        """Write what is pending now. Safe to call at any time (shutdown calls it)."""
        async with self._lock:
            if not self._pending:
                return
            batch, self._pending = self._pending, []
            try:
                self.written += await self._store.upsert_bars(batch)
            except Exception:
                self.failures += 1
                _log.exception(
                    "could not write bars; keeping them for the next flush", bars=len(batch)
                )
                self._pending = batch + self._pending
                overflow = len(self._pending) - self._max_backlog
                if overflow > 0:
                    del self._pending[:overflow]
                    self.dropped += overflow
                    _log.error("bar backlog full; oldest bars dropped", dropped=overflow)

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._flush_task is not None:
            with contextlib.suppress(Exception):
                await self._flush_task
        await self.flush()
