"""MarketDataRepository: idempotent batch upserts and exact round trips of bars."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from forexbot.database.market_data import MarketDataRepository
from forexbot.database.tables import market_data
from forexbot.domain.market import Bar, Timeframe

pytestmark = pytest.mark.db

T0 = 1_704_067_200  # 2024-01-01T00:00:00Z


def bar(
    n: int, *, symbol: str = "EURUSD", tf: Timeframe = Timeframe.M15, close: float = 1.1
) -> Bar:
    return Bar(
        symbol=symbol,
        timeframe=tf,
        time=T0 + n * tf.seconds,
        open=1.1 + n * 1e-5,
        high=1.2,
        low=1.0,
        close=close,
        tick_volume=100 + n,
        spread=12,
        real_volume=0,
    )


async def stored_rows(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(market_data))).scalar_one())


@pytest.fixture
def repo(db_engine: AsyncEngine) -> MarketDataRepository:
    return MarketDataRepository(db_engine)


async def test_bars_round_trip_bit_for_bit(repo: MarketDataRepository) -> None:
    bars = [bar(0, close=0.1 + 0.2), bar(1, close=1.2345678901234567e-5), bar(2)]
    assert await repo.upsert_bars(bars) == 3
    assert await repo.get_bars("EURUSD", Timeframe.M15, T0, T0 + 3 * 900) == bars


async def test_upserting_the_same_bars_again_writes_nothing(
    repo: MarketDataRepository, db_engine: AsyncEngine
) -> None:
    bars = [bar(n) for n in range(5)]
    assert await repo.upsert_bars(bars) == 5
    assert await repo.upsert_bars(bars) == 0
    assert await stored_rows(db_engine) == 5


async def test_a_changed_bar_is_updated(repo: MarketDataRepository) -> None:
    await repo.upsert_bars([bar(0), bar(1)])
    assert await repo.upsert_bars([bar(0), bar(1, close=1.15)]) == 1
    stored = await repo.get_bars("EURUSD", Timeframe.M15, T0, T0 + 2 * 900)
    assert [b.close for b in stored] == [1.1, 1.15]


async def test_the_last_copy_of_a_bar_in_a_batch_wins(repo: MarketDataRepository) -> None:
    assert await repo.upsert_bars([bar(0, close=1.11), bar(0, close=1.12)]) == 1
    [stored] = await repo.get_bars("EURUSD", Timeframe.M15, T0, T0 + 900)
    assert stored.close == 1.12


async def test_a_large_batch_is_one_statement(
    repo: MarketDataRepository, db_engine: AsyncEngine
) -> None:
    # 20 000 bars x 10 columns would exceed PostgreSQL's 32 767 bind parameters as VALUES rows.
    bars = [bar(n, tf=Timeframe.M1) for n in range(20_000)]
    assert await repo.upsert_bars(bars) == 20_000
    assert await stored_rows(db_engine) == 20_000


async def test_empty_batch_writes_nothing(repo: MarketDataRepository) -> None:
    assert await repo.upsert_bars([]) == 0


async def test_get_bars_is_half_open_ordered_and_filtered(repo: MarketDataRepository) -> None:
    await repo.upsert_bars(
        [bar(3), bar(1), bar(2), bar(0), bar(1, symbol="GBPUSD"), bar(1, tf=Timeframe.H1)]
    )
    start = datetime.fromtimestamp(T0 + 900, UTC)
    end = datetime.fromtimestamp(T0 + 3 * 900, UTC)
    got = await repo.get_bars("EURUSD", Timeframe.M15, start, end)
    assert got == [bar(1), bar(2)]
