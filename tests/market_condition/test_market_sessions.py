"""Session analyser: sessions in local time, DST transitions of 2026, overlaps, weekend closure.

2026 transitions: New York to summer time Sun 8 Mar, back Sun 1 Nov; London to summer time
Sun 29 Mar, back Sun 25 Oct. Sydney back to standard time Sun 5 Apr, forward Sun 4 Oct.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from forexbot.market_condition.sessions import (
    SESSIONS_BY_NAME,
    analyse_sessions,
    forex_open,
    weekend_close_utc,
    weekend_open_utc,
)


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC)


def window(name: str, day: date) -> tuple[datetime, datetime]:
    return SESSIONS_BY_NAME[name].window_utc(day)


def overlap_span(day: date, pair: str) -> tuple[datetime, datetime] | None:
    """First minute and the minute after the last during which ``pair`` is an overlap."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    minutes = [
        start + timedelta(minutes=k)
        for k in range(24 * 60)
        if pair in analyse_sessions(start + timedelta(minutes=k)).overlaps
    ]
    if not minutes:
        return None
    return minutes[0], minutes[-1] + timedelta(minutes=1)


# --- London across its 2026 transitions -------------------------------------------------------


def test_london_is_0800_to_1700_utc_on_the_friday_before_spring_forward() -> None:
    assert window("London", date(2026, 3, 27)) == (utc(2026, 3, 27, 8), utc(2026, 3, 27, 17))


def test_london_is_0700_to_1600_utc_on_the_monday_after_spring_forward() -> None:
    assert window("London", date(2026, 3, 30)) == (utc(2026, 3, 30, 7), utc(2026, 3, 30, 16))


def test_london_is_0700_to_1600_utc_on_the_friday_before_fall_back() -> None:
    assert window("London", date(2026, 10, 23)) == (utc(2026, 10, 23, 7), utc(2026, 10, 23, 16))


def test_london_is_0800_to_1700_utc_on_the_monday_after_fall_back() -> None:
    assert window("London", date(2026, 10, 26)) == (utc(2026, 10, 26, 8), utc(2026, 10, 26, 17))


def test_london_activity_flips_at_0700_utc_in_summer_and_0800_utc_in_winter() -> None:
    assert "London" not in analyse_sessions(utc(2026, 3, 30, 6, 59, 59)).active
    assert "London" in analyse_sessions(utc(2026, 3, 30, 7)).active
    assert "London" not in analyse_sessions(utc(2026, 10, 26, 7, 59, 59)).active
    assert "London" in analyse_sessions(utc(2026, 10, 26, 8)).active


def test_london_close_is_exclusive() -> None:
    assert "London" in analyse_sessions(utc(2026, 3, 30, 15, 59, 59)).active
    assert "London" not in analyse_sessions(utc(2026, 3, 30, 16)).active


# --- New York across its 2026 transitions -----------------------------------------------------


def test_new_york_is_1300_to_2200_utc_on_the_friday_before_spring_forward() -> None:
    assert window("New York", date(2026, 3, 6)) == (utc(2026, 3, 6, 13), utc(2026, 3, 6, 22))


def test_new_york_is_1200_to_2100_utc_on_the_monday_after_spring_forward() -> None:
    assert window("New York", date(2026, 3, 9)) == (utc(2026, 3, 9, 12), utc(2026, 3, 9, 21))


def test_new_york_is_1200_to_2100_utc_on_the_friday_before_fall_back() -> None:
    assert window("New York", date(2026, 10, 30)) == (utc(2026, 10, 30, 12), utc(2026, 10, 30, 21))


def test_new_york_is_1300_to_2200_utc_on_the_monday_after_fall_back() -> None:
    assert window("New York", date(2026, 11, 2)) == (utc(2026, 11, 2, 13), utc(2026, 11, 2, 22))


def test_new_york_activity_flips_at_1200_utc_in_summer_and_1300_utc_in_winter() -> None:
    assert "New York" not in analyse_sessions(utc(2026, 3, 9, 11, 59, 59)).active
    assert "New York" in analyse_sessions(utc(2026, 3, 9, 12)).active
    assert "New York" not in analyse_sessions(utc(2026, 11, 2, 12, 59, 59)).active
    assert "New York" in analyse_sessions(utc(2026, 11, 2, 13)).active


# --- the London / New York overlap --------------------------------------------------------------


def test_overlap_is_1300_to_1700_utc_when_both_are_on_winter_time() -> None:
    assert overlap_span(date(2026, 3, 4), "London/New York") == (
        utc(2026, 3, 4, 13),
        utc(2026, 3, 4, 17),
    )


def test_overlap_is_1200_to_1700_utc_in_the_spring_weeks_us_is_on_summer_time_alone() -> None:
    assert overlap_span(date(2026, 3, 18), "London/New York") == (
        utc(2026, 3, 18, 12),
        utc(2026, 3, 18, 17),
    )


def test_overlap_is_1200_to_1600_utc_when_both_are_on_summer_time() -> None:
    assert overlap_span(date(2026, 4, 1), "London/New York") == (
        utc(2026, 4, 1, 12),
        utc(2026, 4, 1, 16),
    )


