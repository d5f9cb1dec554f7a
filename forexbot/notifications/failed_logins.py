"""Failed sign-ins told to the account's owner, coalesced so a burst is two pushes, not a
hundred.

Rules:

* The first wrong password or code on an account opens a window of ``window`` seconds and is
  told at once: "Wrong password for tom from 203.0.113.9".
* Failures during the window are only counted. When it ends, if any came, one alert tells them
  all ("5 failed sign-ins in the last minute", by reason, and from where) and the next window
  opens; a window that ends without one closes, and the next failure is told at once again. So
  a burst of any size is at most two pushes, and a sustained attack one push a window.
* Memory is bounded: one window per account with recent failures (accounts exist: an unknown
  username makes no event), and at most :data:`MAX_ADDRESSES` addresses kept per window (the
  others are counted).
* The alerts are only built here; who hears them (the account's own devices, at their level
  for ``failed_login``) and when the windows end are the notifier's business.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from forexbot.events.types import FailedLoginEvent
from forexbot.notifications.alerts import Alert, AlertType

#: How many distinct addresses a summary names (the rest are counted).
MAX_ADDRESSES = 5

#: How each told reason reads, one and many.
_REASONS: dict[str, tuple[str, str]] = {
    "bad_password": ("wrong password", "wrong passwords"),
    "bad_second_factor": ("wrong one-time code", "wrong one-time codes"),
}


def _reason(reason: str, count: int = 1) -> str:
    one, many = _REASONS.get(reason, (reason.replace("_", " "), reason.replace("_", " ")))
    return one if count == 1 else many


def _address(source_ip: str | None) -> str:
    return source_ip or "an unknown address"


@dataclass(slots=True)
class _Window:
    """The failures on one account since its window's last alert."""

    username: str
    reasons: Counter[str] = field(default_factory=Counter)
    addresses: list[str] = field(default_factory=list)
    other_addresses: set[str] = field(default_factory=set)

    def add(self, event: FailedLoginEvent) -> None:
        self.username = event.username
        self.reasons[event.reason] += 1
        address = _address(event.source_ip)
        if address in self.addresses:
            return
        if len(self.addresses) < MAX_ADDRESSES:
            self.addresses.append(address)
        elif len(self.other_addresses) < 1000:  # counted, up to a bound
            self.other_addresses.add(address)

    @property
    def count(self) -> int:
        return sum(self.reasons.values())


def _span(seconds: float) -> str:
    """``60`` → "minute", ``120`` → "2 minutes", ``30`` → "30 seconds"."""
    if seconds >= 60 and seconds % 60 == 0:
        minutes = int(seconds // 60)
        return "minute" if minutes == 1 else f"{minutes} minutes"
    return f"{seconds:g} seconds"


class FailedLoginWindows:
    """The open windows, by user id (see the module docstring)."""

    def __init__(self, window: float = 60.0) -> None:
        if window <= 0:
            raise ValueError(f"the failed sign-in window must be positive, got {window}")
        self.window = window
        self._open: dict[int, _Window] = {}
        self.coalesced = 0

    def add(self, event: FailedLoginEvent) -> Alert | None:
        """The alert to send at once for ``event`` (the first of a window), or ``None`` when a
        window is open: the failure is kept for the window's summary. The caller ends the
        window (:meth:`close`) ``window`` seconds after an alert."""
        pending = self._open.get(event.user_id)
        if pending is not None:
            pending.add(event)
            self.coalesced += 1
            return None
        self._open[event.user_id] = _Window(event.username)
        where = _address(event.source_ip)
        data: dict[str, Any] = {
            "username": event.username,
            "count": 1,
            "reasons": {event.reason: 1},
            "addresses": [where],
        }
        return Alert(
            AlertType.FAILED_LOGIN,
            "Failed sign-in to your account",
            f"{_reason(event.reason).capitalize()} for {event.username} from {where}",
            event.time,
            data,
        )

    def close(self, user_id: int, now: float) -> Alert | None:
        """The end of ``user_id``'s window: the summary of the failures kept since its last
        alert (and the window goes on), or ``None`` (and the window is closed)."""
        pending = self._open.get(user_id)
        if pending is None:
            return None
        if pending.count == 0:
            del self._open[user_id]
            return None
        self._open[user_id] = _Window(pending.username)
        count = pending.count
        reasons = ", ".join(
            f"{n} {_reason(reason, n)}" for reason, n in sorted(pending.reasons.items())
        )
        where = ", ".join(pending.addresses)
        if pending.other_addresses:
            others = len(pending.other_addresses)
            where += f" and {others} other address{'es' if others > 1 else ''}"
        data: dict[str, Any] = {
            "username": pending.username,
            "count": count,
            "reasons": dict(sorted(pending.reasons.items())),
            "addresses": list(pending.addresses),
        }
        plural = "s" if count > 1 else ""
        return Alert(
            AlertType.FAILED_LOGIN,
            f"{count} failed sign-in{plural} in the last {_span(self.window)}",
            f"{reasons} for {pending.username}, from {where}",
            now,
            data,
        )

    def is_open(self, user_id: int) -> bool:
        return user_id in self._open

    def forget(self) -> None:
        """Drop every window (the notifier stops)."""
        self._open.clear()
