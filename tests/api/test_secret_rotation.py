"""Rotating the JWT secret: old access tokens run out gracefully, refresh tokens survive."""

from __future__ import annotations

import pytest

from forexbot.api.jwt_secret import previous_jwt_secrets
from forexbot.api.tokens import TokenService
from forexbot.clock import ManualClock
from forexbot.errors import AuthError, ConfigError

from ._support import Api, MakeApi

OLD, NEW = "o" * 40, "n" * 40


class _User:
    id, username, role = 7, "ana", "trader"


def test_a_token_of_the_previous_secret_is_accepted_during_the_rotation() -> None:
    clock = ManualClock(1_800_000_000.0)
    old_token, _ = TokenService(OLD, 600, clock).issue(_User())
    rotated = TokenService(NEW, 600, clock, previous=(OLD,))
    assert rotated.verify(old_token).username == "ana"
    new_token, _ = rotated.issue(_User())
    assert TokenService(NEW, 600, clock).verify(new_token).username == "ana"  # signed anew
    with pytest.raises(AuthError, match="Signature verification failed"):
        TokenService(NEW, 600, clock).verify(old_token)


def test_previous_secrets_come_from_the_environment() -> None:
    assert previous_jwt_secrets({}) == ()
    assert previous_jwt_secrets({"FOREXBOT_JWT_PREVIOUS_SECRETS": f"{OLD}, {NEW}"}) == (OLD, NEW)
    with pytest.raises(ConfigError, match="at least 32"):
        previous_jwt_secrets({"FOREXBOT_JWT_PREVIOUS_SECRETS": "short"})


async def status(api: Api, token: str) -> int:
    async with api.session.get(
        api.url("/api/system/status"), headers={"Authorization": f"Bearer {token}"}
    ) as resp:
        return resp.status


@pytest.mark.db
async def test_refresh_tokens_survive_a_rotation_without_grace(make_api: MakeApi) -> None:
    before = await make_api(refresh_tokens=True, jwt_secret=OLD)
    await before.create_user("ana", "a-long-passphrase")
    async with before.session.post(
        before.url("/api/auth/login"), json={"username": "ana", "password": "a-long-passphrase"}
    ) as resp:
        session = await resp.json()
    after = await make_api(refresh_tokens=True, jwt_secret=NEW)  # the old secret is gone
    assert await status(after, session["access_token"]) == 401
    async with after.session.post(
        after.url("/api/auth/refresh"), json={"refresh_token": session["refresh_token"]}
    ) as resp:
        assert resp.status == 200
        renewed = await resp.json()
    assert await status(after, renewed["access_token"]) == 200
