"""The equity history: minute sampling off the bus, batched writes that survive a database
error, 35-day retention, and the day/month curves with today's P/L."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
import pytest_asyncio
from polling import eventually
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine
from structlog.testing import LogCapture

from forexbot.clock import ManualClock
from forexbot.database.equity_samples import EquitySample, EquitySampleRepository
from forexbot.database.tables import equity_samples
from forexbot.domain.trading import AccountState
from forexbot.engine.guard import GuardState
from forexbot.engine.risk import server_day
from forexbot.errors import DatabaseError
from forexbot.events.bus import EventBus
from forexbot.events.types import AccountEvent
from forexbot.monitoring.equity_history import EquityHistory, trading_day_start

pytestmark = pytest.mark.db

NOW = datetime(2026, 3, 10, 10, 0, tzinfo=UTC).timestamp()  # a Tuesday, on a whole hour
DAY = 86_400.0
OFFSET = 7_200.0  # the broker's server runs at UTC+2: its day starts at 22:00 UTC


def account(equity: float, balance: float = 10_000.0) -> AccountState:
    return AccountState(
        currency="USD",
        balance=balance,
        equity=equity,
        margin=100.0,
        margin_free=equity - 100.0,
        leverage=100,
        profit=equity - balance,
    )


@dataclass
class Synced:
    """The position manager's view: the account of its last sync."""

    account: AccountState | None = None


@dataclass
class Guard:
    """The risk manager's view: its guard state."""

    guard_state: GuardState


