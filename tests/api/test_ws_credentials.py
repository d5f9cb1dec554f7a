"""A WebSocket lives no longer than the credentials it was opened with (1008 when they end)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from polling import eventually

from ._support import Api, MakeApi

pytestmark = pytest.mark.db

PASSWORD = "correct horse battery"
POLICY_VIOLATION = 1008


async def call(
    api: Api, method: str, path: str, headers: dict[str, str], body: Any = None
) -> tuple[int, Any]:
    async with api.session.request(method, api.url(path), headers=headers, json=body) as resp:
        return resp.status, await resp.json() if resp.content_length else None


async def login(api: Api) -> dict[str, Any]:
    body = {"username": "ana", "password": PASSWORD}
    status, session = await call(api, "POST", "/api/auth/login", {}, body)
    assert status == 200
    return session  # type: ignore[no-any-return]


async def open_socket(api: Api, headers: dict[str, str]) -> aiohttp.ClientWebSocketResponse:
    before = api.broadcaster.client_count
    ws = await api.session.ws_connect(api.url("/ws/trades"), headers=headers)
    await eventually(
        lambda: api.broadcaster.client_count == before + 1,
        timeout=5.0,
        what="the socket's registration",
    )
    return ws


async def closed_with(ws: aiohttp.ClientWebSocketResponse) -> tuple[int, str]:
    async with asyncio.timeout(5.0):
        message = await ws.receive()
    assert message.type is aiohttp.WSMsgType.CLOSE, message
    return int(message.data), str(message.extra)


async def test_logout_closes_the_sessions_websockets(make_api: MakeApi) -> None:
    api = await make_api(refresh_tokens=True)
    await api.create_user("ana", PASSWORD, "trader")
    session = await login(api)
    bearer = {"Authorization": f"Bearer {session['access_token']}"}
    ws = await open_socket(api, bearer)
    other = await open_socket(api, api.auth("viewer"))  # another user's: untouched
    assert (await call(api, "POST", "/api/auth/logout", bearer))[0] == 204
    assert await closed_with(ws) == (POLICY_VIOLATION, "the session has ended")
    assert not other.closed
    assert api.broadcaster.client_count == 1


async def test_disabling_a_user_closes_its_websockets(make_api: MakeApi) -> None:
    api = await make_api(refresh_tokens=True)
    ana = await api.create_user("ana", PASSWORD, "trader")
    session = await login(api)
    ws = await open_socket(api, {"Authorization": f"Bearer {session['access_token']}"})
    status, _ = await call(
        api, "PUT", f"/api/users/{ana.id}", api.auth("admin"), {"is_active": False}
    )
    assert status == 200
    assert await closed_with(ws) == (POLICY_VIOLATION, "the session has ended")


async def test_revoking_an_api_key_closes_the_websockets_opened_with_it(make_api: MakeApi) -> None:
    api = await make_api(api_keys=True)
    await api.create_user("ana", PASSWORD, "trader")  # user 1, whom the test tokens act for
    status, key = await call(
        api, "POST", "/api/auth/api-keys", api.auth("trader"), {"name": "feed", "scope": "viewer"}
    )
    assert status == 201
    ws = await open_socket(api, {"X-API-Key": key["key"]})
    status, _ = await call(api, "DELETE", f"/api/auth/api-keys/{key['id']}", api.auth("trader"))
    assert status == 200
    assert await closed_with(ws) == (POLICY_VIOLATION, "the API key was revoked")


async def test_a_websocket_closes_when_its_access_token_expires(make_api: MakeApi) -> None:
    api = await make_api(ws_expiry_check_seconds=0.05)
    ws = await open_socket(api, api.auth("viewer"))
    await asyncio.sleep(0.2)
    assert not ws.closed  # still valid
    api.wall_clock.advance(api.settings.access_token_ttl_seconds + 1)
    code, reason = await closed_with(ws)
    assert code == POLICY_VIOLATION
    assert "expired" in reason
