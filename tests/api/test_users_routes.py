"""/api/users: admins list, create, disable and re-role users, and reset their one-time codes."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import pyotp
import pytest
import pytest_asyncio

from forexbot.api.mfa import Mfa
from forexbot.database.encryption import Sealer

from ._support import Api, MakeApi
from .conftest import MFA_DATA_KEY

pytestmark = pytest.mark.db

PASSWORD = "a-long-passphrase"
NEW_PASSWORD = "another-long-passphrase"
RECOVERY = re.compile(r"^[a-z2-9]{5}-[a-z2-9]{5}$")


@pytest_asyncio.fixture(loop_scope="function")
async def api(make_api: MakeApi) -> Api:
    return await make_api(refresh_tokens=True, api_keys=True, mfa=True)


async def call(
    api: Api, method: str, path: str, headers: dict[str, str], body: Any = None
) -> tuple[int, Any]:
    async with api.session.request(method, api.url(path), headers=headers, json=body) as resp:
        return resp.status, await resp.json()


async def post_user(
    api: Api, headers: dict[str, str], username: str, role: str, password: str = PASSWORD
) -> tuple[int, Any]:
    """``POST /api/users``."""
    body = {"username": username, "password": password, "role": role}
    return await call(api, "POST", "/api/users", headers, body)


async def login(api: Api, username: str, password: str = PASSWORD, **extra: str) -> tuple[int, Any]:
    body = {"username": username, "password": password, **extra}
    async with api.session.post(api.url("/api/auth/login"), json=body) as resp:
        return resp.status, await resp.json()


def code(api: Api, secret: str) -> str:
    return pyotp.TOTP(secret).at(int(api.wall_clock.time()))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def admin_session(api: Api, username: str = "root") -> tuple[int, dict[str, str]]:
    """A real, enrolled admin signed in with password and one-time code: (id, headers)."""
    user = await api.create_user(username, PASSWORD, "admin")
    enrollment = await Mfa(api.users, Sealer(MFA_DATA_KEY), api.wall_clock).enroll(
        user.id, username
    )
    status, body = await login(api, username, totp=code(api, enrollment.secret))
    assert status == 200, body
    return user.id, bearer(body["access_token"])


async def trader_session(api: Api, username: str = "ana") -> tuple[int, dict[str, Any]]:
    """A real trader signed in: (id, the login's answer with its tokens)."""
    user = await api.create_user(username, PASSWORD, "trader")
    status, body = await login(api, username)
    assert status == 200, body
    return user.id, body


async def test_an_admin_lists_every_user_without_secrets(api: Api) -> None:
    root, headers = await admin_session(api)
    ana = await api.create_user("ana", PASSWORD, "trader")
    vera = await api.create_user("vera", PASSWORD, "viewer", active=False)
    status, body = await call(api, "GET", "/api/users", headers)
    assert status == 200
    assert [(u["id"], u["username"], u["role"], u["is_active"]) for u in body["items"]] == [
        (root, "root", "admin", True),
        (ana.id, "ana", "trader", True),
        (vera.id, "vera", "viewer", False),
    ]
    assert [u["mfa_enrolled"] for u in body["items"]] == [True, False, False]
    assert not {"password_hash", "totp_secret", "totp_last_step"} & set(body["items"][0])
    assert "$argon2" not in json.dumps(body)


async def test_an_admin_reads_one_user(api: Api) -> None:
    _, headers = await admin_session(api)
    ana = await api.create_user("ana", PASSWORD, "trader")
    status, body = await call(api, "GET", f"/api/users/{ana.id}", headers)
    assert status == 200
    assert body == {
        "id": ana.id,
        "username": "ana",
        "role": "trader",
        "is_active": True,
        "created_at": body["created_at"],
        "last_login_at": None,
        "failed_logins": 0,
        "locked_until": None,
        "mfa_enrolled": False,
    }
    assert body["created_at"].endswith("Z")


@pytest.mark.parametrize("user_id", ["999", "0", "-1", "abc", "9223372036854775808", "9" * 5000])
async def test_an_unknown_or_impossible_user_id_is_404_on_every_route(
    api: Api, user_id: str
) -> None:
    headers = api.auth("admin")
    for method, path, body in (
        ("GET", f"/api/users/{user_id}", None),
        ("PUT", f"/api/users/{user_id}", {"is_active": False}),
        ("POST", f"/api/users/{user_id}/mfa", None),
    ):
        status, error = await call(api, method, path, headers, body)
        assert (status, error["error"]["code"]) == (404, "not_found"), (method, path)


async def test_creating_a_user_answers_201_and_it_logs_in(api: Api) -> None:
    _, headers = await admin_session(api)
    status, body = await post_user(api, headers, "ana", "trader", PASSWORD)
    assert status == 201
    assert (body["username"], body["role"], body["is_active"]) == ("ana", "trader", True)
    assert (body["mfa_enrolled"], body["mfa_enrollment"]) == (False, None)
    assert "password" not in json.dumps(body)
    status, _ = await login(api, "ana")
    assert status == 200
    status, me = await call(api, "GET", f"/api/users/{body['id']}", headers)
    assert me["last_login_at"] is not None


async def test_creating_an_admin_returns_its_codes_once_and_it_logs_in_only_with_one(
    api: Api,
) -> None:
    _, headers = await admin_session(api)
    status, body = await post_user(api, headers, "boss", "admin", PASSWORD)
    assert status == 201
    enrollment = body["mfa_enrollment"]
    assert body["mfa_enrolled"] is True
    assert re.fullmatch(r"[A-Z2-7]{32}", enrollment["totp_secret"])
    assert enrollment["otpauth_uri"].startswith(
        f"otpauth://totp/forexbot:boss?secret={enrollment['totp_secret']}"
    )
    assert len(enrollment["recovery_codes"]) == 10
    assert all(RECOVERY.match(c) for c in enrollment["recovery_codes"])
    status, error = await login(api, "boss")
    assert (status, error["error"]["code"]) == (401, "mfa_required")
    assert (await login(api, "boss", totp=code(api, enrollment["totp_secret"])))[0] == 200
    assert (await login(api, "boss", recovery_code=enrollment["recovery_codes"][0]))[0] == 200
    status, shown = await call(api, "GET", f"/api/users/{body['id']}", headers)
    assert "mfa_enrollment" not in shown
    assert enrollment["totp_secret"] not in json.dumps(shown)


async def test_without_mfa_configured_an_admin_is_created_without_codes(
    make_api: MakeApi,
) -> None:
    api = await make_api(refresh_tokens=True, api_keys=True)
    status, body = await post_user(api, api.auth("admin"), "boss", "admin", PASSWORD)
    assert (status, body["mfa_enrollment"], body["mfa_enrolled"]) == (201, None, False)
    status, _ = await call(api, "POST", f"/api/users/{body['id']}/mfa", api.auth("admin"))
    assert status == 404  # no MFA service: no re-enrolment route


async def test_a_username_taken_in_any_letter_case_is_409(api: Api) -> None:
    await api.create_user("ana", PASSWORD, "trader")
    status, body = await post_user(api, api.auth("admin"), "ANA", "viewer", PASSWORD)
    assert (status, body["error"]["code"]) == (409, "conflict")
    assert [u.username for u in await api.users.list()] == ["ana"]


async def test_a_weak_password_is_422(api: Api) -> None:
    status, body = await call(
        api,
        "POST",
        "/api/users",
        api.auth("admin"),
        {"username": "ana", "password": "x" * 11, "role": "trader"},
    )
    assert (status, body["error"]["code"]) == (422, "validation_error")
    assert [d["field"] for d in body["error"]["details"]] == ["password"]
    assert "x" * 11 not in json.dumps(body)
    assert await api.users.list() == []


@pytest.mark.parametrize("username", ["", "has space", "../etc", "-dash-first", "x" * 65, "élan"])
async def test_an_unsafe_username_is_422(api: Api, username: str) -> None:
    status, body = await call(
        api,
        "POST",
        "/api/users",
        api.auth("admin"),
        {"username": username, "password": PASSWORD, "role": "trader"},
    )
    assert (status, body["error"]["code"]) == (422, "validation_error")
    assert [d["field"] for d in body["error"]["details"]] == ["username"]


async def test_an_unknown_field_is_422(api: Api) -> None:
    ana = await api.create_user("ana", PASSWORD, "trader")
    headers = api.auth("admin")
    create = {"username": "bob", "password": PASSWORD, "role": "trader", "email": "b@x"}
    status, body = await call(api, "POST", "/api/users", headers, create)
    assert (status, body["error"]["details"][0]["field"]) == (422, "email")
    status, body = await call(
        api, "PUT", f"/api/users/{ana.id}", headers, {"role": "viewer", "password": PASSWORD}
    )
    assert (status, body["error"]["details"][0]["field"]) == (422, "password")
    assert [u.role for u in await api.users.list()] == ["trader"]


async def test_a_change_naming_nothing_is_422(api: Api) -> None:
    ana = await api.create_user("ana", PASSWORD, "trader")
    status, body = await call(api, "PUT", f"/api/users/{ana.id}", api.auth("admin"), {})
    assert (status, body["error"]["code"]) == (422, "validation_error")


async def test_disabling_a_user_ends_its_sessions_at_once_and_revokes_its_keys(api: Api) -> None:
    _, headers = await admin_session(api)
    ana, session = await trader_session(api)
    status, key = await call(
        api,
        "POST",
        "/api/auth/api-keys",
        bearer(session["access_token"]),
        {"name": "script", "scope": "viewer"},
    )
    assert status == 201
    status, body = await call(api, "PUT", f"/api/users/{ana}", headers, {"is_active": False})
    assert status == 200
    assert (body["is_active"], body["sessions_ended"], body["api_keys_revoked"]) == (
        False,
        1,
        [key["id"]],
    )
    status, _ = await call(api, "GET", "/api/system/status", bearer(session["access_token"]))
    assert status == 401
    status, _ = await call(api, "GET", "/api/system/status", {"X-API-Key": key["key"]})
    assert status == 401
    async with api.session.post(
        api.url("/api/auth/refresh"), json={"refresh_token": session["refresh_token"]}
    ) as resp:
        assert resp.status == 401
    assert (await login(api, "ana"))[0] == 401


async def test_enabling_a_disabled_user_lets_it_log_in_again(api: Api) -> None:
    ana = await api.create_user("ana", PASSWORD, "trader", active=False)
    assert (await login(api, "ana"))[0] == 401
    status, body = await call(
        api, "PUT", f"/api/users/{ana.id}", api.auth("admin"), {"is_active": True}
    )
    assert (status, body["is_active"], body["sessions_ended"]) == (200, True, 0)
    assert (await login(api, "ana"))[0] == 200


async def test_a_role_change_ends_the_sessions_and_revokes_keys_above_the_new_role(
    api: Api,
) -> None:
    _, headers = await admin_session(api)
    ana, session = await trader_session(api)
    keys = {}
    for scope in ("trader", "viewer"):
        status, keys[scope] = await call(
            api,
            "POST",
            "/api/auth/api-keys",
            bearer(session["access_token"]),
            {"name": scope, "scope": scope},
        )
        assert status == 201
    status, body = await call(api, "PUT", f"/api/users/{ana}", headers, {"role": "viewer"})
    assert (status, body["role"], body["mfa_enrollment"]) == (200, "viewer", None)
    assert (body["sessions_ended"], body["api_keys_revoked"]) == (1, [keys["trader"]["id"]])
    status, _ = await call(api, "GET", "/api/system/status", bearer(session["access_token"]))
    assert status == 401
    status, _ = await call(api, "GET", "/api/system/status", {"X-API-Key": keys["viewer"]["key"]})
    assert status == 200
    status, again = await login(api, "ana")
    assert status == 200
    status, _ = await call(
        api, "PUT", "/api/strategies/ma_rsi:EURUSD:M15/toggle", bearer(again["access_token"])
    )
    assert status == 403  # a viewer now


async def test_promoting_a_user_to_admin_enrols_its_one_time_codes(api: Api) -> None:
    ana = await api.create_user("ana", PASSWORD, "trader")
    status, body = await call(
        api, "PUT", f"/api/users/{ana.id}", api.auth("admin"), {"role": "admin"}
    )
    assert (status, body["role"], body["mfa_enrolled"]) == (200, "admin", True)
    secret = body["mfa_enrollment"]["totp_secret"]
    assert len(body["mfa_enrollment"]["recovery_codes"]) == 10
    assert (await login(api, "ana"))[1]["error"]["code"] == "mfa_required"
    assert (await login(api, "ana", totp=code(api, secret)))[0] == 200


async def test_promoting_a_user_who_has_codes_keeps_them(api: Api) -> None:
    ana = await api.create_user("ana", PASSWORD, "trader")
    enrollment = await Mfa(api.users, Sealer(MFA_DATA_KEY), api.wall_clock).enroll(ana.id, "ana")
    status, body = await call(
        api, "PUT", f"/api/users/{ana.id}", api.auth("admin"), {"role": "admin"}
    )
    assert (status, body["mfa_enrollment"], body["mfa_enrolled"]) == (200, None, True)
    assert (await login(api, "ana", totp=code(api, enrollment.secret)))[0] == 200


async def test_the_last_active_admin_can_be_neither_disabled_nor_demoted(api: Api) -> None:
    root, headers = await admin_session(api)
    for change in (
        {"is_active": False},
        {"role": "trader"},
        {"role": "viewer", "is_active": False},
    ):
        status, body = await call(api, "PUT", f"/api/users/{root}", headers, change)
        assert (status, body["error"]["code"]) == (409, "last_admin"), change
    user = await api.users.get(root)
    assert user is not None
    assert (user.role, user.is_active) == ("admin", True)
    assert (await call(api, "GET", "/api/users", headers))[0] == 200  # the session lives on


async def test_an_admin_may_demote_itself_when_another_remains_and_its_session_ends(
    api: Api,
) -> None:
    root, headers = await admin_session(api)
    await api.create_user("boss", PASSWORD, "admin")
    status, body = await call(api, "PUT", f"/api/users/{root}", headers, {"role": "trader"})
    assert (status, body["role"], body["sessions_ended"]) == (200, "trader", 1)
    assert (await call(api, "GET", "/api/users", headers))[0] == 401
    assert await api.users.count_active_admins() == 1


async def test_two_admins_demoting_each_other_at_once_leave_one(api: Api) -> None:
    first = await api.create_user("first", PASSWORD, "admin")
    second = await api.create_user("second", PASSWORD, "admin")
    results = await asyncio.gather(
        *(
            call(api, "PUT", f"/api/users/{u.id}", api.auth("admin"), {"is_active": False})
            for u in (first, second)
        )
    )
    assert sorted(status for status, _ in results) == [200, 409]
    assert await api.users.count_active_admins() == 1


async def test_reenrolling_replaces_the_secret_and_the_old_codes_stop_working(api: Api) -> None:
    status, created = await post_user(api, api.auth("admin"), "boss", "admin", PASSWORD)
    assert status == 201
    old = created["mfa_enrollment"]
    status, body = await call(api, "POST", f"/api/users/{created['id']}/mfa", api.auth("admin"))
    assert (status, body["id"], body["mfa_enrolled"]) == (200, created["id"], True)
    new = body["mfa_enrollment"]
    assert new["totp_secret"] != old["totp_secret"]
    assert not set(new["recovery_codes"]) & set(old["recovery_codes"])
    assert (await login(api, "boss", recovery_code=old["recovery_codes"][0]))[0] == 401
    assert (await login(api, "boss", totp=code(api, old["totp_secret"])))[0] == 401
    assert (await login(api, "boss", totp=code(api, new["totp_secret"])))[0] == 200
    assert (await login(api, "boss", recovery_code=new["recovery_codes"][0]))[0] == 200


async def test_reenrolling_ends_the_users_sessions_at_once(api: Api) -> None:
    status, created = await post_user(api, api.auth("admin"), "boss", "admin", PASSWORD)
    assert status == 201
    status, session = await login(
        api, "boss", totp=code(api, created["mfa_enrollment"]["totp_secret"])
    )
    assert status == 200
    mine = {"Authorization": f"Bearer {session['access_token']}"}
    assert (await call(api, "GET", "/api/users", mine))[0] == 200
    status, body = await call(api, "POST", f"/api/users/{created['id']}/mfa", api.auth("admin"))
    assert (status, body["sessions_ended"]) == (200, 1)
    assert (await call(api, "GET", "/api/users", mine))[0] == 401


@pytest.mark.parametrize("role", ["trader", "viewer"])
async def test_traders_and_viewers_get_403_on_every_users_route(api: Api, role: str) -> None:
    ana = await api.create_user("ana", PASSWORD, "trader")
    headers = api.auth(role)
    for method, path, body in (
        ("GET", "/api/users", None),
        ("GET", f"/api/users/{ana.id}", None),
        ("POST", "/api/users", {"username": "bob", "password": PASSWORD, "role": "admin"}),
        ("PUT", f"/api/users/{ana.id}", {"role": "admin"}),
        ("POST", f"/api/users/{ana.id}/mfa", None),
    ):
        status, error = await call(api, method, path, headers, body)
        assert (status, error["error"]["code"]) == (403, "forbidden"), (method, path)
    assert [u.username for u in await api.users.list()] == ["ana"]
    assert [u.role for u in await api.users.list()] == ["trader"]


async def test_changes_are_audited_with_who_and_where_but_no_secret(api: Api) -> None:
    _, headers = await admin_session(api)
    status, created = await post_user(api, headers, "boss", "admin", NEW_PASSWORD)
    assert status == 201
    boss = created["id"]
    assert (await call(api, "PUT", f"/api/users/{boss}", headers, {"role": "trader"}))[0] == 200
    status, again = await call(api, "POST", f"/api/users/{boss}/mfa", headers)
    assert status == 200
    rows = [r for r in await api.system_logs.recent(50) if r.event.startswith("user_")]
    assert [r.event for r in reversed(rows)] == [
        "user_created",
        "user_updated",
        "user_mfa_enrolled",
    ]
    assert {(r.actor, r.source_ip) for r in rows} == {("root", "127.0.0.1")}
    by_event = {r.event: r.context for r in rows}
    assert by_event["user_created"] == {
        "user_id": boss,
        "username": "boss",
        "role": "admin",
        "mfa_enrolled": True,
    }
    assert by_event["user_updated"]["changes"] == {"role": {"from": "admin", "to": "trader"}}
    assert by_event["user_mfa_enrolled"] == {
        "user_id": boss,
        "username": "boss",
        "replaced": True,
        "sessions_ended": 0,
    }
    everything = json.dumps([(r.message, r.context) for r in await api.system_logs.recent(200)])
    secrets = [NEW_PASSWORD]
    for enrollment in (created["mfa_enrollment"], again["mfa_enrollment"]):
        secrets += [enrollment["totp_secret"], *enrollment["recovery_codes"]]
    assert not [s for s in secrets if s in everything]
