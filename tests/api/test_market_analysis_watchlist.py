"""``GET /api/market/analysis/{symbol}`` answers for every watched symbol, traded or not, and
404 means exactly "not watched".

Wired as the daemon wires it: the simulated terminal and connector of the trading rig
watching EURUSD and GBPUSD, a strategy manager given the watchlist with one strategy on EURUSD
only, the real :class:`StrategyControl`, and a real server in front.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine
from trading_rig import trading_rig

from forexbot.database.strategy_configs import StrategyConfigRepository
from forexbot.domain.market import Timeframe
from forexbot.strategies import create
from forexbot.strategies.control import StrategyControl
from forexbot.strategies.manager import StrategyInstance, StrategyManager

from ._engine_api import EngineApi, serve_rig

pytestmark = pytest.mark.db


@pytest_asyncio.fixture(loop_scope="function")
async def running(db_engine: AsyncEngine) -> AsyncIterator[EngineApi]:
    async with trading_rig(db_engine, symbols=("EURUSD", "GBPUSD")) as rig:
        manager = StrategyManager(
            [StrategyInstance(create("ma_rsi"), "EURUSD", Timeframe.M1)],
            rig.connector,
            rig.bus,
            watchlist=rig.connector.symbols,
        )
        manager.subscribe()
        await manager.warm_up()
        await rig.advance(120)  # two closed M1 bars of each symbol: a condition for each
        control = StrategyControl(manager, StrategyConfigRepository(db_engine))
        try:
            async with serve_rig(db_engine, rig, strategies=control) as api:
                yield api
        finally:
            manager.stop()


async def get(api: EngineApi, path: str) -> tuple[int, Any]:
    reply = await api.call("GET", path, role="viewer")
    return reply.status, reply.body


async def test_a_watched_symbol_no_strategy_trades_has_its_analysis(running: EngineApi) -> None:
    status, analysis = await get(running, "/api/market/analysis/GBPUSD")
    assert status == 200
    assert analysis["symbol"] == "GBPUSD"
    assert list(analysis["timeframes"]) == ["M1"]
    m1 = analysis["timeframes"]["M1"]
    assert m1["condition"]["symbol"] == "GBPUSD"
    assert m1["condition"]["timeframe"] == "M1"
    assert m1["bars"] > 60
    [last] = await running.rig.connector.history("GBPUSD", Timeframe.M1, 1)
    assert m1["indicators"]["close"] == last.close
    assert m1["condition"]["bar_time"] == datetime.fromtimestamp(last.time, UTC).isoformat()


async def test_the_traded_symbol_is_analysed_the_same_way(running: EngineApi) -> None:
    status, analysis = await get(running, "/api/market/analysis/EURUSD")
    assert status == 200
    assert analysis["timeframes"]["M1"]["condition"]["symbol"] == "EURUSD"


async def test_the_conditions_list_every_watched_symbol(running: EngineApi) -> None:
    status, conditions = await get(running, "/api/market/conditions")
    assert status == 200
    assert sorted(c["symbol"] for c in conditions["items"]) == ["EURUSD", "GBPUSD"]


async def test_a_symbol_not_watched_is_404(running: EngineApi) -> None:
    assert await get(running, "/api/market/analysis/USDJPY") == (
        404,
        {
            "error": {
                "code": "not_found",
                "message": "symbol 'USDJPY' is not watched",
                "details": None,
            }
        },
    )
