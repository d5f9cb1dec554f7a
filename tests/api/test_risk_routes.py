"""``/api/risk``: limits and state, changing limits, the kill switch and resuming, over HTTP.

The specification is the docstring of ``forexbot/api/routes/risk.py``. A real server and HTTP
client in front of the real risk manager (the engine as the daemon builds it, on the simulated
terminal and the real PostgreSQL): a changed limit must be the one the next order meets, and
the kill switch must leave the terminal flat.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine
from trading_rig import OPEN_LIMITS, trading_rig

from forexbot.clock import iso_utc
from forexbot.engine.risk_state import LIMITS_KEY

from ._engine_api import USERS, EngineApi, engine_api

pytestmark = pytest.mark.db


@pytest_asyncio.fixture(loop_scope="function")
async def api(db_engine: AsyncEngine) -> AsyncIterator[EngineApi]:
    async with engine_api(db_engine) as running:
        yield running


async def limits(api: EngineApi) -> dict[str, object]:
    reply = await api.call("GET", "/api/risk", role="viewer")
    assert reply.status == 200
    current: dict[str, object] = reply.body["limits"]
    return current


# -- GET /api/risk --------------------------------------------------------------------------


async def test_every_role_reads_the_limits_and_state(api: EngineApi) -> None:
    for role in ("viewer", "trader", "admin"):
        reply = await api.call("GET", "/api/risk", role=role)

        assert reply.status == 200, role
        state = reply.body
        assert state["limits"] == OPEN_LIMITS.model_dump(mode="json")
        assert state["kill_switch"] == {
            "active": False,
            "code": None,
            "reason": None,
            "since": None,
        }
        assert state["in_flight"] == 0
        assert state["rejections"] == {}
        assert state["blocked"] is None


async def test_risk_state_needs_a_token(api: EngineApi) -> None:
    reply = await api.call("GET", "/api/risk", role=None)

    assert reply.status == 401


async def test_risk_state_counts_refused_orders_by_reason(api: EngineApi) -> None:
    await api.call("POST", "/api/trades", json=api.order(volume=0.015))
    await api.call("POST", "/api/trades", json=api.order(volume=0.015))
    await api.call("POST", "/api/trades", json=api.order("sell", sl_points=-100, tp_points=0))
    await api.open("buy", volume=0.1)

    reply = await api.call("GET", "/api/risk", role="viewer")

    assert reply.body["rejections"] == {"invalid_volume": 2, "invalid_stop": 1}
    assert reply.body["approved"] == 1
    assert reply.body["in_flight"] == 0


# -- PUT /api/risk/limits -------------------------------------------------------------------


async def test_an_admin_changes_a_limit_and_reads_it_back(api: EngineApi) -> None:
    reply = await api.call(
        "PUT", "/api/risk/limits", role="admin", json={"max_daily_loss_percent": 3}
    )

    assert reply.status == 200
    assert reply.body["limits"]["max_daily_loss_percent"] == 3.0
    expected = OPEN_LIMITS.model_dump(mode="json") | {"max_daily_loss_percent": 3.0}
    assert await limits(api) == expected


async def test_list_limits_and_null_are_accepted_as_json_gives_them(api: EngineApi) -> None:
    sessions = {"allowed_sessions": ["London", "New York"], "blocked_volatility": ["high"]}
    reply = await api.call("PUT", "/api/risk/limits", role="admin", json=sessions)
    assert reply.status == 200
    assert reply.body["limits"]["allowed_sessions"] == ["London", "New York"]
    reply = await api.call("PUT", "/api/risk/limits", role="admin", json={"allowed_sessions": None})
    assert reply.status == 200
    assert reply.body["limits"]["allowed_sessions"] is None
    assert reply.body["limits"]["blocked_volatility"] == ["high"]


async def test_a_changed_limit_applies_to_the_next_order(api: EngineApi) -> None:
    await api.open("buy", volume=0.1)
    changed = await api.call(
        "PUT", "/api/risk/limits", role="admin", json={"max_open_positions": 1}
    )
    assert changed.status == 200

    reply = await api.call("POST", "/api/trades", json=api.order("sell", volume=0.1))

    assert reply.status == 422
    assert reply.reason == "max_open_positions"
    assert "the limit is 1" in reply.error["message"]
    assert len(api.rig.our_positions()) == 1


async def test_a_lower_per_trade_risk_refuses_a_volume_it_used_to_accept(api: EngineApi) -> None:
    # 0.3 lots with the stop 300 points away risk about 90 USD: within 1 %, beyond 0.5 %.
    order = api.order("buy", sl_points=300, volume=0.3)
    before = await api.call("POST", "/api/trades", json=order)
    await api.call("PUT", "/api/risk/limits", role="admin", json={"risk_per_trade_percent": 0.5})

    after = await api.call("POST", "/api/trades", json=api.order("buy", sl_points=300, volume=0.3))

    assert before.status == 201
    assert after.status == 422
    assert after.reason == "risk_per_trade_exceeded"
    assert "0.5 % of equity" in after.error["message"]


async def test_a_changed_limit_is_stored_and_survives_a_restart(
    api: EngineApi, db_engine: AsyncEngine
) -> None:
    await api.call("PUT", "/api/risk/limits", role="admin", json={"max_open_positions": 2})

    stored = await api.rig.store.get(LIMITS_KEY)
    assert stored is not None
    assert stored["max_open_positions"] == 2
    # A daemon started again with the file's limits (OPEN_LIMITS) runs with the stored ones.
    async with trading_rig(db_engine, risk=OPEN_LIMITS) as restarted:
        assert restarted.risk.settings.max_open_positions == 2
        assert restarted.risk.settings.risk_per_trade_percent == 1.0


async def test_changing_limits_is_audited_with_the_admin(api: EngineApi) -> None:
    await api.call("PUT", "/api/risk/limits", role="admin", json={"max_open_positions": 7})

    (row,) = await api.audit("risk_limits_changed")
    assert (row.actor, row.source_ip) == (USERS["admin"], "127.0.0.1")
    assert row.context == {"changes": {"max_open_positions": 7}}


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"max_open_positions": 0}, "max_open_positions"),
        ({"risk_per_trade_percent": 50}, "risk_per_trade_percent"),
        ({"max_trades_per_day": 3}, "max_trades_per_day"),
        ({"max_open_positions": 3, "risk_per_trade_percent": 50}, "risk_per_trade_percent"),
    ],
    ids=["below the minimum", "above the maximum", "unknown key", "one bad of two"],
)
async def test_an_invalid_limit_is_422_naming_the_key_and_changes_nothing(
    api: EngineApi, changes: dict[str, object], named: str
) -> None:
    reply = await api.call("PUT", "/api/risk/limits", role="admin", json=changes)

    assert reply.status == 422
    assert reply.error["code"] == "validation_error"
    assert named in reply.error["message"]
    assert await limits(api) == OPEN_LIMITS.model_dump(mode="json")
    assert await api.rig.store.get(LIMITS_KEY) is None
    assert await api.audit("risk_limits_changed") == []


async def test_an_empty_change_is_422(api: EngineApi) -> None:
    reply = await api.call("PUT", "/api/risk/limits", role="admin", json={})

    assert reply.status == 422
    assert reply.error["code"] == "validation_error"


async def test_a_limit_of_the_wrong_json_type_is_422(api: EngineApi) -> None:
    reply = await api.call(
        "PUT", "/api/risk/limits", role="admin", json={"max_open_positions": True}
    )

    assert reply.status == 422
    assert await limits(api) == OPEN_LIMITS.model_dump(mode="json")


async def test_only_an_admin_changes_limits(api: EngineApi) -> None:
    for role in ("viewer", "trader"):
        reply = await api.call("PUT", "/api/risk/limits", role=role, json={"max_open_positions": 1})

        assert reply.status == 403, role
        assert reply.error["code"] == "forbidden"

    assert await limits(api) == OPEN_LIMITS.model_dump(mode="json")
    assert await api.rig.store.get(LIMITS_KEY) is None


# -- POST /api/risk/kill-switch -------------------------------------------------------------


async def test_the_kill_switch_closes_every_position_of_the_bot(api: EngineApi) -> None:
    first = await api.open("buy", volume=0.1)
    second = await api.open("sell", volume=0.2)
    foreign = api.foreign_position()
    await api.rig.advance(300)

    reply = await api.call("POST", "/api/risk/kill-switch", json={"reason": "news spike"})

    assert reply.status == 200
    assert reply.body["closed"] == 2
    assert reply.body["kill_switch"]["active"] is True
    assert api.rig.our_positions() == []
    assert api.position(foreign) is not None  # not the bot's: not its to close
    for trade in (first, second):
        record = (await api.rig.trade(trade["id"])).to_api()
        assert (record["status"], record["close_reason"]) == ("closed", "kill_switch")
        (exit_deal,) = api.exit_deals(trade["mt5_position"])
        assert record["profit"] == round(exit_deal.profit, 2)


async def test_after_the_kill_switch_the_state_shows_it_and_no_trade_opens(
    api: EngineApi,
) -> None:
    await api.call("POST", "/api/risk/kill-switch", json={"reason": "news spike"})

    state = await api.call("GET", "/api/risk", role="viewer")
    refused = await api.call("POST", "/api/trades", json=api.order(volume=0.1))

    assert state.body["kill_switch"]["active"] is True
    assert state.body["kill_switch"]["reason"] == "news spike"
    assert state.body["kill_switch"]["since"] == iso_utc(api.rig.clock.time())
    assert state.body["blocked"] == "kill_switch"
    assert refused.status == 422
    assert refused.error["code"] == "risk_rejected"
    assert refused.reason == "kill_switch"
    assert api.rig.our_positions() == []


async def test_the_kill_switch_time_is_utc_with_a_z_like_every_api_time(api: EngineApi) -> None:
    await api.call("POST", "/api/risk/kill-switch", json={"reason": "news spike"})

    reply = await api.call("GET", "/api/risk", role="viewer")

    assert reply.body["kill_switch"]["since"] == "2026-03-10T10:00:00Z"


async def test_tripping_the_kill_switch_is_audited(api: EngineApi) -> None:
    await api.open("buy", volume=0.1)

    await api.call("POST", "/api/risk/kill-switch", json={"reason": "news spike"})

    (row,) = await api.audit("kill_switch_tripped")
    assert (row.actor, row.source_ip) == (USERS["trader"], "127.0.0.1")
    assert row.context == {"reason": "news spike", "closed": 1}


async def test_a_viewer_may_not_trip_the_kill_switch(api: EngineApi) -> None:
    trade = await api.open("buy", volume=0.1)

    reply = await api.call("POST", "/api/risk/kill-switch", role="viewer", json={"reason": "x"})

    assert reply.status == 403
    assert api.position(trade["mt5_position"]) is not None
    assert (await api.call("GET", "/api/risk")).body["kill_switch"]["active"] is False


async def test_the_kill_switch_needs_a_reason(api: EngineApi) -> None:
    reply = await api.call("POST", "/api/risk/kill-switch", json={"reason": ""})

    assert reply.status == 422
    assert reply.error["code"] == "validation_error"
    assert (await api.call("GET", "/api/risk")).body["kill_switch"]["active"] is False


# -- POST /api/risk/resume ------------------------------------------------------------------


async def test_a_trader_may_not_resume_trading(api: EngineApi) -> None:
    await api.call("POST", "/api/risk/kill-switch", json={"reason": "news spike"})

    reply = await api.call("POST", "/api/risk/resume", role="trader")

    assert reply.status == 403
    assert (await api.call("GET", "/api/risk")).body["kill_switch"]["active"] is True


async def test_an_admin_resumes_trading_and_orders_open_again(api: EngineApi) -> None:
    await api.call("POST", "/api/risk/kill-switch", json={"reason": "news spike"})

    reply = await api.call("POST", "/api/risk/resume", role="admin")

    assert reply.status == 200
    assert reply.body["kill_switch"] == {
        "active": False,
        "code": None,
        "reason": None,
        "since": None,
    }
    opened = await api.call("POST", "/api/trades", json=api.order(volume=0.1))
    assert opened.status == 201
    assert len(api.rig.our_positions()) == 1
    (row,) = await api.audit("trading_resumed")
    assert row.actor == USERS["admin"]


async def test_resuming_when_not_halted_is_409(api: EngineApi) -> None:
    reply = await api.call("POST", "/api/risk/resume", role="admin")

    assert reply.status == 409
    assert reply.error["code"] == "not_halted"
    assert await api.audit("trading_resumed") == []
