"""``api.admin_networks``: every admin power answers only inside the allow-list.

Which operations are guarded is read from the OpenAPI document of a daemon with all its
parts, as the role matrix does (``x-admin-networks``; ``x-admin-powers`` names what an
operation any role may call does more for an admin). Each is called as an admin on a real
server whose allow-list holds the test's own address (inside: ``127.0.0.1/32``) or another
one (outside: ``10.9.9.9/32``). An admin-only operation is called with an id that does not
exist and an empty body, which keeps it harmless; an admin power is called so that it is
used (another user's password, everyone's keys, an admin-scoped key, another user's key).
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from forexbot.api.app import create_app
from forexbot.api.auth import OUTSIDE_ADMIN_NETWORKS, use_admin_power
from forexbot.api.errors import ApiError
from forexbot.api.openapi import build_document
from forexbot.api.ports import ApiServices
from forexbot.api.routes.risk import RiskRoutes
from forexbot.api.tokens import JwtKeys
from forexbot.clock import ManualClock
from forexbot.config.models import ApiSettings, Settings
from forexbot.daemon.restart import RestartSwitch
from forexbot.daemon.system_settings import SystemSettings
from forexbot.database.backup import Backups
from forexbot.database.system_config import SystemConfigRepository
from forexbot.database.system_logs import SystemLogRepository
from forexbot.errors import StateConflictError

from ._support import Api, MakeApi

pytestmark = pytest.mark.db

INSIDE = ("127.0.0.1/32",)
OUTSIDE = ("10.9.9.9/32",)
MISSING_ID = "999999999"
OLD, NEW = "the-old-long-passphrase", "a-brand-new-passphrase"


def _document(app: web.Application) -> dict[tuple[str, str], dict[str, Any]]:
    """``(METHOD, path)`` → operation, of every authenticated operation of ``app``."""
    document = build_document(app, version="test")
    return {
        (method.upper(), path): operation
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
        if operation.get("security") != []
    }


def _full_daemon() -> dict[tuple[str, str], dict[str, Any]]:
    """The operations of a daemon with all its parts (stand-ins: building does no I/O)."""
    stand_ins = {
        f.name: object() for f in dataclasses.fields(ApiServices) if f.name != "wall_clock"
    }
    return _document(create_app(ApiServices(**stand_ins), ApiSettings(), JwtKeys("x" * 40)))


OPERATIONS = _full_daemon()
GUARDED = sorted(key for key, op in OPERATIONS.items() if op.get("x-admin-networks"))
MATRIX = [pytest.param(method, path, id=f"{method} {path}") for method, path in GUARDED]


class NotHalted:
    """The engine's trading control with its kill switch off: resuming is refused (409)."""

    async def resume_trading(self, *, actor: str) -> dict[str, Any]:
        raise StateConflictError("trading is not halted", code="not_halted")


