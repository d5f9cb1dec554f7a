"""Delivery of one encrypted push to one subscription, off the event loop.

Rules:

* pywebpush's sender is synchronous (encryption, VAPID signing and an HTTP POST through
  ``requests``), so every push runs in a thread pool of ``workers`` threads; at most
  ``max_in_flight`` pushes wait or run at once, and one more is dropped and counted rather
  than queued without bound (a push service that hangs must not pile up threads or memory).
* Each subscription has a token bucket: ``burst`` pushes at once, refilled at ``per_minute``;
  beyond it a push is dropped and counted (a flapping terminal or a strategy gone wild must not
  make a phone buzz without end, nor get the daemon throttled by the push service).
* The push service's answer decides: 2xx is sent; 404 and 410 mean the subscription is gone
  (:attr:`Outcome.GONE`, the caller removes it); anything else, and any network error, is a
  failure, logged and counted. Nothing here raises to the caller.
* Every outcome is counted per alert type (:class:`PushStats`), and every failure by its
  class (:class:`Failure`: gone, 4xx, 5xx, network, other), for ``/metrics``: both
  vocabularies are fixed, so the metrics' cardinality is bounded.
* The VAPID JWT is signed per push (``aud`` is the endpoint's origin, ``exp`` 12 hours ahead).
* A redirect is never followed (:func:`no_redirects`): only the checked endpoint is posted to.
"""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

import structlog
from pywebpush import WebPushException, webpush
from requests import RequestException, Session

from forexbot.clock import Clock
from forexbot.notifications.alerts import AlertType
from forexbot.notifications.store import PushSubscription
from forexbot.notifications.vapid import VapidKey

_log = structlog.get_logger("forexbot.notifications")

GONE_STATUSES = frozenset({404, 410})


class Outcome(StrEnum):
    """What became of one push."""

    SENT = "sent"
    GONE = "gone"
    FAILED = "failed"
    RATE_LIMITED = "rate_limited"
    DROPPED = "dropped"


class Failure(StrEnum):
    """Why a push was not delivered, as a metric's label: the subscription is gone (404/410),
    the push service refused it (another 4xx: a bad VAPID token, too large, too many) or
    failed (5xx), no answer came (network: refused, reset, timed out), or something else (an
    answer that is no HTTP error, a key that cannot be encrypted for)."""

    GONE = "gone"
    CLIENT_ERROR = "4xx"
    SERVER_ERROR = "5xx"
    NETWORK = "network"
    OTHER = "other"


def failure_of(status: int) -> Failure:
    """The class of a push service's non-2xx answer."""
    if status in GONE_STATUSES:
        return Failure.GONE
    if 400 <= status < 500:
        return Failure.CLIENT_ERROR
    if 500 <= status < 600:
        return Failure.SERVER_ERROR
    return Failure.OTHER


@dataclass(slots=True)
class PushStats:
    """Counters of outcomes, in all and per alert type, and of failures per alert type and
    class; every combination is present from the start (a metric reads zero, not missing)."""

    counts: dict[Outcome, int] = field(default_factory=lambda: dict.fromkeys(Outcome, 0))
    by_type: dict[tuple[AlertType, Outcome], int] = field(
        default_factory=lambda: {(t, o): 0 for t in AlertType for o in Outcome}
    )
    failures: dict[tuple[AlertType, Failure], int] = field(
        default_factory=lambda: {(t, f): 0 for t in AlertType for f in Failure}
    )

    def count(
        self, outcome: Outcome, alert_type: AlertType, failure: Failure | None = None
    ) -> Outcome:
        self.counts[outcome] += 1
        self.by_type[alert_type, outcome] += 1
        if failure is not None:
            self.failures[alert_type, failure] += 1
        return outcome


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


def no_redirects() -> Session:
    """An HTTP session that never follows a redirect: the endpoint was checked against
    ``notifications.push_hosts``, a ``Location`` it answers with was not. A push service does
    not redirect; requests raises ``TooManyRedirects`` instead, a failure like any network one."""
    session = Session()
    session.max_redirects = 0
    return session


