"""GET /api/account/equity over the real engine: the curve the sampler recorded, ending with
the account now, and today's P/L as the risk manager's daily loss limit measures it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine
from trading_rig import trading_rig

from forexbot.database.equity_samples import EquitySampleRepository
from forexbot.domain.trading import AccountState
from forexbot.monitoring.equity_history import EquityHistory, trading_day_start

from ._engine_api import EngineApi, serve_rig

pytestmark = pytest.mark.db


def iso(epoch: float) -> str:
    return (
        datetime.fromtimestamp(round(epoch, 3), UTC).isoformat(timespec="milliseconds")[:-6] + "Z"
    )


@pytest_asyncio.fixture(loop_scope="function")
async def api(db_engine: AsyncEngine) -> AsyncIterator[EngineApi]:
    """The engine on the simulator, its equity history sampling, the API in front."""
    async with trading_rig(db_engine) as rig:
        history = EquityHistory(
            EquitySampleRepository(db_engine),
            rig.bus,
            rig.clock,
            rig.positions,
            rig.risk,
            lambda: rig.connector.server_offset,
        )
        history.subscribe()
        async with serve_rig(db_engine, rig, trading=rig.engine.control, equity=history) as api:
            yield api
        await history.close()


async def sampled_trading(api: EngineApi, minutes: int = 10) -> AccountState:
    """A sync now, a trade open, ``minutes`` of market and a sync again: two samples. The
    account of the first sync."""
    rig = api.rig
    await rig.positions.sync()
    first: AccountState = rig.positions.account
    await api.open("buy", volume=0.3)
    await rig.advance(60 * minutes, step=600)
    await rig.positions.sync()
    await rig.settle()
    return first


def point(at: float, account: AccountState) -> dict[str, object]:
    return {"time": iso(at), "equity": account.equity, "balance": account.balance}


async def test_the_day_curve_ends_now_and_today_pnl_is_what_the_daily_limit_measures(
    api: EngineApi,
) -> None:
    rig = api.rig
    started = rig.clock.time()
    first = await sampled_trading(api)
    now = rig.clock.time()
    reply = await api.call("GET", "/api/account/equity?range=day", role="viewer")
    assert reply.status == 200
    body = reply.body
    account, guard = rig.positions.account, rig.risk.guard_state
    assert guard.day_start_equity is not None
    assert body["range"] == "day"
    assert body["currency"] == account.currency
    assert body["start"] == iso(trading_day_start(now, rig.connector.server_offset))
    assert body["end"] == iso(now)
    assert body["day_start_equity"] == guard.day_start_equity
    assert body["today_pnl"] == round(account.equity - guard.day_start_equity, 2)
    assert body["today_pnl"] != 0  # the open position's floating P/L
    # The second sync's sample shares its minute with "now": the account now stands for it.
    assert body["points"] == [point(started, first), point(now, account)]


async def test_the_month_curve_has_one_point_per_hour(api: EngineApi) -> None:
    rig = api.rig
    started = rig.clock.time()
    first = await sampled_trading(api, minutes=150)
    now = rig.clock.time()
    reply = await api.call("GET", "/api/account/equity?range=month", role="trader")
    assert reply.status == 200
    assert reply.body["range"] == "month"
    assert reply.body["start"] == iso(now - 30 * 86_400)
    assert reply.body["points"] == [point(started, first), point(now, rig.positions.account)]


async def test_the_range_defaults_to_the_day(api: EngineApi) -> None:
    reply = await api.call("GET", "/api/account/equity", role="viewer")
    assert (reply.status, reply.body["range"]) == (200, "day")


@pytest.mark.parametrize("query", ["?range=week", "?range=", "?period=day"])
async def test_a_bad_query_is_refused_naming_the_parameter(api: EngineApi, query: str) -> None:
    reply = await api.call("GET", f"/api/account/equity{query}", role="viewer")
    assert reply.status == 400
    assert reply.error["code"] == "invalid_parameter"
    assert query[1:].partition("=")[0] in reply.error["message"]


async def test_without_a_token_it_is_401(api: EngineApi) -> None:
    reply = await api.call("GET", "/api/account/equity", role=None)
    assert reply.status == 401


async def test_the_route_is_documented_with_its_ranges(api: EngineApi) -> None:
    reply = await api.call("GET", "/api/openapi.json", role=None)
    operation = reply.body["paths"]["/api/account/equity"]["get"]
    [parameter] = operation["parameters"]
    assert parameter["name"] == "range"
    assert parameter["schema"]["enum"] == ["day", "month"]
