"""Failed sign-ins told to the account's own devices, coalesced: the first at once, the rest in
one summary per window, decrypted at a local push service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from polling import eventually
from sqlalchemy.ext.asyncio import AsyncEngine

from forexbot.clock import ManualClock
from forexbot.database.users import UserRepository
from forexbot.events.bus import EventBus
from forexbot.events.types import FailedLoginEvent
from forexbot.notifications.alerts import DEFAULTS, AlertLevel, AlertType
from forexbot.notifications.failed_logins import FailedLoginWindows
from forexbot.notifications.notifier import Notifier
from forexbot.notifications.sender import PushSender
from forexbot.notifications.store import PushStore
from forexbot.notifications.vapid import load_or_create_vapid_key

from .push_service import LOCAL_PUSH, Browser, PushService, running_push_service

NOW = 1_700_000_000.0
WINDOW = 0.3


def failed(
    user_id: int = 1,
    username: str = "alice",
    reason: str = "bad_password",
    source_ip: str | None = "203.0.113.9",
) -> FailedLoginEvent:
    return FailedLoginEvent(user_id, username, reason, source_ip, NOW)


# --- the windows (pure) -------------------------------------------------------------------------


def test_failed_logins_are_on_by_default() -> None:
    assert DEFAULTS[AlertType.FAILED_LOGIN] is AlertLevel.ON


def test_the_first_failure_is_told_at_once_saying_what_for_whom_and_from_where() -> None:
    alert = FailedLoginWindows(60).add(failed())
    assert alert is not None
    assert alert.type is AlertType.FAILED_LOGIN
    assert alert.title == "Failed sign-in to your account"
    assert alert.body == "Wrong password for alice from 203.0.113.9"
    assert alert.time == NOW
    assert alert.data == {
        "username": "alice",
        "count": 1,
        "reasons": {"bad_password": 1},
        "addresses": ["203.0.113.9"],
    }


def test_a_wrong_one_time_code_says_so() -> None:
    alert = FailedLoginWindows(60).add(failed(reason="bad_second_factor"))
    assert alert is not None
    assert alert.body == "Wrong one-time code for alice from 203.0.113.9"


def test_failures_during_a_window_are_kept_for_one_summary() -> None:
    windows = FailedLoginWindows(60)
    windows.add(failed())
    for reason in ("bad_password", "bad_password", "bad_second_factor"):
        assert windows.add(failed(reason=reason, source_ip="198.51.100.7")) is None
    summary = windows.close(1, NOW + 60)
    assert summary is not None
    assert summary.title == "3 failed sign-ins in the last minute"
    assert summary.body == ("2 wrong passwords, 1 wrong one-time code for alice, from 198.51.100.7")
    assert summary.time == NOW + 60
    assert summary.data == {
        "username": "alice",
        "count": 3,
        "reasons": {"bad_password": 2, "bad_second_factor": 1},
        "addresses": ["198.51.100.7"],
    }
    assert windows.coalesced == 3


def test_a_summary_names_five_addresses_and_counts_the_others() -> None:
    windows = FailedLoginWindows(120)
    windows.add(failed())
    for n in range(8):
        windows.add(failed(source_ip=f"192.0.2.{n}"))
    summary = windows.close(1, NOW)
    assert summary is not None
    assert summary.title == "8 failed sign-ins in the last 2 minutes"
    assert summary.body.endswith(
        "from 192.0.2.0, 192.0.2.1, 192.0.2.2, 192.0.2.3, 192.0.2.4 and 3 other addresses"
    )
    assert summary.data["addresses"] == [f"192.0.2.{n}" for n in range(5)]


def test_a_window_that_ends_without_a_failure_closes_and_the_next_is_told_at_once() -> None:
    windows = FailedLoginWindows(60)
    windows.add(failed())
    windows.add(failed())
    assert windows.close(1, NOW) is not None  # the summary; the window goes on
    assert windows.is_open(1)
    assert windows.close(1, NOW) is None  # nothing came: it closes
    assert not windows.is_open(1)
    assert windows.add(failed()) is not None


def test_each_account_has_its_own_window() -> None:
    windows = FailedLoginWindows(60)
    assert windows.add(failed(1, "alice")) is not None
    assert windows.add(failed(2, "bob")) is not None
    assert windows.add(failed(1, "alice")) is None


def test_a_window_must_last() -> None:
    with pytest.raises(ValueError, match="positive"):
        FailedLoginWindows(0)


# --- pushed to the account's devices --------------------------------------------------------------


@dataclass
class Rig:
    notifier: Notifier
    store: PushStore
    push: PushService
    bus: EventBus
    alice: int
    bob: int

    async def device(self, name: str, user_id: int) -> Browser:
        browser = Browser()
        await self.store.add(user_id, self.push.endpoint(name), browser.p256dh, browser.auth, name)
        return browser

    def payloads(self, browser: Browser, name: str) -> list[dict[str, Any]]:
        return [browser.decrypt(r.body) for r in self.push.received if r.path == f"/push/{name}"]

    async def pushed(self, count: int) -> None:
        await eventually(
            lambda: len(self.push.received) >= count,
            timeout=10,
            what=f"{count} pushes",
            detail=lambda: f"received {len(self.push.received)}",
        )
        await self.notifier.drain(timeout=10)


@pytest_asyncio.fixture(loop_scope="function")
async def rig(db_engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[Rig]:
    users = UserRepository(db_engine)
    alice = await users.create("alice", "not-a-hash", "trader")
    bob = await users.create("bob", "not-a-hash", "viewer")
    key = load_or_create_vapid_key(tmp_path)
    clock = ManualClock(NOW)
    store = PushStore(db_engine)
    sender = PushSender(key, subject="mailto:ops@example.com", clock=clock)
    bus = EventBus()
    notifier = Notifier(
        bus,
        store,
        sender,
        key,
        clock,
        failed_logins=FailedLoginWindows(WINDOW),
        endpoints=LOCAL_PUSH,
    )
    notifier.subscribe()
    bus.start()
    async with running_push_service() as push:
        yield Rig(notifier, store, push, bus, alice.id, bob.id)
        await bus.close(timeout=2)
        await notifier.stop()


@pytest.mark.db
async def test_a_failed_sign_in_on_the_bus_reaches_only_that_accounts_devices(rig: Rig) -> None:
    phone = await rig.device("alice-phone", rig.alice)
    await rig.device("bob-phone", rig.bob)
    rig.bus.publish(failed(rig.alice))
    await rig.pushed(1)
    [payload] = rig.payloads(phone, "alice-phone")
    assert payload == {
        "type": "failed_login",
        "title": "Failed sign-in to your account",
        "body": "Wrong password for alice from 203.0.113.9",
        "silent": False,
        "time": "2023-11-14T22:13:20Z",
        "tag": "failed_login",
        "data": {
            "username": "alice",
            "count": 1,
            "reasons": {"bad_password": 1},
            "addresses": ["203.0.113.9"],
        },
    }
    assert [r.path for r in rig.push.received] == ["/push/alice-phone"]


@pytest.mark.db
async def test_a_burst_of_a_hundred_failures_is_two_pushes(rig: Rig) -> None:
    phone = await rig.device("alice-phone", rig.alice)
    for _ in range(100):
        rig.bus.publish(failed(rig.alice))
    await rig.pushed(2)
    first, summary = rig.payloads(phone, "alice-phone")
    assert first["title"] == "Failed sign-in to your account"
    assert summary["title"] == f"99 failed sign-ins in the last {WINDOW:g} seconds"
    assert summary["data"]["count"] == 99
    assert rig.notifier.failed_logins.coalesced == 99
    # The next window brings nothing: it closes, and no third push comes.
    await eventually(
        lambda: not rig.notifier.failed_logins.is_open(rig.alice),
        timeout=10,
        what="the quiet window to close",
    )
    assert len(rig.push.received) == 2


@pytest.mark.db
async def test_failed_sign_in_alerts_follow_the_accounts_level(rig: Rig) -> None:
    phone = await rig.device("alice-phone", rig.alice)
    await rig.store.set_preferences(rig.alice, {AlertType.FAILED_LOGIN: AlertLevel.SILENT})
    rig.bus.publish(failed(rig.alice))
    await rig.pushed(1)
    assert rig.payloads(phone, "alice-phone")[0]["silent"] is True
    await rig.store.set_preferences(rig.alice, {AlertType.FAILED_LOGIN: AlertLevel.OFF})
    await eventually(
        lambda: not rig.notifier.failed_logins.is_open(rig.alice),
        timeout=10,
        what="the window to close",
    )
    rig.bus.publish(failed(rig.alice))
    await eventually(rig.bus.idle, timeout=10, what="the failure handled")
    await rig.notifier.drain(timeout=10)
    assert rig.notifier.failed_logins.is_open(rig.alice)  # it was handled, and told no one
    assert len(rig.push.received) == 1
