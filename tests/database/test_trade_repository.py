"""TradeRepository beyond the trade store contract: listing with filters and pages, and money
that stays exact in SQL.

The rules it shares with the backtest's MemoryTradeStore (idempotent intents, checked
transitions with a history, conserved volume, exact money) are specified once, for both, in
``tests/engine/test_trade_store_contract.py``.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from trade_records import intent

from forexbot.database.tables import trades
from forexbot.database.trades import TradeRepository

pytestmark = pytest.mark.db


@pytest.fixture
def repo(db_engine: AsyncEngine) -> TradeRepository:
    return TradeRepository(db_engine)


async def make_trades(repo: TradeRepository) -> list[int]:
    specs = [
        ("EURUSD", "ma_cross"),
        ("GBPUSD", "ma_cross"),
        ("EURUSD", "breakout"),
        ("EURUSD", "ma_cross"),
        ("USDJPY", "breakout"),
    ]
    return [
        await repo.create_intent(
            intent(client_order_id=f"fx-{n}", symbol=symbol, strategy=strategy)
        )
        for n, (symbol, strategy) in enumerate(specs)
    ]


async def test_list_is_newest_first_with_total(repo: TradeRepository) -> None:
    ids = await make_trades(repo)
    records, total = await repo.list(limit=10, offset=0)
    assert [r.id for r in records] == list(reversed(ids))
    assert total == 5


async def test_list_paginates(repo: TradeRepository) -> None:
    ids = await make_trades(repo)
    page1, total1 = await repo.list(limit=2, offset=0)
    page3, total3 = await repo.list(limit=2, offset=4)
    beyond, total_beyond = await repo.list(limit=2, offset=10)
    assert [r.id for r in page1] == [ids[4], ids[3]]
    assert [r.id for r in page3] == [ids[0]]
    assert beyond == []
    assert total1 == total3 == total_beyond == 5


async def test_list_filters_combine_and_total_follows_the_filter(repo: TradeRepository) -> None:
    ids = await make_trades(repo)
    await repo.mark_submitted(ids[3])
    by_symbol, n_symbol = await repo.list(limit=10, offset=0, symbol="EURUSD")
    by_both, n_both = await repo.list(limit=10, offset=0, symbol="EURUSD", strategy="ma_cross")
    by_status, n_status = await repo.list(limit=1, offset=0, status="intent", symbol="EURUSD")
    assert ([r.id for r in by_symbol], n_symbol) == ([ids[3], ids[2], ids[0]], 3)
    assert ([r.id for r in by_both], n_both) == ([ids[3], ids[0]], 2)
    assert ([r.id for r in by_status], n_status) == ([ids[2]], 2)


async def test_list_validates_its_arguments(repo: TradeRepository) -> None:
    with pytest.raises(ValueError, match="unknown trade status 'lost'"):
        await repo.list(limit=10, offset=0, status="lost")
    with pytest.raises(ValueError, match="limit"):
        await repo.list(limit=0, offset=0)
    with pytest.raises(ValueError, match="offset"):
        await repo.list(limit=1, offset=-1)


async def test_volumes_sum_exactly_in_sql(repo: TradeRepository, db_engine: AsyncEngine) -> None:
    first = await repo.create_intent(intent(client_order_id="a", volume=0.1))
    second = await repo.create_intent(intent(client_order_id="b", volume=0.2))

    async with db_engine.connect() as conn:
        total = (
            await conn.execute(
                select(func.sum(trades.c.volume)).where(trades.c.id.in_([first, second]))
            )
        ).scalar_one()

    assert total == Decimal("0.3")  # in floats 0.1 + 0.2 == 0.30000000000000004
