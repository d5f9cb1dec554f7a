"""Where the JWT secret comes from: environment, or a 0600 file generated once."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from forexbot.api.jwt_secret import load_or_create_jwt_secret
from forexbot.errors import ConfigError


def test_secret_file_is_created_with_mode_0600(tmp_path: Path) -> None:
    secret = load_or_create_jwt_secret(tmp_path, {})
    path = tmp_path / "jwt_secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == secret
    assert len(secret) == 64


def test_secret_file_is_private_even_under_a_permissive_umask(tmp_path: Path) -> None:
    previous = os.umask(0)
    try:
        load_or_create_jwt_secret(tmp_path, {})
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "jwt_secret").stat().st_mode) == 0o600


def test_secret_file_is_reused_on_the_next_start(tmp_path: Path) -> None:
    first = load_or_create_jwt_secret(tmp_path, {})
    second = load_or_create_jwt_secret(tmp_path, {})
    assert first == second


def test_missing_data_dir_is_created(tmp_path: Path) -> None:
    data_dir = tmp_path / "a" / "b"
    secret = load_or_create_jwt_secret(data_dir, {})
    assert (data_dir / "jwt_secret").read_text().strip() == secret


def test_environment_secret_wins_and_no_file_is_written(tmp_path: Path) -> None:
    env_secret = "e" * 40
    assert load_or_create_jwt_secret(tmp_path, {"FOREXBOT_JWT_SECRET": env_secret}) == env_secret
    assert not (tmp_path / "jwt_secret").exists()


def test_environment_secret_shorter_than_32_characters_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"FOREXBOT_JWT_SECRET is too short: 31 characters"):
        load_or_create_jwt_secret(tmp_path, {"FOREXBOT_JWT_SECRET": "x" * 31})


def test_group_readable_secret_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "jwt_secret"
    path.write_text("k" * 64)
    path.chmod(0o640)
    with pytest.raises(ConfigError, match=r"mode 0640.*chmod 600"):
        load_or_create_jwt_secret(tmp_path, {})


def test_truncated_secret_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "jwt_secret"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b"short\n")
    os.close(fd)
    with pytest.raises(ConfigError, match="holds 5 characters"):
        load_or_create_jwt_secret(tmp_path, {})


def test_symlinked_secret_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    fd = os.open(target, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b"k" * 64)
    os.close(fd)
    (tmp_path / "jwt_secret").symlink_to(target)
    with pytest.raises(ConfigError, match="cannot read the JWT secret file"):
        load_or_create_jwt_secret(tmp_path, {})
