"""GET /api/signals: the latest signals, newest first, with the real risk manager's decisions."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from polling import eventually
from sqlalchemy.ext.asyncio import AsyncEngine

from forexbot.api.app import BROADCASTER_KEY
from forexbot.domain.trading import Side, Signal, TradeStatus
from forexbot.events.types import SignalEvent

from ._engine_api import engine_api
from ._support import Api

pytestmark = pytest.mark.db


def signal(n: int) -> Signal:
    return Signal(
        strategy="ma_rsi",
        symbol="Volatility 75 Index",
        timeframe="M15",
        side=Side.SELL,
        entry=1.10012,
        sl=1.1035,
        tp=1.0985,
        confidence=0.75,
        reason=f"RSI turned down ({n})",
        bar_time=1_704_164_400,
        market_condition={"trend": "bearish", "favourable": True},
    )


async def get(api: Api, query: str = "", role: str | None = "viewer") -> tuple[int, Any]:
    headers = api.auth(role) if role is not None else {}
    async with api.session.get(api.url(f"/api/signals{query}"), headers=headers) as resp:
        return resp.status, await resp.json()


async def publish(api: Api, count: int) -> None:
    for n in range(count):
        api.bus.publish(SignalEvent(signal(n)))

    async def all_in() -> bool:
        _, body = await get(api, "?limit=200")
        return len(body["items"]) == count

    await eventually(all_in, timeout=5.0, what=f"{count} signals listed")


async def test_a_signal_is_listed_as_the_websocket_sends_it_with_its_risk_decision(
    api: Api,
) -> None:
    await publish(api, 1)
    status, body = await get(api)
    assert status == 200
    assert body == {
        "items": [
            {
                "strategy": "ma_rsi",
                "symbol": "Volatility 75 Index",
                "timeframe": "M15",
                "side": "sell",
                "entry": 1.10012,
                "sl": 1.1035,
                "tp": 1.0985,
                "confidence": 0.75,
                "reason": "RSI turned down (0)",
                "bar_time": "2024-01-02T03:00:00.000Z",
                "time": "2024-01-02T03:15:00.000Z",
                "market_condition": {"trend": "bearish", "favourable": True},
                "risk": None,
            }
        ]
    }


async def test_the_list_is_empty_before_any_signal(api: Api) -> None:
    assert await get(api) == (200, {"items": []})


async def test_fifty_newest_first_by_default_and_limit_picks_fewer(api: Api) -> None:
    await publish(api, 60)
    _, body = await get(api)
    assert [item["reason"] for item in body["items"]] == [
        f"RSI turned down ({n})" for n in range(59, 9, -1)
    ]
    _, body = await get(api, "?limit=2")
    assert [item["reason"] for item in body["items"]] == [
        "RSI turned down (59)",
        "RSI turned down (58)",
    ]


@pytest.mark.parametrize("query", ["?limit=0", "?limit=201", "?limit=ten", "?since=1"])
async def test_a_bad_query_is_400_naming_the_parameter(api: Api, query: str) -> None:
    status, body = await get(api, query)
    assert status == 400
    assert body["error"]["code"] == "invalid_parameter"
    assert query[1:].partition("=")[0] in body["error"]["message"]


async def test_without_a_token_it_is_401(api: Api) -> None:
    status, body = await get(api, role=None)
    assert status == 401
    assert body["error"]["code"] == "unauthenticated"


async def test_the_route_is_in_the_openapi_document_with_its_limit(api: Api) -> None:
    async with api.session.get(api.url("/api/openapi.json")) as resp:
        document = await resp.json()
    operation = document["paths"]["/api/signals"]["get"]
    [limit] = [p for p in operation["parameters"] if p["name"] == "limit"]
    assert (limit["schema"]["minimum"], limit["schema"]["maximum"]) == (1, 200)


async def test_the_risk_managers_approval_and_rejection_are_listed(
    db_engine: AsyncEngine,
) -> None:
    async with engine_api(db_engine) as api:
        rig = api.rig
        await rig.advance(60)
        good = rig.signal(Side.BUY, sl_points=300, tp_points=600)
        too_close = rig.signal(Side.BUY, sl_points=0.5, tp_points=600)
        rig.bus.publish(SignalEvent(good))
        rig.bus.publish(SignalEvent(too_close))
        await rig.settle()

        async def decided() -> list[Any] | None:
            reply = await api.call("GET", "/api/signals", role="viewer")
            risks = [item["risk"] for item in reply.body["items"]]
            return risks if len(risks) == 2 and None not in risks else None

        rejected, approved = await eventually(decided, timeout=10.0, what="two decisions")
        opened = await rig.wait_for(TradeStatus.OPEN)
        assert approved == {
            "decision": "approved",
            "client_order_id": opened.trade.client_order_id,
            "volume": float(opened.trade.volume),
        }
        assert (rejected["decision"], rejected["code"]) == ("rejected", "invalid_stop")
        assert "stop" in rejected["message"]


async def test_live_clients_get_each_decision_on_ws_signals(
    db_engine: AsyncEngine,
) -> None:
    async with engine_api(db_engine) as api:
        rig = api.rig
        await rig.advance(60)
        token = api.auth("viewer")["Authorization"].removeprefix("Bearer ")
        ws = await api.session.ws_connect(api.url(f"/ws/signals?token={token}"))
        broadcaster = api.server.app[BROADCASTER_KEY]
        await eventually(lambda: broadcaster.client_count == 1, timeout=5.0, what="registered")
        good = rig.signal(Side.BUY, sl_points=300, tp_points=600)
        too_close = rig.signal(Side.BUY, sl_points=0.5, tp_points=600)
        rig.bus.publish(SignalEvent(good))
        rig.bus.publish(SignalEvent(too_close))
        await rig.settle()
        async with asyncio.timeout(10.0):
            messages = [await ws.receive_json() for _ in range(4)]
        await ws.close()
        opened = await rig.wait_for(TradeStatus.OPEN)

    signals = [m["data"] for m in messages if "data" in m]
    decisions = [m for m in messages if m.get("type") == "decision"]
    assert [s["sl"] for s in signals] == [good.sl, too_close.sl]
    assert len(decisions) == 2
    by_sl = {d["signal"]["sl"]: d for d in decisions}
    approved, rejected = by_sl[good.sl], by_sl[too_close.sl]
    assert approved == {
        "channel": "signals",
        "type": "decision",
        "signal": signals[0]
        | {
            "risk": {
                "decision": "approved",
                "client_order_id": opened.trade.client_order_id,
                "volume": float(opened.trade.volume),
            }
        },
    }
    assert rejected["signal"] == signals[1] | {"risk": rejected["signal"]["risk"]}
    assert (rejected["signal"]["risk"]["decision"], rejected["signal"]["risk"]["code"]) == (
        "rejected",
        "invalid_stop",
    )
