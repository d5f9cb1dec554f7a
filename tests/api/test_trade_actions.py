"""Trade actions over HTTP: ``POST/PUT/DELETE /api/trades``, ``/api/positions/{ticket}/...``.

The specification is the docstring of ``forexbot/api/routes/trade_actions.py``. Every test talks
to a real server with a real HTTP client; behind it runs the real trading engine on the
simulated terminal (manual clock) and the real PostgreSQL, so what the API answers is checked
against what the terminal itself holds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine
from trading_rig import MAGIC, OPEN_LIMITS

from forexbot.domain.trading import TradeStatus
from forexbot.engine.sizing import loss_per_lot
from forexbot.errors import TerminalError

from ._engine_api import USERS, EngineApi, engine_api

pytestmark = pytest.mark.db

TRADER = USERS["trader"]


@pytest_asyncio.fixture(loop_scope="function")
async def api(db_engine: AsyncEngine) -> AsyncIterator[EngineApi]:
    """EURUSD (stops level 0) and XAUUSD (stops level 20, freeze level 5), permissive limits."""
    async with engine_api(db_engine, symbols=("EURUSD", "XAUUSD")) as running:
        yield running


# -- POST /api/trades -----------------------------------------------------------------------


async def test_a_trader_opens_a_manual_trade_and_gets_the_open_trade_back(
    api: EngineApi,
) -> None:
    order = api.order("buy", volume=0.1)

    reply = await api.call("POST", "/api/trades", json=order)

    assert reply.status == 201
    trade = reply.body
    assert trade["status"] == "open"
    assert trade["strategy"] == "manual"
    assert (trade["symbol"], trade["side"], trade["volume"]) == ("EURUSD", "buy", 0.1)
    assert (trade["sl"], trade["tp"]) == (order["sl"], order["tp"])
    assert trade["entry_price"] == api.quote()[1]  # a buy fills at the ask
    assert trade == (await api.rig.trade(trade["id"])).to_api()


async def test_an_opened_trade_is_a_position_at_the_terminal_commented_with_its_client_order_id(
    api: EngineApi,
) -> None:
    trade = await api.open("sell", volume=0.2)

    (position,) = api.rig.our_positions()
    assert position.ticket == trade["mt5_position"]
    assert position.comment == trade["client_order_id"]
    assert position.magic == MAGIC
    assert (position.type, position.volume) == (1, 0.2)  # ORDER_TYPE_SELL
    assert (position.sl, position.tp) == (trade["sl"], trade["tp"])
    assert position.price_open == trade["entry_price"]


async def test_opening_a_trade_is_audited_with_the_user_and_the_source_address(
    api: EngineApi,
) -> None:
    trade = await api.open("buy", volume=0.1)

    (row,) = await api.audit("trade_opened")
    assert row.component == "api"
    assert row.actor == TRADER
    assert row.source_ip == "127.0.0.1"
    assert row.context["trade_id"] == trade["id"]
    assert row.context["status"] == "open"
    assert row.context["order"]["symbol"] == "EURUSD"


async def test_without_a_volume_the_trade_is_sized_to_risk_the_per_trade_limit(
    api: EngineApi,
) -> None:
    reply = await api.call("POST", "/api/trades", json=api.order("buy", sl_points=300))

    assert reply.status == 201
    trade = reply.body
    spec = api.rig.connector.spec("EURUSD")
    per_lot = loss_per_lot(trade["entry_price"], trade["sl"], spec)
    limit = 10_000 * OPEN_LIMITS.risk_per_trade_percent / 100
    assert trade["volume"] * per_lot <= limit
    # Rounded down to the step, not further: one step more would risk too much.
    assert (trade["volume"] + spec.volume_step) * per_lot > limit
    assert api.rig.our_positions()[0].volume == trade["volume"]


async def test_a_volume_that_is_not_a_multiple_of_the_step_is_refused_as_invalid_volume(
    api: EngineApi,
) -> None:
    reply = await api.call("POST", "/api/trades", json=api.order(volume=0.015))

    assert reply.status == 422
    assert reply.error["code"] == "risk_rejected"
    assert reply.reason == "invalid_volume"
    assert "step 0.01" in reply.error["message"]
    assert api.rig.our_positions() == []


async def test_a_volume_risking_more_than_the_per_trade_limit_is_refused(api: EngineApi) -> None:
    # 1 lot with the stop 300 points away loses about 300 USD: more than 1 % of 10 000.
    reply = await api.call("POST", "/api/trades", json=api.order(sl_points=300, volume=1.0))

    assert reply.status == 422
    assert reply.error["code"] == "risk_rejected"
    assert reply.reason == "risk_per_trade_exceeded"
    assert "1 % of equity" in reply.error["message"]
    assert api.rig.our_positions() == []


@pytest.mark.parametrize(("side", "where"), [("buy", "below the bid"), ("sell", "above the ask")])
async def test_a_stop_loss_on_the_wrong_side_of_the_price_is_refused_as_invalid_stop(
    api: EngineApi, side: str, where: str
) -> None:
    order = api.order(side, sl_points=-200, tp_points=0)  # the SL on the winning side

    reply = await api.call("POST", "/api/trades", json=order)

    assert reply.status == 422
    assert reply.error["code"] == "risk_rejected"
    assert reply.reason == "invalid_stop"
    assert where in reply.error["message"]
    assert api.rig.our_positions() == []


async def test_a_stop_loss_inside_the_stops_level_is_refused_as_stop_too_close(
    api: EngineApi,
) -> None:
    bid, _ = api.quote("XAUUSD")
    order = {"symbol": "XAUUSD", "side": "buy", "sl": round(bid - 0.10, 2), "volume": 0.01}

    reply = await api.call("POST", "/api/trades", json=order)

    assert reply.status == 422
    assert reply.reason == "stop_too_close"
    assert "requires 20" in reply.error["message"]


async def test_a_stop_loss_exactly_at_the_stops_level_is_accepted(api: EngineApi) -> None:
    # Move to a quote where bid - 20 points, rounded to the digits, is a float a hair less
    # than 0.20 below the bid (it happens at about one quote in five).
    for _ in range(120):
        bid, _ = api.quote("XAUUSD")
        if bid - round(bid - 0.20, 2) < 0.20:
            break
        await api.rig.advance(60)
    else:
        pytest.fail("no such quote within two hours")
    order = {"symbol": "XAUUSD", "side": "buy", "sl": round(bid - 0.20, 2), "volume": 0.01}

    reply = await api.call("POST", "/api/trades", json=order)

    assert reply.status == 201, reply.body
    assert api.rig.our_positions()[0].sl == order["sl"]


async def test_a_take_profit_on_the_wrong_side_is_refused_as_invalid_take_profit(
    api: EngineApi,
) -> None:
    bid, _ = api.quote()
    order = {**api.order("buy", volume=0.1), "tp": round(bid - 200 * api.point(), 5)}

    reply = await api.call("POST", "/api/trades", json=order)

    assert reply.status == 422
    assert reply.error["code"] == "risk_rejected"
    assert reply.error["details"] == {"reason": "invalid_take_profit"}
    assert "must be above the bid" in reply.error["message"]
    assert await api.rig.trades.list(limit=5, offset=0) == ([], 0)
    assert api.rig.our_positions() == []


async def test_a_symbol_that_is_not_watched_is_refused_as_unknown_symbol(api: EngineApi) -> None:
    order = {**api.order(volume=0.1), "symbol": "GBPUSD"}

    reply = await api.call("POST", "/api/trades", json=order)

    assert reply.status == 422
    assert reply.error["code"] == "unknown_symbol"
    assert "GBPUSD" in reply.error["message"]
    assert api.rig.our_positions() == []


@pytest.mark.parametrize(
    ("change", "field", "kind"),
    [
        ({"sl": None}, "sl", "missing"),
        ({"lots": 0.1}, "lots", "extra_forbidden"),
        ({"volume": "0.1"}, "volume", "float_type"),
        ({"side": "long"}, "side", "literal_error"),
        ({"sl": -1.0}, "sl", "greater_than"),
    ],
    ids=["missing sl", "unknown field", "number as text", "unknown side", "negative sl"],
)
async def test_a_body_that_does_not_fit_the_order_is_a_validation_error_naming_the_field(
    api: EngineApi, change: dict[str, Any], field: str, kind: str
) -> None:
    order = {**api.order(volume=0.1), **change}
    order = {key: value for key, value in order.items() if value is not None}  # None: left out

    reply = await api.call("POST", "/api/trades", json=order)

    assert reply.status == 422
    assert reply.error["code"] == "validation_error"
    assert [(p["field"], p["type"]) for p in reply.error["details"]] == [(field, kind)]
    assert api.rig.our_positions() == []


async def test_a_body_that_is_not_json_is_400_malformed_json(api: EngineApi) -> None:
    reply = await api.call(
        "POST",
        "/api/trades",
        data='{"symbol": "EURUSD",',
        headers={"Content-Type": "application/json"},
    )

    assert reply.status == 400
    assert reply.error["code"] == "malformed_json"
    assert set(reply.body) == {"error"}
    assert set(reply.error) == {"code", "message", "details"}


async def test_a_viewer_may_not_act_on_trades_or_positions(api: EngineApi) -> None:
    trade = await api.open("buy", volume=0.1)
    trade_url, position_url = (
        f"/api/trades/{trade['id']}",
        f"/api/positions/{trade['mt5_position']}",
    )
    tighter = api.stops("buy", 100, tp_points=100)
    actions: list[tuple[str, str, Any]] = [
        ("POST", "/api/trades", api.order(volume=0.1)),
        ("PUT", trade_url, tighter),
        ("DELETE", trade_url, None),
        ("PUT", f"{position_url}/sl", {"sl": tighter["sl"]}),
        ("PUT", f"{position_url}/tp", {"tp": tighter["tp"]}),
        ("POST", f"{position_url}/close", None),
    ]

    for method, url, body in actions:
        reply = await api.call(method, url, role="viewer", json=body)
        assert (reply.status, reply.error["code"]) == (403, "forbidden"), (method, url)

    (position,) = api.rig.our_positions()
    assert (position.volume, position.sl, position.tp) == (0.1, trade["sl"], trade["tp"])
    audited = await api.rig.logs.recent(50, component="api")
    changes = [row.actor for row in audited if row.event != "api_request"]
    assert changes == [TRADER]  # only the trader's own order changed anything
    refused = [row.context["status"] for row in audited if row.event == "api_request"
               and row.actor != TRADER]  # fmt: skip
    assert refused == [403] * len(actions)  # every refused attempt is in the trail


async def test_opening_a_trade_without_a_token_is_401(api: EngineApi) -> None:
    reply = await api.call("POST", "/api/trades", role=None, json=api.order(volume=0.1))

    assert reply.status == 401
    assert reply.error["code"] == "unauthenticated"
    assert api.rig.our_positions() == []


async def test_a_trade_beyond_max_open_positions_is_refused(db_engine: AsyncEngine) -> None:
    limits = OPEN_LIMITS.model_copy(update={"max_open_positions": 1})
    async with engine_api(db_engine, risk=limits) as api:
        await api.open("buy", volume=0.1)

        reply = await api.call("POST", "/api/trades", json=api.order("sell", volume=0.1))

        assert reply.status == 422
        assert reply.error["code"] == "risk_rejected"
        assert reply.reason == "max_open_positions"
        assert len(api.rig.our_positions()) == 1


# -- PUT /api/trades/{id} -------------------------------------------------------------------


async def test_put_sl_moves_the_stop_at_the_terminal_and_in_the_trade(api: EngineApi) -> None:
    trade = await api.open("buy", volume=0.1, sl_points=300)
    new_sl = api.stops("buy", 150)["sl"]

    reply = await api.call("PUT", f"/api/trades/{trade['id']}", json={"sl": new_sl})

    assert reply.status == 200
    assert (reply.body["sl"], reply.body["tp"]) == (new_sl, trade["tp"])
    position = api.position(trade["mt5_position"])
    assert (position.sl, position.tp) == (new_sl, trade["tp"])
    assert (await api.rig.trade(trade["id"])).to_api()["sl"] == new_sl
    (row,) = await api.audit("trade_modified")
    assert (row.actor, row.context["sl"]) == (TRADER, new_sl)


async def test_put_tp_of_0_removes_the_take_profit(api: EngineApi) -> None:
    trade = await api.open("sell", volume=0.1)

    reply = await api.call("PUT", f"/api/trades/{trade['id']}", json={"tp": 0})

    assert reply.status == 200
    assert (reply.body["sl"], reply.body["tp"]) == (trade["sl"], None)
    assert api.position(trade["mt5_position"]).tp == 0.0


async def test_put_sl_on_the_wrong_side_is_invalid_stops_naming_the_side(api: EngineApi) -> None:
    trade = await api.open("buy", volume=0.1)
    bid, _ = api.quote()
    above_bid = round(bid + 50 * api.point(), 5)

    reply = await api.call("PUT", f"/api/trades/{trade['id']}", json={"sl": above_bid})

    assert reply.status == 422
    assert reply.error["code"] == "invalid_stops"
    assert f"sl {above_bid} of a buy must be below the bid" in reply.error["message"]
    assert api.position(trade["mt5_position"]).sl == trade["sl"]
    assert (await api.rig.trade(trade["id"])).to_api()["sl"] == trade["sl"]


async def test_put_sl_inside_the_stops_level_is_invalid_stops_naming_the_level(
    api: EngineApi,
) -> None:
    spec = api.rig.connector.spec("XAUUSD")
    assert spec.stops_level == 20
    trade = await api.open("buy", symbol="XAUUSD", volume=0.01, sl_points=500, tp_points=500)
    bid, _ = api.quote("XAUUSD")
    too_close = round(bid - 10 * spec.point, 2)

    reply = await api.call("PUT", f"/api/trades/{trade['id']}", json={"sl": too_close})

    assert reply.status == 422
    assert reply.error["code"] == "invalid_stops"
    assert "10 points from the bid" in reply.error["message"]
    assert "XAUUSD requires at least 20" in reply.error["message"]
    assert api.position(trade["mt5_position"]).sl == trade["sl"]


async def test_put_without_sl_or_tp_is_a_validation_error(api: EngineApi) -> None:
    trade = await api.open("buy", volume=0.1)

    reply = await api.call("PUT", f"/api/trades/{trade['id']}", json={})

    assert reply.status == 422
    assert reply.error["code"] == "validation_error"


async def test_modifying_or_closing_a_closed_trade_is_409_not_open(api: EngineApi) -> None:
    trade = await api.open("buy", volume=0.1)
    assert (await api.call("DELETE", f"/api/trades/{trade['id']}")).status == 200
    sl = api.stops("buy", 100)["sl"]

    modify = await api.call("PUT", f"/api/trades/{trade['id']}", json={"sl": sl})
    close = await api.call("DELETE", f"/api/trades/{trade['id']}")

    for reply in (modify, close):
        assert reply.status == 409
        assert reply.error["code"] == "not_open"
        assert f"trade {trade['id']} is closed" in reply.error["message"]


async def test_modifying_or_closing_an_unknown_trade_is_404(api: EngineApi) -> None:
    modify = await api.call("PUT", "/api/trades/424242", json={"sl": 1.0})
    close = await api.call("DELETE", "/api/trades/424242")

    for reply in (modify, close):
        assert reply.status == 404
        assert reply.error["code"] == "not_found"
        assert "trade 424242 does not exist" in reply.error["message"]


# -- DELETE /api/trades/{id} ----------------------------------------------------------------


async def test_delete_closes_the_trade_with_the_terminals_profit(api: EngineApi) -> None:
    trade = await api.open("buy", volume=0.1)
    await api.rig.advance(600)  # let the price move

    reply = await api.call("DELETE", f"/api/trades/{trade['id']}")

    assert reply.status == 200
    closed = reply.body
    assert closed["status"] == "closed"
    assert closed["close_reason"] == "manual_api"
    assert api.position(trade["mt5_position"]) is None
    (exit_deal,) = api.exit_deals(trade["mt5_position"])
    assert closed["profit"] == round(exit_deal.profit, 2)
    assert closed["exit_price"] == exit_deal.price
    assert closed["closed_volume"] == 0.1


async def test_closing_a_trade_is_audited_as_trade_closed(api: EngineApi) -> None:
    trade = await api.open("buy", volume=0.1)

    await api.call("DELETE", f"/api/trades/{trade['id']}")

    (row,) = await api.audit("trade_closed")
    assert (row.actor, row.source_ip) == (TRADER, "127.0.0.1")
    assert row.context == {"trade_id": trade["id"], "volume": None}


async def test_delete_with_a_volume_closes_that_part_and_leaves_the_rest_open(
    api: EngineApi,
) -> None:
    trade = await api.open("buy", volume=0.1)
    before = api.position(trade["mt5_position"]).volume

    reply = await api.call("DELETE", f"/api/trades/{trade['id']}?volume=0.04")

    assert reply.status == 200
    assert reply.body["status"] == "open"
    assert reply.body["closed_volume"] == 0.04
    assert reply.body["open_volume"] == 0.06
    after = api.position(trade["mt5_position"]).volume
    assert round(before - after, 8) == 0.04
    (exit_deal,) = api.exit_deals(trade["mt5_position"])
    assert reply.body["profit"] == round(exit_deal.profit, 2)


async def test_a_second_delete_closes_the_rest_with_the_profit_of_both_exits(
    api: EngineApi,
) -> None:
    trade = await api.open("sell", volume=0.1)
    await api.rig.advance(300)
    await api.call("DELETE", f"/api/trades/{trade['id']}?volume=0.04")
    await api.rig.advance(300)

    reply = await api.call("DELETE", f"/api/trades/{trade['id']}")

    assert reply.status == 200
    assert reply.body["status"] == "closed"
    assert reply.body["closed_volume"] == 0.1
    assert api.position(trade["mt5_position"]) is None
    first, second = api.exit_deals(trade["mt5_position"])
    assert (first.volume, second.volume) == (0.04, 0.06)
    assert reply.body["profit"] == round(first.profit + second.profit, 2)


async def test_closing_more_than_the_position_holds_is_invalid_close_volume(
    api: EngineApi,
) -> None:
    trade = await api.open("buy", volume=0.1)

    reply = await api.call("DELETE", f"/api/trades/{trade['id']}?volume=0.2")

    assert reply.status == 422
    assert reply.error["code"] == "invalid_close_volume"
    assert "holds 0.1" in reply.error["message"]
    assert api.position(trade["mt5_position"]).volume == 0.1
    assert (await api.rig.trade(trade["id"])).to_api()["status"] == "open"


async def test_a_close_volume_that_is_not_a_number_is_400_naming_the_parameter(
    api: EngineApi,
) -> None:
    trade = await api.open("buy", volume=0.1)

    reply = await api.call("DELETE", f"/api/trades/{trade['id']}?volume=half")

    assert reply.status == 400
    assert reply.error["code"] == "invalid_parameter"
    assert "'volume'" in reply.error["message"]
    assert api.position(trade["mt5_position"]).volume == 0.1


# -- /api/positions/{ticket} ----------------------------------------------------------------


async def test_put_position_sl_moves_the_stop(api: EngineApi) -> None:
    trade = await api.open("sell", volume=0.1)
    ticket = trade["mt5_position"]
    new_sl = api.stops("sell", 120)["sl"]

    reply = await api.call("PUT", f"/api/positions/{ticket}/sl", json={"sl": new_sl})

    assert reply.status == 200
    assert (reply.body["id"], reply.body["sl"]) == (trade["id"], new_sl)
    assert (api.position(ticket).sl, api.position(ticket).tp) == (new_sl, trade["tp"])
    (row,) = await api.audit("position_sl_set")
    assert row.context == {"trade_id": trade["id"], "ticket": ticket, "sl": new_sl}


async def test_put_position_tp_moves_the_take_profit(api: EngineApi) -> None:
    trade = await api.open("buy", volume=0.1)
    ticket = trade["mt5_position"]
    new_tp = api.stops("buy", 300, tp_points=900)["tp"]

    reply = await api.call("PUT", f"/api/positions/{ticket}/tp", json={"tp": new_tp})

    assert reply.status == 200
    assert (reply.body["sl"], reply.body["tp"]) == (trade["sl"], new_tp)
    assert (api.position(ticket).sl, api.position(ticket).tp) == (trade["sl"], new_tp)


async def test_post_position_close_without_a_body_closes_all_of_it(api: EngineApi) -> None:
    trade = await api.open("buy", volume=0.1)
    ticket = trade["mt5_position"]

    reply = await api.call("POST", f"/api/positions/{ticket}/close")

    assert reply.status == 200
    assert reply.body["status"] == "closed"
    assert api.position(ticket) is None
    (exit_deal,) = api.exit_deals(ticket)
    assert reply.body["profit"] == round(exit_deal.profit, 2)
    (row,) = await api.audit("position_closed")
    assert row.context == {"trade_id": trade["id"], "ticket": ticket, "volume": None}


async def test_post_position_close_with_a_volume_closes_that_part(api: EngineApi) -> None:
    trade = await api.open("buy", volume=0.1)
    ticket = trade["mt5_position"]

    reply = await api.call("POST", f"/api/positions/{ticket}/close", json={"volume": 0.03})

    assert reply.status == 200
    assert reply.body["status"] == "open"
    assert reply.body["closed_volume"] == 0.03
    assert api.position(ticket).volume == 0.07


async def test_a_position_that_is_not_the_bots_is_404_and_left_alone(api: EngineApi) -> None:
    ticket = api.foreign_position()
    actions: list[tuple[str, str, Any]] = [
        ("PUT", "sl", {"sl": 1.0}),
        ("PUT", "tp", {"tp": 2.0}),
        ("POST", "close", None),
    ]

    for method, action, body in actions:
        reply = await api.call(method, f"/api/positions/{ticket}/{action}", json=body)
        assert reply.status == 404, action
        assert reply.error["code"] == "not_found"
        assert f"position {ticket} is not an open position of this bot" in reply.error["message"]

    foreign = api.position(ticket)
    assert (foreign.volume, foreign.sl, foreign.tp) == (0.1, 0.0, 0.0)


# -- reads ----------------------------------------------------------------------------------


async def test_history_lists_the_trades_transitions_for_any_role(api: EngineApi) -> None:
    trade = await api.open("buy", volume=0.1)
    await api.call("DELETE", f"/api/trades/{trade['id']}")

    for role in ("viewer", "trader", "admin"):
        reply = await api.call("GET", f"/api/trades/{trade['id']}/history", role=role)

        assert reply.status == 200, role
        steps = [(item["from"], item["to"]) for item in reply.body["items"]]
        assert steps == [
            (None, "intent"),
            ("intent", "submitted"),
            ("submitted", "open"),
            ("open", "closing"),
            ("closing", "closed"),
        ]


async def test_history_of_an_unknown_trade_is_404(api: EngineApi) -> None:
    reply = await api.call("GET", "/api/trades/424242/history", role="viewer")

    assert reply.status == 404
    assert reply.error["code"] == "not_found"


async def test_get_positions_lists_the_position_with_its_trade_id(api: EngineApi) -> None:
    trade = await api.open("sell", volume=0.1)
    await api.rig.positions.sync()

    reply = await api.call("GET", "/api/positions", role="viewer")

    assert reply.status == 200
    (item,) = reply.body["items"]
    assert item["ticket"] == trade["mt5_position"]
    assert item["trade_id"] == trade["id"]
    assert (item["symbol"], item["side"], item["volume"]) == ("EURUSD", "sell", 0.1)
    assert (item["sl"], item["tp"]) == (trade["sl"], trade["tp"])
    assert item["comment"] == trade["client_order_id"]


async def test_position_times_are_utc_with_a_z_like_every_api_time(api: EngineApi) -> None:
    trade = await api.open("buy", volume=0.1)
    await api.rig.positions.sync()

    reply = await api.call("GET", "/api/positions", role="viewer")

    (item,) = reply.body["items"]
    assert trade["open_time"] == "2026-03-10T10:00:00Z"
    assert item["time"] == trade["open_time"]


async def test_an_unreachable_terminal_is_503_and_nothing_is_written(api: EngineApi) -> None:
    order = api.order("buy", volume=0.1)
    api.rig.terminal.faults.disconnect()

    reply = await api.call("POST", "/api/trades", json=order)

    api.rig.terminal.faults.reconnect()
    assert reply.status == 503
    assert reply.error["code"] == "terminal_unavailable"
    assert await api.rig.trades.list(limit=5, offset=0) == ([], 0)


async def test_while_the_daemon_shuts_down_every_action_is_503(api: EngineApi) -> None:
    api.rig.engine.control.stop_accepting()

    reply = await api.call("POST", "/api/trades", json=api.order("buy", volume=0.1))

    assert reply.status == 503
    assert reply.error["code"] == "shutting_down"
    assert api.rig.our_positions() == []


async def test_a_close_whose_deals_cannot_be_read_yet_is_202_then_recorded(
    api: EngineApi,
) -> None:
    opened = await api.call("POST", "/api/trades", json=api.order("buy", volume=0.1))
    trade_id = opened.body["id"]
    real = api.rig.connector.deals_for_position

    async def unreadable(ticket: int) -> Any:
        raise TerminalError("history_deals_get failed: -10005 IPC timeout", code=-10005)

    api.rig.connector.deals_for_position = unreadable  # type: ignore[method-assign]
    reply = await api.call("DELETE", f"/api/trades/{trade_id}")
    api.rig.connector.deals_for_position = real  # type: ignore[method-assign]

    assert reply.status == 202
    assert reply.body["status"] == "closing"
    assert api.rig.our_positions() == []
    await api.rig.positions.sync()
    assert (await api.rig.trade(trade_id)).status is TradeStatus.CLOSED
