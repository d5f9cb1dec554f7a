"""Failed sign-ins, counted by reason for ``/metrics``.

Why a metric besides the log line and the ``system_logs`` row each failure already gets: an
alert on the rate of ``forexbot_login_failures_total`` catches password guessing without
anyone reading logs. Reasons are a small fixed vocabulary (``unknown_user``,
``bad_password``, ``inactive``, ``locked``, ``mfa_not_enrolled``, ``bad_second_factor``,
``throttled``, ``bad_current_password``), never the username, so the metric's cardinality
stays bounded whatever an attacker sends.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping


class LoginFailures:
    """Counts of refused sign-ins per reason, since the daemon started."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()

    def record(self, reason: str) -> None:
        self._counts[reason] += 1

    @property
    def counts(self) -> Mapping[str, int]:
        return dict(self._counts)
