"""Specification of :mod:`forexbot.config` (rules in the module docstring)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from forexbot.config import Settings, load_settings, load_strategy_instances, resolve_data_dir
from forexbot.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[2]
SHIPPED_CONFIG = REPO_ROOT / "config" / "forexbot.yaml"


@pytest.fixture(autouse=True)
def _no_default_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default file is looked up relative to the working directory: run every test from
    an empty directory so a developer's config/forexbot.yaml never leaks in."""
    monkeypatch.chdir(tmp_path)


def write(tmp_path: Path, text: str, name: str = "forexbot.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def config_error(**kwargs: object) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(**kwargs)  # type: ignore[arg-type]
    return str(info.value)


# --- defaults and the shipped file -----------------------------------------------------------


def test_defaults_are_valid_without_file_or_environment() -> None:
    settings = load_settings(environ={})

    assert settings == Settings()
    assert {"EURUSD", "GBPUSD", "USDJPY", "XAUUSD", "Volatility 75 Index"} <= set(
        settings.watchlist
    )
    assert 0 < settings.risk.risk_per_trade_percent <= 10


def test_default_file_in_the_working_directory_is_read(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    write(tmp_path / "config", "risk:\n  max_open_positions: 7\n")

    assert load_settings(environ={}).risk.max_open_positions == 7


def test_shipped_config_file_is_valid() -> None:
    if not SHIPPED_CONFIG.is_file():
        pytest.skip(f"{SHIPPED_CONFIG.relative_to(REPO_ROOT)} is not shipped yet")

    settings = load_settings(path=SHIPPED_CONFIG, environ={})

    assert isinstance(settings, Settings)
    assert settings.watchlist


def test_explicit_file_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    message = config_error(path=tmp_path / "missing.yaml", environ={})

    assert "missing.yaml" in message


# --- environment ------------------------------------------------------------------------------


def test_environment_variable_overrides_a_key_and_is_parsed_as_a_number() -> None:
    settings = load_settings(environ={"FOREXBOT_RISK__RISK_PER_TRADE_PERCENT": "0.5"})

    assert settings.risk.risk_per_trade_percent == 0.5
    assert isinstance(settings.risk.risk_per_trade_percent, float)


def test_environment_values_are_yaml_scalars() -> None:
    settings = load_settings(
        environ={
            "FOREXBOT_TERMINAL__SIM_HEDGING": "false",
            "FOREXBOT_RISK__MAX_OPEN_POSITIONS": "2",
        }
    )

    assert settings.terminal.sim_hedging is False
    assert settings.risk.max_open_positions == 2


def test_invalid_environment_value_names_key_value_bound_and_variable() -> None:
    message = config_error(environ={"FOREXBOT_RISK__RISK_PER_TRADE_PERCENT": "50"})

    assert "risk.risk_per_trade_percent" in message
    assert "50" in message
    assert re.search(r"less than or equal to 10\b", message)
    assert "FOREXBOT_RISK__RISK_PER_TRADE_PERCENT" in message


def test_invalid_file_value_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "risk:\n  max_open_positions: 0\n")

    message = config_error(path=path, environ={})

    assert "risk.max_open_positions" in message
    assert "0" in message
    assert str(path) in message


def test_unknown_key_in_the_file_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "risk:\n  risk_per_trade_pct: 1\n")

    message = config_error(path=path, environ={})

    assert "risk.risk_per_trade_pct" in message


def test_unknown_section_in_the_environment_is_an_error() -> None:
    message = config_error(environ={"FOREXBOT_X__Y": "1"})

    assert "'x" in message


def test_unknown_key_in_the_environment_names_the_key_and_variable() -> None:
    message = config_error(environ={"FOREXBOT_RISK__RISK_PER_TRADE_PCT": "1"})

    assert "risk.risk_per_trade_pct" in message
    assert "FOREXBOT_RISK__RISK_PER_TRADE_PCT" in message


def test_environment_variables_without_double_underscore_are_not_config_keys() -> None:
    settings = load_settings(
        environ={
            "FOREXBOT_DATA_DIR": "/var/lib/forexbot",
            "FOREXBOT_JWT_SECRET": "s3cret",
            "OTHER__THING": "1",
        }
    )

    assert settings == Settings()


@pytest.mark.parametrize("bad", ["M7", "H2", "weekly"])
def test_bad_timeframe_lists_the_allowed_ones(bad: str) -> None:
    message = config_error(environ={"FOREXBOT_STRATEGY__TIMEFRAME": bad})

    assert bad in message
    for name in ("M1", "M5", "M15", "M30", "H1", "H4", "D1"):
        assert name in message


def test_timeframe_is_case_insensitive() -> None:
    assert load_settings(environ={"FOREXBOT_STRATEGY__TIMEFRAME": "h1"}).strategy.timeframe == "H1"


