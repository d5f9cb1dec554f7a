"""The kill switch is never lost on a restart: persisted first (latch file), stored in the real
PostgreSQL whatever text its reason holds, loud when a write fails, and failing safe (still
halted after a restart) when the database did not record it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from forexbot.clock import ManualClock
from forexbot.config.models import RiskSettings
from forexbot.database.system_config import SystemConfigRepository
from forexbot.domain.market import SymbolSpec, Tick
from forexbot.domain.trading import AccountState, Side
from forexbot.engine.exposure import Holding
from forexbot.engine.in_flight import OrdersInFlight
from forexbot.engine.kill_latch import KillSwitchLatch, LatchRecord
from forexbot.engine.risk import RiskManager
from forexbot.engine.risk_state import STATE_KEY
from forexbot.errors import DatabaseError, PersistenceError, StateConflictError
from forexbot.events.bus import EventBus
from forexbot.events.types import AccountEvent, RiskLimitEvent

pytestmark = pytest.mark.db

NOW = 1_764_000_000.0
REASON_WITH_NUL = "news\x00 at 14:30 \ud800 \u202e"


class NoMarket:
    def spec(self, symbol: str) -> SymbolSpec:
        raise AssertionError("no market access expected")

    def last_tick(self, symbol: str) -> Tick | None:
        return None

    def polled_account(self) -> AccountState | None:
        return None  # no poll snapshot: the risk manager asks account()

    async def polled_margin(
        self, side: Side, symbol: str, volume: float, price: float
    ) -> float | None:
        return None

    async def account(self) -> AccountState:
        return AccountState("USD", 10_000.0, 10_000.0, 0.0, 10_000.0, 100)

    async def order_calc_margin(
        self, side: Side, symbol: str, volume: float, price: float
    ) -> float:
        return 0.0


class NoPositions:
    def open_count(self, symbol: str | None = None) -> int:
        return 0

    def holdings(self) -> list[Holding]:
        return []


class Journal:
    def __init__(self) -> None:
        self.events: list[str] = []

    async def add(self, *, event: str, **_: Any) -> int:
        self.events.append(event)
        return len(self.events)


class LatchWitnessCloser:
    """Closes positions, noting whether the latch file was already written at that moment."""

    def __init__(self, latch: KillSwitchLatch) -> None:
        self.latch = latch
        self.latched_when_closing: list[bool] = []

    async def close_all(self, reason: str) -> int:
        self.latched_when_closing.append(self.latch.path.exists())
        return 3

    async def close_opposite(self, signal: object) -> int:
        return 0


class DownStore:
    """The database gone: every write and read fails as the repository reports it."""

    def __init__(self) -> None:
        self.puts = 0

    async def get(self, key: str) -> dict[str, Any] | None:
        return None

    async def put(self, key: str, value: Mapping[str, Any], *, updated_by: str | None) -> None:
        self.puts += 1
        raise DatabaseError(f"writing system setting {key!r} failed: connection refused")


class ComingBackStore(DownStore):
    """Down until ``back`` is set, then the real repository (the database is back)."""

    def __init__(self) -> None:
        super().__init__()
        self.back: SystemConfigRepository | None = None

    async def put(self, key: str, value: Mapping[str, Any], *, updated_by: str | None) -> None:
        if self.back is None:
            await super().put(key, value, updated_by=updated_by)
        else:
            await self.back.put(key, value, updated_by=updated_by)


def risk_manager(
    store: Any,
    latch: KillSwitchLatch | None,
    bus: EventBus,
    closer: Any = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> RiskManager:
    return RiskManager(
        RiskSettings(),
        NoMarket(),
        NoPositions(),
        bus,
        ManualClock(NOW),
        Journal(),
        orders=OrdersInFlight(),
        store=store,
        closer=closer,
        latch=latch,
        monotonic=monotonic,
    )


@pytest_asyncio.fixture(loop_scope="function")
async def bus() -> AsyncIterator[EventBus]:
    events = EventBus()
    events.start()
    yield events
    await events.close(timeout=0.5)


@pytest.fixture
def latch(tmp_path: Path) -> KillSwitchLatch:
    return KillSwitchLatch(tmp_path / "kill_switch.json")


async def test_a_reason_postgresql_cannot_hold_is_stored_and_the_switch_survives_a_restart(
    db_engine: AsyncEngine, bus: EventBus
) -> None:
    store = SystemConfigRepository(db_engine)
    first = risk_manager(store, None, bus)
    await first.trip_kill_switch(REASON_WITH_NUL, actor="admin")
    assert first.problems() == {}

    restarted = risk_manager(SystemConfigRepository(db_engine), None, bus)
    await restarted.start()
    assert restarted.guard_state.kill_switch is True
    assert restarted.guard_state.kill_reason == "news\\x00 at 14:30 \\ud800 \u202e"


async def test_the_latch_is_written_before_any_position_is_closed(
    bus: EventBus, latch: KillSwitchLatch
) -> None:
    closer = LatchWitnessCloser(latch)
    risk = risk_manager(DownStore(), latch, bus, closer)
    closed = await risk.trip_kill_switch("news", actor="admin")
    assert closed == 3
    assert closer.latched_when_closing == [True]
    record = latch.read()
    assert record is not None
    assert (record.code, record.reason, record.time) == ("manual", "news", NOW)


async def test_with_the_database_down_a_restart_is_still_halted_by_the_latch(
    db_engine: AsyncEngine, bus: EventBus, latch: KillSwitchLatch
) -> None:
    tripped = risk_manager(DownStore(), latch, bus)
    await tripped.trip_kill_switch(REASON_WITH_NUL, actor="admin")

    # The database never heard of it: it still holds the state of before.
    restarted = risk_manager(SystemConfigRepository(db_engine), latch, bus)
    await restarted.start()
    assert restarted.halted() == "kill switch: news\\x00 at 14:30 \\ud800 \u202e"
    assert (await SystemConfigRepository(db_engine).get(STATE_KEY) or {})["kill_switch"] is True


async def test_a_failed_save_is_a_problem_for_health_and_an_event_for_the_phone(
    bus: EventBus, latch: KillSwitchLatch
) -> None:
    alerts: list[RiskLimitEvent] = []

    async def on_limit(event: RiskLimitEvent) -> None:
        alerts.append(event)

    bus.subscribe(RiskLimitEvent, on_limit, name="test-alerts")
    risk = risk_manager(DownStore(), latch, bus)
    await risk.trip_kill_switch("news", actor="admin")
    await asyncio.sleep(0.05)
    message = (
        "the risk state could not be saved: writing system setting 'risk.state' failed: "
        "connection refused"
    )
    assert risk.problems() == {"risk_state_not_saved": message}
    assert risk.state_save_failures == 1
    assert [(a.code, a.message) for a in alerts] == [("state_not_saved", message)]


async def test_a_save_that_keeps_failing_is_logged_once_a_minute_not_every_second(
    bus: EventBus, latch: KillSwitchLatch
) -> None:
    store = DownStore()
    seconds = ManualClock(0.0)  # real seconds, as the daemon counts them between log lines
    risk = risk_manager(store, latch, bus, monotonic=seconds.time)
    with structlog.testing.capture_logs() as logs:
        await risk.trip_kill_switch("news", actor="admin")
        for second in range(1, 150):
            seconds.advance(1.0)
            account = AccountState("USD", 10_000.0, 10_000.0 - second, 0.0, 9_000.0, 100)
            await risk.on_account(AccountEvent(account, NOW + second))
    assert store.puts == 150
    unsaved = [e for e in logs if e["event"].startswith("the risk state could not be saved")]
    assert [e["log_level"] for e in unsaved] == ["critical"] * 3  # at 0 s, 60 s and 120 s


async def test_a_save_that_succeeds_again_clears_the_problem(
    db_engine: AsyncEngine, bus: EventBus, latch: KillSwitchLatch
) -> None:
    store = ComingBackStore()
    risk = risk_manager(store, latch, bus)
    await risk.trip_kill_switch("news", actor="admin")
    assert list(risk.problems()) == ["risk_state_not_saved"]
    store.back = SystemConfigRepository(db_engine)  # the database is back
    account = AccountState("USD", 10_000.0, 9_990.0, 0.0, 9_000.0, 100)
    await risk.on_account(AccountEvent(account, NOW + 1))
    assert risk.problems() == {}


async def test_resume_with_the_database_down_keeps_trading_halted_and_latched(
    bus: EventBus, latch: KillSwitchLatch
) -> None:
    risk = risk_manager(DownStore(), latch, bus)
    await risk.trip_kill_switch("news", actor="admin")
    with pytest.raises(DatabaseError):
        await risk.resume(actor="admin")
    assert risk.halted() == "kill switch: news"
    assert latch.read() == LatchRecord("manual", "news", NOW)


async def test_resume_is_stored_then_releases_the_latch(
    db_engine: AsyncEngine, bus: EventBus, latch: KillSwitchLatch
) -> None:
    risk = risk_manager(SystemConfigRepository(db_engine), latch, bus)
    await risk.trip_kill_switch("news", actor="admin")
    await risk.resume(actor="admin")
    assert risk.halted() is None
    assert latch.read() is None
    restarted = risk_manager(SystemConfigRepository(db_engine), latch, bus)
    await restarted.start()
    assert restarted.halted() is None


async def test_a_latch_that_cannot_be_released_keeps_trading_halted_after_a_restart(
    db_engine: AsyncEngine, bus: EventBus, latch: KillSwitchLatch, monkeypatch: pytest.MonkeyPatch
) -> None:
    risk = risk_manager(SystemConfigRepository(db_engine), latch, bus)
    await risk.trip_kill_switch("news", actor="admin")

    def read_only_disk() -> None:
        raise PermissionError(30, "Read-only file system")

    monkeypatch.setattr(latch, "release", read_only_disk)
    with pytest.raises(PersistenceError, match="could not be released"):
        await risk.resume(actor="admin")
    assert risk.halted() == "kill switch: news"
    stored = await SystemConfigRepository(db_engine).get(STATE_KEY)
    assert stored is not None
    assert stored["kill_switch"] is True  # the database says halted again, like the latch
    monkeypatch.undo()
    restarted = risk_manager(SystemConfigRepository(db_engine), latch, bus)
    await restarted.start()
    assert restarted.halted() == "kill switch: news"


async def test_a_damaged_latch_file_halts_trading(
    db_engine: AsyncEngine, bus: EventBus, latch: KillSwitchLatch
) -> None:
    latch.path.write_text('{"code": "manual", "rea')
    risk = risk_manager(SystemConfigRepository(db_engine), latch, bus)
    await risk.start()
    assert risk.guard_state.kill_switch is True
    assert risk.guard_state.kill_code == "latch_unreadable"


async def test_a_switch_on_in_the_database_but_not_latched_is_latched_at_start(
    db_engine: AsyncEngine, bus: EventBus, latch: KillSwitchLatch
) -> None:
    await risk_manager(SystemConfigRepository(db_engine), None, bus).trip_kill_switch(
        "news", actor="admin"
    )
    restarted = risk_manager(SystemConfigRepository(db_engine), latch, bus)
    await restarted.start()
    record = latch.read()
    assert record is not None
    assert record.reason == "news"


class SlowStore:
    """The database, taking its time to answer a write (a busy server)."""

    def __init__(self, inner: SystemConfigRepository) -> None:
        self.inner = inner
        self.writing = asyncio.Event()
        self.proceed = asyncio.Event()

    async def get(self, key: str) -> dict[str, Any] | None:
        return await self.inner.get(key)

    async def put(self, key: str, value: Mapping[str, Any], *, updated_by: str | None) -> None:
        if not value.get("kill_switch"):  # hold the resume's write, not the trips'
            self.writing.set()
            await self.proceed.wait()
        await self.inner.put(key, value, updated_by=updated_by)


async def test_a_kill_switch_tripped_while_a_resume_is_being_saved_wins(
    db_engine: AsyncEngine, bus: EventBus, latch: KillSwitchLatch
) -> None:
    """A trip never waits for a resume, and a resume never undoes a trip made meanwhile."""
    store = SlowStore(SystemConfigRepository(db_engine))
    risk = risk_manager(store, latch, bus)
    await risk.trip_kill_switch("first", actor="admin")
    resuming = asyncio.create_task(risk.resume(actor="admin"))
    await store.writing.wait()
    await risk.trip_kill_switch("second", actor="trader")  # not blocked by the resume
    store.proceed.set()
    with pytest.raises(StateConflictError, match="tripped again while resuming"):
        await resuming
    assert risk.halted() == "kill switch: second"
    record = latch.read()
    assert record is not None
    assert record.reason == "second"
    stored = await SystemConfigRepository(db_engine).get(STATE_KEY)
    assert stored is not None
    assert (stored["kill_switch"], stored["kill_reason"]) == (True, "second")