def test_overlap_is_1200_to_1700_utc_in_the_autumn_week_us_is_on_summer_time_alone() -> None:
    assert overlap_span(date(2026, 10, 28), "London/New York") == (
        utc(2026, 10, 28, 12),
        utc(2026, 10, 28, 17),
    )


def test_overlap_is_back_to_1300_to_1700_utc_after_both_fall_back() -> None:
    assert overlap_span(date(2026, 11, 4), "London/New York") == (
        utc(2026, 11, 4, 13),
        utc(2026, 11, 4, 17),
    )


def test_state_in_the_overlap_lists_both_sessions_and_the_pair() -> None:
    state = analyse_sessions(utc(2026, 3, 18, 14))

    assert state.active == ("London", "New York")
    assert state.overlaps == ("London/New York",)
    assert state.is_open is True


def test_sydney_tokyo_overlap_in_the_asian_morning() -> None:
    state = analyse_sessions(utc(2026, 1, 20, 1))  # Sydney 12:00 AEDT, Tokyo 10:00 JST

    assert state.active == ("Sydney", "Tokyo")
    assert state.overlaps == ("Sydney/Tokyo",)


def test_sydney_session_moves_an_hour_later_in_utc_after_its_april_fall_back() -> None:
    assert window("Sydney", date(2026, 4, 3)) == (utc(2026, 4, 2, 20), utc(2026, 4, 3, 5))
    assert window("Sydney", date(2026, 4, 6)) == (utc(2026, 4, 5, 21), utc(2026, 4, 6, 6))


def test_tokyo_has_no_dst_and_is_0000_to_0900_utc() -> None:
    assert window("Tokyo", date(2026, 7, 15)) == (utc(2026, 7, 15, 0), utc(2026, 7, 15, 9))
    assert window("Tokyo", date(2026, 1, 15)) == (utc(2026, 1, 15, 0), utc(2026, 1, 15, 9))


# --- weekend closure ----------------------------------------------------------------------------


def test_forex_closes_friday_2200_utc_in_us_winter() -> None:
    assert weekend_close_utc(date(2026, 3, 6)) == utc(2026, 3, 6, 22)
    assert forex_open(utc(2026, 3, 6, 21, 59, 59)) is True
    assert forex_open(utc(2026, 3, 6, 22)) is False


def test_forex_reopens_sunday_2100_utc_on_the_day_new_york_springs_forward() -> None:
    assert weekend_open_utc(date(2026, 3, 8)) == utc(2026, 3, 8, 21)
    assert forex_open(utc(2026, 3, 8, 20, 59, 59)) is False
    assert forex_open(utc(2026, 3, 8, 21)) is True


def test_forex_reopens_sunday_2200_utc_on_the_day_new_york_falls_back() -> None:
    assert weekend_open_utc(date(2026, 11, 1)) == utc(2026, 11, 1, 22)
    assert forex_open(utc(2026, 11, 1, 21, 59, 59)) is False
    assert forex_open(utc(2026, 11, 1, 22)) is True


def test_forex_closes_friday_2100_utc_in_us_summer() -> None:
    assert weekend_close_utc(date(2026, 10, 30)) == utc(2026, 10, 30, 21)
    assert forex_open(utc(2026, 10, 30, 21)) is False


def test_saturday_is_closed_with_no_session() -> None:
    state = analyse_sessions(utc(2026, 1, 17, 12))

    assert state.is_open is False
    assert state.active == ()
    assert state.overlaps == ()


def test_sydney_monday_morning_before_the_weekly_open_is_not_active() -> None:
    # Sunday 20:30 UTC = Monday 07:30 in Sydney, but New York is at Sunday 15:30.
    state = analyse_sessions(utc(2026, 1, 18, 20, 30))

    assert state.is_open is False
    assert state.active == ()


def test_sydney_is_the_only_session_just_after_the_weekly_open() -> None:
    state = analyse_sessions(utc(2026, 1, 18, 22))

    assert state.is_open is True
    assert state.active == ("Sydney",)


def test_synthetic_indices_are_open_at_the_weekend() -> None:
    state = analyse_sessions(utc(2026, 1, 17, 12), synthetic=True)

    assert state.is_open is True
    assert state.active == ()


def test_synthetic_indices_report_sessions_by_local_hours_during_the_forex_closure() -> None:
    state = analyse_sessions(utc(2026, 1, 18, 20, 30), synthetic=True)

    assert state.is_open is True
    assert state.active == ("Sydney",)


# --- API edges ----------------------------------------------------------------------------------


def test_a_non_utc_aware_instant_is_converted() -> None:
    paris = datetime(2026, 3, 18, 15, 0, tzinfo=timezone(timedelta(hours=1)))  # 14:00 UTC

    assert analyse_sessions(paris).active == ("London", "New York")


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="tz-aware"):
        analyse_sessions(datetime(2026, 3, 18, 14))


def test_weekend_helpers_refuse_the_wrong_weekday() -> None:
    with pytest.raises(ValueError, match="not a Friday"):
        weekend_close_utc(date(2026, 3, 5))
    with pytest.raises(ValueError, match="not a Sunday"):
        weekend_open_utc(date(2026, 3, 7))


def test_session_state_is_frozen() -> None:
    state = analyse_sessions(utc(2026, 3, 18, 14))

    with pytest.raises(dataclasses.FrozenInstanceError):
        state.is_open = False  # type: ignore[misc]
