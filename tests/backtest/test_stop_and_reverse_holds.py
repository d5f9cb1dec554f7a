"""A stop-and-reverse strategy holds one position: a repeated same-side signal holds it.

The case from the cross-check against backtesting.py (issue 15): ``sma_cross`` is short, its
buy cross falls on the week's last bar and is refused (the market is closed when that bar
closes), so the short stays; after the weekend the averages cross down again and the sell
signal repeats. With ``max_positions_per_symbol`` above one, that second sell used to open a
second short. The risk manager now refuses it with ``position_held`` (its rule in
:mod:`forexbot.engine.risk`), in a backtest and live alike: both go through the same risk and
position managers.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from trading_rig import OPEN_LIMITS, TradingRig, trading_rig

from forexbot.backtest.runner import BacktestResult, BacktestSpec, run_backtest
from forexbot.connectors import mt5_constants as mt5c
from forexbot.domain.market import Timeframe
from forexbot.domain.trading import Side, Signal, TradeStatus
from forexbot.events.types import RiskRejectedEvent, SignalEvent

START = datetime(2024, 3, 4, tzinfo=UTC).timestamp()  # a Monday
DAY = 86_400


def sma_week(max_positions_per_symbol: int) -> BacktestResult:
    """SMA 2/3 on the H1 bars of a week and its weekend (the simulator's EURUSD): one of its
    crosses falls on the week's last bar, and the next one repeats the side held."""
    risk = OPEN_LIMITS.model_copy(
        update={
            "risk_per_trade_percent": 10,
            "max_open_positions": 20,
            "max_positions_per_symbol": max_positions_per_symbol,
        }
    )
    return run_backtest(
        BacktestSpec(
            strategy="sma_cross",
            symbol="EURUSD",
            timeframe=Timeframe.H1,
            start=START,
            end=START + 7 * DAY,
            params={"fast_period": 2, "slow_period": 3, "stop_atr_multiplier": 20},
            volume=0.1,
            risk=risk,
        )
    )


@pytest.fixture(scope="module")
def two_per_symbol() -> BacktestResult:
    return sma_week(2)


def test_a_repeated_side_after_a_reversal_refused_at_the_weekend_opens_no_second_position(
    two_per_symbol: BacktestResult,
) -> None:
    trades = sorted(two_per_symbol.trades, key=lambda t: t.open_time)
    overlapping = [
        (a.side, a.open_time, b.side, b.open_time)
        for a, b in itertools.pairwise(trades)
        if b.open_time < a.close_time
    ]
    assert overlapping == []
    assert two_per_symbol.rejected == {"market_closed": 1, "position_held": 1}


def test_the_held_position_is_the_trade_one_position_per_symbol_gives(
    two_per_symbol: BacktestResult,
) -> None:
    """The position limit no longer changes a stop-and-reverse strategy's trades."""
    one = sma_week(1)

    def rows(result: BacktestResult) -> list[tuple[object, ...]]:
        return [
            (t.side, t.open_time, t.entry_price, t.close_time, t.exit_price, t.net)
            for t in result.trades
        ]

    assert rows(two_per_symbol) == rows(one)
    assert one.rejected == {"market_closed": 1, "position_held": 1}


# --- live: the daemon's wiring (simulated terminal, PostgreSQL) -----------------------------


def reversal(rig: TradingRig, side: Side, **changes: Any) -> Signal:
    """An ``sma_cross`` stop-and-reverse signal with a fixed volume, as the strategy manager
    publishes it."""
    base = rig.signal(side, sl_points=500, tp_points=0, strategy="sma_cross", timeframe="M1")
    fields: dict[str, Any] = {
        "close_opposite": True,
        "volume": 0.1,
        "market_condition": {"market_open": True},
    }
    return replace(base, **{**fields, **changes})


async def publish(rig: TradingRig, signal: Signal) -> None:
    rig.bus.publish(SignalEvent(signal))
    await rig.settle()


async def test_live_a_repeated_side_after_a_refused_reversal_holds_the_position(
    db_engine: AsyncEngine,
) -> None:
    async with trading_rig(db_engine) as rig:
        assert rig.risk.settings.max_positions_per_symbol > 1
        await rig.advance(60)
        await publish(rig, reversal(rig, Side.SELL))
        short = await rig.wait_for(TradeStatus.OPEN)

        await publish(rig, reversal(rig, Side.BUY, market_condition={"market_open": False}))
        await publish(rig, reversal(rig, Side.SELL))

        codes = [e.code.value for e in rig.seen_of(RiskRejectedEvent)]
        assert codes == ["market_closed", "position_held"]
        positions = rig.our_positions()
        assert [(p.ticket, p.type, p.volume) for p in positions] == [
            (short.trade.mt5_position, mt5c.POSITION_TYPE_SELL, 0.1)
        ]
        assert [e.trade_id for e in rig.events if e.status is TradeStatus.OPEN] == [short.trade_id]


async def test_live_the_opposite_signal_still_reverses_the_held_position(
    db_engine: AsyncEngine,
) -> None:
    async with trading_rig(db_engine) as rig:
        await rig.advance(60)
        await publish(rig, reversal(rig, Side.SELL))
        short = await rig.wait_for(TradeStatus.OPEN)
        await publish(rig, reversal(rig, Side.SELL))
        await publish(rig, reversal(rig, Side.BUY))

        closed = await rig.wait_for(TradeStatus.CLOSED, short.trade_id)
        assert closed.trade.close_reason == "reversal"
        positions = rig.our_positions()
        assert [(p.type, p.volume) for p in positions] == [(mt5c.POSITION_TYPE_BUY, 0.1)]
        assert [e.code.value for e in rig.seen_of(RiskRejectedEvent)] == ["position_held"]