@dataclass
class Rig:
    """A server with every part, an admin ("tester", id 1) and a trader with an API key."""

    api: Api
    victim_key: dict[str, Any]
    restarts: list[str]

    async def call(
        self, method: str, path: str, *, json: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        """``method path`` as the admin (or with ``headers``); the status and JSON body."""
        async with self.api.session.request(
            method, self.api.url(path), json=json, headers=headers or self.api.auth("admin")
        ) as resp:
            body = await resp.json() if resp.content_type == "application/json" else None
            return resp.status, body

    def victim(self) -> dict[str, str]:
        token = self.api.token("trader", user_id=2, username="vic")
        return {"Authorization": f"Bearer {token}"}


MakeRig = Callable[[tuple[str, ...]], Awaitable[Rig]]


@pytest_asyncio.fixture(loop_scope="function")
async def make_rig(
    make_api: MakeApi, db_engine: AsyncEngine, migrated_database_url: str, tmp_path: Path
) -> AsyncIterator[MakeRig]:
    async def make(networks: tuple[str, ...]) -> Rig:
        settings = SystemSettings(Settings(), SystemConfigRepository(db_engine))
        await settings.load()
        restarts: list[str] = []
        api = await make_api(
            RiskRoutes(NotHalted(), SystemLogRepository(db_engine)).routes(),  # type: ignore[arg-type]
            admin_networks=networks,
            api_keys=True,
            refresh_tokens=True,
            mfa=True,
            system_settings=settings,
            restart=RestartSwitch(lambda: restarts.append("stop"), lambda: False, "exec"),
            backups=Backups(migrated_database_url, tmp_path, 5, ManualClock(1.8e9)),
        )
        admin = await api.create_user("tester", OLD, "admin")
        victim = await api.create_user("vic", OLD, "trader")
        assert (admin.id, victim.id) == (1, 2)  # the ids the tokens act for
        rig = Rig(api, {}, restarts)
        status, rig.victim_key = await rig.call(
            "POST",
            "/api/auth/api-keys",
            json={"name": "vic's script", "scope": "trader"},
            headers=rig.victim(),
        )
        assert status == 201
        return rig

    yield make


# How an admin uses each admin power; the test below keeps this table complete.
POWERS: dict[tuple[str, str], Callable[[Rig], tuple[str, Any]]] = {
    ("POST", "/api/auth/reset-password"): lambda rig: (
        "/api/auth/reset-password",
        {"username": "vic", "new_password": NEW},
    ),
    ("GET", "/api/auth/api-keys"): lambda rig: ("/api/auth/api-keys?all=true", None),
    ("POST", "/api/auth/api-keys"): lambda rig: (
        "/api/auth/api-keys",
        {"name": "ops", "scope": "admin"},
    ),
    ("DELETE", "/api/auth/api-keys/{key_id}"): lambda rig: (
        f"/api/auth/api-keys/{rig.victim_key['id']}",
        None,
    ),
}


def _admin_call(rig: Rig, method: str, path: str) -> tuple[str, Any]:
    """The URL and body that make ``method path`` use what admins alone may do."""
    if (method, path) in POWERS:
        return POWERS[(method, path)](rig)
    url = "/".join(MISSING_ID if part.startswith("{") else part for part in path.split("/"))
    return url, {} if method in {"POST", "PUT"} else None


def test_the_document_marks_admin_only_operations_and_admin_powers_alone() -> None:
    for key, op in OPERATIONS.items():
        expected = op["x-roles"] == ["admin"] or bool(op.get("x-admin-powers"))
        assert op.get("x-admin-networks", False) is expected, key
    assert {
        key: op["x-admin-powers"] for key, op in OPERATIONS.items() if "x-admin-powers" in op
    } == {
        ("POST", "/api/auth/reset-password"): ["reset another user's password"],
        ("GET", "/api/auth/api-keys"): ["list everyone's keys"],
        ("POST", "/api/auth/api-keys"): ["create an admin-scoped key"],
        ("DELETE", "/api/auth/api-keys/{key_id}"): ["revoke another user's key"],
    }


async def test_the_rig_serves_every_guarded_operation_and_knows_each_power(
    make_rig: MakeRig,
) -> None:
    rig = await make_rig(INSIDE)
    served = _document(rig.api.server.app)
    assert sorted(key for key, op in served.items() if op.get("x-admin-networks")) == GUARDED
    assert sorted(POWERS) == sorted(key for key in GUARDED if OPERATIONS[key].get("x-admin-powers"))


@pytest.mark.parametrize(("method", "path"), MATRIX)
async def test_outside_the_allow_list_an_admin_power_is_403(
    make_rig: MakeRig, method: str, path: str
) -> None:
    rig = await make_rig(OUTSIDE)
    url, body = _admin_call(rig, method, path)
    status, answer = await rig.call(method, url, json=body)
    assert (status, answer["error"]["message"]) == (403, OUTSIDE_ADMIN_NETWORKS)
    assert rig.restarts == []


@pytest.mark.parametrize(("method", "path"), MATRIX)
async def test_inside_the_allow_list_an_admin_power_is_not_refused(
    make_rig: MakeRig, method: str, path: str
) -> None:
    rig = await make_rig(INSIDE)
    url, body = _admin_call(rig, method, path)
    status, answer = await rig.call(method, url, json=body)
    assert status not in (401, 403), answer
    assert status < 500, answer


# -- the four bypasses, one by one, with what they would have done -----------------------------


async def login_status(rig: Rig, password: str) -> int:
    async with rig.api.session.post(
        rig.api.url("/api/auth/login"), json={"username": "vic", "password": password}
    ) as resp:
        return resp.status


async def test_outside_an_admin_may_not_reset_another_users_password(make_rig: MakeRig) -> None:
    rig = await make_rig(OUTSIDE)
    status, _ = await rig.call(
        "POST", "/api/auth/reset-password", json={"username": "vic", "new_password": NEW}
    )
    assert status == 403
    assert (await login_status(rig, OLD), await login_status(rig, NEW)) == (200, 401)


async def test_outside_an_admin_may_not_list_everyones_keys(make_rig: MakeRig) -> None:
    rig = await make_rig(OUTSIDE)
    status, answer = await rig.call("GET", "/api/auth/api-keys?all=true")
    assert status == 403
    assert answer["error"]["details"] == {"admin_power": "list everyone's keys"}


async def test_outside_an_admin_may_not_create_an_admin_scoped_key(make_rig: MakeRig) -> None:
    rig = await make_rig(OUTSIDE)
    status, _ = await rig.call("POST", "/api/auth/api-keys", json={"name": "ops", "scope": "admin"})
    assert status == 403
    status, mine = await rig.call("GET", "/api/auth/api-keys")
    assert (status, mine["items"]) == (200, [])


async def test_outside_an_admin_may_not_revoke_another_users_key(make_rig: MakeRig) -> None:
    rig = await make_rig(OUTSIDE)
    status, _ = await rig.call("DELETE", f"/api/auth/api-keys/{rig.victim_key['id']}")
    assert status == 403
    status, _ = await rig.call(
        "GET", "/api/system/status", headers={"X-API-Key": rig.victim_key["key"]}
    )
    assert status == 200  # the key still works


# -- what the allow-list leaves alone ---------------------------------------------------------


async def test_outside_an_admin_still_does_what_any_user_may(make_rig: MakeRig) -> None:
    rig = await make_rig(OUTSIDE)
    status, key = await rig.call(
        "POST", "/api/auth/api-keys", json={"name": "mine", "scope": "trader"}
    )
    assert status == 201
    status, mine = await rig.call("GET", "/api/auth/api-keys")
    assert (status, [k["id"] for k in mine["items"]]) == (200, [key["id"]])
    status, _ = await rig.call("DELETE", f"/api/auth/api-keys/{key['id']}")
    assert status == 200
    status, _ = await rig.call(
        "POST", "/api/auth/reset-password", json={"current_password": OLD, "new_password": NEW}
    )
    assert status == 204


async def test_outside_a_non_admin_gets_the_routes_own_refusal(make_rig: MakeRig) -> None:
    rig = await make_rig(OUTSIDE)
    status, answer = await rig.call("GET", "/api/auth/api-keys?all=true", headers=rig.victim())
    assert (status, answer["error"]["message"]) == (403, "only an admin may list everyone's keys")


async def undeclared_power(request: web.Request) -> web.Response:
    use_admin_power(request, "wipe everything", refusal=ApiError(403, "forbidden", "no"))
    return web.json_response({"wiped": True})


async def test_an_undeclared_admin_power_fails_closed(make_api: MakeApi) -> None:
    api = await make_api([web.post("/api/test/wipe", undeclared_power)], admin_networks=INSIDE)
    async with api.session.post(api.url("/api/test/wipe"), headers=api.auth("admin")) as resp:
        assert resp.status == 500
