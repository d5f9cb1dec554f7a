"""End to end: the daemon as a user runs it, driven over HTTP and WebSocket like a client.

One scenario, in the order a trader lives it: create a user, start ``forexbot run`` in paper
mode on an accelerated simulated market, watch quotes stream, see the bot trade, stop it with
SIGTERM (exit 0, systemd told STOPPING), start it again and find the same trades.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery staple"
STRATEGY_ID = "ma_rsi:EURUSD:M1"
START_TIMEOUT = 90.0
TRADE_TIMEOUT = 240.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _daemon_env(data_dir: Path, notify_socket: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOREXBOT_")}
    env.pop("NOTIFY_SOCKET", None)
    env["FOREXBOT_DATA_DIR"] = str(data_dir)
    # M1 bars close every 0.1 s at 600x: signals come within a minute or two.
    env["FOREXBOT_STRATEGY__TIMEFRAME"] = "M1"
    env["FOREXBOT_LOGGING__FORMAT"] = "json"
    test_db = os.environ.get("FOREXBOT_TEST_DATABASE_URL")
    if test_db and os.environ.get("FOREXBOT_E2E_USE_TEST_DATABASE"):
        env["DATABASE_URL"] = test_db
    else:
        env.pop("DATABASE_URL", None)
    if notify_socket is not None:
        env["NOTIFY_SOCKET"] = str(notify_socket)
        env["WATCHDOG_USEC"] = "1000000"
    return env


class Daemon:
    """A ``forexbot run`` subprocess and its log file."""

    def __init__(self, data_dir: Path, port: int, log_path: Path, env: dict[str, str]) -> None:
        self.data_dir = data_dir
        self.port = port
        self.log_path = log_path
        self.env = env
        self.process: asyncio.subprocess.Process | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "forexbot",
            "run",
            "--sim-speed",
            "600",
            "--api-port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
            env=self.env,
            cwd=self.data_dir.parent,  # no config/ here: built-in defaults plus the env
        )
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                if self.process.returncode is not None:
                    pytest.fail(f"daemon exited with {self.process.returncode}:\n{self.log()}")
                try:
                    async with http.get(f"{self.base}/api/health") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.25)
        pytest.fail(f"daemon not healthy after {START_TIMEOUT} s:\n{self.log()}")

    async def terminate(self) -> tuple[int, float]:
        assert self.process is not None
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(self.process.wait(), 30)
        return code, time.monotonic() - started

    def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]


async def _create_user(data_dir: Path, env: dict[str, str]) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "forexbot",
        "user",
        "create",
        "--username",
        "trader1",
        "--role",
        "admin",
        "--password-stdin",
        "--data-dir",
        str(data_dir),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
    )
    out, _ = await asyncio.wait_for(proc.communicate(PASSWORD.encode() + b"\n"), 120)
    assert proc.returncode == 0, out.decode()
    assert "created" in out.decode()


async def _login(http: aiohttp.ClientSession, base: str) -> str:
    async with http.post(
        f"{base}/api/auth/login", json={"username": "trader1", "password": PASSWORD}
    ) as resp:
        assert resp.status == 200, await resp.text()
        body = await resp.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] > 0
    return str(body["access_token"])


async def _quotes(http: aiohttp.ClientSession, base: str, token: str, n: int) -> list[Any]:
    messages = []
    async with http.ws_connect(f"{base}/ws/quotes?token={token}") as ws:
        while len(messages) < n:
            msg = await asyncio.wait_for(ws.receive_json(), 30)
            messages.append(msg)
    return messages


async def _wait_for_trades(
    http: aiohttp.ClientSession, base: str, token: str, daemon: Daemon
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + TRADE_TIMEOUT
    while time.monotonic() < deadline:
        async with http.get(f"{base}/api/trades?limit=500", headers=headers) as resp:
            assert resp.status == 200
            body: dict[str, Any] = await resp.json()
        if body["total"] >= 1 and any(t["status"] in ("open", "closed") for t in body["items"]):
            return body
        await asyncio.sleep(1)
    pytest.fail(f"no trade within {TRADE_TIMEOUT} s:\n{daemon.log()}")


def _bind_notify_socket(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.setblocking(False)
    return sock


async def _listen(sock: socket.socket, messages: list[str]) -> None:
    """Read sd_notify datagrams as systemd would, for as long as the daemon runs."""
    loop = asyncio.get_running_loop()
    while True:
        data = await loop.sock_recv(sock, 4096)
        messages.append(data.decode())


@pytest.fixture
def workdir() -> Iterator[Path]:
    """A scratch directory outside pytest's ``tmp_path``: as root, the embedded PostgreSQL runs
    as the ``pgserver`` user, and pytest resets ``/tmp/pytest-of-<user>`` to mode 0700 whenever
    another session starts, which would lock the server out of its own files."""
    path = Path(tempfile.mkdtemp(prefix="forexbot-e2e-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


async def test_paper_trading_end_to_end(workdir: Path) -> None:
    data_dir = workdir / "data"
    notify_path = workdir / "notify.sock"
    notify = _bind_notify_socket(notify_path)
    sent: list[str] = []
    listener = asyncio.create_task(_listen(notify, sent))
    env = _daemon_env(data_dir, notify_path)
    await _create_user(data_dir, env)

    daemon = Daemon(data_dir, _free_port(), workdir / "daemon.log", env)
    try:
        await daemon.start()
        async with aiohttp.ClientSession() as http:
            base = daemon.base
            async with http.get(f"{base}/api/trades") as resp:
                assert resp.status == 401
                error = (await resp.json())["error"]
                assert error["code"] == "unauthenticated"
                assert error["message"]
            async with http.get(f"{base}/api/positions") as resp:
                assert resp.status == 401

            token = await _login(http, base)
            quotes = await _quotes(http, base, token, 5)
            for message in quotes:
                assert message["channel"] == "quotes"
                assert set(message["data"]) == {"symbol", "bid", "ask", "time"}
                assert message["data"]["ask"] >= message["data"]["bid"] > 0

            before = await _wait_for_trades(http, base, token, daemon)
            headers = {"Authorization": f"Bearer {token}"}
            async with http.get(f"{base}/api/system/status", headers=headers) as resp:
                assert resp.status == 200
                status = await resp.json()
            assert status["terminal"]["state"] == "connected"
            async with http.get(f"{base}/metrics") as resp:  # public, for Prometheus
                assert resp.status == 200
                exposition = await resp.text()
            ticks_line = next(
                line for line in exposition.splitlines() if line.startswith("forexbot_ticks_total")
            )
            assert float(ticks_line.split()[-1]) > 0

            # Strategies steered at run time: a bad parameter changes nothing, a toggle sticks.
            url = f"{base}/api/strategies/{quote(STRATEGY_ID)}"
            async with http.put(url, json={"params": {"fast_period": 80}}, headers=headers) as r:
                assert r.status == 422
            async with http.get(url, headers=headers) as resp:
                assert (await resp.json())["params"]["fast_period"] == 20
            async with http.put(f"{url}/toggle", headers=headers) as resp:
                assert resp.status == 200
                assert (await resp.json())["enabled"] is False

        await asyncio.sleep(1.5)  # at least one watchdog period
        code, took = await daemon.terminate()
        assert code == 0, daemon.log()
        assert took < 10.0
        await asyncio.sleep(0.1)
        assert any("READY=1" in m for m in sent)
        assert "WATCHDOG=1" in sent
        assert "STOPPING=1" in sent

        # Restart: the same trades are there.
        daemon.env.pop("NOTIFY_SOCKET")
        await daemon.start()
        async with aiohttp.ClientSession() as http:
            token = await _login(http, daemon.base)
            headers = {"Authorization": f"Bearer {token}"}
            async with http.get(f"{daemon.base}/api/trades?limit=500", headers=headers) as resp:
                after = await resp.json()
            url = f"{daemon.base}/api/strategies/{quote(STRATEGY_ID)}"
            async with http.get(url, headers=headers) as resp:
                assert (await resp.json())["enabled"] is False  # the stored change won
        ids_before = {t["id"]: t["client_order_id"] for t in before["items"]}
        ids_after = {t["id"]: t["client_order_id"] for t in after["items"]}
        assert ids_before.items() <= ids_after.items()
        code, _ = await daemon.terminate()
        assert code == 0, daemon.log()
    except BaseException:
        print(f"daemon log (tail):\n{daemon.log()}")
        raise
    finally:
        listener.cancel()
        daemon.kill()
        notify.close()
