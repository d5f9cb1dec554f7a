"""Sessions: refresh tokens rotate, a reused one ends the session, logout ends it at once."""

from __future__ import annotations

from typing import Any

import pytest
import pytest_asyncio

from ._support import Api, MakeApi

pytestmark = pytest.mark.db

PASSWORD = "correct horse battery"


@pytest_asyncio.fixture(loop_scope="function")
async def api(make_api: MakeApi) -> Api:
    server = await make_api(refresh_tokens=True)
    await server.create_user("ana", PASSWORD, "trader")
    return server


async def post(api: Api, path: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with api.session.post(api.url(path), json=body, headers=headers) as resp:
        return resp.status, await resp.json() if resp.content_length else None


async def get(api: Api, path: str, token: str) -> int:
    async with api.session.get(api.url(path), headers={"Authorization": f"Bearer {token}"}) as r:
        return r.status


async def login(api: Api) -> dict[str, Any]:
    status, body = await post(api, "/api/auth/login", {"username": "ana", "password": PASSWORD})
    assert status == 200
    return body  # type: ignore[no-any-return]


async def test_a_login_returns_an_access_and_a_refresh_token(api: Api) -> None:
    body = await login(api)
    assert set(body) == {
        "access_token", "token_type", "expires_in", "refresh_token", "refresh_expires_in"
    }  # fmt: skip
    assert body["refresh_expires_in"] == 30 * 86_400
    assert await get(api, "/api/system/status", body["access_token"]) == 200


async def test_a_refresh_returns_new_tokens_and_spends_the_old_refresh_token(api: Api) -> None:
    first = await login(api)
    status, second = await post(api, "/api/auth/refresh", {"refresh_token": first["refresh_token"]})
    assert status == 200
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert await get(api, "/api/system/status", second["access_token"]) == 200
    status, _ = await post(api, "/api/auth/refresh", {"refresh_token": second["refresh_token"]})
    assert status == 200


async def test_a_reused_refresh_token_ends_the_whole_session(api: Api) -> None:
    first = await login(api)
    _, second = await post(api, "/api/auth/refresh", {"refresh_token": first["refresh_token"]})
    # Someone replays the first (spent) token: the thief and the user are both logged out.
    status, error = await post(api, "/api/auth/refresh", {"refresh_token": first["refresh_token"]})
    assert status == 401
    assert "already used" in error["error"]["message"]
    status, _ = await post(api, "/api/auth/refresh", {"refresh_token": second["refresh_token"]})
    assert status == 401
    assert await get(api, "/api/system/status", second["access_token"]) == 401
    assert await get(api, "/api/system/status", first["access_token"]) == 401
    rows = [e for e in await api.system_logs.recent(10) if e.event == "refresh_token_reused"]
    assert len(rows) == 1


async def test_reuse_ends_only_that_session(api: Api) -> None:
    stolen, other = await login(api), await login(api)
    await post(api, "/api/auth/refresh", {"refresh_token": stolen["refresh_token"]})
    await post(api, "/api/auth/refresh", {"refresh_token": stolen["refresh_token"]})
    assert await get(api, "/api/system/status", other["access_token"]) == 200
    status, _ = await post(api, "/api/auth/refresh", {"refresh_token": other["refresh_token"]})
    assert status == 200


async def test_logout_ends_the_session_at_once(api: Api) -> None:
    body = await login(api)
    status, _ = await post(
        api, "/api/auth/logout", {"refresh_token": body["refresh_token"]}, body["access_token"]
    )
    assert status == 204
    assert await get(api, "/api/system/status", body["access_token"]) == 401
    status, _ = await post(api, "/api/auth/refresh", {"refresh_token": body["refresh_token"]})
    assert status == 401
    rows = [e for e in await api.system_logs.recent(10) if e.event == "logout"]
    assert rows[0].actor == "ana"


async def test_logout_without_a_body_ends_the_access_tokens_session(api: Api) -> None:
    body = await login(api)
    status, _ = await post(api, "/api/auth/logout", None, body["access_token"])
    assert status == 204
    status, _ = await post(api, "/api/auth/refresh", {"refresh_token": body["refresh_token"]})
    assert status == 401


async def test_an_expired_refresh_token_is_refused(api: Api) -> None:
    body = await login(api)
    api.wall_clock.advance(30 * 86_400)
    status, error = await post(api, "/api/auth/refresh", {"refresh_token": body["refresh_token"]})
    assert (status, error["error"]["message"]) == (401, "refresh token expired")


async def test_an_unknown_or_malformed_refresh_token_is_refused(api: Api) -> None:
    status, _ = await post(api, "/api/auth/refresh", {"refresh_token": "x" * 43})
    assert status == 401
    status, _ = await post(api, "/api/auth/refresh", {"refresh_token": 42})
    assert status == 422
    status, _ = await post(api, "/api/auth/refresh", {"refresh_token": "x" * 43, "scope": "all"})
    assert status == 422


async def test_a_disabled_user_cannot_refresh(api: Api) -> None:
    body = await login(api)
    user = await api.users.get_by_username("ana")
    assert user is not None
    await api.lock_user(user.id, until=_far_future())
    status, _ = await post(api, "/api/auth/refresh", {"refresh_token": body["refresh_token"]})
    assert status == 401


async def test_ended_sessions_stay_ended_after_a_restart(make_api: MakeApi) -> None:
    first = await make_api(refresh_tokens=True)
    await first.create_user("ana", PASSWORD, "trader")
    body = await login(first)
    await post(first, "/api/auth/logout", None, body["access_token"])
    second = await make_api(refresh_tokens=True)  # a restarted API over the same database
    assert second.wall_clock.time() - first.wall_clock.time() < 60  # within the token's life
    assert await get(second, "/api/system/status", body["access_token"]) == 401


def _far_future() -> Any:
    from datetime import UTC, datetime  # noqa: PLC0415

    return datetime(2100, 1, 1, tzinfo=UTC)
