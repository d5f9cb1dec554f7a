"""GET /api/system/performance: figures per strategy and symbol, stored in the table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from forexbot.clock import ManualClock
from forexbot.database.performance import PerformanceRepository
from forexbot.database.tables import performance_metrics
from forexbot.database.trades import TradeRepository
from forexbot.domain.trades import ExitTotals, Fill, NewTrade
from forexbot.monitoring.performance import PerformanceBook

from ._support import MakeApi

pytestmark = pytest.mark.db
MONDAY = datetime(2026, 11, 30, tzinfo=UTC)


async def closed_trade(
    trades: TradeRepository, n: int, strategy: str, symbol: str, profit: float, hour: int
) -> None:
    at = MONDAY + timedelta(hours=hour)
    trade_id = await trades.create_intent(
        NewTrade(
            client_order_id=f"p{n}", strategy=strategy, symbol=symbol, timeframe="H1",
            side="buy", volume=0.1, requested_price=1.1, sl=1.09, tp=1.12, signal_time=at,
            confidence=0.5, reason="t", market_condition={},
        )
    )  # fmt: skip
    fill = Fill(
        mt5_order=n, mt5_position=n, entry_price=1.1, volume=0.1, open_time=at, execution_details={}
    )
    await trades.mark_open(trade_id, fill)
    await trades.mark_closed(
        trade_id,
        ExitTotals(exit_price=1.1, profit=profit, swap=0.0, commission=0.0),
        close_time=at + timedelta(minutes=30),
        close_reason="take_profit",
    )


async def book(db_engine: AsyncEngine, balance: float | None) -> PerformanceBook:
    trades = TradeRepository(db_engine)
    await closed_trade(trades, 1, "ma_rsi", "EURUSD", 100.0, 1)
    await closed_trade(trades, 2, "ma_rsi", "GBPUSD", -50.0, 2)
    await closed_trade(trades, 3, "jhook", "EURUSD", 30.0, 3)
    clock = ManualClock((MONDAY + timedelta(hours=10)).timestamp())
    return PerformanceBook(trades, PerformanceRepository(db_engine), lambda: balance, clock)


async def test_the_days_figures_overall_per_strategy_and_per_symbol(
    make_api: MakeApi, db_engine: AsyncEngine
) -> None:
    api = await make_api(performance=await book(db_engine, 10_080.0))
    async with api.session.get(
        api.url("/api/system/performance?period=daily"), headers=api.auth("viewer")
    ) as resp:
        body = await resp.json()
        assert resp.status == 200
    assert body["start"] == "2026-11-30T00:00:00Z"
    by_key = {(i["strategy"], i["symbol"]): i for i in body["items"]}
    overall = by_key[(None, None)]
    assert (overall["trades_count"], overall["wins"], overall["losses"]) == (3, 2, 1)
    assert overall["net_profit"] == pytest.approx(80.0)
    assert overall["win_rate"] == pytest.approx(2 / 3)
    assert overall["profit_factor"] == pytest.approx(2.6)
    assert overall["max_drawdown_pct"] == pytest.approx(50 / 10_100 * 100)
    assert by_key[("ma_rsi", None)]["net_profit"] == pytest.approx(50.0)
    assert by_key[(None, "EURUSD")]["trades_count"] == 2
    assert by_key[("jhook", "EURUSD")]["net_profit"] == pytest.approx(30.0)
    assert len(body["items"]) == 1 + 2 + 2 + 3


async def test_the_figures_are_stored_once_per_key(
    make_api: MakeApi, db_engine: AsyncEngine
) -> None:
    api = await make_api(performance=await book(db_engine, 10_080.0))
    for _ in range(2):
        async with api.session.get(
            api.url("/api/system/performance?period=weekly"), headers=api.auth("viewer")
        ) as resp:
            assert resp.status == 200
    async with db_engine.connect() as conn:
        count = (
            await conn.execute(select(func.count()).select_from(performance_metrics))
        ).scalar_one()
    assert count == 8


async def test_an_unknown_period_is_400_and_no_account_yet_is_503(
    make_api: MakeApi, db_engine: AsyncEngine
) -> None:
    api = await make_api(performance=await book(db_engine, None))
    async with api.session.get(
        api.url("/api/system/performance?period=yearly"), headers=api.auth("viewer")
    ) as resp:
        assert resp.status == 400
        assert (await resp.json())["error"]["code"] == "invalid_parameter"
    async with api.session.get(
        api.url("/api/system/performance"), headers=api.auth("viewer")
    ) as resp:
        assert resp.status == 503
