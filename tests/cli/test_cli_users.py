"""``forexbot user``: an admin gets one-time codes at creation; ``user mfa`` resets them."""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

import pytest

from forexbot.cli.main import main

pytestmark = pytest.mark.db


def create(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, username: str, role: str) -> int:
    monkeypatch.setattr(sys, "stdin", io.StringIO("a-long-passphrase\n"))
    args = ["user", "create", "--username", username, "--role", role, "--password-stdin"]
    return main([*args, "--data-dir", str(tmp_path)])


def secret_of(out: str) -> str:
    match = re.search(r"secret: ([A-Z2-7]+)", out)
    assert match, out
    return match.group(1)


def test_creating_an_admin_prints_its_one_time_code_secret_and_recovery_codes(
    users_database: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert create(tmp_path, monkeypatch, "root", "admin") == 0
    out = capsys.readouterr().out
    assert "user 'root' created with role admin" in out
    assert "otpauth://totp/forexbot:root?secret=" in out
    assert len(re.findall(r"^  [a-z2-9]{5}-[a-z2-9]{5}$", out, re.M)) == 10
    assert (tmp_path / "data_key").exists()


def test_a_trader_is_created_without_one_time_codes(
    users_database: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert create(tmp_path, monkeypatch, "ana", "trader") == 0
    assert "secret:" not in capsys.readouterr().out


def test_user_mfa_replaces_the_secret(
    users_database: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    create(tmp_path, monkeypatch, "root", "admin")
    first = secret_of(capsys.readouterr().out)
    assert main(["user", "mfa", "--username", "root", "--data-dir", str(tmp_path)]) == 0
    assert secret_of(capsys.readouterr().out) != first


def test_user_mfa_for_an_unknown_user_exits_2(
    users_database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["user", "mfa", "--username", "nobody", "--data-dir", str(tmp_path)]) == 2
    assert "no user 'nobody'" in capsys.readouterr().err
