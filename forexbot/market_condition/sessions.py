"""Session analyser: the trading sessions active at an instant, and whether the market is open.

Each session is defined in its centre's **local** wall-clock time and converted with
:mod:`zoneinfo`, so daylight-saving shifts come out right (London opens at 08:00 UTC in
winter and 07:00 UTC in summer; in the weeks where the US and the UK are not on summer time
together, e.g. 8–29 March 2026, the London/New York overlap is an hour longer).

Sessions (local time, half-open ``[open, close)``, Monday–Friday in that centre's calendar):

========  ===================  ===============
Session   Time zone            Local hours
========  ===================  ===============
Sydney    Australia/Sydney     07:00–16:00
Tokyo     Asia/Tokyo           09:00–18:00
London    Europe/London        08:00–17:00
New York  America/New_York     08:00–17:00
========  ===================  ===============

Rules:

* **Forex weekend closure**: the market is closed from Friday 17:00 New York time to Sunday
  17:00 New York time (``[Fri 17:00, Sun 17:00)`` in America/New_York). While it is closed no
  session is active.
* A session is **active** when the market is open and the instant, in the session's zone, falls
  on a Monday–Friday within its local hours.
* **Overlaps** are the pairs of active sessions, named ``"A/B"`` in the order Sydney, Tokyo,
  London, New York (e.g. ``"London/New York"``).
* **Synthetic indices** (``synthetic=True``) trade around the clock: ``is_open`` is always true
  and sessions are reported by their local hours without the weekend closure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from itertools import combinations
from zoneinfo import ZoneInfo

UTC = ZoneInfo("UTC")
NEW_YORK = ZoneInfo("America/New_York")
FRIDAY, SATURDAY, SUNDAY = 4, 5, 6
WEEKEND_BOUNDARY = time(17, 0)  # New York local time, Friday close / Sunday open


@dataclass(frozen=True, slots=True)
class Session:
    """A trading session in its centre's local time: ``[open, close)`` on weekdays."""

    name: str
    zone: ZoneInfo
    open: time
    close: time

    def window_utc(self, local_day: date) -> tuple[datetime, datetime]:
        """The session's open and close on ``local_day`` (a date in the session's zone), in UTC."""
        start = datetime.combine(local_day, self.open, tzinfo=self.zone)
        end = datetime.combine(local_day, self.close, tzinfo=self.zone)
        return start.astimezone(UTC), end.astimezone(UTC)

    def contains(self, at: datetime) -> bool:
        """Whether ``at`` (tz-aware) falls on a weekday within the session's local hours."""
        local = at.astimezone(self.zone)
        return local.weekday() < SATURDAY and self.open <= local.time() < self.close


SESSIONS: tuple[Session, ...] = (
    Session("Sydney", ZoneInfo("Australia/Sydney"), time(7, 0), time(16, 0)),
    Session("Tokyo", ZoneInfo("Asia/Tokyo"), time(9, 0), time(18, 0)),
    Session("London", ZoneInfo("Europe/London"), time(8, 0), time(17, 0)),
    Session("New York", NEW_YORK, time(8, 0), time(17, 0)),
)
SESSIONS_BY_NAME: dict[str, Session] = {s.name: s for s in SESSIONS}


@dataclass(frozen=True, slots=True)
class SessionState:
    """The sessions at one instant: active sessions, their overlaps, and whether trading is open."""

    active: tuple[str, ...]
    overlaps: tuple[str, ...]
    is_open: bool


def forex_open(at: datetime) -> bool:
    """False in the forex weekend closure, ``[Fri 17:00, Sun 17:00)`` New York time."""
    local = at.astimezone(NEW_YORK)
    day, clock = local.weekday(), local.time()
    if day == SATURDAY:
        return False
    if day == FRIDAY:
        return clock < WEEKEND_BOUNDARY
    if day == SUNDAY:
        return clock >= WEEKEND_BOUNDARY
    return True


def analyse_sessions(at: datetime, *, synthetic: bool = False) -> SessionState:
    """The :class:`SessionState` at ``at`` (tz-aware; naive datetimes are refused)."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"analyse_sessions needs a tz-aware datetime, got {at!r}")
    is_open = True if synthetic else forex_open(at)
    active = tuple(s.name for s in SESSIONS if is_open and s.contains(at))
    overlaps = tuple(f"{a}/{b}" for a, b in combinations(active, 2))
    return SessionState(active=active, overlaps=overlaps, is_open=is_open)


def weekend_close_utc(friday: date) -> datetime:
    """The forex weekend closure instant (Friday 17:00 New York) for a given Friday, in UTC."""
    if friday.weekday() != FRIDAY:
        raise ValueError(f"{friday} is not a Friday")
    return datetime.combine(friday, WEEKEND_BOUNDARY, tzinfo=NEW_YORK).astimezone(UTC)


def weekend_open_utc(sunday: date) -> datetime:
    """The forex weekly open instant (Sunday 17:00 New York) for a given Sunday, in UTC."""
    if sunday.weekday() != SUNDAY:
        raise ValueError(f"{sunday} is not a Sunday")
    return datetime.combine(sunday, WEEKEND_BOUNDARY, tzinfo=NEW_YORK).astimezone(UTC)


__all__ = [
    "SESSIONS",
    "SESSIONS_BY_NAME",
    "Session",
    "SessionState",
    "analyse_sessions",
    "forex_open",
    "weekend_close_utc",
    "weekend_open_utc",
]
