"""Specification of :mod:`forexbot.engine.guard` (rules in the module docstring).

Acceptance criterion: daily-loss and drawdown limits trip at the configured values, shown by
properties over random P/L paths spanning several trading days (the ``@given`` tests below).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forexbot.config.models import RiskSettings
from forexbot.domain.rejection import RejectCode, Rejection
from forexbot.engine.guard import EquityGuard, GuardState, Trip, TripKind

T0 = 1_767_225_600.0
DAY = "2026-01-01"


def limits(daily: float = 5.0, drawdown: float = 20.0, **more: float) -> RiskSettings:
    return RiskSettings(max_daily_loss_percent=daily, max_drawdown_percent=drawdown, **more)


def kinds(trips: list[Trip]) -> list[TripKind]:
    return [trip.kind for trip in trips]


# --- random equity paths ----------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One step of a path: maybe a new trading day, then an equity observation (a P/L move or
    a jump to exactly one of the floors), then maybe a resume of the kill switch."""

    new_day: bool
    move: str  # "pl", "daily_floor" or "drawdown_floor"
    pl: float
    resume: bool


steps = st.builds(
    Step,
    new_day=st.sampled_from([False] * 6 + [True]),
    move=st.sampled_from(["pl"] * 8 + ["daily_floor", "drawdown_floor"]),
    pl=st.integers(-80_000, 60_000).map(lambda cents: cents / 100),
    resume=st.sampled_from([False] * 4 + [True]),
)
percents = st.sampled_from([0.5, 1.0, 2.5, 3.0, 5.0, 7.0, 10.0, 12.5, 15.0, 20.0, 33.3, 50.0])


@dataclass
class Observation:
    index: int
    day: str
    equity: float
    trips: list[TripKind]
    daily_halt: bool
    kill_switch: bool
    blocked: str | None


@dataclass
class Run:
    observations: list[Observation] = field(default_factory=list)
    # index of the first observation after each resume, and the equity it re-based on
    resumes: list[tuple[int, float]] = field(default_factory=list)
    peaks_after_resume: list[tuple[float | None, float | None]] = field(default_factory=list)


def run_path(start: float, path: list[Step], risk: RiskSettings) -> Run:
    """Feed ``path`` to a guard, choosing the exact-floor equities from the rule's formulas."""
    guard = EquityGuard()
    run = Run()
    equity, day_index = start, 0
    day_start: float | None = None
    peak: float | None = None  # the running peak since the last (re)base
    for n, step in enumerate(path):
        if step.new_day and n:
            day_index += 1
        day = f"day-{day_index:03d}"
        if n == 0 or (run.observations and run.observations[-1].day != day):
            day_start = None
        if step.move == "daily_floor" and day_start is not None:
            equity = day_start * (1 - risk.max_daily_loss_percent / 100)
        elif step.move == "drawdown_floor" and peak is not None:
            equity = peak * (1 - risk.max_drawdown_percent / 100)
        else:
            equity = max(1.0, round(equity + step.pl, 2))
        if day_start is None:
            day_start = equity
        peak = equity if peak is None else max(peak, equity)
        trips = guard.observe(equity, day, T0 + n * 60, risk)
        blocked = guard.blocked(T0 + n * 60)
        run.observations.append(
            Observation(
                n,
                day,
                equity,
                kinds(trips),
                guard.state.daily_halt,
                guard.state.kill_switch,
                None if blocked is None else blocked.code,
            )
        )
        if step.resume and guard.state.kill_switch:
            guard.resume()
            run.resumes.append((n + 1, equity))
            run.peaks_after_resume.append((guard.state.peak_equity, guard.state.last_equity))
            peak = equity
    return run


def days_of(run: Run) -> list[list[Observation]]:
    days: list[list[Observation]] = []
    for obs in run.observations:
        if not days or days[-1][0].day != obs.day:
            days.append([])
        days[-1].append(obs)
    return days


