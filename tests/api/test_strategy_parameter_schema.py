"""``parameter_schema``: each strategy instance says what its parameters accept, so a client
(the phone app's form) refuses an out-of-range value before sending it, and what the schema
cannot say (a rule across parameters) comes back from the engine as a 422 in words.
``management_schema`` and ``risk_multiplier_schema`` say the same of its trade management
(break-even, trailing stop) and its risk multiplier, and a value outside them is a 422 naming
the field.

Wired as the daemon wires it: a strategy manager with an ``ma_rsi`` instance on the trading
rig's simulated EURUSD, the real :class:`StrategyControl` and its PostgreSQL store, and a real
server in front.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
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

MA_RSI = "ma_rsi:EURUSD:M1"
PATH = f"/api/strategies/{MA_RSI}"


@pytest_asyncio.fixture(loop_scope="function")
async def running(db_engine: AsyncEngine) -> AsyncIterator[EngineApi]:
    async with trading_rig(db_engine, symbols=("EURUSD",)) as rig:
        manager = StrategyManager(
            [StrategyInstance(create("ma_rsi"), "EURUSD", Timeframe.M1)],
            rig.connector,
            rig.bus,
            watchlist=rig.connector.symbols,
        )
        control = StrategyControl(manager, StrategyConfigRepository(db_engine))
        async with serve_rig(db_engine, rig, strategies=control) as api:
            yield api


async def test_each_listed_instance_has_the_json_schema_of_its_parameters(
    running: EngineApi,
) -> None:
    reply = await running.call("GET", "/api/strategies", role="viewer")
    assert reply.status == 200
    [strategy] = reply.body["items"]
    schema = strategy["parameter_schema"]
    assert (schema["type"], schema["additionalProperties"]) == ("object", False)
    assert sorted(schema["properties"]) == sorted(strategy["params"])
    assert schema["properties"]["fast_period"] == {
        "type": "integer",
        "minimum": 2,
        "maximum": 500,
        "default": 20,
        "title": "Fast Period",
    }
    assert schema["properties"]["rsi_buy_level"] == {
        "type": "number",
        "exclusiveMinimum": 0,
        "exclusiveMaximum": 100,
        "default": 40.0,
        "title": "Rsi Buy Level",
    }


async def test_one_instance_has_the_same_schema_as_in_the_list(running: EngineApi) -> None:
    listed = (await running.call("GET", "/api/strategies", role="viewer")).body["items"][0]
    one = await running.call("GET", PATH, role="viewer")
    assert (one.status, one.body["parameter_schema"]) == (200, listed["parameter_schema"])


async def test_a_value_the_schema_allows_but_the_engine_refuses_is_422_naming_it(
    running: EngineApi,
) -> None:
    # 60 and 50 are each in range; fast below slow is a rule across the two.
    reply = await running.call("PUT", PATH, json={"params": {"fast_period": 60}})
    assert reply.status == 422
    assert reply.error["code"] == "validation_error"
    assert "fast_period (60) must be below slow_period (50)" in reply.error["message"]
    after = await running.call("GET", PATH, role="viewer")
    assert after.body["params"]["fast_period"] == 20


async def test_a_value_out_of_the_schemas_range_is_refused_by_the_engine_too(
    running: EngineApi,
) -> None:
    reply = await running.call("PUT", PATH, json={"params": {"fast_period": 501}})
    assert reply.status == 422
    assert "fast_period: Input should be less than or equal to 500" in reply.error["message"]


async def test_a_change_in_range_is_kept_and_read_back_with_the_same_schema(
    running: EngineApi,
) -> None:
    before = (await running.call("GET", PATH, role="viewer")).body
    reply = await running.call("PUT", PATH, json={"params": {"rsi_buy_level": 35.5}})
    assert reply.status == 200
    expected: dict[str, Any] = before["params"] | {"rsi_buy_level": 35.5}
    assert reply.body["params"] == expected
    again = (await running.call("GET", PATH, role="viewer")).body
    assert (again["params"], again["parameter_schema"]) == (expected, before["parameter_schema"])


async def test_the_api_document_describes_the_schemas(running: EngineApi) -> None:
    document = (await running.call("GET", "/api/openapi.json", role=None)).body
    strategy = document["components"]["schemas"]["Strategy"]
    for name in ("parameter_schema", "management_schema", "risk_multiplier_schema"):
        assert name in strategy["required"]
        assert strategy["properties"][name]["type"] == "object"


async def test_each_instance_has_the_json_schema_of_its_trade_management(
    running: EngineApi,
) -> None:
    [strategy] = (await running.call("GET", "/api/strategies", role="viewer")).body["items"]
    schema = strategy["management_schema"]
    assert (schema["type"], schema["additionalProperties"]) == ("object", False)
    assert list(schema["properties"]) == list(strategy["management"])
    assert schema["properties"]["break_even_at_r"] == {
        "anyOf": [{"type": "number", "exclusiveMinimum": 0, "maximum": 100}, {"type": "null"}],
        "default": None,
        "title": "Break Even At R",
    }
    assert schema["properties"]["break_even_offset_points"] == {
        "type": "integer",
        "minimum": 0,
        "maximum": 100_000,
        "default": 0,
        "title": "Break Even Offset Points",
    }
    one = (await running.call("GET", PATH, role="viewer")).body
    assert one["management_schema"] == schema


async def test_each_instance_has_the_bounds_of_its_risk_multiplier(running: EngineApi) -> None:
    [strategy] = (await running.call("GET", "/api/strategies", role="viewer")).body["items"]
    schema = strategy["risk_multiplier_schema"]
    assert {k: schema[k] for k in ("type", "exclusiveMinimum", "maximum")} == {
        "type": "number",
        "exclusiveMinimum": 0,
        "maximum": 10,
    }
    assert "risk per trade" in schema["description"]


async def test_a_management_value_out_of_its_schema_is_422_naming_it_and_changes_nothing(
    running: EngineApi,
) -> None:
    reply = await running.call("PUT", PATH, json={"management": {"break_even_at_r": 0}})
    assert reply.status == 422
    assert "management.break_even_at_r: Input should be greater than 0" in reply.error["message"]
    after = (await running.call("GET", PATH, role="viewer")).body
    assert after["management"]["break_even_at_r"] is None


async def test_a_risk_multiplier_above_its_maximum_is_422_on_that_field(
    running: EngineApi,
) -> None:
    reply = await running.call("PUT", PATH, json={"risk_multiplier": 10.5})
    assert reply.status == 422
    assert [d["field"] for d in reply.error["details"]] == ["risk_multiplier"]
    after = (await running.call("GET", PATH, role="viewer")).body
    assert after["risk_multiplier"] == 1.0


async def test_a_risk_multiplier_and_management_in_range_are_kept_and_read_back(
    running: EngineApi,
) -> None:
    before = (await running.call("GET", PATH, role="viewer")).body
    body = {"risk_multiplier": 0.5, "management": {"trailing_start_r": 1.5}}
    reply = await running.call("PUT", PATH, json=body)
    assert reply.status == 200
    expected: dict[str, Any] = before["management"] | {"trailing_start_r": 1.5}
    assert (reply.body["risk_multiplier"], reply.body["management"]) == (0.5, expected)
    off = await running.call("PUT", PATH, json={"management": {"trailing_start_r": None}})
    assert off.body["management"] == before["management"]
    again = (await running.call("GET", PATH, role="viewer")).body
    assert (again["risk_multiplier"], again["management"]) == (0.5, before["management"])
    assert again["management_schema"] == before["management_schema"]
