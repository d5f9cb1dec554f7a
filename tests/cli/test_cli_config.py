"""``forexbot config reset-overrides``: the way back from a run-time setting gone wrong."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from forexbot.cli.main import main
from forexbot.daemon.system_settings import SETTINGS_KEY
from forexbot.database.engine import Database
from forexbot.database.system_config import SystemConfigRepository

pytestmark = pytest.mark.db


@pytest.fixture
def database(
    migrated_database_url: str, monkeypatch: pytest.MonkeyPatch, autocommit: Callable[..., None]
) -> str:
    autocommit(migrated_database_url, "TRUNCATE system_config")
    monkeypatch.setenv("DATABASE_URL", migrated_database_url)
    return migrated_database_url


async def _stored(url: str, value: dict[str, object] | None = None) -> object:
    database = Database(url)
    await database.connect()
    try:
        store = SystemConfigRepository(database.engine)
        if value is not None:
            await store.put(SETTINGS_KEY, value, updated_by="test")
        return await store.get(SETTINGS_KEY)
    finally:
        await database.close()


def test_reset_overrides_forgets_the_stored_settings_and_says_which(
    database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(_stored(database, {"api": {"ip_burst": 10}, "logging": {"level": "DEBUG"}}))
    assert main(["config", "reset-overrides", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "forgot api.ip_burst = 10" in out
    assert "forgot logging.level = 'DEBUG'" in out
    assert asyncio.run(_stored(database)) == {}


def test_reset_overrides_with_nothing_stored_says_so(
    database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["config", "reset-overrides", "--data-dir", str(tmp_path)]) == 0
    assert "no setting was overridden" in capsys.readouterr().out
