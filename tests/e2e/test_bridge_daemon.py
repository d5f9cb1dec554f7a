"""The daemon on a Linux box reaching its terminal through the bridge, as a VPS install does:
``forexbot bridge-server`` (here serving the simulator) in one process, ``forexbot run`` with
``terminal.backend: bridge`` in another. Killing the bridge makes the daemon unhealthy; once
the bridge is back the daemon reconnects by itself and quotes flow again.

The bridge's simulator runs on the wall clock, so at weekends only the synthetic indices tick:
the watchlist has one ticking every second (the Step Index) besides the Volatility 75 Index
(every 2 s), so the quotes come within a second or two whatever the day."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp
import pytest
from daemon_kit import Seeds, free_port, login
from polling import eventually

pytestmark = pytest.mark.e2e

WATCHLIST = ("EURUSD", "Volatility 75 Index", "Step Index")


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-5000:]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOREXBOT_")}
    env.pop("DATABASE_URL", None)
    env.pop("NOTIFY_SOCKET", None)
    env["FOREXBOT_LOGGING__FORMAT"] = "json"
    env.update(extra)
    return env


async def _start_bridge(port: int, state: Path, log: Path) -> asyncio.subprocess.Process:
    with log.open("ab") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "forexbot", "bridge-server",
            "--module", "forexbot.connectors.mt5sim", "--port", str(port),
            "--sim-state", str(state),
            stdout=out, stderr=asyncio.subprocess.STDOUT,
            env=_env(FOREXBOT_SIM_SEED="99", FOREXBOT_BRIDGE_SECRET="s" * 40),
        )  # fmt: skip

    async def listening() -> bool:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            return False
        writer.close()
        return True

    await eventually(
        listening,
        timeout=30,
        what="the bridge server to listen",
        interval=0.1,
        detail=lambda: _tail(log),
    )
    return process


async def _health(http: aiohttp.ClientSession, base: str) -> int:
    try:
        async with http.get(f"{base}/api/health") as resp:
            return resp.status
    except aiohttp.ClientError:
        return 0


async def _wait_health(
    http: aiohttp.ClientSession, base: str, status: int, within: float, log: Path
) -> None:

    async def answers() -> bool:
        return await _health(http, base) == status

    await eventually(
        answers,
        timeout=within,
        what=f"health {status}",
        interval=0.2,
        detail=lambda: _tail(log),
    )


async def _quotes(http: aiohttp.ClientSession, base: str, token: str, n: int) -> list[dict]:
    out = []
    async with http.ws_connect(f"{base}/ws/quotes?token={token}") as ws:
        while len(out) < n:
            out.append(await asyncio.wait_for(ws.receive_json(), 30))
    return out


async def test_daemon_trades_through_the_bridge_and_survives_its_restart(
    workdir: Path, seeds: Seeds
) -> None:
    bridge_port, api_port = free_port(), free_port()
    bridge_log, daemon_log = workdir / "bridge.log", workdir / "daemon.log"
    state = workdir / "sim-account.json"
    data_dir = workdir / "data"
    daemon_env = _env(
        FOREXBOT_TERMINAL__BACKEND="bridge",
        FOREXBOT_TERMINAL__BRIDGE_PORT=str(bridge_port),
        FOREXBOT_TERMINAL__HEALTH_INTERVAL_SECONDS="0.5",
        FOREXBOT_BRIDGE_SECRET="s" * 40,
        FOREXBOT_WATCHLIST=f"[{', '.join(WATCHLIST)}]",
        FOREXBOT_STRATEGY__TIMEFRAME="M1",
    )
    bridge = await _start_bridge(bridge_port, state, bridge_log)
    recovery = await seeds.admin(data_dir, daemon_env)  # the session's copy: no initdb
    with daemon_log.open("ab") as out:
        daemon = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "forexbot", "run", "--api-port", str(api_port),
            "--data-dir", str(data_dir), stdout=out, stderr=asyncio.subprocess.STDOUT,
            env=daemon_env, cwd=workdir,
        )  # fmt: skip
    base = f"http://127.0.0.1:{api_port}"
    try:
        async with aiohttp.ClientSession() as http:
            await _wait_health(http, base, 200, 90, daemon_log)
            token = await login(http, base, recovery)
            quotes = await _quotes(http, base, token, 3)
            assert {q["data"]["symbol"] for q in quotes} <= set(WATCHLIST)

            bridge.send_signal(signal.SIGKILL)
            await bridge.wait()
            await _wait_health(http, base, 503, 20, daemon_log)

            bridge = await _start_bridge(bridge_port, state, bridge_log)
            await _wait_health(http, base, 200, 60, daemon_log)
            headers = {"Authorization": f"Bearer {token}"}
            async with http.get(f"{base}/api/system/status", headers=headers) as resp:
                status = await resp.json()
            assert status["terminal"]["state"] == "connected"
            assert status["terminal"]["reconnects"] >= 1
            assert len(await _quotes(http, base, token, 3)) == 3

        daemon.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(daemon.wait(), 30) == 0, _tail(daemon_log)
    finally:
        for process in (daemon, bridge):
            if process.returncode is None:
                process.kill()
                await process.wait()