def segments_of(run: Run) -> list[tuple[float | None, list[Observation]]]:
    """The observations between resumes, each with the equity its peak starts from."""
    bounds = [(0, None), *run.resumes]
    segments: list[tuple[float | None, list[Observation]]] = []
    for k, (first, base) in enumerate(bounds):
        last = bounds[k + 1][0] if k + 1 < len(bounds) else len(run.observations)
        segments.append((base, run.observations[first:last]))
    return segments


paths = st.lists(steps, min_size=1, max_size=60)
start_equity = st.integers(1_000, 200_000).map(float)


@settings(max_examples=200, deadline=None)
@given(start=start_equity, path=paths, daily=percents, drawdown=percents)
def test_daily_loss_trips_at_the_first_observation_at_or_below_the_days_floor(
    start: float, path: list[Step], daily: float, drawdown: float
) -> None:
    risk = limits(daily, drawdown)

    run = run_path(start, path, risk)

    for day in days_of(run):
        floor = day[0].equity * (1 - daily / 100)
        at_or_below = [obs.index for obs in day if obs.equity <= floor]
        expected = at_or_below[:1]  # the first one, and only that one
        tripped = [obs.index for obs in day if TripKind.DAILY_LOSS in obs.trips]
        assert tripped == expected
        for obs in day:
            assert obs.daily_halt == (bool(expected) and obs.index >= expected[0])


@settings(max_examples=100, deadline=None)
@given(start=start_equity, path=paths, daily=percents, drawdown=percents)
def test_the_daily_halt_lifts_on_the_next_trading_day(
    start: float, path: list[Step], daily: float, drawdown: float
) -> None:
    run = run_path(start, path, limits(daily, drawdown))

    for day in days_of(run)[1:]:
        first = day[0]
        assert first.daily_halt is False
        assert first.blocked != "daily_loss_limit"


@settings(max_examples=200, deadline=None)
@given(start=start_equity, path=paths, daily=percents, drawdown=percents)
def test_drawdown_trips_the_kill_switch_at_the_first_observation_at_or_below_the_peak_floor(
    start: float, path: list[Step], daily: float, drawdown: float
) -> None:
    run = run_path(start, path, limits(daily, drawdown))

    for base, segment in segments_of(run):
        expected: list[int] = []
        peak = base
        for obs in segment:
            peak = obs.equity if peak is None else max(peak, obs.equity)
            if obs.equity <= peak * (1 - drawdown / 100):
                expected = [obs.index]
                break
        tripped = [obs.index for obs in segment if TripKind.DRAWDOWN in obs.trips]
        assert tripped == expected
        for obs in segment:
            on = bool(expected) and obs.index >= expected[0]
            assert obs.kill_switch == on  # stays on until resumed
            if on:
                assert obs.blocked == "kill_switch"


@settings(max_examples=100, deadline=None)
@given(start=start_equity, path=paths, daily=percents, drawdown=percents)
def test_resume_rebases_the_peak_on_the_last_equity(
    start: float, path: list[Step], daily: float, drawdown: float
) -> None:
    run = run_path(start, path, limits(daily, drawdown))

    for (_, equity), (peak, last) in zip(run.resumes, run.peaks_after_resume, strict=True):
        assert peak == last == equity


@settings(max_examples=100, deadline=None)
@given(start=start_equity, path=paths, daily=percents, drawdown=percents)
def test_nothing_trips_while_equity_stays_above_both_floors(
    start: float, path: list[Step], daily: float, drawdown: float
) -> None:
    rising = [Step(s.new_day, "pl", abs(s.pl), s.resume) for s in path]

    run = run_path(start, rising, limits(daily, drawdown))

    assert all(obs.trips == [] for obs in run.observations)
    assert all(obs.blocked is None for obs in run.observations)


# --- daily loss and drawdown: examples --------------------------------------------------------


def test_a_five_percent_daily_limit_trips_at_exactly_five_percent_down() -> None:
    guard = EquityGuard()
    guard.observe(10_000.0, DAY, T0, limits(5.0))

    assert guard.observe(9_500.01, DAY, T0 + 1, limits(5.0)) == []
    [trip] = guard.observe(9_500.0, DAY, T0 + 2, limits(5.0))

    assert trip.kind is TripKind.DAILY_LOSS
    assert (trip.equity, trip.threshold) == (9_500.0, 9_500.0)
    assert "9500.00" in trip.message
    assert "10000.00" in trip.message
    assert guard.state.daily_halt is True