class PushSender:
    """Sends pushes in a bounded thread pool, rate-limited per subscription."""

    def __init__(
        self,
        key: VapidKey,
        *,
        subject: str,
        clock: Clock,
        workers: int = 4,
        max_in_flight: int = 64,
        burst: int = 10,
        per_minute: float = 6.0,
        timeout: float = 10.0,
        ttl: int = 3600,
    ) -> None:
        """``subject`` is the VAPID ``sub`` claim (``mailto:`` or ``https:``: how a push
        service reaches the operator); ``ttl`` how long a push service keeps an undelivered
        push (seconds); ``clock`` real time, for the buckets."""
        self._key = key
        self._subject = subject
        self._clock = clock
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="webpush")
        self._http = no_redirects()
        self._max_in_flight = max_in_flight
        self._in_flight = 0
        self._burst = float(burst)
        self._rate = per_minute / 60.0
        self._buckets: dict[int, _Bucket] = {}
        self._timeout = timeout
        self._ttl = ttl
        self.stats = PushStats()

    def _take(self, subscription_id: int) -> bool:
        now = self._clock.time()
        bucket = self._buckets.setdefault(subscription_id, _Bucket(self._burst, now))
        bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.at) * self._rate)
        bucket.at = now
        if bucket.tokens < 1.0:
            return False
        bucket.tokens -= 1.0
        return True

    def forget(self, subscription_id: int) -> None:
        """Drop the bucket of a subscription that is gone."""
        self._buckets.pop(subscription_id, None)

    async def deliver(
        self, subscription: PushSubscription, alert_type: AlertType, payload: dict[str, Any]
    ) -> Outcome:
        """Push ``payload`` (JSON, an alert of ``alert_type``) to ``subscription``; never
        raises."""
        if not self._take(subscription.id):
            return self.stats.count(Outcome.RATE_LIMITED, alert_type)
        if self._in_flight >= self._max_in_flight:
            _log.warning("push dropped: too many in flight", subscription_id=subscription.id)
            return self.stats.count(Outcome.DROPPED, alert_type)
        self._in_flight += 1
        data = json.dumps(payload, separators=(",", ":"))
        urgency = "low" if payload.get("silent") else "high"
        try:
            loop = asyncio.get_running_loop()
            status = await loop.run_in_executor(
                self._executor, self._post, subscription.info(), data, urgency
            )
        except Exception as exc:  # a push failure must never reach the bus
            _log.warning(
                "push failed",
                subscription_id=subscription.id,
                host=urlsplit(subscription.endpoint).hostname,
                error=f"{type(exc).__name__}: {exc}",
            )
            failure = Failure.NETWORK if isinstance(exc, RequestException) else Failure.OTHER
            return self.stats.count(Outcome.FAILED, alert_type, failure)
        finally:
            self._in_flight -= 1
        if 200 <= status < 300:
            return self.stats.count(Outcome.SENT, alert_type)
        if status in GONE_STATUSES:
            self.forget(subscription.id)
            return self.stats.count(Outcome.GONE, alert_type, Failure.GONE)
        _log.warning(
            "push refused",
            subscription_id=subscription.id,
            host=urlsplit(subscription.endpoint).hostname,
            status=status,
        )
        return self.stats.count(Outcome.FAILED, alert_type, failure_of(status))

    def _post(self, info: dict[str, Any], data: str, urgency: str) -> int:
        """One push, in a worker thread: the push service's status code."""
        try:
            response = webpush(
                subscription_info=info,
                data=data,
                vapid_private_key=self._key.signer,
                vapid_claims={"sub": self._subject},  # aud and exp are added per push
                timeout=self._timeout,
                ttl=self._ttl,
                headers={"Urgency": urgency},
                requests_session=self._http,
            )
        except WebPushException as exc:
            if exc.response is None:
                raise
            return int(exc.response.status_code)
        return int(response.status_code)

    def close(self) -> None:
        """Stop the threads; pushes not started are cancelled."""
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._http.close()
