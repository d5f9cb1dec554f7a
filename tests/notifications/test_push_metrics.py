"""Push alerts in ``/metrics``: pushes sent, failures by class, rate-limit drops, subscriptions
removed, failed sign-ins coalesced, per alert type, counted by real pushes to a local push
service and read by the daemon's collector at scrape time."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import pytest
import pytest_asyncio
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncEngine

from forexbot.api.login_failures import LoginFailures
from forexbot.clock import ManualClock
from forexbot.database.users import UserRepository
from forexbot.engine.latency import LatencyWindow
from forexbot.events.bus import EventBus
from forexbot.events.types import ConnectionState, FailedLoginEvent, KillSwitchEvent
from forexbot.monitoring.metrics import DaemonCollector, Metrics
from forexbot.notifications.alerts import AlertType
from forexbot.notifications.failed_logins import FailedLoginWindows
from forexbot.notifications.notifier import Notifier
from forexbot.notifications.sender import Failure, PushSender
from forexbot.notifications.store import PushStore
from forexbot.notifications.vapid import load_or_create_vapid_key

from .push_service import LOCAL_PUSH, Browser, PushService, running_push_service

pytestmark = pytest.mark.db

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
TRIP = KillSwitchEvent(True, "manual", "stop now", 1.0)


@dataclass
class Idle:
    """The daemon's other components, idle: only the push figures matter here."""

    state: ConnectionState = ConnectionState.CONNECTED
    ticks_published: int = 0
    bars_published: int = 0
    reconnects: int = 0
    poll_failures: int = 0
    calls: int = 0
    timeouts: int = 0


class NoTrading:
    approved = sent = filled = rejected = unknown = retries = failures = settle_failures = 0
    kill_switch_trips = state_save_failures = 0
    closed_from_terminal = syncs = sync_failures = trailing_moves = corrections = 0
    rejections: Mapping[str, int] = MappingProxyType({})
    tick_to_order = order_latency = LatencyWindow()

    def problems(self) -> dict[str, str]:
        return {}

    def halted(self) -> str | None:
        return None

    def open_count(self, symbol: str | None = None) -> int:
        return 0


def scrape(notifier: Notifier) -> Samples:
    idle = Idle()
    collector = DaemonCollector(
        connector=idle,
        worker=idle,
        bus=EventBus(),
        risk=NoTrading(),
        execution=NoTrading(),
        positions=NoTrading(),
        logins=LoginFailures(),
        pushes=notifier,
    )
    families = [
        f
        for f in text_string_to_metric_families(Metrics(collector).render().decode())
        if "push" in f.name or "failed_login_alerts" in f.name
    ]
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in families
        for sample in family.samples
    }


@dataclass
class Rig:
    notifier: Notifier
    store: PushStore
    push: PushService
    user_id: int

    async def device(self, name: str) -> Browser:
        browser = Browser()
        await self.store.add(
            self.user_id, self.push.endpoint(name), browser.p256dh, browser.auth, name
        )
        return browser

    async def trip(self) -> None:
        await self.notifier.on_event(TRIP)
        await self.notifier.drain(timeout=10)


