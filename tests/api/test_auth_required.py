"""Authentication on protected routes, and the per-route role mechanism."""

from __future__ import annotations

import pytest
from aiohttp import web

from forexbot.api.auth import claims_of, requires_role
from forexbot.api.roles import Role

from ._support import Api, MakeApi

pytestmark = pytest.mark.db

PROTECTED = ["/api/system/status", "/api/trades", "/api/trades/1", "/api/positions"]


async def assert_401(api: Api, path: str, headers: dict[str, str], message: str) -> None:
    async with api.session.get(api.url(path), headers=headers) as resp:
        assert resp.status == 401
        assert resp.headers["WWW-Authenticate"].startswith('Bearer realm="forexbot"')
        body = await resp.json()
        assert body["error"]["code"] == "unauthenticated"
        assert message in body["error"]["message"]


@pytest.mark.parametrize("path", PROTECTED)
async def test_protected_route_without_a_token_is_401(api: Api, path: str) -> None:
    await assert_401(api, path, {}, "authentication required")


@pytest.mark.parametrize("path", PROTECTED)
async def test_protected_route_with_a_non_bearer_header_is_401(api: Api, path: str) -> None:
    await assert_401(api, path, {"Authorization": "Basic YWxpY2U6cHc="}, "Bearer <token>")


@pytest.mark.parametrize("path", PROTECTED)
async def test_protected_route_with_a_forged_token_is_401(api: Api, path: str) -> None:
    header, payload, _ = api.token("admin").split(".")
    forged = f"{header}.{payload}.c2lnbmF0dXJl"
    await assert_401(api, path, {"Authorization": f"Bearer {forged}"}, "invalid token")


@pytest.mark.parametrize("path", PROTECTED)
async def test_protected_route_with_an_expired_token_is_401(api: Api, path: str) -> None:
    headers = api.auth()
    api.wall_clock.advance(api.settings.access_token_ttl_seconds)
    async with api.session.get(api.url(path), headers=headers) as resp:
        assert resp.headers["WWW-Authenticate"] == (
            'Bearer realm="forexbot", error="invalid_token"'
        )
    await assert_401(api, path, headers, "token expired")


async def test_rest_routes_refuse_a_token_in_the_query_string(api: Api) -> None:
    await assert_401(api, f"/api/positions?token={api.token()}", {}, "authentication required")


@pytest.mark.parametrize("role", ["admin", "trader", "viewer"])
async def test_every_role_may_read(api: Api, role: str) -> None:
    for path in ["/api/system/status", "/api/trades", "/api/positions"]:
        async with api.session.get(api.url(path), headers=api.auth(role)) as resp:
            assert resp.status == 200, path


@requires_role(Role.ADMIN, Role.TRADER)
async def act(request: web.Request) -> web.Response:
    return web.json_response({"acting_as": claims_of(request).username})


async def undecorated(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def test_requires_role_refuses_other_roles_with_403(make_api: MakeApi) -> None:
    api = await make_api(routes=[web.post("/api/test/act", act)])
    async with api.session.post(api.url("/api/test/act"), headers=api.auth("viewer")) as resp:
        assert resp.status == 403
        assert await resp.json() == {
            "error": {
                "code": "forbidden",
                "message": "role 'viewer' may not use this endpoint",
                "details": {"allowed_roles": ["admin", "trader"]},
            }
        }


async def test_requires_role_lets_the_listed_roles_through(make_api: MakeApi) -> None:
    api = await make_api(routes=[web.post("/api/test/act", act)])
    for role in ["admin", "trader"]:
        async with api.session.post(api.url("/api/test/act"), headers=api.auth(role)) as resp:
            assert resp.status == 200
            assert await resp.json() == {"acting_as": "tester"}


async def test_requires_role_still_requires_a_token(make_api: MakeApi) -> None:
    api = await make_api(routes=[web.post("/api/test/act", act)])
    async with api.session.post(api.url("/api/test/act")) as resp:
        assert resp.status == 401


async def test_a_route_without_any_decorator_requires_a_token(make_api: MakeApi) -> None:
    api = await make_api(routes=[web.get("/api/test/plain", undecorated)])
    async with api.session.get(api.url("/api/test/plain")) as resp:
        assert resp.status == 401
    async with api.session.get(api.url("/api/test/plain"), headers=api.auth()) as resp:
        assert resp.status == 200
