"""POST /api/auth/reset-password: a new password ends every session of the user."""

from __future__ import annotations

from typing import Any

import pytest

from ._support import Api, MakeApi

pytestmark = pytest.mark.db
OLD, NEW = "the-old-long-passphrase", "a-brand-new-passphrase"


async def login(api: Api, username: str, password: str) -> tuple[int, Any]:
    body = {"username": username, "password": password}
    async with api.session.post(api.url("/api/auth/login"), json=body) as resp:
        return resp.status, await resp.json()


async def reset(api: Api, token: str, body: dict[str, Any]) -> tuple[int, Any]:
    async with api.session.post(
        api.url("/api/auth/reset-password"), json=body, headers={"Authorization": f"Bearer {token}"}
    ) as resp:
        return resp.status, (await resp.json()) if resp.status != 204 else None


async def test_changing_ones_password_ends_every_session(make_api: MakeApi) -> None:
    api = await make_api(refresh_tokens=True)
    await api.create_user("ana", OLD)
    _, first = await login(api, "ana", OLD)
    _, second = await login(api, "ana", OLD)
    status, _ = await reset(
        api, first["access_token"], {"current_password": OLD, "new_password": NEW}
    )
    assert status == 204
    for session in (first, second):
        async with api.session.get(
            api.url("/api/system/status"),
            headers={"Authorization": f"Bearer {session['access_token']}"},
        ) as resp:
            assert resp.status == 401
    assert (await login(api, "ana", OLD))[0] == 401
    assert (await login(api, "ana", NEW))[0] == 200
    rows = [e for e in await api.system_logs.recent(10) if e.event == "password_changed"]
    assert rows[0].context["sessions_ended"] == 2


async def test_a_wrong_current_password_is_401_and_counts_as_a_failure(make_api: MakeApi) -> None:
    api = await make_api(refresh_tokens=True)
    user = await api.create_user("ana", OLD)
    _, session = await login(api, "ana", OLD)
    status, _ = await reset(
        api, session["access_token"], {"current_password": "nope", "new_password": NEW}
    )
    assert status == 401
    stored = await api.users.get(user.id)
    assert stored is not None
    assert stored.failed_logins == 1


async def test_an_admin_resets_another_users_password(make_api: MakeApi) -> None:
    api = await make_api(refresh_tokens=True)
    await api.create_user("ana", OLD)
    status, _ = await reset(api, api.token("admin"), {"username": "ana", "new_password": NEW})
    assert status == 204
    assert (await login(api, "ana", NEW))[0] == 200


@pytest.mark.parametrize(
    ("role", "body", "expected"),
    [
        ("trader", {"username": "ana", "new_password": NEW}, 403),
        ("admin", {"username": "nobody", "new_password": NEW}, 404),
        ("admin", {"username": "ana", "new_password": "short"}, 422),
        ("admin", {"username": "ana", "new_password": OLD}, 422),
    ],
)
async def test_refused_resets(
    make_api: MakeApi, role: str, body: dict[str, Any], expected: int
) -> None:
    api = await make_api(refresh_tokens=True)
    await api.create_user("ana", OLD)
    status, _ = await reset(api, api.token(role, user_id=99, username="boss"), body)
    assert status == expected