@dataclass
class Rig:
    history: EquityHistory
    bus: EventBus
    clock: ManualClock
    synced: Synced
    guard: Guard
    engine: AsyncEngine

    async def sync(self, at: float, equity: float) -> None:
        """A position sync at ``at`` reading ``equity``, delivered."""
        self.bus.publish(AccountEvent(account(equity), at))
        await eventually(self.bus.idle, timeout=5.0, what="the account event delivered")

    async def stored(self) -> list[tuple[float, float]]:
        """(seconds from NOW, equity) of the rows in the table."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(equity_samples.c.time, equity_samples.c.equity).order_by("time")
            )
            return [(r.time.timestamp() - NOW, float(r.equity)) for r in rows]


@pytest_asyncio.fixture(loop_scope="function")
async def rig(db_engine: AsyncEngine) -> AsyncIterator[Rig]:
    bus = EventBus()
    clock = ManualClock(NOW)
    synced = Synced()
    guard = Guard(GuardState())
    history = EquityHistory(
        EquitySampleRepository(db_engine),
        bus,
        clock,
        synced,
        guard,
        lambda: OFFSET,
        flush_interval=3600.0,  # the tests flush when they mean to
    )
    history.subscribe()
    bus.start()
    yield Rig(history, bus, clock, synced, guard, db_engine)
    await history.close()
    await bus.close(timeout=1.0)


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


# -- sampling ---------------------------------------------------------------------------------


async def test_the_first_account_of_each_trading_minute_is_sampled(rig: Rig) -> None:
    for at, equity in [(1, 1.0), (30, 2.0), (61, 3.0), (119, 4.0), (120, 5.0), (300, 6.0)]:
        await rig.sync(NOW + at, equity)
    await rig.history.flush()
    assert await rig.stored() == [(1.0, 1.0), (61.0, 3.0), (120.0, 5.0), (300.0, 6.0)]


async def test_samples_are_written_only_by_a_flush_but_the_curve_shows_them_at_once(
    rig: Rig,
) -> None:
    rig.clock.set(NOW + 600)
    await rig.sync(NOW + 60, 10_001.0)
    await rig.sync(NOW + 120, 10_002.0)
    assert await rig.stored() == []
    curve = await rig.history.curve("day")
    assert [p["equity"] for p in curve["points"]] == [10_001.0, 10_002.0]
    await rig.history.flush()
    assert await rig.stored() == [(60.0, 10_001.0), (120.0, 10_002.0)]
    assert rig.history.written == 2
    assert [p["equity"] for p in (await rig.history.curve("day"))["points"]] == [
        10_001.0,
        10_002.0,
    ]


async def test_the_periodic_task_writes_without_being_asked(db_engine: AsyncEngine) -> None:
    bus = EventBus()
    history = EquityHistory(
        EquitySampleRepository(db_engine),
        bus,
        ManualClock(NOW),
        Synced(),
        Guard(GuardState()),
        lambda: 0.0,
        flush_interval=0.01,
    )
    history.subscribe()
    bus.start()
    await history.start()
    try:
        bus.publish(AccountEvent(account(10_003.0), NOW))
        await eventually(lambda: history.written == 1, timeout=5.0, what="the sample written")
    finally:
        await history.close()
        await bus.close(timeout=1.0)


async def test_close_writes_what_is_pending(rig: Rig) -> None:
    await rig.sync(NOW + 5, 10_004.0)
    await rig.history.close()
    assert await rig.stored() == [(5.0, 10_004.0)]


async def test_a_database_error_is_logged_and_the_samples_are_written_at_the_next_flush(
    rig: Rig, logs: LogCapture
) -> None:
    await rig.sync(NOW + 1, 10_001.0)
    async with rig.engine.begin() as conn:
        await conn.execute(text("ALTER TABLE equity_samples RENAME TO equity_samples_away"))
    try:
        await rig.history.flush()  # does not raise
        await rig.sync(NOW + 61, 10_002.0)
        await rig.history.flush()
    finally:
        async with rig.engine.begin() as conn:
            await conn.execute(text("ALTER TABLE equity_samples_away RENAME TO equity_samples"))
    assert rig.history.failures == 2
    errors = [e for e in logs.entries if e["log_level"] == "error"]
    assert len(errors) == 1  # once per run of failures
    assert errors[0]["event"] == "equity samples not written; kept for the next attempt"
    assert "equity_samples" in errors[0]["error"]
    await rig.history.flush()
    assert await rig.stored() == [(1.0, 10_001.0), (61.0, 10_002.0)]
    assert any(e["event"] == "equity samples written again" for e in logs.entries)


async def test_a_full_backlog_drops_the_oldest_samples(db_engine: AsyncEngine) -> None:
    history = EquityHistory(
        EquitySampleRepository(db_engine),
        EventBus(),
        ManualClock(NOW + 600),
        Synced(),
        Guard(GuardState()),
        lambda: 0.0,
        max_backlog=3,
    )
    for minute in range(5):
        await history.on_account(AccountEvent(account(float(minute)), NOW + 60 * minute))
    assert history.dropped == 2
    await history.flush()
    curve = await history.curve("day")
    assert [p["equity"] for p in curve["points"]] == [2.0, 3.0, 4.0]


class GatedStore:
    """The real repository, but a write waits for ``gate`` and then raises when ``fail`` is
    set: a database that is slow (or lost) while samples keep coming."""

    def __init__(self, repo: EquitySampleRepository) -> None:
        self.repo = repo
        self.gate = asyncio.Event()
        self.entered = asyncio.Event()
        self.fail = False

    async def add(self, samples: Sequence[EquitySample]) -> int:
        self.entered.set()
        await self.gate.wait()
        if self.fail:
            raise DatabaseError("storing equity samples failed: connection lost")
        return await self.repo.add(samples)

    async def downsampled(
        self, start: float, end: float, *, step: int, limit: int
    ) -> list[EquitySample]:
        return await self.repo.downsampled(start, end, step=step, limit=limit)

    async def delete_before(self, cutoff: float) -> int:
        return await self.repo.delete_before(cutoff)


def gated_history(store: GatedStore, max_backlog: int) -> EquityHistory:
    return EquityHistory(
        store,
        EventBus(),
        ManualClock(NOW + 3_600),
        Synced(),
        Guard(GuardState()),
        lambda: 0.0,
        max_backlog=max_backlog,
    )


async def minutes(history: EquityHistory, *range_args: int) -> None:
    """One account event per minute ``m`` of ``range(*range_args)``, equity ``m``."""
    for minute in range(*range_args):
        await history.on_account(AccountEvent(account(float(minute)), NOW + 60 * minute))


async def stored_equities(engine: AsyncEngine) -> list[float]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(equity_samples.c.equity).order_by("time"))
        return [float(r.equity) for r in rows]


async def test_an_overflow_during_a_write_loses_none_of_the_batch_or_of_the_newest(
    db_engine: AsyncEngine,
) -> None:
    store = GatedStore(EquitySampleRepository(db_engine))
    history = gated_history(store, max_backlog=3)
    await minutes(history, 0, 3)
    flush = asyncio.create_task(history.flush())
    await asyncio.wait_for(store.entered.wait(), 5.0)
    await minutes(history, 3, 7)  # four arrive while three are being written: one too many
    store.gate.set()
    await flush
    assert await stored_equities(db_engine) == [0.0, 1.0, 2.0]
    assert history.dropped == 1  # minute 3, the oldest of the backlog that arrived meanwhile
    await history.flush()
    assert await stored_equities(db_engine) == [0.0, 1.0, 2.0, 4.0, 5.0, 6.0]
    assert history.written == 6


async def test_a_failed_write_puts_its_batch_back_in_front_capped_to_the_newest(
    db_engine: AsyncEngine,
) -> None:
    store = GatedStore(EquitySampleRepository(db_engine))
    store.fail = True
    history = gated_history(store, max_backlog=4)
    await minutes(history, 0, 3)
    flush = asyncio.create_task(history.flush())
    await asyncio.wait_for(store.entered.wait(), 5.0)
    await minutes(history, 3, 6)
    store.gate.set()
    await flush  # logged, not raised
    assert (history.failures, history.dropped) == (1, 2)  # six unwritten, four kept
    store.fail = False
    await history.flush()
    assert await stored_equities(db_engine) == [2.0, 3.0, 4.0, 5.0]


async def test_the_curve_shows_the_samples_being_written(db_engine: AsyncEngine) -> None:
    store = GatedStore(EquitySampleRepository(db_engine))
    history = gated_history(store, max_backlog=10)
    await minutes(history, 0, 2)
    flush = asyncio.create_task(history.flush())
    await asyncio.wait_for(store.entered.wait(), 5.0)
    await minutes(history, 2, 3)
    assert [p["equity"] for p in (await history.curve("day"))["points"]] == [0.0, 1.0, 2.0]
    store.gate.set()
    await flush


async def test_a_write_cancelled_at_close_is_written_by_closes_last_flush(
    db_engine: AsyncEngine,
) -> None:
    store = GatedStore(EquitySampleRepository(db_engine))
    history = EquityHistory(
        store,
        EventBus(),
        ManualClock(NOW + 3_600),
        Synced(),
        Guard(GuardState()),
        lambda: 0.0,
        flush_interval=0.01,
    )
    await minutes(history, 0, 2)
    await history.start()
    await asyncio.wait_for(store.entered.wait(), 5.0)
    closing = asyncio.create_task(history.close())  # cancels the periodic write, then flushes
    await asyncio.sleep(0.05)
    store.gate.set()
    await closing
    assert await stored_equities(db_engine) == [0.0, 1.0]


# -- retention --------------------------------------------------------------------------------


async def test_samples_older_than_35_days_are_deleted_once_per_trading_day(rig: Rig) -> None:
    repo = EquitySampleRepository(rig.engine)
    old, kept = NOW - 35 * DAY - 1, NOW - 35 * DAY + 1
    await repo.add([EquitySample(t, 1.0, 1.0, 0.0, 0.0) for t in (old, kept)])
    await rig.history.flush()
    assert [round(t) for t, _ in await rig.stored()] == [round(kept - NOW)]
    # Later the same trading day: nothing is deleted, even what has grown old meanwhile.
    rig.clock.set(NOW + 3_600)
    await rig.history.flush()
    assert len(await rig.stored()) == 1
    # The next trading day (the server's midnight is 22:00 UTC): pruned again.
    rig.clock.set(NOW + 12 * 3_600)
    await rig.history.flush()
    assert await rig.stored() == []


# -- the curves -------------------------------------------------------------------------------


def test_the_trading_day_starts_at_the_brokers_midnight() -> None:
    start = trading_day_start(NOW, OFFSET)
    assert datetime.fromtimestamp(start, UTC) == datetime(2026, 3, 9, 22, 0, tzinfo=UTC)
    assert server_day(start, OFFSET) == server_day(NOW, OFFSET) == "2026-03-10"
    assert server_day(start - 0.001, OFFSET) == "2026-03-09"
    assert trading_day_start(start, OFFSET) == start


async def test_the_day_curve_runs_from_the_brokers_midnight_one_point_per_minute(
    rig: Rig,
) -> None:
    midnight = NOW - 12 * 3_600  # 22:00 UTC the day before
    repo = EquitySampleRepository(rig.engine)
    await repo.add(
        [
            EquitySample(midnight - 1, 1.0, 1.0, 0.0, 0.0),  # the day before: left out
            EquitySample(midnight, 10_000.0, 10_000.0, 0.0, 0.0),
            EquitySample(midnight + 61, 10_000.0, 10_001.0, 0.0, 1.0),
            EquitySample(midnight + 62, 10_000.0, 10_002.0, 0.0, 2.0),  # same minute: wins
        ]
    )
    rig.clock.set(NOW + 30)
    rig.synced.account = account(10_010.0)
    curve = await rig.history.curve("day")
    assert (curve["range"], curve["currency"]) == ("day", "USD")
    assert curve["start"] == "2026-03-09T22:00:00.000Z"
    assert curve["end"] == "2026-03-10T10:00:30.000Z"
    assert curve["points"] == [
        {"time": "2026-03-09T22:00:00.000Z", "equity": 10_000.0, "balance": 10_000.0},
        {"time": "2026-03-09T22:01:02.000Z", "equity": 10_002.0, "balance": 10_000.0},
        {"time": "2026-03-10T10:00:30.000Z", "equity": 10_010.0, "balance": 10_000.0},
    ]


async def test_the_account_now_replaces_the_sample_of_its_own_minute(rig: Rig) -> None:
    await rig.sync(NOW - 61, 10_001.0)
    await rig.sync(NOW + 5, 10_002.0)
    rig.clock.set(NOW + 50)
    rig.synced.account = account(10_003.0)
    points = (await rig.history.curve("day"))["points"]
    assert [(p["time"], p["equity"]) for p in points] == [
        (iso(NOW - 61), 10_001.0),
        (iso(NOW + 50), 10_003.0),
    ]


async def test_the_month_curve_has_the_last_sample_of_each_hour(rig: Rig) -> None:
    repo = EquitySampleRepository(rig.engine)
    await repo.add(
        [
            EquitySample(NOW - 31 * DAY, 1.0, 1.0, 0.0, 0.0),  # older than 30 days: left out
            *(
                EquitySample(NOW - 3 * DAY + 60 * m, 10_000.0, 10_000.0 + m, 0.0, 0.0)
                for m in range(0, 150, 10)
            ),
        ]
    )
    await rig.sync(NOW - 1_800, 10_500.0)  # this hour, not written yet
    rig.clock.set(NOW + 600)
    rig.synced.account = account(10_600.0)
    curve = await rig.history.curve("month")
    assert curve["start"] == iso(NOW + 600 - 30 * DAY)
    assert [(p["time"], p["equity"]) for p in curve["points"]] == [
        (iso(NOW - 3 * DAY + 50 * 60), 10_050.0),
        (iso(NOW - 3 * DAY + 110 * 60), 10_110.0),
        (iso(NOW - 3 * DAY + 140 * 60), 10_140.0),
        (iso(NOW - 1_800), 10_500.0),
        (iso(NOW + 600), 10_600.0),
    ]


async def test_today_pnl_is_equity_now_minus_the_risk_managers_day_start(rig: Rig) -> None:
    rig.guard.guard_state = GuardState(day="2026-03-10", day_start_equity=10_000.1)
    rig.synced.account = account(10_012.6)
    curve = await rig.history.curve("day")
    assert (curve["day_start_equity"], curve["today_pnl"]) == (10_000.1, 12.5)


async def test_a_day_start_of_another_trading_day_is_not_todays(rig: Rig) -> None:
    rig.guard.guard_state = GuardState(day="2026-03-09", day_start_equity=9_000.0)
    rig.synced.account = account(10_012.5)
    curve = await rig.history.curve("day")
    assert (curve["day_start_equity"], curve["today_pnl"]) == (None, None)


async def test_before_the_account_is_read_there_is_no_pnl_currency_or_live_point(
    rig: Rig,
) -> None:
    rig.guard.guard_state = GuardState(day="2026-03-10", day_start_equity=10_000.0)
    curve = await rig.history.curve("day")
    assert curve == {
        "range": "day",
        "currency": None,
        "start": "2026-03-09T22:00:00.000Z",
        "end": "2026-03-10T10:00:00.000Z",
        "day_start_equity": 10_000.0,
        "today_pnl": None,
        "points": [],
    }


async def test_a_day_of_samples_is_at_most_one_point_per_minute(rig: Rig) -> None:
    repo = EquitySampleRepository(rig.engine)
    midnight = NOW - 12 * 3_600
    await repo.add(
        [EquitySample(midnight + 20 * s, 1.0, float(s), 0.0, 0.0) for s in range(3 * 12 * 60)]
    )
    rig.synced.account = account(2.0)
    points = (await rig.history.curve("day"))["points"]
    assert len(points) == 12 * 60 + 1
    assert points[0]["equity"] == 2.0  # the last of the first minute's three samples
    async with rig.engine.connect() as conn:
        rows = (await conn.execute(select(func.count()).select_from(equity_samples))).scalar()
    assert rows == 3 * 12 * 60
