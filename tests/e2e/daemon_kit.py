"""Running ``forexbot`` as a user does, for the end-to-end tests: a daemon subprocess, its
environment, a user, a login."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import aiohttp
import pytest
from polling import eventually

PASSWORD = "correct horse battery staple"
START_TIMEOUT = 90.0
#: Where the simulated market of every daemon under test starts: a Monday morning in London,
#: so forex ticks whatever the day the suite runs. At 600x the trading week lasts about
#: eleven minutes of real time; the longest-lived daemon (the API contract module's) runs
#: under two. A daemon meant to live longer must start later in the week or run slower.
SIM_START = "2026-11-23T08:00:00Z"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def daemon_env(data_dir: Path, notify_socket: Path | None = None, **extra: str) -> dict[str, str]:
    """The environment of a daemon on ``data_dir``: no inherited ``FOREXBOT_*`` settings, M1
    bars, JSON logs, the simulated market from :data:`SIM_START`, the embedded PostgreSQL
    (unless told to use the test server)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOREXBOT_")}
    env.pop("NOTIFY_SOCKET", None)
    env["FOREXBOT_DATA_DIR"] = str(data_dir)
    # M1 bars close every 0.1 s at 600x: signals come within a minute or two.
    env["FOREXBOT_STRATEGY__TIMEFRAME"] = "M1"
    env["FOREXBOT_LOGGING__FORMAT"] = "json"
    env["FOREXBOT_TERMINAL__SIM_START"] = SIM_START
    test_db = os.environ.get("FOREXBOT_TEST_DATABASE_URL")
    if test_db and os.environ.get("FOREXBOT_E2E_USE_TEST_DATABASE"):
        env["DATABASE_URL"] = test_db
    else:
        env.pop("DATABASE_URL", None)
    if notify_socket is not None:
        env["NOTIFY_SOCKET"] = str(notify_socket)
        env["WATCHDOG_USEC"] = "1000000"
    env.update(extra)
    return env


class Daemon:
    """A ``forexbot run`` subprocess and its log file."""

    def __init__(
        self,
        data_dir: Path,
        port: int,
        log_path: Path,
        env: dict[str, str],
        args: Sequence[str] = ("--sim-speed", "600"),
    ) -> None:
        self.data_dir = data_dir
        self.port = port
        self.log_path = log_path
        self.env = env
        self.args = list(args)
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
            *self.args,
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
        async with aiohttp.ClientSession() as http:
            await eventually(
                lambda: self._healthy(http),
                timeout=START_TIMEOUT,
                what="the daemon to be healthy",
                interval=0.25,
                detail=self.log,
            )

    async def _healthy(self, http: aiohttp.ClientSession) -> bool:
        """Whether ``/api/health`` answers 200; fails at once if the daemon has exited."""
        assert self.process is not None
        if self.process.returncode is not None:
            pytest.fail(f"daemon exited with {self.process.returncode}:\n{self.log()}")
        try:
            async with http.get(f"{self.base}/api/health") as resp:
                return resp.status == 200
        except aiohttp.ClientError:
            return False

    async def terminate(self) -> tuple[int, float]:
        assert self.process is not None
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(self.process.wait(), 30)
        return code, time.monotonic() - started

    async def sigkill(self) -> int:
        """Kill the daemon at once, as a power cut or the OOM killer would."""
        assert self.process is not None
        self.process.kill()
        return await asyncio.wait_for(self.process.wait(), 30)

    def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]


async def create_user(
    data_dir: Path, env: dict[str, str], role: str = "admin", username: str = "trader1"
) -> list[str]:
    """Create ``username``; an admin's recovery codes come back (it signs in with them)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "forexbot",
        "user",
        "create",
        "--username",
        username,
        "--role",
        role,
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
    return re.findall(r"^  ([a-z2-9]{5}-[a-z2-9]{5})$", out.decode(), re.M)


async def login(
    http: aiohttp.ClientSession,
    base: str,
    codes: list[str] | None = None,
    username: str = "trader1",
) -> str:
    """Sign in as ``username``; with ``codes`` (an admin's recovery codes) one is spent."""
    body = {"username": username, "password": PASSWORD}
    if codes:
        body["recovery_code"] = codes.pop(0)
    async with http.post(f"{base}/api/auth/login", json=body) as resp:
        assert resp.status == 200, await resp.text()
        body = await resp.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] > 0
    return str(body["access_token"])
