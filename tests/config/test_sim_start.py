"""``terminal.sim_start``: the simulated market starts at a fixed time, whatever the day the
daemon (or the suite) runs, and a paper account's time never runs backwards."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from forexbot.clock import AcceleratedClock, RealtimeClock
from forexbot.config.loader import load_settings
from forexbot.config.models import TerminalSettings
from forexbot.connectors.backends import open_terminal, simulator_clock
from forexbot.errors import ConfigError

MONDAY_LONDON = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def test_sim_start_is_read_from_the_environment_as_an_iso_time() -> None:
    settings = load_settings(environ={"FOREXBOT_TERMINAL__SIM_START": "2026-11-23T08:00:00Z"})
    assert settings.terminal.sim_start == MONDAY_LONDON


def test_a_sim_start_without_a_zone_is_utc() -> None:
    settings = load_settings(environ={"FOREXBOT_TERMINAL__SIM_START": "2026-11-23T08:00:00"})
    assert settings.terminal.sim_start == MONDAY_LONDON
    assert settings.terminal.sim_start is not None
    assert settings.terminal.sim_start.utcoffset() == timedelta(0)


def test_a_sim_start_in_another_zone_is_the_same_instant() -> None:
    settings = load_settings(environ={"FOREXBOT_TERMINAL__SIM_START": "2026-11-23T10:00:00+02:00"})
    assert settings.terminal.sim_start == MONDAY_LONDON


def test_a_sim_start_that_is_not_a_time_is_a_config_error_naming_the_key() -> None:
    with pytest.raises(ConfigError, match="sim_start"):
        load_settings(environ={"FOREXBOT_TERMINAL__SIM_START": "next tuesday"})


def test_without_sim_start_at_real_speed_the_simulator_runs_on_the_wall_clock() -> None:
    clock = simulator_clock(1.0, None)

    assert isinstance(clock, RealtimeClock)
    assert clock.time() == pytest.approx(time.time(), abs=1.0)


def test_the_clock_starts_at_sim_start_even_at_real_speed() -> None:
    clock = simulator_clock(1.0, None, start=MONDAY_LONDON.timestamp())
    assert isinstance(clock, AcceleratedClock)
    assert clock.time() == pytest.approx(MONDAY_LONDON.timestamp(), abs=1.0)


def test_the_clock_starts_at_sim_start_in_the_past_or_the_future() -> None:
    for start in (MONDAY_LONDON, datetime(2031, 6, 4, 9, tzinfo=UTC)):
        clock = simulator_clock(600.0, None, start=start.timestamp())
        assert clock.time() == pytest.approx(start.timestamp(), abs=60.0)


def test_a_paper_account_that_stopped_after_sim_start_resumes_where_it_stopped() -> None:
    stopped = MONDAY_LONDON.timestamp() + 3 * 3600
    clock = simulator_clock(1.0, stopped, start=MONDAY_LONDON.timestamp())
    assert clock.time() == pytest.approx(stopped, abs=1.0)


def test_a_paper_account_that_stopped_before_sim_start_jumps_to_sim_start() -> None:
    stopped = MONDAY_LONDON.timestamp() - 86_400
    clock = simulator_clock(1.0, stopped, start=MONDAY_LONDON.timestamp())
    assert clock.time() == pytest.approx(MONDAY_LONDON.timestamp(), abs=1.0)


def test_the_daemon_simulator_ticks_forex_from_sim_start_on_a_saturday(tmp_path: Path) -> None:
    """The reason the key exists: started on a Saturday with ``sim_start`` on a weekday, the
    paper terminal quotes EURUSD at ``sim_start`` (the wall clock never enters into it)."""
    settings = TerminalSettings(sim_start=MONDAY_LONDON)
    opened = open_terminal(settings, tmp_path, {})
    terminal = opened.terminal
    assert terminal.initialize()
    try:
        assert terminal.symbol_select("EURUSD", True)
        tick = terminal.symbol_info_tick("EURUSD")
        assert tick is not None
        assert tick.bid > 0
        assert abs(opened.clock.time() - MONDAY_LONDON.timestamp()) < 60
    finally:
        terminal.shutdown()


@pytest.mark.parametrize("backend", ["native", "bridge"])
def test_sim_start_is_refused_for_a_real_terminal(backend: str, tmp_path: Path) -> None:
    settings = TerminalSettings(backend=backend, sim_start=MONDAY_LONDON)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"terminal\.sim_start .* only for the simulator"):
        open_terminal(settings, tmp_path, {})
