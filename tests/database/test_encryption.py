"""Sensitive fields sealed with the data key: where the key comes from, what a bad key does."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from forexbot.database.encryption import Sealer, load_or_create_data_key
from forexbot.errors import ConfigError, SealedFieldError


def test_the_data_key_is_generated_once_owner_only(tmp_path: Path) -> None:
    key = load_or_create_data_key(tmp_path, {})
    assert load_or_create_data_key(tmp_path, {}) == key
    assert stat.S_IMODE((tmp_path / "data_key").stat().st_mode) == 0o600


def test_the_environment_key_wins_and_writes_no_file(tmp_path: Path) -> None:
    key = Fernet.generate_key().decode()
    assert load_or_create_data_key(tmp_path, {"FOREXBOT_DATA_KEY": key}) == key
    assert not (tmp_path / "data_key").exists()


def test_a_key_that_is_not_a_fernet_key_stops_start_up(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a Fernet key"):
        load_or_create_data_key(tmp_path, {"FOREXBOT_DATA_KEY": "short"})


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    load_or_create_data_key(tmp_path, {})
    (tmp_path / "data_key").chmod(0o644)
    with pytest.raises(ConfigError, match="readable by its owner only"):
        load_or_create_data_key(tmp_path, {})


def test_sealing_is_randomised_and_opens_back() -> None:
    sealer = Sealer(Fernet.generate_key().decode())
    first, second = sealer.seal("JBSWY3DPEHPK3PXP"), sealer.seal("JBSWY3DPEHPK3PXP")
    assert first != second
    assert "JBSWY3DPEHPK3PXP" not in first
    assert sealer.open(first) == sealer.open(second) == "JBSWY3DPEHPK3PXP"


def test_a_value_sealed_under_another_key_is_an_error_not_garbage() -> None:
    sealed = Sealer(Fernet.generate_key().decode()).seal("secret")
    with pytest.raises(SealedFieldError, match="does not open with the data key"):
        Sealer(Fernet.generate_key().decode()).open(sealed)
