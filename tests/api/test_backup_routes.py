"""POST /api/system/backup and GET /api/system/backups: admins only, audited."""

from __future__ import annotations

from pathlib import Path

import pytest

from forexbot.clock import ManualClock
from forexbot.database.backup import Backups

from ._support import MakeApi

pytestmark = pytest.mark.db


async def test_an_admin_backs_up_the_database(
    make_api: MakeApi, migrated_database_url: str, tmp_path: Path
) -> None:
    api = await make_api(backups=Backups(migrated_database_url, tmp_path, 5, ManualClock(1.8e9)))
    async with api.session.post(api.url("/api/system/backup"), headers=api.auth("admin")) as r:
        body = await r.json()
        assert r.status == 201
    assert body["file"].startswith("forexbot-")
    assert body["size_bytes"] > 0
    async with api.session.get(api.url("/api/system/backups"), headers=api.auth("admin")) as r:
        assert [b["file"] for b in (await r.json())["items"]] == [body["file"]]
    rows = [e for e in await api.system_logs.recent(10) if e.event == "backup_created"]
    assert rows[0].actor == "tester"


@pytest.mark.parametrize("role", ["viewer", "trader"])
async def test_other_roles_may_not_back_up(
    make_api: MakeApi, migrated_database_url: str, tmp_path: Path, role: str
) -> None:
    api = await make_api(backups=Backups(migrated_database_url, tmp_path, 5, ManualClock(1.8e9)))
    async with api.session.post(api.url("/api/system/backup"), headers=api.auth(role)) as r:
        assert r.status == 403
    assert not any(tmp_path.iterdir())  # noqa: ASYNC240 - a test's temporary directory
