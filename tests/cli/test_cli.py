"""The command line: exit codes and messages a person (or systemd) relies on."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from forexbot import __version__
from forexbot.cli.main import main


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:

    for name in list(os.environ):
        if name.startswith("FOREXBOT_") or name == "DATABASE_URL":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no config/forexbot.yaml here: defaults only


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["version"]) == 0
    assert capsys.readouterr().out.strip() == f"forexbot {__version__}"


def test_config_check_accepts_the_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "check"]) == 0
    out = capsys.readouterr().out
    assert "configuration is valid" in out
    assert '"risk_per_trade_percent": 1.0' in out


def test_config_check_accepts_the_shipped_config_file(
    capsys: pytest.CaptureFixture[str],
) -> None:
    shipped = Path(__file__).resolve().parents[2] / "config" / "forexbot.yaml"
    assert main(["config", "check", "--config", str(shipped)]) == 0


SHIPPED = Path(__file__).resolve().parents[2] / "config" / "forexbot.yaml"


def test_config_check_says_which_strategy_entries_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["config", "check", "--config", str(SHIPPED)]) == 0
    assert "2 strategy entries: ['ma_rsi', 'break_and_retest']" in capsys.readouterr().out


def test_config_check_refuses_a_strategy_setting_the_strategies_file_would_ignore(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FOREXBOT_STRATEGY__NAME", "sma_cross")
    assert main(["config", "check", "--config", str(SHIPPED)]) == 2
    err = capsys.readouterr().err
    assert "strategy.name" in err
    assert "strategies.yaml" in err


def test_config_check_exits_2_naming_key_value_and_bound(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FOREXBOT_RISK__RISK_PER_TRADE_PERCENT", "25")
    assert main(["config", "check"]) == 2
    err = capsys.readouterr().err
    assert "risk.risk_per_trade_percent" in err
    assert "25" in err
    assert "less than or equal to 10" in err
    assert "FOREXBOT_RISK__RISK_PER_TRADE_PERCENT" in err


def test_unknown_key_in_the_file_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("risk:\n  risk_per_trade_percnt: 1\n")
    assert main(["config", "check", "--config", str(config)]) == 2
    assert "unknown config key 'risk.risk_per_trade_percnt'" in capsys.readouterr().err


def test_run_with_an_invalid_value_exits_2_before_starting_anything(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FOREXBOT_STRATEGY__TIMEFRAME", "M7")
    data_dir = tmp_path / "data"
    assert main(["run", "--data-dir", str(data_dir)]) == 2
    err = capsys.readouterr().err
    assert "strategy.timeframe = 'M7'" in err
    assert "M1, M5, M15, M30, H1, H4, D1" in err
    assert not data_dir.exists()


def test_run_with_a_bad_sim_speed_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--sim-speed", "-3", "--data-dir", str(tmp_path / "d")]) == 2
    assert "terminal.sim_speed = -3.0" in capsys.readouterr().err


def test_user_create_without_a_terminal_needs_password_stdin(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    code = main(
        ["user", "create", "--username", "u", "--role", "viewer", "--data-dir", str(tmp_path)]
    )
    assert code == 2
    assert "--password-stdin" in capsys.readouterr().err


def test_user_create_refuses_a_short_password(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:

    monkeypatch.setattr("sys.stdin", io.StringIO("eleven-char\n"))
    code = main(
        [
            "user",
            "create",
            "--username",
            "u",
            "--role",
            "viewer",
            "--password-stdin",
            "--data-dir",
            str(tmp_path),
        ]
    )
    assert code == 2
    assert "at least 12 characters" in capsys.readouterr().err


def test_unknown_role_is_an_argument_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["user", "create", "--username", "u", "--role", "god"])
    assert exc.value.code == 2
    assert "invalid choice: 'god'" in capsys.readouterr().err


def test_user_create_refuses_a_username_that_needs_escaping(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-passphrase\n"))
    args = ["user", "create", "--username", "bob smith", "--role", "viewer", "--password-stdin"]
    assert main([*args, "--data-dir", str(tmp_path)]) == 2
    assert "'bob smith' is not allowed" in capsys.readouterr().err
