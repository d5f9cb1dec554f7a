"""Request audit trail, the admin address allow-list, and HTTPS."""

from __future__ import annotations

import ssl
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from forexbot.api.auth import requires_role
from forexbot.api.roles import Role
from forexbot.config.loader import load_settings
from forexbot.errors import ConfigError

from ._support import MakeApi, self_signed

pytestmark = pytest.mark.db


@requires_role(Role.ADMIN)
async def admin_only(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def test_every_state_changing_request_is_audited_refused_ones_too(
    make_api: MakeApi,
) -> None:
    api = await make_api()
    path = "/api/strategies/ma_rsi:EURUSD:M15/toggle"
    async with api.session.put(api.url(path), headers=api.auth("trader")) as resp:
        assert resp.status == 200
    async with api.session.put(api.url(path), headers=api.auth("viewer")) as resp:
        assert resp.status == 403
    async with api.session.put(api.url(path)) as resp:
        assert resp.status == 401
    async with api.session.get(api.url("/api/strategies"), headers=api.auth("viewer")) as resp:
        assert resp.status == 200  # reads are not audited
    rows = [e for e in await api.system_logs.recent(20) if e.event == "api_request"]
    seen = sorted((r.context["status"], r.actor) for r in rows)
    assert seen == [(200, "tester"), (401, None), (403, "tester")]
    assert all(r.context["path"] == path and r.source_ip == "127.0.0.1" for r in rows)


async def test_admin_routes_answer_only_the_allowed_networks(make_api: MakeApi) -> None:
    route = [web.post("/api/test/admin", admin_only)]
    outside = await make_api(route, admin_networks=("10.0.0.0/8",))
    async with outside.session.post(
        outside.url("/api/test/admin"), headers=outside.auth("admin")
    ) as resp:
        body = await resp.json()
        assert resp.status == 403
    assert body["error"]["message"] == "admin endpoints are not reachable from this address"
    inside = await make_api(route, admin_networks=("127.0.0.1",))
    async with inside.session.post(
        inside.url("/api/test/admin"), headers=inside.auth("admin")
    ) as resp:
        assert resp.status == 200


def test_a_bad_network_or_half_a_tls_setting_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"api\.admin_networks .* 'not-a-network' is not an"):
        load_settings(environ={}, overrides={"api.admin_networks": ["not-a-network"]})
    with pytest.raises(ConfigError, match="go together"):
        load_settings(environ={}, overrides={"api.tls_certificate": "cert.pem"})


async def test_with_a_certificate_the_api_speaks_https(make_api: MakeApi, tmp_path: Path) -> None:
    cert, key = map(str, self_signed(tmp_path))
    api = await make_api(tls_certificate=cert, tls_key=key)
    trust = ssl.create_default_context(cafile=cert)
    url = f"https://127.0.0.1:{api.server.bound_port}/api/health"
    async with aiohttp.ClientSession() as session, session.get(url, ssl=trust) as resp:
        assert resp.status in (200, 503)
        assert resp.url.scheme == "https"
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientError):
            async with session.get(url.replace("https", "http")) as resp:
                await resp.read()