def test_the_daily_limit_trips_once_per_day_and_again_the_next_day() -> None:
    guard = EquityGuard()
    guard.observe(10_000.0, "2026-01-01", T0, limits(5.0))

    assert kinds(guard.observe(9_000.0, "2026-01-01", T0 + 1, limits(5.0))) == [TripKind.DAILY_LOSS]
    assert guard.observe(8_900.0, "2026-01-01", T0 + 2, limits(5.0)) == []
    assert guard.observe(9_000.0, "2026-01-02", T0 + 3, limits(5.0)) == []
    assert guard.state.day_start_equity == 9_000.0
    assert guard.state.daily_halt is False
    assert kinds(guard.observe(8_550.0, "2026-01-02", T0 + 4, limits(5.0))) == [TripKind.DAILY_LOSS]


def test_the_first_equity_of_a_day_is_its_start_equity() -> None:
    guard = EquityGuard()
    guard.observe(10_000.0, "2026-01-01", T0, limits())
    guard.observe(12_000.0, "2026-01-02", T0 + 1, limits())
    guard.observe(13_000.0, "2026-01-02", T0 + 2, limits())

    assert (guard.state.day, guard.state.day_start_equity) == ("2026-01-02", 12_000.0)


def test_a_twenty_percent_drawdown_trips_at_exactly_twenty_percent_below_the_peak() -> None:
    guard = EquityGuard()
    risk = limits(daily=50.0, drawdown=20.0)
    guard.observe(10_000.0, "2026-01-01", T0, risk)
    guard.observe(12_500.0, "2026-01-02", T0 + 1, risk)

    assert guard.observe(10_000.01, "2026-01-03", T0 + 2, risk) == []
    [trip] = guard.observe(10_000.0, "2026-01-03", T0 + 3, risk)

    assert trip.kind is TripKind.DRAWDOWN
    assert trip.threshold == 10_000.0
    assert "12500.00" in trip.message
    s = guard.state
    assert (s.kill_switch, s.kill_code, s.kill_time) == (True, "max_drawdown", T0 + 3)
    assert s.kill_reason == trip.message


def test_one_observation_can_trip_both_limits() -> None:
    guard = EquityGuard()
    guard.observe(10_000.0, DAY, T0, limits(5.0, 10.0))

    trips = guard.observe(8_000.0, DAY, T0 + 1, limits(5.0, 10.0))

    assert kinds(trips) == [TripKind.DAILY_LOSS, TripKind.DRAWDOWN]


def test_the_kill_switch_stays_on_and_trips_once_until_resumed() -> None:
    guard = EquityGuard()
    risk = limits(50.0, 10.0)
    guard.observe(10_000.0, DAY, T0, risk)
    guard.observe(8_000.0, DAY, T0 + 1, risk)

    assert guard.observe(6_000.0, DAY, T0 + 2, risk) == []
    assert guard.observe(20_000.0, "2026-01-02", T0 + 3, risk) == []
    assert guard.state.kill_switch is True
    # Still the first trip: its reason is not replaced by the deeper fall.
    assert guard.blocked(T0 + 4) == Rejection(
        RejectCode.KILL_SWITCH,
        "the kill switch is on (equity 8000.00 is down 20.00 % from its peak 10000.00; "
        "the limit is 10 %); resume by hand",
    )


def test_resume_releases_the_kill_switch_and_rebases_the_peak() -> None:
    guard = EquityGuard()
    risk = limits(50.0, 10.0)
    guard.observe(10_000.0, DAY, T0, risk)
    guard.observe(8_000.0, DAY, T0 + 1, risk)

    guard.resume()

    s = guard.state
    assert (s.kill_switch, s.kill_code, s.kill_reason, s.kill_time) == (False, None, None, None)
    assert s.peak_equity == 8_000.0
    assert guard.observe(7_300.0, DAY, T0 + 2, risk) == []  # 8.75 % below the new peak
    assert kinds(guard.observe(7_200.0, DAY, T0 + 3, risk)) == [TripKind.DRAWDOWN]