# --- file format ------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["- EURUSD\n- GBPUSD\n", "42\n", "just a string\n"])
def test_file_that_is_not_a_mapping_is_an_error(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)

    message = config_error(path=path, environ={})

    assert str(path) in message
    assert "mapping" in message


def test_file_that_is_not_valid_yaml_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "risk: [unclosed\n  max: {\n")

    message = config_error(path=path, environ={})

    assert str(path) in message
    assert "YAML" in message


def test_empty_file_means_defaults(tmp_path: Path) -> None:
    assert load_settings(path=write(tmp_path, ""), environ={}) == Settings()


# --- precedence ------------------------------------------------------------------------------


def test_file_value_applies(tmp_path: Path) -> None:
    path = write(tmp_path, "risk:\n  risk_per_trade_percent: 2\n")

    assert load_settings(path=path, environ={}).risk.risk_per_trade_percent == 2.0


def test_environment_wins_over_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "risk:\n  risk_per_trade_percent: 2\n  max_open_positions: 9\n")

    settings = load_settings(path=path, environ={"FOREXBOT_RISK__RISK_PER_TRADE_PERCENT": "3"})

    assert settings.risk.risk_per_trade_percent == 3.0
    assert settings.risk.max_open_positions == 9  # the rest of the section stays


def test_overrides_win_over_the_environment(tmp_path: Path) -> None:
    path = write(tmp_path, "risk:\n  risk_per_trade_percent: 2\n")

    settings = load_settings(
        path=path,
        environ={"FOREXBOT_RISK__RISK_PER_TRADE_PERCENT": "3"},
        overrides={"risk.risk_per_trade_percent": 4},
    )

    assert settings.risk.risk_per_trade_percent == 4.0


def test_invalid_override_is_attributed_to_the_command_line() -> None:
    message = config_error(environ={}, overrides={"api.port": 70_000})

    assert "api.port" in message
    assert "70000" in message
    assert "command line" in message


# --- data directory -------------------------------------------------------------------------


def test_data_dir_argument_wins(tmp_path: Path) -> None:
    env = {"FOREXBOT_DATA_DIR": str(tmp_path / "env"), "XDG_DATA_HOME": str(tmp_path / "xdg")}

    assert resolve_data_dir(str(tmp_path / "arg"), env) == (tmp_path / "arg").resolve()


def test_data_dir_from_forexbot_data_dir(tmp_path: Path) -> None:
    env = {"FOREXBOT_DATA_DIR": str(tmp_path / "env"), "XDG_DATA_HOME": str(tmp_path / "xdg")}

    assert resolve_data_dir(None, env) == (tmp_path / "env").resolve()


def test_data_dir_from_xdg_data_home(tmp_path: Path) -> None:
    env = {"XDG_DATA_HOME": str(tmp_path / "xdg")}

    assert resolve_data_dir(None, env) == (tmp_path / "xdg" / "forexbot").resolve()


def test_data_dir_defaults_to_local_share_in_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))

    assert resolve_data_dir(None, {}) == (tmp_path / ".local" / "share" / "forexbot").resolve()


def test_section_with_every_key_commented_out_means_its_defaults(tmp_path: Path) -> None:
    """The shipped file says "delete a line and its default applies": deleting (or commenting
    out) every line of a section leaves ``risk:`` with a null value, which must mean the
    section's defaults, not an error."""
    path = write(tmp_path, "risk:\n  # risk_per_trade_percent: 1.0\napi:\n  port: 8081\n")

    settings = load_settings(path=path, environ={})

    assert settings.risk == Settings().risk
    assert settings.api.port == 8081


def test_live_mode_on_the_simulator_is_refused_with_the_rule() -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings(environ={}, overrides={"mode": "live"})
    assert "mode 'live' needs terminal.backend 'native' or 'bridge'" in str(exc.value)


def test_bridge_backend_settings_have_defaults() -> None:
    settings = load_settings(environ={"FOREXBOT_TERMINAL__BACKEND": "bridge"})
    assert settings.terminal.backend == "bridge"
    assert settings.terminal.bridge_host == "127.0.0.1"
    assert settings.terminal.bridge_port == 18812


def test_top_level_keys_have_their_own_variables() -> None:
    settings = load_settings(environ={"FOREXBOT_WATCHLIST": "[EURUSD, Step Index]"})
    assert settings.watchlist == ("EURUSD", "Step Index")


def test_a_strategies_file_named_but_missing_is_an_error(tmp_path: Path) -> None:

    settings = load_settings(environ={"FOREXBOT_STRATEGY__FILE": str(tmp_path / "nope.yaml")})
    with pytest.raises(ConfigError, match="no such file"):
        load_strategy_instances(settings)


def test_without_a_strategies_file_the_strategy_section_runs_on_the_watchlist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    monkeypatch.chdir(tmp_path)
    [instance] = load_strategy_instances(load_settings(environ={}))
    assert (instance.strategy, instance.symbols, instance.timeframe) == ("ma_rsi", None, "M15")
