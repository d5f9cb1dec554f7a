"""Specification of the clocks in :mod:`forexbot.clock`."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest

from forexbot.clock import AcceleratedClock, ManualClock, RealtimeClock, utc_datetime

START = 1_767_225_600.0


# --- ManualClock ------------------------------------------------------------------------------


def test_manual_clock_starts_where_told_and_stands_still() -> None:
    clock = ManualClock(START)

    assert clock.time() == START
    time.sleep(0.01)
    assert clock.time() == START


def test_manual_clock_advance_moves_forward_and_returns_the_new_time() -> None:
    clock = ManualClock(START)

    assert clock.advance(90.5) == START + 90.5
    assert clock.advance(0) == START + 90.5
    assert clock.time() == START + 90.5


def test_manual_clock_advance_refuses_to_go_back() -> None:
    clock = ManualClock(START)

    with pytest.raises(ValueError, match="back"):
        clock.advance(-1)
    assert clock.time() == START


def test_manual_clock_set_jumps_forward() -> None:
    clock = ManualClock(START)

    clock.set(START + 3600)
    clock.set(START + 3600)  # standing still is allowed

    assert clock.time() == START + 3600


def test_manual_clock_set_refuses_to_go_back() -> None:
    clock = ManualClock(START)
    clock.set(START + 10)

    with pytest.raises(ValueError, match="back"):
        clock.set(START + 9.999)
    assert clock.time() == START + 10


def test_manual_clock_advances_from_several_threads_are_not_lost() -> None:
    clock = ManualClock(0.0)

    def advance() -> None:
        for _ in range(2000):
            clock.advance(1.0)

    threads = [threading.Thread(target=advance) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert clock.time() == 8000.0


# --- AcceleratedClock ------------------------------------------------------------------------


def test_accelerated_clock_starts_at_its_start_time() -> None:
    clock = AcceleratedClock(START, speed=600)

    assert START <= clock.time() < START + 600 * 1.0
    assert clock.speed == 600


def test_accelerated_clock_runs_speed_times_faster_than_real_time() -> None:
    """Bracketing the clock reads between monotonic reads makes the bounds exact: elapsed
    simulated time lies between speed × the inner and speed × the outer real interval."""
    speed = 600.0
    clock = AcceleratedClock(START, speed)

    outer_start = time.monotonic()
    sim_start = clock.time()
    inner_start = time.monotonic()
    time.sleep(0.05)
    inner_end = time.monotonic()
    sim_end = clock.time()
    outer_end = time.monotonic()

    elapsed = sim_end - sim_start
    assert speed * (inner_end - inner_start) * 0.999 <= elapsed
    assert elapsed <= speed * (outer_end - outer_start) * 1.001
    assert elapsed >= speed * 0.05 * 0.9  # at least ~30 simulated seconds passed


def test_accelerated_clock_ignores_wall_clock_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = AcceleratedClock(START, speed=1.0)
    before = clock.time()

    monkeypatch.setattr(time, "time", lambda: 0.0)  # NTP steps the wall clock back to 1970

    assert clock.time() >= before


@pytest.mark.parametrize("speed", [0.0, -1.0])
def test_accelerated_clock_refuses_non_positive_speed(speed: float) -> None:
    with pytest.raises(ValueError, match="speed"):
        AcceleratedClock(START, speed)


# --- RealtimeClock and helpers -----------------------------------------------------------------


def test_realtime_clock_is_the_wall_clock() -> None:
    before = time.time()
    now = RealtimeClock().time()
    after = time.time()

    assert before <= now <= after


def test_utc_datetime_is_tz_aware_utc() -> None:
    assert utc_datetime(ManualClock(START)) == datetime(2026, 1, 1, tzinfo=UTC)
    assert utc_datetime(ManualClock(START)).tzinfo is UTC
