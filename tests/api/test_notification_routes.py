"""/api/notifications: the VAPID key, the caller's push subscriptions and alert preferences."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from notifications.push_service import Browser
from sqlalchemy.ext.asyncio import AsyncEngine

from forexbot.clock import ManualClock
from forexbot.events.bus import EventBus
from forexbot.notifications.endpoints import EndpointPolicy
from forexbot.notifications.notifier import Notifier
from forexbot.notifications.sender import PushSender
from forexbot.notifications.store import PushStore
from forexbot.notifications.vapid import load_or_create_vapid_key

from ._support import Api, MakeApi

pytestmark = pytest.mark.db

SUBSCRIPTIONS = "/api/notifications/subscriptions"
PREFERENCES = "/api/notifications/preferences"

#: push.example.com stands for a real push service; loopback for a test one.
TEST_PUSH_HOSTS = EndpointPolicy(push_hosts=("push.example.com",), allow_loopback=True)


@dataclass
class Rig:
    api: Api
    notifier: Notifier
    alice: dict[str, str]
    bob: dict[str, str]

    async def call(
        self, method: str, path: str, headers: dict[str, str], body: Any = None
    ) -> tuple[int, Any]:
        async with self.api.session.request(
            method, self.api.url(path), headers=headers, json=body
        ) as resp:
            return resp.status, await resp.json()

    async def subscribe(self, who: dict[str, str], name: str) -> dict[str, Any]:
        body = Browser().subscription(f"https://push.example.com/{name}") | {"device": name}
        status, answer = await self.call("POST", SUBSCRIPTIONS, who, body)
        assert status == 201, answer
        return dict(answer)


@pytest_asyncio.fixture(loop_scope="function")
async def rig(make_api: MakeApi, db_engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[Rig]:
    key = load_or_create_vapid_key(tmp_path)
    clock = ManualClock(1_700_000_000.0)
    sender = PushSender(key, subject="mailto:ops@example.com", clock=clock)
    notifier = Notifier(
        EventBus(), PushStore(db_engine), sender, key, clock, endpoints=TEST_PUSH_HOSTS
    )
    api = await make_api(notifications=notifier)
    alice = await api.create_user("alice", "pw-alice-123", "trader")
    bob = await api.create_user("bob", "pw-bob-12345", "viewer")
    yield Rig(
        api,
        notifier,
        {"Authorization": f"Bearer {api.token('trader', user_id=alice.id, username='alice')}"},
        {"Authorization": f"Bearer {api.token('viewer', user_id=bob.id, username='bob')}"},
    )
    await notifier.stop()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/notifications/vapid-key"),
        ("GET", SUBSCRIPTIONS),
        ("POST", SUBSCRIPTIONS),
        ("DELETE", f"{SUBSCRIPTIONS}/1"),
        ("GET", PREFERENCES),
        ("PUT", PREFERENCES),
    ],
)
async def test_every_route_needs_a_token(rig: Rig, method: str, path: str) -> None:
    status, body = await rig.call(method, path, {})
    assert status == 401
    assert body["error"]["code"] == "unauthenticated"


async def test_any_signed_in_user_gets_the_application_server_key(rig: Rig) -> None:
    status, body = await rig.call("GET", "/api/notifications/vapid-key", rig.bob)
    assert status == 200
    assert body == {"public_key": rig.notifier.vapid_public_key}


async def test_a_subscription_is_stored_and_listed_without_its_keys(rig: Rig) -> None:
    made = await rig.subscribe(rig.alice, "phone")
    assert made["endpoint"] == "https://push.example.com/phone"
    assert made["device"] == "phone"
    status, listed = await rig.call("GET", SUBSCRIPTIONS, rig.alice)
    assert status == 200
    assert listed == {"items": [made]}


async def test_a_user_sees_only_their_own_subscriptions(rig: Rig) -> None:
    await rig.subscribe(rig.alice, "phone")
    bobs = await rig.subscribe(rig.bob, "tablet")
    _, listed = await rig.call("GET", SUBSCRIPTIONS, rig.bob)
    assert [s["id"] for s in listed["items"]] == [bobs["id"]]


async def test_another_users_subscription_cannot_be_deleted(rig: Rig) -> None:
    alices = await rig.subscribe(rig.alice, "phone")
    status, body = await rig.call("DELETE", f"{SUBSCRIPTIONS}/{alices['id']}", rig.bob)
    assert status == 404
    assert body["error"]["code"] == "not_found"
    _, listed = await rig.call("GET", SUBSCRIPTIONS, rig.alice)
    assert len(listed["items"]) == 1


async def test_deleting_your_subscription_removes_it(rig: Rig) -> None:
    made = await rig.subscribe(rig.alice, "phone")
    status, body = await rig.call("DELETE", f"{SUBSCRIPTIONS}/{made['id']}", rig.alice)
    assert (status, body) == (200, made)
    _, listed = await rig.call("GET", SUBSCRIPTIONS, rig.alice)
    assert listed == {"items": []}


async def test_subscribing_the_same_endpoint_again_replaces_it(rig: Rig) -> None:
    first = await rig.subscribe(rig.alice, "phone")
    again = await rig.subscribe(rig.bob, "phone")  # the browser's next user
    assert again["id"] == first["id"]
    _, alices = await rig.call("GET", SUBSCRIPTIONS, rig.alice)
    assert alices == {"items": []}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"endpoint": "http://push.example.com/x"}, "endpoint"),
        ({"endpoint": "not a url"}, "endpoint"),
        ({"keys": {"p256dh": "AAAA", "auth": "AAAAAAAAAAAAAAAAAAAAAA"}}, "keys.p256dh"),
        ({"keys": {"auth": "AAAAAAAAAAAAAAAAAAAAAA"}}, "keys.p256dh"),
        ({"extra": 1}, "extra"),
    ],
)
async def test_a_malformed_subscription_is_422(
    rig: Rig, change: dict[str, Any], field: str
) -> None:
    body = Browser().subscription("https://push.example.com/x") | change
    status, answer = await rig.call("POST", SUBSCRIPTIONS, rig.alice, body)
    assert status == 422
    assert field in [p["field"] for p in answer["error"]["details"]]


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://10.0.0.5/x",
        "https://192.168.1.1:9093/-/quit",
        "https://push.example.com.evil.net/x",
    ],
)
async def test_an_endpoint_that_is_not_a_push_service_is_422_and_not_stored(
    rig: Rig, endpoint: str
) -> None:
    status, answer = await rig.call(
        "POST", SUBSCRIPTIONS, rig.alice, Browser().subscription(endpoint)
    )
    assert status == 422
    assert answer["error"]["details"][0]["field"] == "endpoint"
    assert "not a known push service" in answer["error"]["details"][0]["message"]
    _, listed = await rig.call("GET", SUBSCRIPTIONS, rig.alice)
    assert listed == {"items": []}


async def test_plain_http_is_accepted_on_a_loopback_endpoint(rig: Rig) -> None:
    body = Browser().subscription("http://127.0.0.1:8999/push/1")
    status, _ = await rig.call("POST", SUBSCRIPTIONS, rig.alice, body)
    assert status == 201


async def test_preferences_start_at_their_defaults(rig: Rig) -> None:
    status, body = await rig.call("GET", PREFERENCES, rig.alice)
    assert status == 200
    levels = {p["type"]: p["level"] for p in body["items"]}
    assert levels == {
        "fill": "on",
        "close": "on",
        "sl_tp": "on",
        "kill_switch": "on",
        "daily_loss_halt": "on",
        "risk_rejection": "off",
        "connection": "on",
        "reconciliation": "on",
        "failed_login": "on",
    }
    assert all(p["description"] and p["default"] == p["level"] for p in body["items"])


async def test_preferences_are_set_per_user_and_type(rig: Rig) -> None:
    change = {"preferences": {"fill": "silent", "risk_rejection": "on"}}
    status, body = await rig.call("PUT", PREFERENCES, rig.alice, change)
    assert status == 200
    levels = {p["type"]: p["level"] for p in body["items"]}
    assert (levels["fill"], levels["risk_rejection"], levels["close"]) == ("silent", "on", "on")
    _, bobs = await rig.call("GET", PREFERENCES, rig.bob)
    assert {p["type"]: p["level"] for p in bobs["items"]}["fill"] == "on"


@pytest.mark.parametrize(
    "body",
    [{"preferences": {"fill": "loud"}}, {"preferences": {"coffee": "on"}}, {"preferences": {}}, {}],
)
async def test_malformed_preferences_are_422(rig: Rig, body: dict[str, Any]) -> None:
    status, answer = await rig.call("PUT", PREFERENCES, rig.alice, body)
    assert status == 422
    assert answer["error"]["code"] == "validation_error"
