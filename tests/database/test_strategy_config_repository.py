"""``strategy_config``: run-time strategy settings, upserted per (strategy, symbol, timeframe)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncEngine

from forexbot.database.strategy_configs import StrategyConfigRepository


async def test_saved_settings_are_read_back(db_engine: AsyncEngine) -> None:
    repo = StrategyConfigRepository(db_engine)
    await repo.save(
        strategy="ma_rsi",
        symbol="EURUSD",
        timeframe="M15",
        enabled=True,
        params={"fast_period": 10},
        risk_multiplier=0.5,
        updated_by="alice",
    )
    [row] = await repo.all()
    assert (row.strategy, row.symbol, row.timeframe, row.enabled) == (
        "ma_rsi",
        "EURUSD",
        "M15",
        True,
    )
    assert row.params == {"fast_period": 10}
    assert row.risk_multiplier == Decimal("0.5")
    assert row.updated_by == "alice"
    assert row.updated_at is not None


async def test_saving_the_same_instance_again_replaces_it(db_engine: AsyncEngine) -> None:
    repo = StrategyConfigRepository(db_engine)
    for enabled, by in ((True, "alice"), (False, "bob")):
        await repo.save(
            strategy="jhook",
            symbol="Volatility 75 Index",
            timeframe="H1",
            enabled=enabled,
            params={},
            risk_multiplier=1,
            updated_by=by,
        )
    rows = await repo.all()
    assert len(rows) == 1
    assert rows[0].enabled is False
    assert rows[0].updated_by == "bob"
