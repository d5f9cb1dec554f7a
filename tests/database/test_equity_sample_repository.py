"""equity_samples: exact money, idempotent writes, downsampling in the database, pruning."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from forexbot.database.equity_samples import EquitySample, EquitySampleRepository
from forexbot.database.tables import equity_samples

pytestmark = pytest.mark.db

T0 = datetime(2026, 3, 10, 10, 0, tzinfo=UTC).timestamp()  # on a whole hour


def sample(at: float, equity: float = 10_000.0) -> EquitySample:
    return EquitySample(at, 10_000.0, equity, 120.0, equity - 10_000.0)


async def test_money_is_stored_exactly_and_read_back_as_floats(db_engine: AsyncEngine) -> None:
    repo = EquitySampleRepository(db_engine)
    assert await repo.add([EquitySample(T0 + 0.25, 10_000.1, 10_012.37, 33.3, 12.27)]) == 1
    async with db_engine.connect() as conn:
        row = (await conn.execute(select(equity_samples))).mappings().one()
    assert row["time"] == datetime(2026, 3, 10, 10, 0, 0, 250_000, tzinfo=UTC)
    assert (row["balance"], row["equity"], row["margin"], row["floating_profit"]) == (
        Decimal("10000.1"),
        Decimal("10012.37"),
        Decimal("33.3"),
        Decimal("12.27"),
    )
    assert await repo.downsampled(T0, T0 + 60, step=60, limit=10) == [
        EquitySample(T0 + 0.25, 10_000.1, 10_012.37, 33.3, 12.27)
    ]


async def test_writing_a_stored_time_again_changes_nothing(db_engine: AsyncEngine) -> None:
    repo = EquitySampleRepository(db_engine)
    assert await repo.add([sample(T0, 10_001.0), sample(T0 + 60)]) == 2
    assert await repo.add([sample(T0, 9_000.0), sample(T0 + 120)]) == 1
    stored = await repo.downsampled(T0, T0 + 600, step=1, limit=10)
    assert [(s.time - T0, s.equity) for s in stored] == [
        (0.0, 10_001.0),
        (60.0, 10_000.0),
        (120.0, 10_000.0),
    ]


async def test_each_minute_gives_its_last_sample_oldest_first(db_engine: AsyncEngine) -> None:
    repo = EquitySampleRepository(db_engine)
    await repo.add(
        [sample(T0 + 5, 1.0), sample(T0 + 59, 2.0), sample(T0 + 60, 3.0), sample(T0 + 179, 4.0)]
    )
    stored = await repo.downsampled(T0, T0 + 3600, step=60, limit=100)
    assert [(s.time - T0, s.equity) for s in stored] == [(59.0, 2.0), (60.0, 3.0), (179.0, 4.0)]


async def test_each_hour_gives_its_last_sample(db_engine: AsyncEngine) -> None:
    repo = EquitySampleRepository(db_engine)
    minutes = [sample(T0 + 60 * m, 10_000.0 + m) for m in range(0, 180, 7)]
    await repo.add(minutes)
    stored = await repo.downsampled(T0 - 3600, T0 + 4 * 3600, step=3600, limit=100)
    assert [s.equity for s in stored] == [10_056.0, 10_119.0, 10_175.0]


async def test_the_range_is_inclusive_and_limit_keeps_the_newest_buckets(
    db_engine: AsyncEngine,
) -> None:
    repo = EquitySampleRepository(db_engine)
    await repo.add([sample(T0 + 60 * m, float(m)) for m in range(10)])
    stored = await repo.downsampled(T0 + 60, T0 + 480, step=60, limit=3)
    assert [s.equity for s in stored] == [6.0, 7.0, 8.0]
    stored = await repo.downsampled(T0 + 60, T0 + 480, step=60, limit=100)
    assert [s.equity for s in stored] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]


async def test_delete_before_removes_only_older_samples(db_engine: AsyncEngine) -> None:
    repo = EquitySampleRepository(db_engine)
    await repo.add([sample(T0 - 10), sample(T0), sample(T0 + 10)])
    assert await repo.delete_before(T0) == 1
    stored = await repo.downsampled(T0 - 100, T0 + 100, step=1, limit=10)
    assert [s.time - T0 for s in stored] == [0.0, 10.0]


async def test_an_empty_batch_is_no_statement(db_engine: AsyncEngine) -> None:
    assert await EquitySampleRepository(db_engine).add([]) == 0


async def test_a_full_backlog_of_10000_samples_is_written_in_one_call(
    db_engine: AsyncEngine,
) -> None:
    # One statement would need 50,000 bind parameters, past PostgreSQL's protocol limit of
    # 32,767: after a long outage every flush would fail for good.
    repo = EquitySampleRepository(db_engine)
    backlog = [sample(T0 + 60 * m, 10_000.0 + m) for m in range(10_000)]
    assert await repo.add(backlog) == 10_000
    async with db_engine.connect() as conn:
        rows = (await conn.execute(select(func.count()).select_from(equity_samples))).scalar()
    assert rows == 10_000
    stored = await repo.downsampled(T0, T0 + 60 * 10_000, step=60, limit=20_000)
    assert [s.equity for s in stored] == [10_000.0 + m for m in range(10_000)]
