"""SystemLogRepository: append audit entries, read the newest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from forexbot.database.system_logs import SystemLogRepository

pytestmark = pytest.mark.db

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def repo(db_engine: AsyncEngine) -> SystemLogRepository:
    return SystemLogRepository(db_engine)


async def test_add_stores_every_field(repo: SystemLogRepository) -> None:
    entry_id = await repo.add(
        level="warning",
        component="api",
        event="login_failed",
        message="login refused",
        context={"username": "eve", "attempt": 3},
        actor="eve",
        source_ip="203.0.113.9",
        time=T0,
    )
    [entry] = await repo.recent(10)
    assert entry.id == entry_id
    assert (entry.level, entry.component, entry.event) == ("warning", "api", "login_failed")
    assert entry.message == "login refused"
    assert entry.context == {"username": "eve", "attempt": 3}
    assert (entry.actor, entry.source_ip) == ("eve", "203.0.113.9")
    assert entry.time == T0
    assert entry.to_api()["time"] == "2024-05-01T08:00:00Z"


async def test_time_defaults_to_now(repo: SystemLogRepository) -> None:
    before = datetime.now(UTC) - timedelta(seconds=5)
    await repo.add(level="info", component="app", event="started", message="up", context={})
    [entry] = await repo.recent(1)
    assert entry.time >= before
    assert entry.actor is None


async def test_recent_is_newest_first_limited_and_filtered(repo: SystemLogRepository) -> None:
    for minute, component in enumerate(["api", "engine", "api", "engine", "api"]):
        await repo.add(
            level="info",
            component=component,
            event=f"e{minute}",
            message="",
            context={},
            time=T0 + timedelta(minutes=minute),
        )
    assert [e.event for e in await repo.recent(3)] == ["e4", "e3", "e2"]
    assert [e.event for e in await repo.recent(10, component="engine")] == ["e3", "e1"]


async def test_level_is_validated(repo: SystemLogRepository) -> None:
    with pytest.raises(ValueError, match="unknown log level 'loud'"):
        await repo.add(level="loud", component="x", event="y", message="z", context={})
    entry_id = await repo.add(level="ERROR", component="x", event="y", message="z", context={})
    assert [(e.id, e.level) for e in await repo.recent(1)] == [(entry_id, "error")]
