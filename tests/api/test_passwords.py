"""Argon2 password hashing."""

from __future__ import annotations

from argon2 import PasswordHasher

from forexbot.api.passwords import hash_password, needs_rehash, verify_password


def test_hash_is_argon2id_with_a_fresh_salt_each_time() -> None:
    first = hash_password("correct horse")
    second = hash_password("correct horse")
    assert first.startswith("$argon2id$")
    assert first != second


def test_verify_accepts_the_right_password_and_refuses_a_wrong_one() -> None:
    stored = hash_password("correct horse")
    assert verify_password(stored, "correct horse") is True
    assert verify_password(stored, "correct horsE") is False


def test_verify_returns_false_for_a_malformed_hash_instead_of_raising() -> None:
    assert verify_password("not-a-hash", "anything") is False
    assert verify_password("", "anything") is False


def test_needs_rehash_only_for_hashes_made_with_other_parameters() -> None:
    assert needs_rehash(hash_password("pw")) is False
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash("pw")
    assert needs_rehash(weak) is True
    assert needs_rehash("garbage") is True
