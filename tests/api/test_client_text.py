"""The text rule (``forexbot.text``) at every place client text enters the API, on a real
server over the real PostgreSQL: no control character, no surrogate — refused with 400
``invalid_parameter`` (query, path) or 422 ``validation_error`` (bodies) naming the field and
never repeating the text, instead of reaching PostgreSQL and failing with 500."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from forexbot.text import KEY_PROBLEM, PROBLEM

from ._engine_api import EngineApi, engine_api
from ._support import Api, MakeApi

pytestmark = pytest.mark.db


@pytest_asyncio.fixture(loop_scope="function")
async def api(make_api: MakeApi) -> Api:
    server = await make_api(api_keys=True)
    user = await server.create_user("tester", "a-long-passphrase", "admin")
    assert user.id == 1  # the tokens act for user 1
    return server


async def call(
    api: Api,
    method: str,
    path: str,
    *,
    json: Any = None,
    role: str | None = "admin",
    data: str | None = None,
) -> tuple[int, Any]:
    headers = api.auth(role) if role is not None else {}
    if data is not None:
        headers["Content-Type"] = "application/json"
    async with api.session.request(
        method, api.url(path), json=json, data=data, headers=headers
    ) as resp:
        return resp.status, await resp.json()


def body_error(*fields: str | None, problem: str = PROBLEM) -> tuple[int, dict[str, Any]]:
    """The 422 answer for text breaking the rule in the body ``fields``."""
    return 422, {
        "error": {
            "code": "validation_error",
            "message": f"invalid request body ({', '.join(map(str, fields))})",
            "details": [
                {"field": field, "message": problem, "type": "invalid_text"} for field in fields
            ],
        }
    }


def parameter_error(where: str, field: str | None) -> tuple[int, dict[str, Any]]:
    """The 400 answer for text breaking the rule in a query or path parameter."""
    return 400, {
        "error": {
            "code": "invalid_parameter",
            "message": f"{where} {PROBLEM}",
            "details": [{"field": field, "message": PROBLEM, "type": "invalid_text"}],
        }
    }


# -- the entry points of the issue -------------------------------------------------------------


async def test_a_nul_in_a_login_username_is_422_without_a_token(api: Api) -> None:
    body = {"username": "ana\x00", "password": "a-long-passphrase"}
    assert await call(api, "POST", "/api/auth/login", json=body, role=None) == body_error(
        "username"
    )


async def test_a_nul_in_the_symbol_filter_of_trades_is_400_naming_it(api: Api) -> None:
    assert await call(api, "GET", "/api/trades?symbol=EUR%00USD", role="viewer") == (
        parameter_error("query parameter 'symbol'", "symbol")
    )


async def test_a_nul_in_the_strategy_filter_of_trades_is_400_naming_it(api: Api) -> None:
    assert await call(api, "GET", "/api/trades?strategy=ma_rsi%00", role="viewer") == (
        parameter_error("query parameter 'strategy'", "strategy")
    )


async def test_a_nul_in_an_api_key_name_is_422(api: Api) -> None:
    body = {"name": "grafana\x00", "scope": "viewer"}
    assert await call(api, "POST", "/api/auth/api-keys", json=body) == body_error("name")


async def test_a_nul_in_a_reset_password_username_is_422(api: Api) -> None:
    body = {"username": "\x00", "new_password": "a-brand-new-passphrase"}
    assert await call(api, "POST", "/api/auth/reset-password", json=body) == body_error("username")


@pytest_asyncio.fixture(loop_scope="function")
async def engine(db_engine: AsyncEngine) -> Any:
    async with engine_api(db_engine) as running:
        yield running


async def test_a_nul_in_a_manual_trade_comment_is_422_and_nothing_is_sent(
    engine: EngineApi,
) -> None:
    reply = await engine.call("POST", "/api/trades", json=engine.order(comment="news\x00"))
    assert (reply.status, reply.body) == body_error("comment")
    assert await engine.rig.trades.list(limit=10, offset=0) == ([], 0)


async def test_a_control_character_in_a_kill_switch_reason_is_422_and_trading_goes_on(
    engine: EngineApi,
) -> None:
    reply = await engine.call(
        "POST", "/api/risk/kill-switch", role="admin", json={"reason": "news\x00\x1b[2J"}
    )
    assert (reply.status, reply.body) == body_error("reason")
    assert (await engine.call("GET", "/api/risk")).body["kill_switch"]["active"] is False


# -- the same rule everywhere else -------------------------------------------------------------


async def test_a_nul_in_a_path_parameter_is_400_naming_it(api: Api) -> None:
    assert await call(
        api, "GET", "/api/market/analysis/EUR%00USD", role="viewer"
    ) == parameter_error("path parameter 'symbol'", "symbol")


async def test_a_nul_in_a_path_parameter_of_a_state_changing_route_is_400(api: Api) -> None:
    assert await call(
        api, "PUT", "/api/strategies/ma_rsi%00/toggle", role="trader"
    ) == parameter_error("path parameter 'strategy_id'", "strategy_id")
    assert api.strategies.calls == []


async def test_a_control_character_in_a_query_parameter_name_is_400_without_naming_it(
    api: Api,
) -> None:
    assert await call(api, "GET", "/api/trades?sym%01bol=EURUSD", role="viewer") == (
        parameter_error("query parameter names", None)
    )


async def test_a_query_parameter_no_route_reads_is_under_the_rule_too(api: Api) -> None:
    assert await call(api, "GET", "/api/positions?note=%00", role="viewer") == (
        parameter_error("query parameter 'note'", "note")
    )


async def test_strings_deep_in_a_body_and_object_keys_are_under_the_rule(api: Api) -> None:
    body = {"params": {"fast\x00": 10, "slow": 50}, "management": {"note": ["ok", "\x85"]}}
    status, answer = await call(api, "PUT", "/api/strategies/ma_rsi:EURUSD:M15", json=body)
    assert (status, answer) == (
        422,
        {
            "error": {
                "code": "validation_error",
                "message": "invalid request body (params, management.note.1)",
                "details": [
                    {"field": "params", "message": KEY_PROBLEM, "type": "invalid_text"},
                    {"field": "management.note.1", "message": PROBLEM, "type": "invalid_text"},
                ],
            }
        },
    )
    assert api.strategies.calls == []


@pytest.mark.parametrize("text", ["tab\there", "line\nbreak", "cr\rhere", "del\x7f", "csi\x9b"])
async def test_tabs_line_breaks_del_and_c1_controls_are_refused_too(api: Api, text: str) -> None:
    body = {"name": text, "scope": "viewer"}
    assert await call(api, "POST", "/api/auth/api-keys", json=body) == body_error("name")


async def test_a_lone_surrogate_escape_is_malformed_json(api: Api) -> None:
    status, answer = await call(
        api, "POST", "/api/auth/api-keys", data='{"name": "a\\ud800", "scope": "viewer"}'
    )
    assert (status, answer["error"]["code"]) == (400, "malformed_json")


async def test_the_refusal_never_repeats_the_text(api: Api) -> None:
    secret = "hunter2-hunter2\x00"
    body = {"current_password": secret, "new_password": "a-brand-new-passphrase"}
    status, answer = await call(api, "POST", "/api/auth/reset-password", json=body)
    assert status == 422
    assert "hunter2" not in str(answer)


async def test_right_to_left_marks_and_other_format_characters_are_kept(api: Api) -> None:
    name = "\u202eyek\u200f \ufeff\U0001f4c8"
    status, key = await call(
        api, "POST", "/api/auth/api-keys", json={"name": name, "scope": "viewer"}
    )
    assert (status, key["name"]) == (201, name)
    _, listing = await call(api, "GET", "/api/auth/api-keys")
    assert [item["name"] for item in listing["items"]] == [name]


async def test_a_credential_header_with_bytes_that_are_not_utf8_is_401(api: Api) -> None:
    """aiohttp decodes header bytes that are not UTF-8 as surrogates; a key made of them
    cannot be hashed, let alone valid."""
    reader, writer = await asyncio.open_connection("127.0.0.1", api.server.bound_port)
    writer.write(
        b"GET /api/system/status HTTP/1.1\r\nHost: x\r\nX-API-Key: fxb_\xff\xfe\r\n"
        b"Connection: close\r\n\r\n"
    )
    await writer.drain()
    response = await reader.read()
    writer.close()
    assert response.startswith(b"HTTP/1.1 401 "), response[:200]
    assert b'"code":"unauthenticated"' in response


async def test_a_websocket_message_with_a_nul_is_refused_naming_the_field(api: Api) -> None:
    async with api.session.ws_connect(api.url(f"/ws/quotes?token={api.token()}")) as ws:
        await ws.send_json({"action": "subscribe", "symbols": ["EURUSD", "EUR\x00USD"]})
        async with asyncio.timeout(5):
            answer = await ws.receive_json()
        assert answer == {
            "channel": "quotes",
            "error": {
                "code": "validation_error",
                "message": "invalid message (symbols.1)",
                "details": [{"field": "symbols.1", "message": PROBLEM, "type": "invalid_text"}],
            },
        }
        assert not ws.closed


async def test_a_websocket_message_with_a_bad_key_is_refused(api: Api) -> None:
    async with api.session.ws_connect(api.url(f"/ws/trades?token={api.token()}")) as ws:
        await ws.send_str('{"act\\u0000ion": "subscribe"}')
        async with asyncio.timeout(5):
            answer = await ws.receive_json()
        assert answer["error"]["details"] == [
            {"field": None, "message": KEY_PROBLEM, "type": "invalid_text"}
        ]


async def test_the_websocket_token_in_the_query_is_under_the_rule(api: Api) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await api.session.ws_connect(api.url("/ws/quotes?token=%00"))
    assert refused.value.status == 400


async def test_the_request_log_line_escapes_what_the_rule_refuses_in_the_path(api: Api) -> None:
    """A refused path is still logged, but as escapes: no forged line or terminal escape in a
    console, nothing a JSON encoder chokes on."""
    with structlog.testing.capture_logs() as logs:
        async with api.session.get(api.base_url + "/api/trades%1b[31m%0Afake%00") as resp:
            assert resp.status == 400
    (line,) = [entry for entry in logs if entry["event"] == "http request"]
    assert line["path"] == "/api/trades\\x1b[31m\\x0afake\\x00"
