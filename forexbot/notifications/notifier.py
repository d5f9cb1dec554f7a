"""The notifier: bus events in, Web Push alerts out, and the devices and preferences behind
them (the API's ``notifications`` port).

Rules:

* It listens to the events that make alerts (:func:`~forexbot.notifications.alerts.alert_for`)
  on its own bus subscriptions, so a slow push service never delays trading's subscribers.
* For each alert it reads who should hear it (active users' subscriptions whose level for the
  type is not ``off``) and starts one push per subscription as a task: the bus handler returns
  at once, the pushes run in the sender's thread pool. Pushes of a ``silent`` level carry
  ``"silent": true`` (the service worker shows them without sound or vibration).
* A failed sign-in (:class:`~forexbot.events.types.FailedLoginEvent`) is told to that
  account's own devices only, coalesced per account
  (:class:`~forexbot.notifications.failed_logins.FailedLoginWindows`): the first failure at
  once, the rest in one summary when its window ends. A summary still pending when the
  notifier stops is not sent (the audit trail has every failure).
* A subscription the push service says is gone (404/410) is deleted.
* Failures (database, push service, network) are logged and counted, never raised into the bus.
* Its counters (pushes by alert type and outcome, failures by class, subscriptions removed,
  failed sign-ins coalesced, database failures) are read by ``/metrics`` at scrape time.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping
from typing import Any

import structlog

from forexbot.clock import Clock
from forexbot.errors import DatabaseError
from forexbot.events.bus import EventBus, SubscriberStats
from forexbot.events.types import (
    ConnectionStateEvent,
    Event,
    FailedLoginEvent,
    KillSwitchEvent,
    ReconciliationEvent,
    RiskLimitEvent,
    RiskRejectedEvent,
    TradeEvent,
)
from forexbot.notifications.alerts import Alert, AlertLevel, AlertMemory, AlertType, alert_for
from forexbot.notifications.endpoints import EndpointPolicy
from forexbot.notifications.failed_logins import FailedLoginWindows
from forexbot.notifications.sender import Outcome, PushSender
from forexbot.notifications.store import PushStore, PushSubscription
from forexbot.notifications.vapid import VapidKey

_log = structlog.get_logger("forexbot.notifications")

#: The events that can make an alert.
ALERT_EVENTS: tuple[type[Event], ...] = (
    TradeEvent,
    KillSwitchEvent,
    RiskLimitEvent,
    RiskRejectedEvent,
    ConnectionStateEvent,
    ReconciliationEvent,
    FailedLoginEvent,
)


class Notifier:
    """Turns events into pushes; also what the notification routes call."""

    def __init__(
        self,
        bus: EventBus,
        store: PushStore,
        sender: PushSender,
        key: VapidKey,
        clock: Clock,
        *,
        failed_logins: FailedLoginWindows | None = None,
        endpoints: EndpointPolicy | None = None,
    ) -> None:
        """``clock`` dates alerts of events that carry no time (trade changes, summaries of
        failed sign-ins); ``failed_logins`` coalesces those (a minute's window by default);
        ``endpoints`` says which push services may be subscribed and posted to (the browsers'
        by default)."""
        self._bus = bus
        self._store = store
        self._sender = sender
        self._key = key
        self._clock = clock
        self._memory = AlertMemory()
        self._failed_logins = failed_logins or FailedLoginWindows()
        self._endpoints = endpoints or EndpointPolicy()
        #: Pushes not sent because the endpoint is no longer an allowed push service.
        self.refused_endpoints = 0
        self._subscriptions: list[SubscriberStats] = []
        self._tasks: set[asyncio.Task[Outcome]] = set()
        self._windows: set[asyncio.Task[None]] = set()
        self.database_failures = 0
        #: Subscriptions removed, by why: the push service said ``gone``, or the ``user``.
        self.removed: Counter[str] = Counter(gone=0, user=0)

    @property
    def vapid_public_key(self) -> str:
        """The application server key browsers subscribe with (base64url)."""
        return self._key.public_key

    @property
    def sender(self) -> PushSender:
        return self._sender

    @property
    def store(self) -> PushStore:
        return self._store

    def subscribe(self) -> None:
        """Listen to the alert events (call once, before the bus starts or after)."""
        for event_type in ALERT_EVENTS:
            name = f"push-{event_type.__name__}"
            self._subscriptions.append(self._bus.subscribe(event_type, self.on_event, name=name))

    @property
    def failed_logins(self) -> FailedLoginWindows:
        return self._failed_logins

    async def on_event(self, event: Event) -> None:
        if isinstance(event, FailedLoginEvent):
            await self._on_failed_login(event)
            return
        alert = alert_for(event, self._memory, self._clock.time())
        if alert is not None:
            await self.notify(alert)

    async def _on_failed_login(self, event: FailedLoginEvent) -> None:
        """Tell the account's owner at once, then open the window that coalesces the next."""
        alert = self._failed_logins.add(event)
        if alert is None:
            return
        task = asyncio.get_running_loop().create_task(
            self._failed_login_window(event.user_id), name=f"failed-logins-{event.user_id}"
        )
        self._windows.add(task)
        task.add_done_callback(self._windows.discard)
        await self.notify(alert, user_id=event.user_id)

    async def _failed_login_window(self, user_id: int) -> None:
        """Each window's end: the summary of what came during it, until one brings nothing."""
        while True:
            await asyncio.sleep(self._failed_logins.window)
            alert = self._failed_logins.close(user_id, self._clock.time())
            if alert is None:
                return
            await self.notify(alert, user_id=user_id)

    async def notify(self, alert: Alert, user_id: int | None = None) -> int:
        """Start the pushes of ``alert`` to everyone who wants it (of ``user_id``'s devices
        only, when given); how many were started."""
        try:
            recipients = await self._store.recipients(alert.type, user_id)
        except DatabaseError as exc:
            self.database_failures += 1
            _log.warning("push recipients unreadable", alert=alert.type.value, error=str(exc))
            return 0
        for subscription, level in recipients:
            self._start(subscription, alert.type, alert.payload(silent=level is AlertLevel.SILENT))
        return len(recipients)

    async def notify_user(self, user_id: int, alert: Alert) -> int:
        """Start the pushes of ``alert`` to ``user_id``'s devices, whatever their preferences
        (a test push the user asked for); how many were started."""
        devices = await self._store.list(user_id)
        for subscription in devices:
            self._start(subscription, alert.type, alert.payload(silent=False))
        return len(devices)

    def _start(
        self, subscription: PushSubscription, alert_type: AlertType, payload: dict[str, Any]
    ) -> None:
        try:  # stored under an earlier notifications.push_hosts
            self._endpoints.check(subscription.endpoint)
        except ValueError as exc:
            self.refused_endpoints += 1
            _log.warning(
                "push not sent: endpoint not allowed",
                subscription_id=subscription.id,
                error=str(exc),
            )
            return
        task = asyncio.get_running_loop().create_task(
            self._push(subscription, alert_type, payload), name=f"push-{subscription.id}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _push(
        self, subscription: PushSubscription, alert_type: AlertType, payload: dict[str, Any]
    ) -> Outcome:
        outcome = await self._sender.deliver(subscription, alert_type, payload)
        if outcome is Outcome.GONE:
            try:
                removed = await self._store.delete(subscription.id)
            except DatabaseError as exc:
                self.database_failures += 1
                _log.warning("gone subscription not removed", error=str(exc))
            else:
                self.removed["gone"] += removed
                _log.info("push subscription removed: gone", subscription_id=subscription.id)
        return outcome

    # What /metrics reads (forexbot.monitoring.metrics.PushCounters).

    @property
    def push_outcomes(self) -> Mapping[tuple[str, str], int]:
        """Pushes by (alert type, outcome): ``sent``, ``gone``, ``failed``,
        ``rate_limited``, ``dropped``."""
        return {(t.value, o.value): n for (t, o), n in self._sender.stats.by_type.items()}

    @property
    def push_failures(self) -> Mapping[tuple[str, str], int]:
        """Pushes not delivered by (alert type, failure class)."""
        return {(t.value, f.value): n for (t, f), n in self._sender.stats.failures.items()}

    @property
    def subscriptions_removed(self) -> Mapping[str, int]:
        return dict(self.removed)

    @property
    def failed_logins_coalesced(self) -> int:
        return self._failed_logins.coalesced

    async def drain(self, timeout: float = 5.0) -> None:
        """Wait for the pushes under way (at most ``timeout`` seconds), then cancel the rest."""
        pending = set(self._tasks)
        if not pending:
            return
        _, late = await asyncio.wait(pending, timeout=timeout)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)

    async def stop(self) -> None:
        """Stop listening, finish or cancel the pushes under way, stop the threads."""
        for stats in self._subscriptions:
            self._bus.unsubscribe(stats)
        self._subscriptions.clear()
        for window in list(self._windows):
            window.cancel()
        await asyncio.gather(*self._windows, return_exceptions=True)
        self._failed_logins.forget()
        await self.drain()
        self._sender.close()

    # The API's port: devices and preferences of one user.

    async def add_device(
        self, user_id: int, endpoint: str, p256dh: str, auth: str, device: str | None
    ) -> PushSubscription:
        self._endpoints.check(endpoint)  # ValueError: not an allowed push service
        return await self._store.add(user_id, endpoint, p256dh, auth, device)

    async def devices(self, user_id: int) -> list[PushSubscription]:
        return await self._store.list(user_id)

    async def remove_device(self, user_id: int, subscription_id: int) -> bool:
        removed = await self._store.delete(subscription_id, user_id=user_id)
        if removed:
            self._sender.forget(subscription_id)
            self.removed["user"] += 1
        return removed

    async def preferences(self, user_id: int) -> dict[AlertType, AlertLevel]:
        return await self._store.preferences(user_id)

    async def set_preferences(
        self, user_id: int, changes: dict[AlertType, AlertLevel]
    ) -> dict[AlertType, AlertLevel]:
        return await self._store.set_preferences(user_id, changes)