def test_the_kill_switch_tripped_by_hand_records_code_reason_and_time() -> None:
    guard = EquityGuard()

    guard.trip("manual", "news at 14:30", at=T0)

    s = guard.state
    assert (s.kill_switch, s.kill_code, s.kill_reason, s.kill_time) == (
        True,
        "manual",
        "news at 14:30",
        T0,
    )
    assert guard.blocked(T0) == Rejection(
        RejectCode.KILL_SWITCH,
        "the kill switch is on (news at 14:30); resume by hand",
    )


def test_a_kill_switch_tripped_by_hand_does_not_trip_again_on_a_drawdown() -> None:
    guard = EquityGuard()
    risk = limits(50.0, 10.0)
    guard.observe(10_000.0, DAY, T0, risk)
    guard.trip("manual", "by hand", at=T0)

    assert guard.observe(6_000.0, DAY, T0 + 1, risk) == []  # 40 % below the peak
    assert guard.state.kill_code == "manual"
    assert guard.state.kill_reason == "by hand"


# --- losing streak ----------------------------------------------------------------------------


def test_n_losses_in_a_row_start_a_cooldown_from_the_last_close() -> None:
    guard = EquityGuard()
    risk = limits(cooldown_after_losses=3, cooldown_minutes=45)

    assert guard.record_close(-10.0, T0, risk) is False
    assert guard.record_close(-0.01, T0 + 100, risk) is False
    assert guard.record_close(-5.0, T0 + 200, risk) is True

    assert guard.state.cooldown_streak == 3
    assert guard.state.cooldown_until == T0 + 200 + 45 * 60


def test_a_cooldown_settles_the_streak_so_one_more_loss_does_not_start_another() -> None:
    guard = EquityGuard()
    risk = limits(cooldown_after_losses=3, cooldown_minutes=45)
    decisions = [guard.record_close(-1.0, T0 + n, risk) for n in range(6)]

    assert decisions == [False, False, True, False, False, True]
    assert guard.state.loss_streak == 0


def test_the_cooldown_blocks_until_its_end() -> None:
    guard = EquityGuard()
    risk = limits(cooldown_after_losses=2, cooldown_minutes=60)
    guard.record_close(-1.0, T0, risk)
    guard.record_close(-1.0, T0, risk)

    blocked = guard.blocked(T0 + 3599)
    assert blocked is not None
    assert blocked.code == "cooldown"
    assert guard.blocked(T0 + 3600) is None


def test_the_cooldown_message_says_the_streak_and_the_minutes_left() -> None:
    guard = EquityGuard()
    risk = limits(cooldown_after_losses=2, cooldown_minutes=60)
    guard.record_close(-1.0, T0, risk)
    guard.record_close(-1.0, T0, risk)

    assert guard.blocked(T0 + 20 * 60) == Rejection(
        RejectCode.COOLDOWN,
        "2 losing trades in a row: no new trade for another 40 min",
    )


def test_a_win_resets_the_losing_streak() -> None:
    guard = EquityGuard()
    risk = limits(cooldown_after_losses=3, cooldown_minutes=60)
    guard.record_close(-1.0, T0, risk)
    guard.record_close(-1.0, T0 + 1, risk)

    assert guard.record_close(25.0, T0 + 2, risk) is False
    assert guard.state.loss_streak == 0
    assert guard.record_close(-1.0, T0 + 3, risk) is False
    assert guard.record_close(-1.0, T0 + 4, risk) is False
    assert guard.state.cooldown_until is None
    assert guard.blocked(T0 + 5) is None


