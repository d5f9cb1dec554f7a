"""Live performance figures come from the backtester's statistics, over stored trades."""

from __future__ import annotations

import math
import statistics
from datetime import UTC, datetime

import pytest

from forexbot.backtest.trade_store import MemoryTradeStore
from forexbot.clock import ManualClock
from forexbot.domain.trades import ExitTotals, Fill, NewTrade, TradeRecord
from forexbot.monitoring.performance import metrics_row, performance_of

T0 = datetime(2024, 3, 4, tzinfo=UTC).timestamp()
HOUR = 3600.0


async def closed(store: MemoryTradeStore, clock: ManualClock, n: int, profit: float) -> TradeRecord:
    """Trade ``n``: opened at T0 + n hours, closed half an hour later with ``profit``."""
    clock.set(T0 + n * HOUR)
    now = datetime.fromtimestamp(clock.time(), UTC)
    trade_id = await store.create_intent(
        NewTrade(
            client_order_id=f"c{n}", strategy="ma_rsi", symbol="EURUSD", timeframe="H1",
            side="buy", volume=0.1, requested_price=1.1, sl=1.09, tp=1.12, signal_time=now,
            confidence=0.5, reason="t", market_condition={},
        )
    )  # fmt: skip
    await store.mark_submitted(trade_id)
    fill = Fill(
        mt5_order=n, mt5_position=n, entry_price=1.1, volume=0.1, open_time=now,
        execution_details={},
    )  # fmt: skip
    await store.mark_open(trade_id, fill)
    clock.advance(HOUR / 2)
    return await store.mark_closed(
        trade_id,
        ExitTotals(exit_price=1.1, profit=profit, swap=0.0, commission=0.0),
        close_time=datetime.fromtimestamp(clock.time(), UTC),
        close_reason="take_profit",
    )


@pytest.fixture
async def trades() -> list[TradeRecord]:
    clock = ManualClock(T0)
    store = MemoryTradeStore(clock)
    out = [await closed(store, clock, n, p) for n, p in ((1, 100.0), (2, -50.0), (3, 30.0))]
    clock.set(T0 + 30 * HOUR)
    out.append(await closed(store, clock, 30, 999.0))  # closes after the period
    return out


async def test_the_period_statistics_of_stored_trades(trades: list[TradeRecord]) -> None:
    stats = performance_of(trades, 10_000.0, T0, T0 + 24 * HOUR)
    assert (stats.trades, stats.wins, stats.losses) == (3, 2, 1)
    assert stats.net_profit == pytest.approx(80.0)
    assert stats.profit_factor == pytest.approx(130 / 50)
    assert stats.max_drawdown_pct == pytest.approx(50 / 10_100 * 100)


async def test_the_metrics_row_stores_the_win_rate_as_a_fraction(
    trades: list[TradeRecord],
) -> None:
    row = metrics_row(performance_of(trades, 10_000.0, T0, T0 + 24 * HOUR))
    assert row == {
        "trades_count": 3,
        "wins": 2,
        "losses": 1,
        "win_rate": pytest.approx(2 / 3),
        "profit_factor": pytest.approx(2.6),
        "expectancy": pytest.approx(80 / 3),
        "net_profit": pytest.approx(80.0),
        "max_drawdown_pct": pytest.approx(50 / 10_100 * 100),
        # Daily returns 0.8 % (Monday) and 0 % (the period ends at Tuesday 00:00).
        "sharpe": pytest.approx(0.004 / statistics.stdev([0.008, 0.0]) * math.sqrt(252)),
    }


async def test_a_period_without_closed_trades_has_none(trades: list[TradeRecord]) -> None:
    stats = performance_of(trades, 10_000.0, T0 + 100 * HOUR, T0 + 124 * HOUR)
    assert (stats.trades, stats.net_profit, stats.win_rate_pct) == (0, 0.0, None)
