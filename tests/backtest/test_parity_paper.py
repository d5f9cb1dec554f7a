"""Live/backtest parity: paper trading and a backtest of the same feed make the same trades.

The paper side is the daemon's own wiring (``tests/trading_rig.py``: simulated terminal,
worker thread, connector, bus, risk, execution and position managers, PostgreSQL) plus the
strategy manager, on a clock that a driver moves a minute at a time — paper trading
accelerated as far as the machine goes, and deterministic: at each minute the position
manager syncs (as its 1-second loop would have), the connector polls, bars close, and the bus
settles before time moves on. The backtest side is :func:`~forexbot.backtest.runner.
run_backtest` over the same seed and hours with the terminal's tick fill model. The trades
must agree: sides, volumes, entry and exit times and prices.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from trading_rig import FAST, OPEN_LIMITS, trading_rig

from forexbot.backtest.runner import Backtest, BacktestSpec
from forexbot.domain.market import Timeframe
from forexbot.domain.trading import TradeStatus
from forexbot.strategies import create
from forexbot.strategies.manager import StrategyInstance, StrategyManager

# A Tuesday in London hours; the runs cover the afternoon and evening.
START = datetime(2026, 3, 10, 10, 0, tzinfo=UTC).timestamp()
SEED = 7  # the rig's terminal seed


@pytest.mark.parametrize(
    ("strategy", "params", "volume"),
    [
        pytest.param("sma_cross", {"fast_period": 5, "slow_period": 20}, 0.1, id="sma_cross"),
        pytest.param(
            "ma_rsi",
            {
                "fast_period": 5,
                "slow_period": 20,
                "rsi_period": 5,
                "atr_period": 5,
                "atr_multiplier": 5.0,
                "reward_risk": 1.0,
                "rsi_buy_level": 45,
                "rsi_sell_level": 55,
            },
            None,
            id="ma_rsi",
        ),
    ],
)
async def test_paper_trading_and_a_backtest_make_the_same_trades(
    db_engine: AsyncEngine, strategy: str, params: dict[str, float], volume: float | None
) -> None:
    hours = 8
    paper = await paper_final_trades(db_engine, strategy, params, volume, hours)
    backtest = await Backtest(
        BacktestSpec(
            strategy=strategy,
            symbol="EURUSD",
            timeframe=Timeframe.M1,
            start=START,
            end=START + hours * 3600,
            params=params,
            seed=SEED,
            fill_model="ticks",
            risk=OPEN_LIMITS,
            volume=volume,
        )
    ).run()
    ours = [
        (
            r.side.label,
            float(r.volume),
            r.open_time.timestamp(),
            float(r.entry_price),
            None if r.close_reason == "end_of_test" else r.close_time.timestamp(),  # type: ignore[union-attr]
            None if r.close_reason == "end_of_test" else float(r.exit_price),  # type: ignore[arg-type]
            None if r.close_reason == "end_of_test" else r.close_reason,
        )
        for r in backtest.records
        if r.status is TradeStatus.CLOSED
    ]
    assert len(paper) >= 5, "too few trades for the comparison to mean anything"
    assert ours == paper


async def paper_final_trades(
    db_engine: AsyncEngine, strategy: str, params: dict[str, float], volume: float | None,
    hours: int,
) -> list[tuple[object, ...]]:  # fmt: skip
    """The paper run's trades as (side, volume, open time, entry, close time, exit, reason);
    a trade still open when the run ends has no exit."""
    instance = StrategyInstance(create(strategy, **params), "EURUSD", Timeframe.M1, volume=volume)
    async with trading_rig(db_engine, risk=OPEN_LIMITS, execution=FAST, start=START) as rig:
        manager = StrategyManager([instance], rig.connector, rig.bus)
        manager.subscribe()
        await manager.warm_up()
        for minute in range(1, hours * 60 + 1):
            rig.clock.set(START + minute * 60)
            await rig.positions.sync()
            await rig.connector.poll_once()
            await rig.settle()
        ids = sorted({e.trade_id for e in rig.events if e.status is TradeStatus.OPEN})
        out = []
        for trade_id in ids:
            r = await rig.trade(trade_id)
            closed = r.status is TradeStatus.CLOSED
            out.append(
                (
                    r.side.label,
                    float(r.volume),
                    r.open_time.timestamp(),  # type: ignore[union-attr]
                    float(r.entry_price),  # type: ignore[arg-type]
                    r.close_time.timestamp() if closed else None,  # type: ignore[union-attr]
                    float(r.exit_price) if closed else None,  # type: ignore[arg-type]
                    r.close_reason if closed else None,
                )
            )
    return out
