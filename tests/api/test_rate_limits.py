"""Rate limits: token buckets per address, per user and for logins; 429 with Retry-After."""

from __future__ import annotations

import pytest

from forexbot.api.ratelimit import Limit, TokenBuckets
from forexbot.clock import ManualClock

from ._support import Api, MakeApi

pytestmark = pytest.mark.db


async def status_of(api: Api, token: str | None, path: str = "/api/system/status") -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with api.session.get(api.url(path), headers=headers) as resp:
        return resp.status


async def test_a_user_over_the_burst_gets_429_with_retry_after(make_api: MakeApi) -> None:
    api = await make_api(user_burst=3, user_rate_per_second=0.5)
    token = api.token("viewer")
    assert [await status_of(api, token) for _ in range(3)] == [200, 200, 200]
    async with api.session.get(
        api.url("/api/system/status"), headers={"Authorization": f"Bearer {token}"}
    ) as resp:
        body = await resp.json()
        assert resp.status == 429
        assert resp.headers["Retry-After"] == "2"  # a token every 2 s
    assert body["error"]["code"] == "rate_limited"
    api.wall_clock.advance(2)
    assert await status_of(api, token) == 200


async def test_each_user_has_a_bucket_of_their_own(make_api: MakeApi) -> None:
    api = await make_api(user_burst=2, user_rate_per_second=0.1)
    ana, bob = api.token("viewer", user_id=1), api.token("viewer", user_id=2, username="bob")
    assert [await status_of(api, ana) for _ in range(3)] == [200, 200, 429]
    assert await status_of(api, bob) == 200


async def test_an_address_is_limited_before_its_tokens_are_checked(make_api: MakeApi) -> None:
    api = await make_api(ip_burst=3, ip_rate_per_second=0.1)
    statuses = [await status_of(api, "not-a-token") for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    assert await status_of(api, None, "/api/health") == 429


async def test_login_attempts_are_limited_per_address(make_api: MakeApi) -> None:
    api = await make_api(login_attempts_per_minute=2)
    await api.create_user("ana", "a-long-passphrase")
    statuses = []
    for _ in range(3):
        async with api.session.post(
            api.url("/api/auth/login"), json={"username": "ana", "password": "wrong-guess"}
        ) as resp:
            statuses.append(resp.status)
            retry = resp.headers.get("Retry-After")
    assert statuses == [401, 401, 429]
    assert retry == "30"  # two a minute: the next in 30 s
    failures = [e for e in await api.system_logs.recent(10) if e.event == "login_failed"]
    assert len(failures) == 2  # the third was refused before any password was checked


def test_a_bucket_refills_at_its_rate_up_to_its_burst() -> None:
    clock = ManualClock(0.0)
    buckets = TokenBuckets(Limit(rate=2.0, burst=2), clock)
    assert [buckets.take("k") for _ in range(3)] == [0.0, 0.0, 0.5]
    clock.advance(10)
    assert [buckets.take("k") for _ in range(3)] == [0.0, 0.0, 0.5]


@pytest.mark.parametrize(("rate", "burst"), [(0.0, 1), (1.0, 0), (-1.0, 5)])
def test_a_limit_needs_a_positive_rate_and_burst(rate: float, burst: int) -> None:
    with pytest.raises(ValueError, match="rate limit"):
        Limit(rate, burst)
