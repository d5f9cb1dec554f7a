"""``DATABASE_URL`` switches from the embedded PostgreSQL to a real server, migrated on start."""

from __future__ import annotations

import asyncio
from pathlib import Path

from forexbot.daemon.app import provision_database
from forexbot.database.migrate import current_revision, head_revision


async def test_database_url_is_used_and_migrated_without_an_embedded_server(
    empty_database_url: str, tmp_path: Path
) -> None:
    plain = empty_database_url.replace("postgresql+asyncpg://", "postgresql://")
    provisioned = await asyncio.to_thread(provision_database, tmp_path, {"DATABASE_URL": plain})
    try:
        assert provisioned.embedded is None
        assert provisioned.description == "external"
        assert provisioned.url.startswith("postgresql+asyncpg://")
        assert await asyncio.to_thread(current_revision, provisioned.url) == head_revision()
        assert not (tmp_path / "pgdata").exists()
    finally:
        provisioned.stop()
