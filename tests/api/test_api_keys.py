"""API keys: shown once, stored hashed, scoped, revocable, with their last use."""

from __future__ import annotations

from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import select

from forexbot.clock import iso_utc
from forexbot.database.tables import api_keys

from ._support import Api, MakeApi

pytestmark = pytest.mark.db


@pytest_asyncio.fixture(loop_scope="function")
async def api(make_api: MakeApi) -> Api:
    server = await make_api(api_keys=True)
    user = await server.create_user("ana", "a-long-passphrase", "trader")
    assert user.id == 1  # the tokens below act for user 1 ("tester")
    return server


async def call(
    api: Api, method: str, path: str, headers: dict[str, str], json: Any = None
) -> tuple[int, Any]:
    async with api.session.request(method, api.url(path), headers=headers, json=json) as resp:
        return resp.status, await resp.json()


async def make_key(api: Api, scope: str = "viewer", role: str = "trader") -> dict[str, Any]:
    status, body = await call(
        api, "POST", "/api/auth/api-keys", api.auth(role), {"name": "script", "scope": scope}
    )
    assert status == 201, body
    return body  # type: ignore[no-any-return]


async def test_a_key_is_shown_once_and_stored_as_a_hash(api: Api) -> None:
    body = await make_key(api)
    assert body["key"].startswith(f"fxb_{body['prefix']}_")
    async with api.engine.connect() as conn:
        stored = (await conn.execute(select(api_keys))).mappings().one()
    assert body["key"] not in str(dict(stored))
    status, listing = await call(api, "GET", "/api/auth/api-keys", api.auth("trader"))
    assert status == 200
    assert "key" not in listing["items"][0]
    assert listing["items"][0]["prefix"] == body["prefix"]


async def test_a_key_authenticates_with_its_scope(api: Api) -> None:
    key = (await make_key(api, scope="viewer"))["key"]
    for headers in ({"Authorization": f"Bearer {key}"}, {"X-API-Key": key}):
        status, _ = await call(api, "GET", "/api/system/status", headers)
        assert status == 200
    status, error = await call(
        api, "PUT", "/api/strategies/ma_rsi:EURUSD:M15/toggle", {"X-API-Key": key}
    )
    assert (status, error["error"]["code"]) == (403, "forbidden")  # viewer scope: read only


async def test_a_key_never_acts_above_its_users_role(api: Api) -> None:
    status, error = await call(
        api, "POST", "/api/auth/api-keys", api.auth("trader"), {"name": "x", "scope": "admin"}
    )
    assert status == 403
    assert "cannot make a key with scope admin" in error["error"]["message"]


async def test_a_revoked_key_stops_working_at_once(api: Api) -> None:
    body = await make_key(api)
    status, revoked = await call(
        api, "DELETE", f"/api/auth/api-keys/{body['id']}", api.auth("trader")
    )
    assert (status, revoked["revoked"]) == (200, True)
    status, error = await call(api, "GET", "/api/system/status", {"X-API-Key": body["key"]})
    assert (status, error["error"]["message"]) == (401, "invalid API key")
    events = [e.event for e in await api.system_logs.recent(10)]
    assert {"api_key_created", "api_key_revoked"} <= set(events)


async def test_an_expired_key_is_refused(api: Api) -> None:
    status, body = await call(
        api,
        "POST",
        "/api/auth/api-keys",
        api.auth("trader"),
        {"name": "short", "scope": "viewer", "expires_in_days": 1},
    )
    assert status == 201
    api.wall_clock.advance(86_400)
    status, _ = await call(api, "GET", "/api/system/status", {"X-API-Key": body["key"]})
    assert status == 401


async def test_the_last_use_is_recorded(api: Api) -> None:
    body = await make_key(api)
    assert body["last_used_at"] is None
    await call(api, "GET", "/api/system/status", {"X-API-Key": body["key"]})
    _, listing = await call(api, "GET", "/api/auth/api-keys", api.auth("trader"))
    assert listing["items"][0]["last_used_at"] == iso_utc(api.wall_clock.time())


async def test_a_key_cannot_create_keys(api: Api) -> None:
    key = (await make_key(api, scope="trader"))["key"]
    status, error = await call(
        api, "POST", "/api/auth/api-keys", {"X-API-Key": key}, {"name": "y", "scope": "viewer"}
    )
    assert (status, error["error"]["code"]) == (403, "session_required")


async def test_another_users_key_is_not_found_but_an_admin_may_revoke_it(api: Api) -> None:
    body = await make_key(api)
    other = {"Authorization": f"Bearer {api.token('trader', user_id=2, username='bob')}"}
    status, _ = await call(api, "DELETE", f"/api/auth/api-keys/{body['id']}", other)
    assert status == 404
    status, _ = await call(api, "DELETE", f"/api/auth/api-keys/{body['id']}", api.auth("admin"))
    assert status == 200


async def test_only_an_admin_lists_everyones_keys(api: Api) -> None:
    await make_key(api)
    status, _ = await call(api, "GET", "/api/auth/api-keys?all=true", api.auth("trader"))
    assert status == 403
    status, listing = await call(api, "GET", "/api/auth/api-keys?all=true", api.auth("admin"))
    assert (status, len(listing["items"])) == (200, 1)


@pytest.mark.parametrize(
    "body",
    [
        {"name": "", "scope": "viewer"},
        {"name": "x", "scope": "root"},
        {"name": "x", "scope": "viewer", "expires_in_days": 0},
        {"name": "x", "scope": "viewer", "color": "red"},
    ],
)
async def test_a_bad_request_is_422(api: Api, body: dict[str, Any]) -> None:
    status, error = await call(api, "POST", "/api/auth/api-keys", api.auth("trader"), body)
    assert (status, error["error"]["code"]) == (422, "validation_error")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/users", {"username": "mallory", "password": "p" * 16, "role": "admin"}),
        ("PUT", "/api/users/1", {"role": "admin"}),
        ("POST", "/api/auth/reset-password", {"username": "ana", "new_password": "p" * 16}),
        ("POST", "/api/auth/api-keys", {"name": "more", "scope": "admin"}),
    ],
)
async def test_an_admin_key_cannot_manage_accounts_or_credentials(
    api: Api, method: str, path: str, body: dict[str, Any]
) -> None:
    await api.users.set_access(1, role="admin")  # the key's user is an admin
    key = (await make_key(api, scope="admin", role="admin"))["key"]
    status, error = await call(api, method, path, {"X-API-Key": key}, body)
    assert (status, error["error"]["code"]) == (403, "session_required")
    assert [u.username for u in await api.users.list()] == ["ana"]  # nothing was created
