"""Database backups with pg_dump: whole files, rotated, restorable; and the admin endpoint."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from forexbot.clock import ManualClock
from forexbot.database.backup import Backups, pg_dump_binary
from forexbot.errors import DatabaseError

pytestmark = pytest.mark.db


def listing(path: Path) -> str:
    pg_restore = Path(pg_dump_binary()).with_name("pg_restore")
    return subprocess.run(
        [str(pg_restore), "--list", str(path)], check=True, capture_output=True, text=True
    ).stdout


async def test_a_backup_is_a_restorable_dump_of_the_schema(
    migrated_database_url: str, tmp_path: Path
) -> None:
    backups = Backups(migrated_database_url, tmp_path / "backups", 3, ManualClock(1.8e9))
    made, seconds = await backups.create()
    assert made.path.name == "forexbot-20270115T080000000000Z.dump"
    assert made.size_bytes > 1000
    assert seconds > 0
    contents = listing(made.path)
    for table in ("trades", "users", "market_data", "refresh_tokens"):
        assert f"TABLE public {table} " in contents
    assert not list((tmp_path / "backups").glob("*.partial"))


async def test_only_the_newest_backups_are_kept(migrated_database_url: str, tmp_path: Path) -> None:
    clock = ManualClock(1.8e9)
    backups = Backups(migrated_database_url, tmp_path, 2, clock)
    names = []
    for _ in range(3):
        names.append((await backups.create())[0].path.name)
        clock.advance(60)
    assert [b.path.name for b in backups.list()] == [names[2], names[1]]


async def test_a_failing_pg_dump_is_a_database_error(
    migrated_database_url: str, tmp_path: Path
) -> None:
    url = (
        make_url(migrated_database_url)
        .set(database="no_such_database")
        .render_as_string(hide_password=False)
    )
    with pytest.raises(DatabaseError, match=r"pg_dump failed: .*no_such_database"):
        await Backups(url, tmp_path, 2, ManualClock(1.8e9)).create()
    assert not any(tmp_path.iterdir())  # noqa: ASYNC240 - a test's temporary directory
