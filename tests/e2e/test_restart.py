"""End to end: ``POST /api/system/restart`` on a ``forexbot run`` subprocess.

Under systemd (simulated with ``INVOCATION_ID``) the daemon stops gracefully and exits with
status 75, which ``systemd/forexbot.service`` restarts on. Outside systemd it re-executes
itself after the clean stop: the same process comes back on the same port, healthy, with the
settings changed at run time still in force.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest
from daemon_kit import Daemon, Seeds, daemon_env, free_port, login
from polling import eventually

from forexbot.daemon.restart import EXIT_RESTART

pytestmark = pytest.mark.e2e

BACK_TIMEOUT = 60.0


def _systemd_unit() -> str:
    return (Path(__file__).parents[2] / "systemd" / "forexbot.service").read_text()


def _full_log(daemon: Daemon) -> str:
    return daemon.log_path.read_text(errors="replace")


async def _restart(http: aiohttp.ClientSession, base: str, headers: dict[str, str]) -> dict:
    async with http.post(f"{base}/api/system/restart", headers=headers) as resp:
        assert resp.status == 202, await resp.text()
        body: dict = await resp.json()
    return body


async def test_under_systemd_a_restart_exits_with_the_status_the_unit_restarts_on(
    workdir: Path, seeds: Seeds
) -> None:
    unit = _systemd_unit()
    assert f"RestartForceExitStatus={EXIT_RESTART}" in unit
    assert f"SuccessExitStatus={EXIT_RESTART}" in unit

    data_dir = workdir / "data"
    env = daemon_env(data_dir, INVOCATION_ID="0123456789abcdef0123456789abcdef")
    codes = await seeds.admin(data_dir, env)
    daemon = Daemon(data_dir, free_port(), workdir / "daemon.log", env)
    try:
        await daemon.start()
        async with aiohttp.ClientSession() as http:
            headers = {"Authorization": f"Bearer {await login(http, daemon.base, codes)}"}
            body = await _restart(http, daemon.base, headers)
        assert body == {"status": "restarting", "mode": "systemd", "exit_code": EXIT_RESTART}
        assert daemon.process is not None
        code = await asyncio.wait_for(daemon.process.wait(), 30)
        log = _full_log(daemon)
        assert code == EXIT_RESTART, daemon.log()
        assert "restart requested" in log
        assert '"event":"stopping"' in log  # the graceful path, as on SIGTERM
        assert '"event":"stopped"' in log
        assert "systemd starts the daemon again" in log
    finally:
        daemon.kill()


async def test_outside_systemd_the_daemon_comes_back_on_the_same_port(
    workdir: Path, seeds: Seeds
) -> None:
    data_dir = workdir / "data"
    env = daemon_env(data_dir)
    env.pop("INVOCATION_ID", None)
    codes = await seeds.admin(data_dir, env)
    daemon = Daemon(data_dir, free_port(), workdir / "daemon.log", env)
    try:
        await daemon.start()
        assert daemon.process is not None
        pid = daemon.process.pid
        async with aiohttp.ClientSession() as http:
            headers = {"Authorization": f"Bearer {await login(http, daemon.base, codes)}"}
            url = f"{daemon.base}/api/system/settings"
            changes = {"execution": {"max_retries": 6}}
            async with http.put(url, json=changes, headers=headers) as resp:
                assert resp.status == 200, await resp.text()
            body = await _restart(http, daemon.base, headers)
            assert body == {"status": "restarting", "mode": "exec", "exit_code": None}

            # Back: the log shows a second start, and the API answers on the same port.

            def started_twice() -> bool:
                assert daemon.process is not None
                assert daemon.process.returncode is None, daemon.log()
                return _full_log(daemon).count("forexbot ready") >= 2

            await eventually(
                started_twice,
                timeout=BACK_TIMEOUT,
                what="a second start in the log",
                interval=0.2,
                detail=daemon.log,
            )
            async with http.get(f"{daemon.base}/api/health") as resp:
                assert resp.status == 200, daemon.log()
            assert daemon.process.pid == pid  # the same process, re-executed
            assert "stopped for a restart; starting again" in _full_log(daemon)

            # The signing key is kept in the data directory: the token still works, and the
            # setting changed before the restart is still in force.
            async with http.get(url, headers=headers) as resp:
                assert resp.status == 200
                settings = await resp.json()
            assert settings["overridden"] == {"execution.max_retries": 6}
            assert settings["settings"]["execution"]["max_retries"] == 6

        code, _ = await daemon.terminate()
        assert code == 0, daemon.log()  # a plain SIGTERM still stops it for good
    finally:
        daemon.kill()
