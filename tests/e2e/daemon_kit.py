"""Running ``forexbot`` as a user does, for the end-to-end tests: a daemon subprocess, its
environment, a user, a login."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
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
#: The usual cast of a daemon under test: an admin, a trader and a viewer (:class:`Seeds`).
ACCOUNTS = (("ada", "admin"), ("tom", "trader"), ("vic", "viewer"))


def scratch_dir() -> Path:
    """A directory of our own under the system's temporary directory, which the embedded
    PostgreSQL (the ``pgserver`` user, as root) can traverse (see ``conftest.workdir``)."""
    path = Path(tempfile.mkdtemp(prefix="forexbot-e2e-"))
    path.chmod(0o755)
    return path


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
        # Asked every 50 ms (a refused connection until the API listens: ~1 ms of the
        # test's CPU each): at 0.25 s a start waited ~0.12 s on average after the daemon
        # was up, ~45 starts a run.
        async with aiohttp.ClientSession() as http:
            await eventually(
                lambda: self._healthy(http),
                timeout=START_TIMEOUT,
                what="the daemon to be healthy",
                interval=0.05,
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


async def user_create(data_dir: Path, env: dict[str, str], username: str, role: str) -> str:
    """``forexbot user create`` as an operator runs it; what it prints."""
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "forexbot", "user", "create", "--username", username),
        *("--role", role, "--password-stdin", "--data-dir", str(data_dir)),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
    )
    out, _ = await asyncio.wait_for(proc.communicate(PASSWORD.encode() + b"\n"), 120)
    assert proc.returncode == 0, out.decode()
    assert "created" in out.decode()
    return out.decode()


def recovery_codes(printed: str) -> list[str]:
    """The recovery codes ``forexbot user create`` printed for an admin."""
    return re.findall(r"^  ([a-z2-9]{5}-[a-z2-9]{5})$", printed, re.M)


async def create_user(
    data_dir: Path, env: dict[str, str], role: str = "admin", username: str = "trader1"
) -> list[str]:
    """Create ``username``; an admin's recovery codes come back (it signs in with them)."""
    return recovery_codes(await user_create(data_dir, env, username, role))


class Seeds:
    """Data directories with users already in them, made once a session (by ``forexbot user
    create``, as an operator does) and copied for each daemon that starts with those users.

    Why: creating a user starts the embedded PostgreSQL (``initdb`` the first time), migrates
    and stops it, three to four seconds each; a copy of the stopped server's directory (about
    50 MB) takes about a second and holds the same accounts, so each daemon still has a
    database of its own. With ``DATABASE_URL`` in the environment the users live in that
    server, not in the directory, so they are created for each daemon as before.
    """

    def __init__(self, root: Path) -> None:
        self._root = root
        self._made: dict[tuple[tuple[str, str], ...], tuple[Path, list[str]]] = {}

    async def plant(
        self, data_dir: Path, env: dict[str, str], users: Sequence[tuple[str, str]]
    ) -> list[str]:
        """Give ``data_dir`` (not yet there) the ``users`` (username, role) and what
        ``forexbot user create`` printed for each, in order."""
        if "DATABASE_URL" in env:
            return [await user_create(data_dir, env, name, role) for name, role in users]
        key = tuple(users)
        if key not in self._made:
            seed = self._root / secrets.token_hex(4) / "data"
            seed_env = daemon_env(seed)
            printed = [await user_create(seed, seed_env, name, role) for name, role in users]
            self._made[key] = (seed, printed)
        seed, printed = self._made[key]
        copy_tree(seed, data_dir)
        return list(printed)

    async def admin(
        self, data_dir: Path, env: dict[str, str], username: str = "trader1"
    ) -> list[str]:
        """Like :func:`create_user` for an admin: its recovery codes, each copy's own."""
        (printed,) = await self.plant(data_dir, env, [(username, "admin")])
        return recovery_codes(printed)


def copy_tree(source: Path, target: Path) -> None:
    """``cp -a``: as root, the embedded PostgreSQL's files belong to the ``pgserver`` user, and
    the copy must keep their owner and modes (``shutil.copytree`` keeps only the modes)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-a", str(source), str(target)], check=True)


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
