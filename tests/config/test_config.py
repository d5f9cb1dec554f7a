"""Specification of :mod:`forexbot.config` (rules in the module docstring)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from forexbot.config.loader import load_settings, load_strategy_instances, resolve_data_dir
from forexbot.config.models import ExecutionSettings, RiskSettings, Settings, SimFaultSettings
from forexbot.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[2]
SHIPPED_CONFIG = REPO_ROOT / "config" / "forexbot.yaml"
SHIPPED_RISK_FILE = REPO_ROOT / "config" / "risk_config.yaml"


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


# --- the risk file --------------------------------------------------------------------------


def test_the_risk_file_next_to_the_main_file_is_read(tmp_path: Path) -> None:
    main = write(tmp_path, "mode: paper\n")
    write(tmp_path, "max_open_positions: 7\nmax_daily_loss_percent: 3\n", "risk_config.yaml")

    risk = load_settings(path=main, environ={}).risk

    assert (risk.max_open_positions, risk.max_daily_loss_percent) == (7, 3.0)


def test_without_a_main_file_config_risk_config_yaml_is_read(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    write(tmp_path / "config", "max_open_positions: 4\n", "risk_config.yaml")

    assert load_settings(environ={}).risk.max_open_positions == 4


def test_the_default_main_file_finds_the_risk_file_beside_it(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    write(tmp_path / "config", "risk:\n  max_open_positions: 3\n")
    write(tmp_path / "config", "cooldown_minutes: 15\n", "risk_config.yaml")

    risk = load_settings(environ={}).risk

    assert (risk.max_open_positions, risk.cooldown_minutes) == (3, 15.0)


def test_risk_keys_of_the_main_file_win_over_the_risk_file(tmp_path: Path) -> None:
    main = write(tmp_path, "risk:\n  max_open_positions: 3\n")
    write(tmp_path, "max_open_positions: 7\nrisk_per_trade_percent: 2\n", "risk_config.yaml")

    risk = load_settings(path=main, environ={}).risk

    assert risk.max_open_positions == 3
    assert risk.risk_per_trade_percent == 2.0  # the rest of the risk file stays


def test_the_environment_wins_over_the_main_file_and_the_risk_file(tmp_path: Path) -> None:
    main = write(tmp_path, "risk:\n  max_open_positions: 3\n")
    write(tmp_path, "max_open_positions: 7\ncooldown_minutes: 10\n", "risk_config.yaml")

    risk = load_settings(
        path=main,
        environ={
            "FOREXBOT_RISK__MAX_OPEN_POSITIONS": "9",
            "FOREXBOT_RISK__COOLDOWN_MINUTES": "20",
        },
    ).risk

    assert (risk.max_open_positions, risk.cooldown_minutes) == (9, 20.0)


def test_a_risk_file_named_in_the_main_file_is_read_relative_to_it(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    main = write(tmp_path / "etc", "risk_file: limits/strict.yaml\n")
    (tmp_path / "etc" / "limits").mkdir()
    write(tmp_path / "etc" / "limits", "max_open_positions: 2\n", "strict.yaml")
    write(tmp_path / "etc", "max_open_positions: 8\n", "risk_config.yaml")

    settings = load_settings(path=main, environ={})

    assert settings.risk.max_open_positions == 2
    assert settings.risk_file == "limits/strict.yaml"


def test_forexbot_risk_file_wins_over_the_main_files_risk_file(tmp_path: Path) -> None:
    main = write(tmp_path, "risk_file: mine.yaml\n")
    write(tmp_path, "max_open_positions: 2\n", "mine.yaml")
    other = write(tmp_path, "max_open_positions: 6\n", "other.yaml")

    settings = load_settings(path=main, environ={"FOREXBOT_RISK_FILE": str(other)})

    assert settings.risk.max_open_positions == 6


def test_a_risk_file_named_in_the_main_file_that_does_not_exist_is_an_error(
    tmp_path: Path,
) -> None:
    main = write(tmp_path, "risk_file: strict-limits.yaml\n")

    message = config_error(path=main, environ={})

    assert "risk_file = 'strict-limits.yaml'" in message
    assert "no such file" in message
    assert str(tmp_path / "strict-limits.yaml") in message


def test_a_risk_file_named_in_the_environment_that_does_not_exist_is_an_error(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "nowhere" / "limits.yaml"

    message = config_error(environ={"FOREXBOT_RISK_FILE": str(missing)})

    assert str(missing) in message
    assert "no such file" in message


def test_a_missing_default_risk_file_means_the_defaults(tmp_path: Path) -> None:
    main = write(tmp_path, "mode: paper\n")

    assert load_settings(path=main, environ={}).risk == RiskSettings()


def test_a_risk_file_written_as_a_risk_section_also_works(tmp_path: Path) -> None:
    main = write(tmp_path, "mode: paper\n")
    write(tmp_path, "risk:\n  max_open_positions: 7\n", "risk_config.yaml")

    assert load_settings(path=main, environ={}).risk.max_open_positions == 7


def test_an_empty_risk_file_means_the_defaults(tmp_path: Path) -> None:
    main = write(tmp_path, "mode: paper\n")
    write(tmp_path, "# every key commented out\n", "risk_config.yaml")

    assert load_settings(path=main, environ={}).risk == RiskSettings()


def test_an_invalid_value_in_the_risk_file_names_the_key_and_the_risk_file(
    tmp_path: Path,
) -> None:
    main = write(tmp_path, "mode: paper\n")
    risk_file = write(tmp_path, "max_open_positions: 0\n", "risk_config.yaml")

    message = config_error(path=main, environ={})

    assert "risk.max_open_positions = 0" in message
    assert str(risk_file) in message


def test_an_unknown_key_in_the_risk_file_is_an_error(tmp_path: Path) -> None:
    main = write(tmp_path, "mode: paper\n")
    write(tmp_path, "max_lots: 3\n", "risk_config.yaml")

    message = config_error(path=main, environ={})

    assert "risk.max_lots" in message


def test_a_risk_file_that_is_not_a_mapping_is_an_error(tmp_path: Path) -> None:
    main = write(tmp_path, "mode: paper\n")
    risk_file = write(tmp_path, "- 1\n- 2\n", "risk_config.yaml")

    message = config_error(path=main, environ={})

    assert str(risk_file) in message
    assert "mapping" in message


def test_the_shipped_risk_file_holds_the_documented_defaults() -> None:
    limits = yaml.safe_load(SHIPPED_RISK_FILE.read_text(encoding="utf-8"))

    assert RiskSettings.model_validate(limits) == RiskSettings()
    assert set(limits) == set(RiskSettings.model_fields)


def test_the_shipped_configuration_is_the_documented_defaults() -> None:
    """docs/configuration.md: ``config/forexbot.yaml`` shows every key with its default, the
    defaults are paper trading on the simulator, and the risk limits come from
    ``config/risk_config.yaml`` beside it."""
    settings = load_settings(path=SHIPPED_CONFIG, environ={})

    # The strategies file it names is the default one, found beside it from any directory.
    assert settings.strategy.file == str(SHIPPED_CONFIG.parent / "strategies.yaml")
    shipped_defaults = settings.model_copy(
        update={"strategy": settings.strategy.model_copy(update={"file": "config/strategies.yaml"})}
    )
    assert shipped_defaults == Settings()
    assert (settings.mode, settings.terminal.backend) == ("paper", "simulator")
    assert settings.watchlist == ("EURUSD", "GBPUSD", "USDJPY", "XAUUSD", "Volatility 75 Index")
    assert settings.risk == RiskSettings()


# --- terminal.sim_faults and execution ------------------------------------------------------


def test_sim_faults_are_off_by_default() -> None:
    faults = load_settings(environ={}).terminal.sim_faults

    assert faults == SimFaultSettings()
    assert (faults.requote_probability, faults.reject_probability) == (0.0, 0.0)
    assert faults.order_reply_delay_seconds == 0.0


def test_sim_faults_are_read_from_the_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "terminal:\n  sim_faults:\n    requote_probability: 0.1\n"
        "    reject_probability: 0.05\n    order_reply_delay_seconds: 3\n    seed: 7\n",
    )

    faults = load_settings(path=path, environ={}).terminal.sim_faults

    assert faults == SimFaultSettings(
        requote_probability=0.1, reject_probability=0.05, order_reply_delay_seconds=3, seed=7
    )


def test_a_sim_fault_can_be_set_from_the_environment() -> None:
    settings = load_settings(environ={"FOREXBOT_TERMINAL__SIM_FAULTS__REJECT_PROBABILITY": "0.2"})

    assert settings.terminal.sim_faults.reject_probability == 0.2


@pytest.mark.parametrize(
    ("key", "bad"),
    [
        ("requote_probability", "1.5"),
        ("reject_probability", "-0.1"),
        ("order_reply_delay_seconds", "601"),
        ("order_reply_delay_seconds", "-1"),
    ],
)
def test_a_sim_fault_out_of_range_is_refused_naming_it(key: str, bad: str) -> None:
    variable = f"FOREXBOT_TERMINAL__SIM_FAULTS__{key.upper()}"

    message = config_error(environ={variable: bad})

    assert f"terminal.sim_faults.{key}" in message
    assert bad in message
    assert variable in message


def test_an_unknown_sim_fault_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "terminal:\n  sim_faults:\n    crash_probability: 0.1\n")

    assert "terminal.sim_faults.crash_probability" in config_error(path=path, environ={})


def test_execution_defaults() -> None:
    execution = load_settings(environ={}).execution

    assert execution == ExecutionSettings()
    assert (execution.max_retries, execution.retry_delay_ms) == (3, 200)
    assert (execution.timeout_lookups, execution.timeout_lookup_ms) == (5, 1000)
    assert execution.sync_interval_seconds == 1.0


def test_execution_settings_are_read_from_the_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "execution:\n  max_retries: 0\n  retry_delay_ms: 50\n  timeout_lookups: 10\n"
        "  timeout_lookup_ms: 250\n  sync_interval_seconds: 0.5\n",
    )

    assert load_settings(path=path, environ={}).execution == ExecutionSettings(
        max_retries=0,
        retry_delay_ms=50,
        timeout_lookups=10,
        timeout_lookup_ms=250,
        sync_interval_seconds=0.5,
    )


@pytest.mark.parametrize(
    ("key", "bad"),
    [
        ("max_retries", "21"),
        ("max_retries", "-1"),
        ("retry_delay_ms", "60001"),
        ("timeout_lookups", "0"),
        ("timeout_lookups", "51"),
        ("timeout_lookup_ms", "-5"),
        ("sync_interval_seconds", "0"),
        ("sync_interval_seconds", "3601"),
    ],
)
def test_an_execution_setting_out_of_range_is_refused_naming_it(key: str, bad: str) -> None:
    variable = f"FOREXBOT_EXECUTION__{key.upper()}"

    message = config_error(environ={variable: bad})

    assert f"execution.{key}" in message
    assert bad in message


def test_an_unknown_execution_key_is_refused() -> None:
    message = config_error(environ={"FOREXBOT_EXECUTION__RETRIES": "2"})

    assert "execution.retries" in message


def test_cors_origins_come_from_the_configuration() -> None:
    settings = load_settings(
        environ={
            "FOREXBOT_API__CORS_ALLOW_ORIGINS": "[https://dash.example.com, http://10.0.0.5:3000]"
        }
    )
    assert settings.api.cors_allow_origins == ("https://dash.example.com", "http://10.0.0.5:3000")


@pytest.mark.parametrize(
    "origin", ["*", "https://dash.example.com/", "dash.example.com", "ftp://x"]
)
def test_a_cors_entry_that_is_not_an_exact_origin_is_refused(origin: str) -> None:
    with pytest.raises(ConfigError, match="cors_allow_origins"):
        load_settings(environ={"FOREXBOT_API__CORS_ALLOW_ORIGINS": f"['{origin}']"})
