"""The account's history: samples for the equity curves, and the curves with today's P/L.

Rules:

* **What is sampled**: the account the position manager read at each sync (its
  :class:`~forexbot.events.types.AccountEvent`), **at most once per trading-clock minute** —
  the first sync of each minute; the clock is the trading clock, so with ``--sim-speed`` the
  minutes are simulated ones (a sync every real second at speed 600 is one every 10 minutes:
  then every sync is sampled).
* **Never in the trading path's way**: the bus handler only appends to a list in memory; a
  background task writes what is pending every ``flush_interval`` seconds, in one transaction.
  A database error is logged (once per run of failures, then again when writing works) and
  the samples are kept for the next attempt; nothing stops.
* **No unwritten sample is lost but by the cap**: a write takes its batch out of the backlog;
  samples arriving meanwhile go to a fresh backlog, itself capped at ``max_backlog``. A failed
  (or cancelled) write puts its batch back in front, and the whole is capped at
  ``max_backlog``. Either cap drops the oldest, counted in :attr:`EquityHistory.dropped`. So a
  drop never touches a batch in flight, and a write that succeeds removes exactly what it wrote.
* **Retention**: samples older than 35 days are deleted, once per trading day (retried at the
  next flush when it fails).
* **The curves** (``GET /api/account/equity``): ``day`` runs from the start of the current
  trading day — the broker's server midnight, the boundary of the risk manager's daily loss
  limit (:func:`~forexbot.engine.risk.server_day`) — with one point per minute; ``month`` covers
  the last 30 days with one point per hour. A point is the last sample of its minute (hour),
  samples not written yet included; the current account, once read, is always the last point,
  at the trading clock's "now", in place of its own minute's (hour's) sample. At most
  :data:`MAX_POINTS` points, the newest.
* **Today's P/L** is what the daily loss limit measures: the current equity minus the risk
  manager's start equity of the current trading day (``day_start_equity``). Each is ``null``
  while unknown: no account read yet, or no equity observed yet on this trading day.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, Literal, Protocol

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from forexbot.clock import Clock, iso_utc
from forexbot.daemon.tasks import stop_task
from forexbot.database.equity_samples import EquitySample, EquitySampleRepository
from forexbot.domain.trading import AccountState
from forexbot.engine.guard import GuardState
from forexbot.engine.risk import server_day
from forexbot.events.bus import EventBus
from forexbot.events.types import AccountEvent

_log = structlog.get_logger("forexbot.monitoring.equity_history")

Range = Literal["day", "month"]

MINUTE = 60
HOUR = 3600
DAY = 86_400
#: How far back ``month`` reaches, and how long samples are kept (a little longer).
MONTH_SECONDS = 30 * DAY
KEEP_SECONDS = 35 * DAY
#: The most points a curve has (a day of minutes is 1,440, a month of hours 720).
MAX_POINTS = 1_500


class SampleStore(Protocol):
    """:class:`~forexbot.database.equity_samples.EquitySampleRepository`."""

    async def add(self, samples: Sequence[EquitySample]) -> int: ...

    async def downsampled(
        self, start: float, end: float, *, step: int, limit: int
    ) -> list[EquitySample]: ...

    async def delete_before(self, cutoff: float) -> int: ...


class SyncedAccount(Protocol):
    """The position manager's account as of its last sync."""

    @property
    def account(self) -> AccountState | None: ...


class DayGuard(Protocol):
    """The risk manager's account guard: its trading day and that day's start equity."""

    @property
    def guard_state(self) -> GuardState: ...


class ServerClock(Protocol):
    """The connector: the broker server's offset from UTC (seconds), learned at connect."""

    @property
    def server_offset(self) -> int: ...


def trading_day_start(now: float, server_offset: float) -> float:
    """UTC epoch seconds at which the broker's trading day containing ``now`` began (its
    server midnight): the day :func:`~forexbot.engine.risk.server_day` names."""
    return (now + server_offset) // DAY * DAY - server_offset


def _sample(account: AccountState, time: float) -> EquitySample:
    return EquitySample(time, account.balance, account.equity, account.margin, account.profit)