@pytest_asyncio.fixture(loop_scope="function")
async def rig(db_engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[Rig]:
    user = await UserRepository(db_engine).create("alice", "not-a-hash", "trader")
    key = load_or_create_vapid_key(tmp_path)
    clock = ManualClock(1_700_000_000.0)
    store = PushStore(db_engine)
    sender = PushSender(key, subject="mailto:ops@example.com", clock=clock, burst=1)
    notifier = Notifier(
        EventBus(),
        store,
        sender,
        key,
        clock,
        failed_logins=FailedLoginWindows(60),
        endpoints=LOCAL_PUSH,
    )
    async with running_push_service() as push:
        yield Rig(notifier, store, push, user.id)
        await notifier.stop()


def kill_switch(name: str, **labels: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return name, tuple(sorted({"type": "kill_switch", **labels}.items()))


async def test_every_series_is_there_at_zero_before_any_push(rig: Rig) -> None:
    s = scrape(rig.notifier)
    for alert_type in AlertType:
        assert s[("forexbot_pushes_sent_total", (("type", alert_type.value),))] == 0
        assert s[("forexbot_pushes_rate_limited_total", (("type", alert_type.value),))] == 0
        for failure in Failure:
            labels = (("reason", failure.value), ("type", alert_type.value))
            assert s[("forexbot_push_failures_total", labels)] == 0
    assert s[("forexbot_push_subscriptions_removed_total", (("reason", "gone"),))] == 0
    assert s[("forexbot_failed_login_alerts_coalesced_total", ())] == 0


async def test_the_series_are_bounded_by_the_fixed_vocabularies(rig: Rig) -> None:
    s = scrape(rig.notifier)
    failures = [key for key in s if key[0] == "forexbot_push_failures_total"]
    assert len(failures) == len(AlertType) * len(Failure)
    assert {dict(labels)["reason"] for _, labels in failures} == {
        "gone",
        "4xx",
        "5xx",
        "network",
        "other",
    }


async def test_a_push_accepted_is_counted_sent_for_its_alert_type(rig: Rig) -> None:
    await rig.device("phone")
    await rig.trip()
    s = scrape(rig.notifier)
    assert s[kill_switch("forexbot_pushes_sent_total")] == 1
    assert s[("forexbot_pushes_sent_total", (("type", "fill"),))] == 0


async def test_a_subscription_whose_host_is_no_longer_allowed_is_not_pushed_but_counted(
    rig: Rig,
) -> None:
    # Stored when the operator's notifications.push_hosts still listed it.
    browser = Browser()
    await rig.store.add(
        rig.user_id, "https://push.old.example/x", browser.p256dh, browser.auth, "old"
    )
    await rig.device("phone")
    await rig.trip()
    s = scrape(rig.notifier)
    assert s[("forexbot_pushes_refused_endpoint_total", ())] == 1
    assert s[kill_switch("forexbot_pushes_sent_total")] == 1  # the allowed device still gets it


@pytest.mark.parametrize(
    ("status", "reason"), [(410, "gone"), (404, "gone"), (400, "4xx"), (503, "5xx")]
)
async def test_a_push_refused_is_counted_by_the_class_of_the_answer(
    rig: Rig, status: int, reason: str
) -> None:
    await rig.device("phone")
    rig.push.status = status
    await rig.trip()
    s = scrape(rig.notifier)
    assert s[kill_switch("forexbot_push_failures_total", reason=reason)] == 1
    assert s[kill_switch("forexbot_pushes_sent_total")] == 0


async def test_a_push_service_that_does_not_answer_is_a_network_failure(rig: Rig) -> None:
    await rig.store.add(rig.user_id, "http://127.0.0.1:9/push/x", Browser().p256dh, "A" * 22, None)
    await rig.trip()
    assert scrape(rig.notifier)[kill_switch("forexbot_push_failures_total", reason="network")] == 1


async def test_subscriptions_removed_are_counted_by_why(rig: Rig) -> None:
    await rig.device("gone-phone")
    rig.push.status = 410
    await rig.trip()
    await rig.device("laptop")
    [laptop] = await rig.store.list(rig.user_id)  # the gone one was removed
    assert await rig.notifier.remove_device(rig.user_id, laptop.id)
    s = scrape(rig.notifier)
    assert s[("forexbot_push_subscriptions_removed_total", (("reason", "gone"),))] == 1
    assert s[("forexbot_push_subscriptions_removed_total", (("reason", "user"),))] == 1


async def test_pushes_beyond_the_rate_limit_are_counted_dropped(rig: Rig) -> None:
    await rig.device("phone")
    for _ in range(3):
        await rig.trip()
    s = scrape(rig.notifier)
    assert s[kill_switch("forexbot_pushes_sent_total")] == 1
    assert s[kill_switch("forexbot_pushes_rate_limited_total")] == 2
    assert len(rig.push.received) == 1


async def test_failed_sign_ins_folded_into_a_summary_are_counted(rig: Rig) -> None:
    await rig.device("phone")
    for _ in range(5):
        await rig.notifier.on_event(
            FailedLoginEvent(rig.user_id, "alice", "bad_password", "203.0.113.9", 1.0)
        )
    await rig.notifier.drain(timeout=10)
    s = scrape(rig.notifier)
    assert s[("forexbot_failed_login_alerts_coalesced_total", ())] == 4
    assert s[("forexbot_pushes_sent_total", (("type", "failed_login"),))] == 1
