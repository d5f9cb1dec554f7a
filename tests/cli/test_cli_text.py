"""The command line keeps the API's text rule: no control characters, no surrogates (what a
shell passes for bytes that are not UTF-8) in text arguments and passwords — refused with
exit code 2 and the argument's name, before any database is touched. Paths are exempt."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from forexbot.cli.main import main
from forexbot.text import PROBLEM

pytestmark = pytest.mark.db


def test_a_control_character_in_a_username_is_refused_naming_the_argument(
    users_database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["user", "mfa", "--username", "ana\x00", "--data-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"forexbot: --username {PROBLEM}\n"


def test_a_username_of_bytes_that_are_not_utf8_is_refused(
    users_database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    username = b"ana\xff".decode("utf-8", "surrogateescape")  # as Python reads such argv
    assert main(["user", "mfa", "--username", username, "--data-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"forexbot: --username {PROBLEM}\n"


@pytest.mark.parametrize("password", ["a-long-pass\x00phrase", "a-long-passphrase\udcff"])
def test_a_password_breaking_the_rule_is_refused_and_no_user_is_made(
    users_database: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    password: str,
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(password + "\n"))
    args = ["user", "create", "--username", "ana", "--role", "trader", "--password-stdin"]
    assert main([*args, "--data-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"forexbot: the password {PROBLEM}\n"
    monkeypatch.setattr(sys, "stdin", io.StringIO("a-long-passphrase\n"))
    assert main([*args, "--data-dir", str(tmp_path)]) == 0  # the name was never taken


def test_an_option_is_named_as_typed_not_by_its_destination(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["data", "export", "--symbol", "EURUSD", "--timeframe", "M1"]
    assert main([*args, "--from", "2024\x1b01", "--to", "2024-01-02"]) == 2
    assert capsys.readouterr().err == f"forexbot: --from {PROBLEM}\n"


def test_a_data_directory_of_bytes_that_are_not_utf8_is_a_path_and_is_taken(
    users_database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / b"data\xff".decode("utf-8", "surrogateescape")
    assert main(["user", "mfa", "--username", "nobody", "--data-dir", str(data_dir)]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == "forexbot: no user 'nobody'"
    assert data_dir.is_dir()