def _last_per_bucket(samples: list[EquitySample], step: int) -> list[EquitySample]:
    """The last sample of each ``step``-second bucket, oldest first (``samples`` in time
    order)."""
    last: dict[int, EquitySample] = {}
    for sample in samples:
        last[int(sample.time // step)] = sample
    return list(last.values())


class EquityHistory:
    """Samples the account and answers the equity curves (rules in the module docstring)."""

    def __init__(
        self,
        store: SampleStore,
        bus: EventBus,
        clock: Clock,
        account: SyncedAccount,
        guard: DayGuard,
        server_offset: Callable[[], float],
        *,
        flush_interval: float = 5.0,
        max_backlog: int = 10_000,
    ) -> None:
        self._store = store
        self._bus = bus
        self._clock = clock
        self._account = account
        self._guard = guard
        self._server_offset = server_offset
        self._flush_interval = flush_interval
        self._max_backlog = max_backlog
        self._pending: list[EquitySample] = []
        #: The batch being written (out of ``_pending``), for the curves meanwhile.
        self._in_flight: list[EquitySample] = []
        self._last_minute: int | None = None
        self._pruned_day: int | None = None
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._failing = False
        self.written = 0
        self.dropped = 0
        self.failures = 0

    @classmethod
    def for_daemon(
        cls,
        engine: AsyncEngine,
        bus: EventBus,
        clock: Clock,
        positions: SyncedAccount,
        risk: DayGuard,
        connector: ServerClock,
    ) -> EquityHistory:
        """The daemon's: samples in its database, the day boundary of its broker."""
        return cls(
            EquitySampleRepository(engine),
            bus,
            clock,
            positions,
            risk,
            lambda: connector.server_offset,
        )

    # -- sampling ---------------------------------------------------------------------------

    def subscribe(self) -> None:
        self._bus.subscribe(AccountEvent, self.on_account, name="equity-history")

    async def on_account(self, event: AccountEvent) -> None:
        """Keep the first account of each trading-clock minute (written later, in a batch)."""
        minute = int(event.time // MINUTE)
        if minute == self._last_minute:
            return
        self._last_minute = minute
        self._pending.append(_sample(event.account, event.time))
        self._cap_backlog()

    def _cap_backlog(self) -> None:
        """Drop the oldest pending samples beyond ``max_backlog``."""
        overflow = len(self._pending) - self._max_backlog
        if overflow > 0:
            del self._pending[:overflow]
            self.dropped += overflow
            _log.error("equity samples backlog full; oldest dropped", dropped=overflow)

    async def start(self) -> None:
        """Start writing every ``flush_interval`` seconds."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="equity-history")

    async def close(self) -> None:
        """Stop the periodic writes and write what is pending (a failure is logged)."""
        if self._task is not None:
            await stop_task(self._task)
            self._task = None
        await self.flush()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._flush_interval)
            await self.flush()

    async def flush(self) -> None:
        """Write the pending samples, then delete old ones if not done yet today. Never
        raises: a failure is logged and retried at the next flush."""
        async with self._lock:
            # Out of the backlog while written: a drop meanwhile cannot touch it.
            batch, self._pending = self._pending, []
            self._in_flight = batch
            try:
                try:
                    if batch:
                        self.written += await self._store.add(batch)
                except BaseException:
                    # Failed or cancelled: back in front of what arrived meanwhile.
                    self._pending[:0] = batch
                    self._cap_backlog()
                    raise
                finally:
                    self._in_flight = []
                await self._prune()
            except Exception as exc:
                self.failures += 1
                log = _log.debug if self._failing else _log.error
                log(
                    "equity samples not written; kept for the next attempt",
                    pending=len(self._pending),
                    error=str(exc),
                    error_type=type(exc).__name__,
                )
                self._failing = True
                return
            if self._failing:
                _log.info("equity samples written again")
            self._failing = False

    async def _prune(self) -> None:
        now = self._clock.time()
        day = int((now + self._server_offset()) // DAY)
        if day == self._pruned_day:
            return
        deleted = await self._store.delete_before(now - KEEP_SECONDS)
        self._pruned_day = day
        if deleted:
            _log.info("old equity samples deleted", deleted=deleted, days=KEEP_SECONDS // DAY)

    # -- the curves -------------------------------------------------------------------------

    async def curve(self, range_: Range) -> dict[str, Any]:
        """The equity curve of ``range_`` with today's P/L (see the module docstring)."""
        now = self._clock.time()
        offset = self._server_offset()
        if range_ == "day":
            start, step = trading_day_start(now, offset), MINUTE
        else:
            start, step = now - MONTH_SECONDS, HOUR
        stored = await self._store.downsampled(start, now, step=step, limit=MAX_POINTS)
        newest = stored[-1].time if stored else start - 1
        unwritten = [
            s
            for s in [*self._in_flight, *self._pending]
            if newest < s.time <= now and s.time >= start
        ]
        points = _last_per_bucket(stored + unwritten, step)
        account = self._account.account
        if account is not None:
            if points and int(points[-1].time // step) == int(now // step):
                points.pop()
            points.append(_sample(account, now))
        points = points[-MAX_POINTS:]

        state = self._guard.guard_state
        today = server_day(now, offset)
        day_start = state.day_start_equity if state.day == today else None
        pnl = None
        if account is not None and day_start is not None:
            pnl = round(account.equity - day_start, 2)
        return {
            "range": range_,
            "currency": None if account is None else account.currency,
            "start": _iso(start),
            "end": _iso(now),
            "day_start_equity": day_start,
            "today_pnl": pnl,
            "points": [
                {"time": _iso(p.time), "equity": p.equity, "balance": p.balance} for p in points
            ],
        }


def _iso(epoch: float) -> str:
    return iso_utc(round(epoch, 3), timespec="milliseconds")
