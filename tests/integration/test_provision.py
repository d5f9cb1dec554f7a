"""``DATABASE_URL`` switches from the embedded PostgreSQL to a real server, migrated on start."""

from __future__ import annotations

from pathlib import Path

from conftest import run_blocking

from forexbot.app import provision_database
from forexbot.database.migrate import current_revision, head_revision


def test_database_url_is_used_and_migrated_without_an_embedded_server(
    empty_database_url: str, tmp_path: Path
) -> None:
    plain = empty_database_url.replace("postgresql+asyncpg://", "postgresql://")
    provisioned = run_blocking(lambda: provision_database(tmp_path, {"DATABASE_URL": plain}))
    try:
        assert provisioned.embedded is None
        assert provisioned.description == "external"
        assert provisioned.url.startswith("postgresql+asyncpg://")
        assert run_blocking(lambda: current_revision(provisioned.url)) == head_revision()
        assert not (tmp_path / "pgdata").exists()
    finally:
        provisioned.stop()
