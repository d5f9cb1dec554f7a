"""Failed sign-ins: counted by reason for ``/metrics``, and the wrong secrets tried on an existing
account published on the bus, so the account's owner can be told (a push alert).

Why a metric besides the log line and the ``system_logs`` row each failure already gets: an
alert on the rate of ``forexbot_login_failures_total`` catches password guessing without
anyone reading logs. Reasons are a small fixed vocabulary (``unknown_user``,
``bad_password``, ``inactive``, ``locked``, ``mfa_not_enrolled``, ``bad_second_factor``,
``throttled``, ``bad_current_password``), never the username, so the metric's cardinality
stays bounded whatever an attacker sends.

Why an event only for :data:`TOLD_REASONS` on an existing account: those are someone trying a
secret of that account, which its owner wants to hear about. An unknown username has no owner
to tell; a disabled or locked account was refused whatever was tried, and a throttled attempt
was not tried at all; these are counted only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping

from forexbot.events.types import Event, FailedLoginEvent

#: The refusals published as a :class:`FailedLoginEvent`: a wrong password, a wrong one-time
#: or recovery code.
TOLD_REASONS = frozenset({"bad_password", "bad_second_factor"})


class LoginFailures:
    """Counts of refused sign-ins per reason, since the daemon started; ``publish`` (the event
    bus's) receives the :class:`FailedLoginEvent` of each wrong secret on an existing account."""

    def __init__(self, publish: Callable[[Event], None] | None = None) -> None:
        self._counts: Counter[str] = Counter()
        self._publish = publish

    def record(self, reason: str) -> None:
        """Count a refusal that tells no one (unknown user, throttled, ...)."""
        self._counts[reason] += 1

    def wrong_secret(self, event: FailedLoginEvent) -> None:
        """Count a wrong secret tried on an existing account (a reason of
        :data:`TOLD_REASONS`) and publish it."""
        self.record(event.reason)
        if self._publish is not None:
            self._publish(event)

    @property
    def counts(self) -> Mapping[str, int]:
        return dict(self._counts)
