"""The audit trail of state-changing requests records refused ones, whatever their path holds.

A path is the client's text: it may hold a NUL (``%00``), which no PostgreSQL text stores, or
be 8 KB long. The row is written all the same, the path escaped and capped, on the real
PostgreSQL; and the status recorded is the one the client got.
"""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.typedefs import Handler

from forexbot.database.records import SystemLogRecord
from forexbot.database.system_logs import MAX_TEXT
from forexbot.errors import NotFoundError, RiskRejection

from ._support import Api, MakeApi

pytestmark = pytest.mark.db


async def requests_audited(api: Api) -> list[SystemLogRecord]:
    return [e for e in await api.system_logs.recent(20) if e.event == "api_request"]


async def test_a_post_to_an_unknown_path_with_a_nul_is_audited_escaped(api: Api) -> None:
    async with api.session.post(
        api.url("/api/nowhere%00/x"), headers=api.auth("trader"), json={}
    ) as resp:
        status = resp.status
    assert status in (400, 404)  # refused: by the text rule, or as an unknown route
    [row] = await requests_audited(api)
    assert row.context == {"method": "POST", "path": "/api/nowhere\\x00/x", "status": status}
    assert row.message == f"POST /api/nowhere\\x00/x {status}"
    # Refused before the token is read (unknown routes ask for none): no actor, the address.
    assert (row.actor, row.source_ip, row.level) == (None, "127.0.0.1", "warning")


async def test_a_refused_request_without_a_token_is_audited_with_nobody(api: Api) -> None:
    async with api.session.delete(api.url("/api/not-a-route")) as resp:
        status = resp.status
    [row] = await requests_audited(api)
    assert row.context == {"method": "DELETE", "path": "/api/not-a-route", "status": status}
    assert row.actor is None


async def test_a_very_long_path_is_audited_capped(api: Api) -> None:
    path = "/api/" + "a" * 6000
    async with api.session.put(api.url(path), headers=api.auth("trader")) as resp:
        assert resp.status == 404
    [row] = await requests_audited(api)
    assert row.context["path"] == path[:MAX_TEXT] + f"…[{len(path) - MAX_TEXT} more characters]"
    assert row.context["status"] == 404


async def missing(request: web.Request) -> web.Response:
    raise NotFoundError("no such thing")


async def rejected(request: web.Request) -> web.Response:
    raise RiskRejection("max_positions", "too many positions")


@pytest.mark.parametrize(("handler", "status"), [(missing, 404), (rejected, 422)])
async def test_the_status_recorded_is_the_one_the_client_got(
    make_api: MakeApi, handler: Handler, status: int
) -> None:
    api = await make_api([web.post("/api/test/act", handler)])
    async with api.session.post(api.url("/api/test/act"), headers=api.auth("trader")) as resp:
        assert resp.status == status
    [row] = await requests_audited(api)
    assert row.context["status"] == status