def test_a_break_even_trade_ends_the_losing_streak() -> None:
    guard = EquityGuard()
    risk = limits(cooldown_after_losses=2, cooldown_minutes=60)
    guard.record_close(-1.0, T0, risk)

    assert guard.record_close(0.0, T0 + 1, risk) is False
    assert guard.state.loss_streak == 0
    assert guard.record_close(-1.0, T0 + 2, risk) is False


def test_a_cooldown_of_zero_minutes_never_blocks() -> None:
    guard = EquityGuard()
    risk = limits(cooldown_after_losses=1, cooldown_minutes=0)

    assert [guard.record_close(-1.0, T0 + n, risk) for n in range(5)] == [False] * 5
    assert guard.state.loss_streak == 5
    assert guard.state.cooldown_until is None
    assert guard.blocked(T0 + 5) is None


# --- blocked: priority and messages -----------------------------------------------------------


def every_limit_on() -> GuardState:
    return GuardState(
        day=DAY,
        daily_halt=True,
        kill_switch=True,
        kill_code="max_drawdown",
        kill_reason="down 20 %",
        cooldown_streak=4,
        cooldown_until=T0 + 3600,
    )


def test_the_kill_switch_comes_first() -> None:
    assert EquityGuard(every_limit_on()).blocked(T0) == Rejection(
        RejectCode.KILL_SWITCH,
        "the kill switch is on (down 20 %); resume by hand",
    )


def test_the_daily_loss_comes_before_the_cooldown() -> None:
    state = every_limit_on()
    state.kill_switch = False

    assert EquityGuard(state).blocked(T0) == Rejection(
        RejectCode.DAILY_LOSS_LIMIT,
        f"the daily loss limit was reached on trading day {DAY}; trading resumes on the next "
        f"trading day",
    )


def test_the_cooldown_comes_last() -> None:
    state = every_limit_on()
    state.kill_switch = False
    state.daily_halt = False

    blocked = EquityGuard(state).blocked(T0)

    assert blocked is not None
    assert blocked.code == "cooldown"
    assert "4 losing trades in a row" in blocked.message


def test_a_fresh_guard_blocks_nothing() -> None:
    assert EquityGuard().blocked(T0) is None


# --- GuardState persistence -------------------------------------------------------------------


def test_guard_state_survives_a_round_trip_through_a_dict() -> None:
    state = every_limit_on()
    state.day_start_equity = 10_000.0
    state.peak_equity = 12_000.0
    state.kill_time = T0
    state.last_equity = 9_000.0

    data = state.to_dict()

    assert GuardState.from_dict(data) == state
    assert data["kill_reason"] == "down 20 %"
    assert set(data) == {
        "day",
        "day_start_equity",
        "daily_halt",
        "peak_equity",
        "kill_switch",
        "kill_code",
        "kill_reason",
        "kill_time",
        "loss_streak",
        "cooldown_streak",
        "cooldown_until",
        "last_equity",
    }


def test_from_dict_ignores_unknown_keys() -> None:
    state = GuardState.from_dict({"kill_switch": True, "kill_reason": "x", "added_later": 1})

    assert state == GuardState(kill_switch=True, kill_reason="x")


def test_from_dict_gives_defaults_for_missing_keys() -> None:
    assert GuardState.from_dict({}) == GuardState()


def test_a_guard_built_on_a_restored_state_resumes_its_day() -> None:
    guard = EquityGuard()
    guard.observe(10_000.0, DAY, T0, limits(5.0))
    restored = EquityGuard(GuardState.from_dict(guard.state.to_dict()))

    assert kinds(restored.observe(9_500.0, DAY, T0 + 1, limits(5.0))) == [TripKind.DAILY_LOSS]


@pytest.mark.parametrize("risk_percent", [1.0, 5.0, 10.0])
def test_the_trip_threshold_is_the_configured_share_of_the_start(risk_percent: float) -> None:
    guard = EquityGuard()
    guard.observe(20_000.0, DAY, T0, limits(risk_percent))

    [trip] = guard.observe(1.0, DAY, T0 + 1, limits(risk_percent, 100.0))

    assert trip.threshold == pytest.approx(20_000.0 * (1 - risk_percent / 100))
