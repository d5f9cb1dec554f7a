"""A wrong password or one-time code on an existing account is published on the bus
(``FailedLoginEvent``), so its owner can be told; other refusals are only counted."""

from __future__ import annotations

from dataclasses import fields

import pyotp
import pytest

from forexbot.api.login_failures import LoginFailures
from forexbot.api.mfa import Mfa
from forexbot.database.encryption import Sealer
from forexbot.events.types import Event, FailedLoginEvent

from ._support import Api, MakeApi
from .conftest import MFA_DATA_KEY

pytestmark = pytest.mark.db

PASSWORD = "correct horse battery"
TRIED = "battery staple horse"


class Published:
    """What the API published, in order."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.failures = LoginFailures(self.events.append)


async def login(api: Api, username: str, password: str, **extra: str) -> int:
    body = {"username": username, "password": password, **extra}
    async with api.session.post(api.url("/api/auth/login"), json=body) as resp:
        await resp.read()
        return resp.status


@pytest.fixture
def published() -> Published:
    return Published()


async def test_a_wrong_password_is_published_with_who_where_when_and_why(
    make_api: MakeApi, published: Published
) -> None:
    api = await make_api(login_failures=published.failures)
    user = await api.create_user("alice", PASSWORD)
    assert await login(api, "alice", TRIED) == 401
    assert published.events == [
        FailedLoginEvent(user.id, "alice", "bad_password", "127.0.0.1", api.wall_clock.time())
    ]


async def test_the_event_never_carries_what_was_tried(
    make_api: MakeApi, published: Published
) -> None:
    api = await make_api(login_failures=published.failures)
    await api.create_user("alice", PASSWORD)
    await login(api, "alice", TRIED)
    [event] = published.events
    assert [f.name for f in fields(FailedLoginEvent)] == [
        "user_id",
        "username",
        "reason",
        "source_ip",
        "time",
    ]
    assert TRIED not in repr(event)


async def test_a_wrong_one_time_code_is_published(make_api: MakeApi, published: Published) -> None:
    api = await make_api(mfa=True, login_failures=published.failures)
    user = await api.create_user("root", PASSWORD, "admin")
    secret = (
        await Mfa(api.users, Sealer(MFA_DATA_KEY), api.wall_clock).enroll(user.id, "root")
    ).secret
    right = pyotp.TOTP(secret).at(int(api.wall_clock.time()))
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    assert await login(api, "root", PASSWORD, totp=wrong) == 401
    assert [
        (e.username, e.reason) for e in published.events if isinstance(e, FailedLoginEvent)
    ] == [("root", "bad_second_factor")]


async def test_an_unknown_username_is_counted_but_not_published(
    make_api: MakeApi, published: Published
) -> None:
    api = await make_api(login_failures=published.failures)
    assert await login(api, "mallory", TRIED) == 401
    assert published.events == []
    assert published.failures.counts == {"unknown_user": 1}


async def test_a_disabled_account_with_its_password_is_counted_but_not_published(
    make_api: MakeApi, published: Published
) -> None:
    api = await make_api(login_failures=published.failures)
    await api.create_user("alice", PASSWORD, active=False)
    assert await login(api, "alice", PASSWORD) == 401
    assert published.events == []
    assert published.failures.counts == {"inactive": 1}


async def test_a_successful_sign_in_publishes_nothing(
    make_api: MakeApi, published: Published
) -> None:
    api = await make_api(login_failures=published.failures)
    await api.create_user("alice", PASSWORD)
    assert await login(api, "alice", PASSWORD) == 200
    assert published.events == []
    assert published.failures.counts == {}


async def test_each_wrong_password_is_published_and_counted(
    make_api: MakeApi, published: Published
) -> None:
    api = await make_api(login_failures=published.failures, login_lock_after=1000)
    await api.create_user("alice", PASSWORD)
    for _ in range(5):
        assert await login(api, "alice", TRIED) == 401
    assert len(published.events) == 5
    assert published.failures.counts == {"bad_password": 5}
