"""Clocks: the one source of "now" for every component.

In live trading "now" is the wall clock. In paper trading the simulated terminal may run on an
accelerated clock, and every component (bar building, strategy timing, trade timestamps) must
agree with the terminal, so components never call :func:`time.time` directly: they receive a
:class:`Clock` in their constructor. All clocks return UTC epoch seconds as ``float``.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """Something that tells the current time in UTC epoch seconds."""

    def time(self) -> float:
        """Current UTC time in epoch seconds."""
        ...


def iso_utc(epoch: float, timespec: str = "auto") -> str:
    """UTC epoch seconds as ISO 8601 with a ``Z`` (what every API time looks like);
    ``timespec`` as :meth:`datetime.isoformat` takes it."""
    stamp = datetime.fromtimestamp(epoch, tz=UTC).isoformat(timespec=timespec)
    return stamp.replace("+00:00", "Z")


def iso_datetime(value: datetime | None) -> str | None:
    """A tz-aware datetime as :func:`iso_utc` writes times (UTC, a ``Z``); ``None`` stays
    ``None`` (a time not set yet)."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def utc_datetime(clock: Clock) -> datetime:
    """The clock's current time as a tz-aware UTC datetime."""
    return datetime.fromtimestamp(clock.time(), tz=UTC)


class RealtimeClock:
    """The wall clock."""

    def time(self) -> float:
        return time.time()


class AcceleratedClock:
    """A clock that starts at ``start`` and runs ``speed`` times faster than real time.

    Used for paper trading and demos (``forexbot run --sim-speed 600`` makes an hour pass in
    six seconds). It is monotonic: it derives from :func:`time.monotonic`, so a wall-clock
    step (NTP) does not make simulated time jump back.
    """

    def __init__(self, start: float, speed: float) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be > 0, got {speed}")
        self._start = start
        self._speed = speed
        self._origin = time.monotonic()

    @property
    def speed(self) -> float:
        return self._speed

    def time(self) -> float:
        return self._start + (time.monotonic() - self._origin) * self._speed


class ManualClock:
    """A clock that moves only when told to, for tests and backtests.

    Thread-safe, because the simulated terminal reads it from the connector's worker thread.
    """

    def __init__(self, start: float) -> None:
        self._now = start
        self._lock = threading.Lock()

    def time(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move the clock forward by ``seconds`` (never backwards) and return the new time."""
        if seconds < 0:
            raise ValueError(f"a clock cannot go back ({seconds} s)")
        with self._lock:
            self._now += seconds
            return self._now

    def set(self, when: float) -> None:
        """Jump to ``when``; refuses to go back in time."""
        with self._lock:
            if when < self._now:
                raise ValueError(f"a clock cannot go back ({when} < {self._now})")
            self._now = when
