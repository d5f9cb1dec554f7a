"""Which strategies run: one source, said at start, and never a setting silently ignored
(rules in :func:`forexbot.config.loader.load_strategy_instances`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from structlog.testing import LogCapture

from forexbot.config.loader import load_settings, load_strategy_instances
from forexbot.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[2]
SHIPPED_STRATEGIES = REPO_ROOT / "config" / "strategies.yaml"
SHIPPED_CONFIG = REPO_ROOT / "config" / "forexbot.yaml"
TWO_ENTRIES = (
    "instances:\n"
    "  - strategy: ma_rsi\n    timeframe: M15\n"
    "  - strategy: break_and_retest\n    symbols: [EURUSD, XAUUSD]\n    timeframe: H1\n"
)


@pytest.fixture(autouse=True)
def _workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test runs from an empty working directory (where ``config/`` is looked up)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def default_strategies_file(workdir: Path, text: str = TWO_ENTRIES) -> Path:
    (workdir / "config").mkdir(exist_ok=True)
    path = workdir / "config" / "strategies.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def refusal(environ: dict[str, str], path: Path | None = None) -> str:
    settings = load_settings(path=path, environ=environ)
    with pytest.raises(ConfigError) as info:
        load_strategy_instances(settings)
    return str(info.value)


def test_the_default_strategies_file_runs_when_it_exists(tmp_path: Path) -> None:
    default_strategies_file(tmp_path)

    instances = load_strategy_instances(load_settings(environ={}))

    assert [(i.strategy, i.symbols, i.timeframe) for i in instances] == [
        ("ma_rsi", None, "M15"),
        ("break_and_retest", ("EURUSD", "XAUUSD"), "H1"),
    ]


def test_the_strategies_file_in_force_is_logged(tmp_path: Path, logs: LogCapture) -> None:
    path = default_strategies_file(tmp_path)

    load_strategy_instances(load_settings(environ={}))

    assert logs.entries == [
        {
            "event": "strategies from the strategies file",
            "log_level": "info",
            "file": str(path.resolve()),
            "entries": 2,
            "enabled": 2,
        }
    ]


def test_the_strategy_section_in_force_is_logged(logs: LogCapture) -> None:
    environ = {"FOREXBOT_STRATEGY__NAME": "sma_cross", "FOREXBOT_WATCHLIST": "[EURUSD, GBPUSD]"}

    load_strategy_instances(load_settings(environ=environ))

    assert logs.entries == [
        {
            "event": "strategy from settings, on the watchlist",
            "log_level": "info",
            "strategy": "sma_cross",
            "timeframe": "M15",
            "symbols": 2,
        }
    ]


def test_a_strategy_name_set_while_the_default_file_exists_is_refused(tmp_path: Path) -> None:
    default_strategies_file(tmp_path)

    message = refusal({"FOREXBOT_STRATEGY__NAME": "sma_cross"})

    assert message.startswith(
        "strategy.name cannot apply: the strategies file config/strategies.yaml (the default, "
        f"in the working directory {tmp_path}) is in force"
    )
    assert "remove strategy.name from the configuration" in message
    assert "set strategy.file: null (FOREXBOT_STRATEGY__FILE=null) to run strategy.name" in message


def test_strategy_params_in_the_config_file_beside_a_named_strategies_file_are_refused(
    tmp_path: Path,
) -> None:
    strategies = tmp_path / "mine.yaml"
    strategies.write_text(TWO_ENTRIES, encoding="utf-8")
    main = tmp_path / "forexbot.yaml"
    main.write_text(
        f"strategy:\n  file: {strategies}\n  timeframe: H1\n  params:\n    fast_period: 10\n",
        encoding="utf-8",
    )

    message = refusal({}, path=main)

    assert message.startswith(
        f"strategy.timeframe and strategy.params cannot apply: the strategies file {strategies} "
        "(strategy.file) is in force"
    )


def test_strategy_file_null_runs_the_strategy_section_despite_the_default_file(
    tmp_path: Path,
) -> None:
    default_strategies_file(tmp_path)
    environ = {"FOREXBOT_STRATEGY__FILE": "null", "FOREXBOT_STRATEGY__NAME": "sma_cross"}

    [instance] = load_strategy_instances(load_settings(environ=environ))

    assert (instance.strategy, instance.symbols, instance.timeframe) == ("sma_cross", None, "M15")


def test_without_a_strategies_file_the_strategy_section_runs_with_its_params() -> None:
    environ = {"FOREXBOT_STRATEGY__PARAMS": "{fast_period: 10, slow_period: 30}"}

    [instance] = load_strategy_instances(load_settings(environ=environ))

    assert (instance.strategy, instance.params) == (
        "ma_rsi",
        {"fast_period": 10, "slow_period": 30},
    )


def test_a_named_strategies_file_that_is_missing_says_how_to_run_the_section(
    tmp_path: Path,
) -> None:
    message = refusal({"FOREXBOT_STRATEGY__FILE": "nope.yaml"})

    assert message == (
        "strategy.file = 'nope.yaml': no such file (a relative path is taken from the "
        "configuration file's directory when written there, else from the working directory "
        f"{tmp_path}); to run strategy.name on the watchlist instead, set "
        "strategy.file: null (FOREXBOT_STRATEGY__FILE=null)"
    )


def test_an_entry_outside_the_watchlist_names_the_file_in_force_and_what_to_change(
    tmp_path: Path,
) -> None:
    default_strategies_file(tmp_path)

    message = refusal({"FOREXBOT_WATCHLIST": "[EURUSD, GBPUSD]"})

    assert message == (
        "the strategies file config/strategies.yaml (the default, in the working "
        f"directory {tmp_path}) is in force, and its entry 2 (break_and_retest on H1) lists "
        "['XAUUSD'], which the watchlist ['EURUSD', 'GBPUSD'] does not have: add them to the "
        "watchlist, remove them from the entry's symbols, or set strategy.file to another "
        "strategies file, or to null (FOREXBOT_STRATEGY__FILE=null) to run strategy.name on "
        "the watchlist instead"
    )


def test_the_shipped_configuration_runs_the_shipped_strategies_file(tmp_path: Path) -> None:
    """``systemd/forexbot.service`` runs ``--config config/forexbot.yaml`` from the checkout,
    where ``config/strategies.yaml`` is: the two shipped files must not contradict each other."""
    default_strategies_file(tmp_path, SHIPPED_STRATEGIES.read_text(encoding="utf-8"))

    instances = load_strategy_instances(load_settings(path=SHIPPED_CONFIG, environ={}))

    assert [i.strategy for i in instances] == ["ma_rsi", "break_and_retest"]


def test_all_three_strategy_keys_beside_the_default_file_are_named_in_the_refusal(
    tmp_path: Path,
) -> None:
    """What a configuration copied from an older shipped file (which set them all) meets."""
    default_strategies_file(tmp_path)
    main = tmp_path / "forexbot.yaml"
    main.write_text(
        "strategy:\n  name: ma_rsi\n  timeframe: M15\n  params:\n    fast_period: 20\n",
        encoding="utf-8",
    )

    message = refusal({}, path=main)

    assert message.startswith(
        "strategy.name, strategy.timeframe and strategy.params cannot apply: the strategies "
        "file config/strategies.yaml (the default, in the working directory"
    )


def test_a_strategies_file_named_in_the_config_file_is_found_beside_it_from_any_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "forexbot.yaml").write_text("strategy:\n  file: mine.yaml\n")
    (etc / "mine.yaml").write_text(
        "instances:\n  - strategy: sma_cross\n    timeframe: H1\n    symbols: [EURUSD]\n"
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    settings = load_settings(path=etc / "forexbot.yaml", environ={})
    [instance] = load_strategy_instances(settings)

    assert settings.strategy.file == str(etc / "mine.yaml")
    assert (instance.strategy, instance.symbols) == ("sma_cross", ("EURUSD",))


def test_a_strategies_file_named_from_the_working_directory_still_loads_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, logs: LogCapture
) -> None:
    """How configuration files named it before relative paths followed the file."""
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "forexbot.yaml").write_text(
        "strategy:\n  file: config/strategies.yaml\n"
    )
    (tmp_path / "config" / "strategies.yaml").write_text(
        "instances:\n  - strategy: sma_cross\n    timeframe: H1\n    symbols: [EURUSD]\n"
    )
    monkeypatch.chdir(tmp_path)

    settings = load_settings(path=Path("config/forexbot.yaml"), environ={})
    [instance] = load_strategy_instances(settings)

    assert settings.strategy.file == "config/strategies.yaml"
    assert (instance.strategy, instance.symbols) == ("sma_cross", ("EURUSD",))
    [warning] = [e for e in logs.entries if e["log_level"] == "warning"]
    assert warning["event"].startswith("strategy.file is read from the working directory")
    assert warning["write"] == "strategies.yaml"
