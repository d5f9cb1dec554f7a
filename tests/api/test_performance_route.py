"""GET /api/system/performance: figures per strategy and symbol, stored in the table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from forexbot.clock import ManualClock
from forexbot.connectors.mt5sim.timeutil import server_offset as sim_server_offset
from forexbot.database.performance import PerformanceRepository
from forexbot.database.tables import performance_metrics
from forexbot.database.trades import TradeRepository
from forexbot.domain.trades import ExitTotals, Fill, NewTrade
from forexbot.engine.risk import server_day
from forexbot.monitoring.equity_history import trading_day_start
from forexbot.monitoring.performance import PerformanceBook, period_start

from ._support import MakeApi

pytestmark = pytest.mark.db
MONDAY = datetime(2026, 11, 30, tzinfo=UTC)
UTC_BROKER = 0.0  # a broker whose server runs on UTC: its days are UTC days


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
    repo = PerformanceRepository(db_engine)
    return PerformanceBook(trades, repo, lambda: balance, clock, lambda: UTC_BROKER)


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


# -- the broker's day -------------------------------------------------------------------------

#: The simulator's server clock (New York + 7) in winter: UTC+2, its midnight 22:00 UTC.
BROKER_MIDNIGHT = datetime(2026, 11, 30, 22, 0, tzinfo=UTC)  # Tuesday 1 December begins
SIM_OFFSET = float(sim_server_offset(BROKER_MIDNIGHT.timestamp()))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_the_simulators_server_runs_at_utc_plus_2_in_winter() -> None:
    assert SIM_OFFSET == 7_200.0


@pytest.mark.parametrize(
    ("period", "now", "start"),
    [
        ("daily", "2026-11-30T21:59:59", "2026-11-29T22:00:00"),  # Monday 23:59:59 server
        ("daily", "2026-11-30T22:00:00", "2026-11-30T22:00:00"),  # Tuesday 00:00 server
        ("weekly", "2026-11-29T21:59:59", "2026-11-22T22:00:00"),  # Sunday 23:59:59 server
        ("weekly", "2026-11-29T22:00:00", "2026-11-29T22:00:00"),  # Monday 00:00 server
        ("monthly", "2026-11-30T21:59:59", "2026-10-31T22:00:00"),  # 30 November server
        ("monthly", "2026-11-30T22:00:00", "2026-11-30T22:00:00"),  # 1 December server
        ("all", "2026-11-30T22:00:00", "1970-01-01T00:00:00"),
    ],
)
def test_periods_start_at_the_brokers_midnight(period: str, now: str, start: str) -> None:
    assert period_start(period, at(now), SIM_OFFSET) == at(start)


def test_a_day_is_the_risk_managers_day_and_the_equity_curves() -> None:
    for now in (BROKER_MIDNIGHT - timedelta(seconds=1), BROKER_MIDNIGHT):
        start = period_start("daily", now, SIM_OFFSET)
        assert start.timestamp() == trading_day_start(now.timestamp(), SIM_OFFSET)
        assert server_day(start.timestamp(), SIM_OFFSET) == server_day(now.timestamp(), SIM_OFFSET)
    assert server_day(BROKER_MIDNIGHT.timestamp() - 1, SIM_OFFSET) == "2026-11-30"
    assert server_day(BROKER_MIDNIGHT.timestamp(), SIM_OFFSET) == "2026-12-01"


async def test_today_counts_the_trades_of_the_brokers_day_on_both_sides_of_its_midnight(
    make_api: MakeApi, db_engine: AsyncEngine
) -> None:
    trades = TradeRepository(db_engine)
    # Closed at 22:30 UTC on Sunday (Monday 00:30 server), 21:30 UTC Monday (Monday 23:30
    # server) and 22:30 UTC Monday (Tuesday 00:30 server); MONDAY is 00:00 UTC.
    for n, hour, profit in [(1, -2, 10.0), (2, 21, 20.0), (3, 22, 40.0)]:
        await closed_trade(trades, n, "ma_rsi", "EURUSD", profit, hour)
    clock = ManualClock((BROKER_MIDNIGHT - timedelta(seconds=1)).timestamp())
    book = PerformanceBook(
        trades, PerformanceRepository(db_engine), lambda: 10_070.0, clock, lambda: SIM_OFFSET
    )
    api = await make_api(performance=book)

    async def today() -> tuple[str, float]:
        async with api.session.get(
            api.url("/api/system/performance?period=daily"), headers=api.auth("viewer")
        ) as resp:
            assert resp.status == 200
            body = await resp.json()
        [row] = [i for i in body["items"] if i["strategy"] is None and i["symbol"] is None]
        return body["start"], row["net_profit"]

    assert await today() == ("2026-11-29T22:00:00Z", 30.0)  # with the one of Sunday UTC
    assert book.trading_day(clock.time()) == "2026-11-30"
    clock.set(BROKER_MIDNIGHT.timestamp() + 3_600)
    assert await today() == ("2026-11-30T22:00:00Z", 40.0)  # Monday UTC, Tuesday server
    assert book.trading_day(clock.time()) == "2026-12-01"
