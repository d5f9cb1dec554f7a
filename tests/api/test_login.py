"""POST /api/auth/login."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from forexbot.api.app import TOKENS_KEY
from forexbot.api.login_failures import LoginFailures
from forexbot.api.routes import login as login_module

from ._support import Api, MakeApi

pytestmark = pytest.mark.db

REFUSED = {
    "error": {
        "code": "unauthenticated",
        "message": "invalid username or password",
        "details": None,
    }
}


async def login(api: Api, username: str, password: str) -> tuple[int, dict[str, Any]]:
    payload = {"username": username, "password": password}
    async with api.session.post(api.url("/api/auth/login"), json=payload) as resp:
        return resp.status, await resp.json()


async def test_login_returns_a_bearer_token_that_opens_protected_routes(api: Api) -> None:
    await api.create_user("alice", "correct horse", "trader")
    status, body = await login(api, "alice", "correct horse")
    assert status == 200
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    async with api.session.get(api.url("/api/system/status"), headers=headers) as resp:
        assert resp.status == 200


async def test_login_token_carries_the_users_id_name_and_role(api: Api) -> None:
    user = await api.create_user("alice", "correct horse", "viewer")
    _, body = await login(api, "alice", "correct horse")
    claims = api.server.app[TOKENS_KEY].verify(body["access_token"])
    assert (claims.user_id, claims.username, claims.role.value) == (user.id, "alice", "viewer")


async def test_success_is_recorded_and_audited_with_actor_and_source_ip(api: Api) -> None:
    user = await api.create_user("alice", "correct horse", "admin")
    await login(api, "alice", "correct horse")
    stored = await api.users.get_by_username("alice")
    assert stored is not None
    assert stored.last_login_at is not None
    # Stamped with the database's now() (the API's clock is a manual one here).
    assert stored.last_login_at.timestamp() == pytest.approx(time.time(), abs=60)
    [entry] = [e for e in await api.system_logs.recent(10) if e.event == "login"]
    assert (entry.level, entry.component, entry.actor, entry.source_ip) == (
        "info",
        "api",
        "alice",
        "127.0.0.1",
    )
    assert entry.context == {"user_id": user.id, "role": "admin"}


async def test_wrong_password_and_unknown_user_get_the_same_401(api: Api) -> None:
    await api.create_user("alice", "correct horse")
    wrong = await login(api, "alice", "battery staple")
    unknown = await login(api, "mallory", "battery staple")
    assert wrong == (401, REFUSED)
    assert unknown == (401, REFUSED)


async def test_wrong_password_is_counted_and_audited(api: Api) -> None:
    await api.create_user("alice", "correct horse")
    await login(api, "alice", "battery staple")
    stored = await api.users.get_by_username("alice")
    assert stored is not None
    assert stored.failed_logins == 1
    [entry] = [e for e in await api.system_logs.recent(10) if e.event == "login_failed"]
    assert (entry.level, entry.actor, entry.source_ip) == ("warning", "alice", "127.0.0.1")
    assert entry.context == {"username": "alice", "reason": "bad_password"}


async def test_unknown_user_still_costs_a_password_verification(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    verified: list[str] = []
    real = login_module.verify_password

    def spy(password_hash: str, password: str) -> bool:
        verified.append(password_hash)
        return real(password_hash, password)

    monkeypatch.setattr(login_module, "verify_password", spy)
    assert (await login(api, "nobody", "guess"))[0] == 401
    assert len(verified) == 1
    assert verified[0].startswith("$argon2id$")


async def test_inactive_user_is_refused_with_the_same_401(api: Api) -> None:
    await api.create_user("bob", "correct horse", active=False)
    assert await login(api, "bob", "correct horse") == (401, REFUSED)
    [entry] = [e for e in await api.system_logs.recent(10) if e.event == "login_failed"]
    assert entry.context["reason"] == "inactive"


async def test_locked_user_is_refused_until_the_lock_ends(api: Api) -> None:
    user = await api.create_user("alice", "correct horse")
    now = datetime.fromtimestamp(api.wall_clock.time(), tz=UTC)
    await api.lock_user(user.id, now + timedelta(minutes=5))
    assert await login(api, "alice", "correct horse") == (401, REFUSED)
    api.wall_clock.advance(5 * 60 + 1)
    assert (await login(api, "alice", "correct horse"))[0] == 200


async def test_repeated_wrong_passwords_lock_the_account(make_api: MakeApi) -> None:
    api = await make_api(login_lock_after=3, login_lock_seconds=600)
    await api.create_user("alice", "correct horse")
    for _ in range(3):
        assert (await login(api, "alice", "wrong"))[0] == 401
    assert await login(api, "alice", "correct horse") == (401, REFUSED)
    stored = await api.users.get_by_username("alice")
    assert stored is not None
    assert stored.locked_until is not None
    # For login_lock_seconds from the third failure, by the database's now().
    lock_left = (stored.locked_until - datetime.now(UTC)).total_seconds()
    assert lock_left == pytest.approx(600, abs=60)


async def test_login_with_a_missing_field_is_422(api: Api) -> None:
    async with api.session.post(api.url("/api/auth/login"), json={"username": "a"}) as resp:
        assert resp.status == 422
        body = await resp.json()
        assert body["error"]["details"][0]["field"] == "password"
        assert body["error"]["details"][0]["type"] == "missing"


async def test_login_with_a_non_string_password_is_422(api: Api) -> None:
    payload = {"username": "alice", "password": 12345}
    async with api.session.post(api.url("/api/auth/login"), json=payload) as resp:
        assert resp.status == 422
        assert (await resp.json())["error"]["details"][0]["field"] == "password"


async def test_refused_logins_are_counted_by_reason_for_the_metrics(make_api: MakeApi) -> None:
    failures = LoginFailures()
    api = await make_api(login_failures=failures, login_attempts_per_minute=3.0)
    await api.create_user("alice", "correct horse")
    assert (await login(api, "alice", "wrong horse"))[0] == 401
    assert (await login(api, "nobody", "correct horse"))[0] == 401
    assert (await login(api, "alice", "correct horse"))[0] == 200
    assert (await login(api, "alice", "correct horse"))[0] == 429  # the fourth in a minute
    assert failures.counts == {"bad_password": 1, "unknown_user": 1, "throttled": 1}
