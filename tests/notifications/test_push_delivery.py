"""Alerts pushed to a local push service and decrypted there with the browser's keys."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import http_ece
import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine
from trade_records import trade_record

from forexbot.clock import ManualClock
from forexbot.database.users import UserRepository
from forexbot.domain.trading import TradeStatus
from forexbot.events.bus import EventBus
from forexbot.events.types import KillSwitchEvent, TradeEvent
from forexbot.notifications.alerts import AlertLevel, AlertType
from forexbot.notifications.notifier import Notifier
from forexbot.notifications.sender import Outcome, PushSender
from forexbot.notifications.store import PushStore
from forexbot.notifications.vapid import VapidKey, load_or_create_vapid_key

from .push_service import LOCAL_PUSH, Browser, PushService, running_push_service

pytestmark = pytest.mark.db

SUBJECT = "mailto:ops@example.com"


@dataclass
class Rig:
    notifier: Notifier
    store: PushStore
    push: PushService
    key: VapidKey
    clock: ManualClock
    user_id: int

    async def device(self, name: str, user_id: int | None = None) -> Browser:
        browser = Browser()
        await self.store.add(
            user_id or self.user_id, self.push.endpoint(name), browser.p256dh, browser.auth, name
        )
        return browser

    async def settle(self) -> None:
        await self.notifier.drain(timeout=10)


@pytest_asyncio.fixture(loop_scope="function")
async def rig(db_engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[Rig]:
    user = await UserRepository(db_engine).create("alice", "not-a-hash", "trader")
    key = load_or_create_vapid_key(tmp_path)
    clock = ManualClock(1_700_000_000.0)
    store = PushStore(db_engine)
    sender = PushSender(key, subject=SUBJECT, clock=clock, burst=3, per_minute=6)
    bus = EventBus()
    notifier = Notifier(bus, store, sender, key, clock, endpoints=LOCAL_PUSH)
    async with running_push_service() as push:
        yield Rig(notifier, store, push, key, clock, user.id)
        await notifier.stop()


async def test_a_fill_arrives_encrypted_for_the_browser_with_its_trade(rig: Rig) -> None:
    browser = await rig.device("phone")
    await rig.notifier.on_event(TradeEvent(trade_record(42, TradeStatus.OPEN)))
    await rig.settle()
    [received] = rig.push.received
    assert received.path == "/push/phone"
    assert received.headers["Content-Encoding"] == "aes128gcm"
    payload = browser.decrypt(received.body)
    assert payload == {
        "type": "fill",
        "title": "EURUSD buy filled",
        "body": "Buy 0.1 EURUSD at 1.10012 (ma_cross)",
        "silent": False,
        "time": "2023-11-14T22:13:20Z",
        "tag": "fill:42",
        "data": {
            "trade_id": 42,
            "symbol": "EURUSD",
            "side": "buy",
            "volume": "0.1",
            "price": "1.10012",
        },
    }


async def test_the_vapid_token_is_signed_by_the_daemons_key_for_the_push_origin(
    rig: Rig,
) -> None:
    await rig.device("phone")
    await rig.notifier.on_event(KillSwitchEvent(True, "manual", "stop now", 1.0))
    await rig.settle()
    claims = rig.push.received[0].vapid_claims(rig.key.public_key)
    assert claims["aud"] == rig.push.base_url
    assert claims["sub"] == SUBJECT
    assert rig.push.received[0].headers["Urgency"] == "high"


async def test_another_browser_cannot_read_the_push(rig: Rig) -> None:
    await rig.device("phone")
    await rig.notifier.on_event(KillSwitchEvent(True, "manual", "stop now", 1.0))
    await rig.settle()
    with pytest.raises(http_ece.ECEException, match="Decryption error"):
        Browser().decrypt(rig.push.received[0].body)


async def test_a_subscription_the_service_says_is_gone_is_removed(rig: Rig) -> None:
    await rig.device("phone")
    rig.push.status = 410
    await rig.notifier.on_event(KillSwitchEvent(True, "manual", "stop now", 1.0))
    await rig.settle()
    assert len(rig.push.received) == 1
    assert await rig.store.list(rig.user_id) == []
    assert rig.notifier.sender.stats.counts[Outcome.GONE] == 1


@pytest.mark.parametrize("status", [301, 307, 308])
async def test_a_redirect_from_the_push_service_is_not_followed(rig: Rig, status: int) -> None:
    await rig.device("phone")
    rig.push.status = status
    rig.push.location = rig.push.endpoint("elsewhere")  # a checked host must not lead elsewhere
    await rig.notifier.on_event(KillSwitchEvent(True, "manual", "stop now", 1.0))
    await rig.settle()
    assert [r.path for r in rig.push.received] == ["/push/phone"]
    assert rig.notifier.sender.stats.counts[Outcome.FAILED] == 1
    assert len(await rig.store.list(rig.user_id)) == 1  # a failure, not "gone"


async def test_an_alert_type_turned_off_sends_nothing(rig: Rig) -> None:
    await rig.device("phone")
    await rig.store.set_preferences(rig.user_id, {AlertType.KILL_SWITCH: AlertLevel.OFF})
    await rig.notifier.on_event(KillSwitchEvent(True, "manual", "stop now", 1.0))
    await rig.settle()
    assert rig.push.received == []


async def test_a_silent_alert_type_is_sent_flagged_silent_at_low_urgency(rig: Rig) -> None:
    browser = await rig.device("phone")
    await rig.store.set_preferences(rig.user_id, {AlertType.KILL_SWITCH: AlertLevel.SILENT})
    await rig.notifier.on_event(KillSwitchEvent(True, "manual", "stop now", 1.0))
    await rig.settle()
    [received] = rig.push.received
    assert browser.decrypt(received.body)["silent"] is True
    assert received.headers["Urgency"] == "low"


async def test_risk_rejections_are_not_sent_unless_turned_on(rig: Rig) -> None:
    await rig.device("phone")
    assert await rig.store.recipients(AlertType.RISK_REJECTION) == []
    await rig.store.set_preferences(rig.user_id, {AlertType.RISK_REJECTION: AlertLevel.ON})
    assert len(await rig.store.recipients(AlertType.RISK_REJECTION)) == 1


async def test_each_device_of_each_user_gets_its_own_encryption(
    rig: Rig, db_engine: AsyncEngine
) -> None:
    bob = await UserRepository(db_engine).create("bob", "not-a-hash", "viewer")
    phone, laptop = await rig.device("phone"), await rig.device("laptop", bob.id)
    await rig.notifier.on_event(KillSwitchEvent(True, "manual", "stop now", 1.0))
    await rig.settle()
    by_path = {r.path: r for r in rig.push.received}
    assert phone.decrypt(by_path["/push/phone"].body)["title"] == "Kill switch tripped"
    assert laptop.decrypt(by_path["/push/laptop"].body)["title"] == "Kill switch tripped"


async def test_pushes_beyond_the_burst_are_dropped_until_the_bucket_refills(rig: Rig) -> None:
    await rig.device("phone")
    for _ in range(5):
        await rig.notifier.on_event(KillSwitchEvent(True, "manual", "stop now", 1.0))
    await rig.settle()
    assert len(rig.push.received) == 3
    assert rig.notifier.sender.stats.counts[Outcome.RATE_LIMITED] == 2
    rig.clock.advance(10)  # 6 a minute: one more
    await rig.notifier.on_event(KillSwitchEvent(True, "manual", "stop now", 1.0))
    await rig.settle()
    assert len(rig.push.received) == 4


async def test_an_unreachable_push_service_is_counted_never_raised(rig: Rig) -> None:
    await rig.store.add(rig.user_id, "http://127.0.0.1:9/push/x", Browser().p256dh, "A" * 22, None)
    await rig.notifier.on_event(KillSwitchEvent(True, "manual", "stop now", 1.0))
    await rig.settle()
    assert rig.notifier.sender.stats.counts[Outcome.FAILED] == 1
    assert len(await rig.store.list(rig.user_id)) == 1  # kept: the service may come back


async def test_sending_does_not_block_the_event_loop(rig: Rig) -> None:
    await rig.device("phone")
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await rig.notifier.on_event(KillSwitchEvent(True, "manual", "stop now", 1.0))
    await rig.settle()
    task.cancel()
    assert len(rig.push.received) == 1
    assert ticks > 1  # the loop ran while the push was under way
