"""Multi-factor sign-in: admins need a one-time code; codes work once; recovery codes too."""

from __future__ import annotations

from typing import Any

import pyotp
import pytest
from sqlalchemy import select

from forexbot.api.mfa import Mfa
from forexbot.database.encryption import Sealer
from forexbot.database.tables import users as users_table

from ._support import Api, MakeApi
from .conftest import MFA_DATA_KEY

pytestmark = pytest.mark.db
PASSWORD = "a-long-passphrase"


async def login(api: Api, username: str, **extra: str) -> tuple[int, Any]:
    body = {"username": username, "password": PASSWORD, **extra}
    async with api.session.post(api.url("/api/auth/login"), json=body) as resp:
        return resp.status, await resp.json()


async def enrolled(api: Api, username: str, role: str = "admin") -> tuple[str, tuple[str, ...]]:
    user = await api.create_user(username, PASSWORD, role)
    mfa = Mfa(api.users, Sealer(MFA_DATA_KEY), api.wall_clock)
    enrollment = await mfa.enroll(user.id, username)
    return enrollment.secret, enrollment.recovery_codes


def code(api: Api, secret: str, offset: float = 0.0) -> str:
    return pyotp.TOTP(secret).at(int(api.wall_clock.time() + offset))


async def test_an_admin_without_one_time_codes_is_told_to_set_them_up(make_api: MakeApi) -> None:
    api = await make_api(mfa=True)
    await api.create_user("root", PASSWORD, "admin")
    status, body = await login(api, "root")
    assert (status, body["error"]["code"]) == (403, "mfa_enrollment_required")
    assert "forexbot user mfa --username root" in body["error"]["message"]


async def test_an_admin_needs_the_code_with_the_password(make_api: MakeApi) -> None:
    api = await make_api(mfa=True)
    secret, _ = await enrolled(api, "root")
    status, body = await login(api, "root")
    assert (status, body["error"]["code"]) == (401, "mfa_required")
    status, body = await login(api, "root", totp=code(api, secret))
    assert status == 200
    assert body["access_token"]


async def test_a_code_works_once(make_api: MakeApi) -> None:
    api = await make_api(mfa=True)
    secret, _ = await enrolled(api, "root")
    once = code(api, secret)
    assert (await login(api, "root", totp=once))[0] == 200
    status, body = await login(api, "root", totp=once)
    assert (status, body["error"]["code"]) == (401, "unauthenticated")
    api.wall_clock.advance(30)
    assert (await login(api, "root", totp=code(api, secret)))[0] == 200


async def test_a_wrong_code_counts_as_a_failed_login(make_api: MakeApi) -> None:
    api = await make_api(mfa=True)
    secret, _ = await enrolled(api, "root")
    wrong = f"{(int(code(api, secret)) + 1) % 1_000_000:06d}"
    assert (await login(api, "root", totp=wrong))[0] == 401
    user = await api.users.get_by_username("root")
    assert user is not None
    assert user.failed_logins == 1
    events = [e.context.get("reason") for e in await api.system_logs.recent(5)]
    assert "bad_second_factor" in events


@pytest.mark.parametrize(("offset", "accepted"), [(-30, True), (30, True), (-90, False)])
async def test_a_code_one_step_early_or_late_is_accepted(
    make_api: MakeApi, offset: float, accepted: bool
) -> None:
    api = await make_api(mfa=True)
    secret, _ = await enrolled(api, "root")
    status, _ = await login(api, "root", totp=code(api, secret, offset))
    assert (status == 200) is accepted


async def test_a_recovery_code_stands_in_for_a_code_once(make_api: MakeApi) -> None:
    api = await make_api(mfa=True)
    _, recovery = await enrolled(api, "root")
    assert len(recovery) == 10
    assert (await login(api, "root", recovery_code=recovery[0]))[0] == 200
    assert (await login(api, "root", recovery_code=recovery[0]))[0] == 401
    assert (await login(api, "root", recovery_code=recovery[1].upper()))[0] == 200
    events = [e.event for e in await api.system_logs.recent(10)]
    assert "recovery_code_used" in events


async def test_a_trader_signs_in_without_a_code_unless_enrolled(make_api: MakeApi) -> None:
    api = await make_api(mfa=True)
    await api.create_user("ana", PASSWORD, "trader")
    assert (await login(api, "ana"))[0] == 200
    secret, _ = await enrolled(api, "bob", role="trader")
    assert (await login(api, "bob"))[0] == 401
    assert (await login(api, "bob", totp=code(api, secret)))[0] == 200


async def test_the_totp_secret_is_stored_sealed(make_api: MakeApi) -> None:
    api = await make_api(mfa=True)
    secret, _ = await enrolled(api, "root")
    async with api.engine.connect() as conn:
        stored = (
            await conn.execute(
                select(users_table.c.totp_secret).where(users_table.c.username == "root")
            )
        ).scalar_one()
    assert secret not in stored
    assert Sealer(MFA_DATA_KEY).open(stored) == secret


async def test_a_malformed_code_is_422(make_api: MakeApi) -> None:
    api = await make_api(mfa=True)
    await enrolled(api, "root")
    status, body = await login(api, "root", totp="12ab56")
    assert (status, body["error"]["code"]) == (422, "validation_error")
