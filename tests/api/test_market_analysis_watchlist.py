"""``GET /api/market/analysis/{symbol}`` answers for every watched symbol, traded or not, and
404 means exactly "not watched".

Wired as the daemon wires it: the simulated terminal and connector of the trading rig
watching EURUSD and GBPUSD, a strategy manager given the watchlist with one strategy on EURUSD
only, the real :class:`StrategyControl`, and a real server in front.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine
from trading_rig import TradingRig, trading_rig

from forexbot.api.app import TOKENS_KEY, create_app
from forexbot.api.server import ApiServer
from forexbot.api.services import ApiServices, ApiSettings
from forexbot.database.strategy_configs import StrategyConfigRepository
from forexbot.database.users import UserRepository
from forexbot.domain.market import Timeframe
from forexbot.strategies import create
from forexbot.strategies.control import StrategyControl
from forexbot.strategies.manager import StrategyInstance, StrategyManager

from ._support import JWT_SECRET, FakeStatus

pytestmark = pytest.mark.db


@dataclass(frozen=True)
class _Viewer:
    id: int = 1
    username: str = "vera"
    role: str = "viewer"


@dataclass
class Running:
    rig: TradingRig
    server: ApiServer
    session: aiohttp.ClientSession

    async def get(self, path: str) -> tuple[int, Any]:
        token, _ = self.server.app[TOKENS_KEY].issue(_Viewer())
        url = f"http://127.0.0.1:{self.server.bound_port}{path}"
        async with self.session.get(url, headers={"Authorization": f"Bearer {token}"}) as resp:
            return resp.status, await resp.json()


@pytest_asyncio.fixture(loop_scope="function")
async def running(db_engine: AsyncEngine) -> AsyncIterator[Running]:
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
        services = ApiServices(
            users=UserRepository(db_engine),
            trades=rig.trades,
            system_logs=rig.logs,
            positions=rig.positions,
            status=FakeStatus(),
            bus=rig.bus,
            clock=rig.clock,
            strategies=StrategyControl(manager, StrategyConfigRepository(db_engine)),
        )
        settings = ApiSettings(host="127.0.0.1", port=0, jwt_secret=JWT_SECRET)
        server = ApiServer(create_app(services, settings), settings)
        await server.start()
        try:
            async with aiohttp.ClientSession() as session:
                yield Running(rig, server, session)
        finally:
            manager.stop()
            await server.stop()


async def test_a_watched_symbol_no_strategy_trades_has_its_analysis(running: Running) -> None:
    status, analysis = await running.get("/api/market/analysis/GBPUSD")
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


async def test_the_traded_symbol_is_analysed_the_same_way(running: Running) -> None:
    status, analysis = await running.get("/api/market/analysis/EURUSD")
    assert status == 200
    assert analysis["timeframes"]["M1"]["condition"]["symbol"] == "EURUSD"


async def test_the_conditions_list_every_watched_symbol(running: Running) -> None:
    status, conditions = await running.get("/api/market/conditions")
    assert status == 200
    assert sorted(c["symbol"] for c in conditions["items"]) == ["EURUSD", "GBPUSD"]


async def test_a_symbol_not_watched_is_404(running: Running) -> None:
    assert await running.get("/api/market/analysis/USDJPY") == (
        404,
        {
            "error": {
                "code": "not_found",
                "message": "symbol 'USDJPY' is not watched",
                "details": None,
            }
        },
    )
