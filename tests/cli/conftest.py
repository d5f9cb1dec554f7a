"""Fixtures of the command-line tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest


@pytest.fixture
def users_database(
    migrated_database_url: str, monkeypatch: pytest.MonkeyPatch, autocommit: Callable[..., None]
) -> str:
    """``DATABASE_URL`` set to a migrated database without users, as ``forexbot user`` uses."""
    autocommit(migrated_database_url, "TRUNCATE users CASCADE")
    monkeypatch.setenv("DATABASE_URL", migrated_database_url)
    return migrated_database_url
