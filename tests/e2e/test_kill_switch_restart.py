"""A tripped kill switch survives a restart even when the database lost it: the daemon latches
it on local disk before closing anything, and a latched switch halts whatever the database
says, until an admin resumes."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from daemon_kit import Daemon, create_user, daemon_env, free_port, login
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

pytestmark = pytest.mark.e2e

REASON = "news \u202eRTL\u202c 🚨"


async def risk(base: str, codes: list[str]) -> tuple[dict[str, Any], dict[str, str]]:
    async with aiohttp.ClientSession() as http:
        headers = {"Authorization": f"Bearer {await login(http, base, codes)}"}
        async with http.get(f"{base}/api/risk", headers=headers) as resp:
            assert resp.status == 200
            return await resp.json(), headers


async def forget_the_kill_switch_in_the_database(url: str) -> None:
    """What a failed save leaves behind: the database's state says trading is on."""
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            changed = await conn.execute(
                text(
                    "UPDATE system_config SET value = jsonb_set(value, '{kill_switch}', 'false') "
                    "WHERE key = 'risk.state'"
                )
            )
            assert changed.rowcount == 1
    finally:
        await engine.dispose()


async def test_a_kill_switch_the_database_lost_still_halts_after_a_restart(
    workdir: Path, empty_database_url: str
) -> None:
    data_dir = workdir / "data"
    env = daemon_env(data_dir, DATABASE_URL=empty_database_url)
    codes = await create_user(data_dir, env, role="admin")
    daemon = Daemon(data_dir, free_port(), workdir / "daemon.log", env)
    try:
        await daemon.start()
        _, headers = await risk(daemon.base, codes)
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"{daemon.base}/api/risk/kill-switch", json={"reason": REASON}, headers=headers
            ) as resp,
        ):
            assert resp.status == 200, await resp.text()
        assert (data_dir / "kill_switch.json").exists()
        code, _ = await daemon.terminate()
        assert code == 0

        await forget_the_kill_switch_in_the_database(empty_database_url)
        await daemon.start()
        state, headers = await risk(daemon.base, codes)
        assert state["kill_switch"]["active"] is True
        assert state["kill_switch"]["reason"] == REASON
        assert state["blocked"] == "kill_switch"
        assert "the kill switch was latched when the daemon stopped" in daemon.log()

        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{daemon.base}/api/risk/resume", headers=headers) as resp,
        ):
            assert resp.status == 200, await resp.text()
        assert not (data_dir / "kill_switch.json").exists()
        code, _ = await daemon.terminate()
        assert code == 0

        await daemon.start()
        state, _ = await risk(daemon.base, codes)
        assert state["kill_switch"]["active"] is False
        code, _ = await asyncio.wait_for(daemon.terminate(), 60)
        assert code == 0
    finally:
        daemon.kill()
