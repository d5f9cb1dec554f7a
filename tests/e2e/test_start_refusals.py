"""What refuses ``forexbot run`` does so before anything can trade, in one line, with its own
exit code: a second daemon on a data directory (3), a second daemon on an account through a
shared PostgreSQL (3), an API port already taken (4). A SIGKILLed daemon blocks nobody."""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path

import pytest
from daemon_kit import Daemon, daemon_env, free_port
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from forexbot.database.trading_locks import AdvisoryLock, database_lock_name

pytestmark = pytest.mark.e2e

EXIT_IN_USE, EXIT_LISTEN = 3, 4
#: Log events that mean the refused daemon got as far as the market.
TRADING_STEPS = (
    '"server time offset learned"',
    '"strategy warmed up"',
    '"forexbot ready"',
    '"reconciled with the terminal at start"',
)


async def run_to_exit(
    data_dir: Path,
    port: int,
    env: dict[str, str],
    timeout: float = 60.0,
    args: tuple[str, ...] = ("--sim-speed", "600"),
) -> tuple[int, str, str]:
    """``forexbot run`` that is expected to refuse: its exit code, stderr and stdout (log)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "forexbot", "run", *args,
        "--api-port", str(port), "--data-dir", str(data_dir),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=env, cwd=data_dir.parent,
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        pytest.fail("the second daemon did not refuse to start")
    assert process.returncode is not None
    return process.returncode, err.decode(), out.decode()


def assert_refused_before_trading(stderr: str, log: str, *, connected: bool = False) -> None:
    """One line, no traceback, and nothing past the terminal connection (not even that,
    unless the refusal needs to know the terminal's account)."""
    assert "Traceback" not in stderr + log
    assert len(stderr.strip().splitlines()) == 1, stderr
    for step in TRADING_STEPS[1:] if connected else TRADING_STEPS:
        assert step not in log, f"{step!r} happened before the refusal:\n{log[-3000:]}"


async def test_a_second_daemon_on_the_same_data_directory_exits_3(workdir: Path) -> None:
    data_dir = workdir / "data"
    env = daemon_env(data_dir)
    first = Daemon(data_dir, free_port(), workdir / "first.log", env)
    try:
        await first.start()
        code, stderr, log = await run_to_exit(data_dir, free_port(), env)
        assert code == EXIT_IN_USE
        assert stderr.startswith(f"forexbot: the data directory {data_dir} is in use by another")
        assert f"(pid {first.process.pid if first.process else '?'})" in stderr
        assert_refused_before_trading(stderr, log)
        code, _ = await first.terminate()
        assert code == 0  # the first one never noticed
    finally:
        first.kill()


async def test_a_second_daemon_on_the_same_account_through_one_database_exits_3(
    workdir: Path, empty_database_url: str
) -> None:
    """Other data directory, other port, same PostgreSQL database: still one account."""
    shared = {"DATABASE_URL": empty_database_url}
    first_dir, second_dir = workdir / "first", workdir / "second"
    first = Daemon(first_dir, free_port(), workdir / "first.log", daemon_env(first_dir, **shared))
    try:
        await first.start()
        code, stderr, log = await run_to_exit(
            second_dir, free_port(), daemon_env(second_dir, **shared)
        )
        assert code == EXIT_IN_USE
        assert stderr.startswith("forexbot: the trade book of magic 2026001 is in use by")
        assert "forexbot pid " in stderr
        assert_refused_before_trading(stderr, log)

        # A SIGKILLed holder releases the account at once: the second daemon starts now.
        await first.sigkill()
        second = Daemon(
            second_dir, free_port(), workdir / "second.log", daemon_env(second_dir, **shared)
        )
        try:
            await second.start()
            code, _ = await second.terminate()
            assert code == 0
        finally:
            second.kill()
    finally:
        first.kill()


async def test_an_api_port_already_taken_exits_4_before_the_terminal_is_touched(
    workdir: Path,
) -> None:
    data_dir = workdir / "data"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, stderr, log = await run_to_exit(data_dir, port, daemon_env(data_dir))
    assert code == EXIT_LISTEN
    assert stderr.strip() == (
        f"forexbot: the API cannot listen on 127.0.0.1:{port}: Address already in use; "
        "another program (or another forexbot) listens there: stop it or set api.port"
    )
    assert_refused_before_trading(stderr, log)
    assert '"starting"' not in log  # refused before the database was even started


async def test_a_tls_certificate_that_cannot_be_loaded_exits_2_before_the_terminal_is_touched(
    workdir: Path,
) -> None:
    data_dir = workdir / "data"
    missing = workdir / "missing.pem"
    env = daemon_env(
        data_dir, FOREXBOT_API__TLS_CERTIFICATE=str(missing), FOREXBOT_API__TLS_KEY=str(missing)
    )
    code, stderr, log = await run_to_exit(data_dir, free_port(), env)
    assert code == 2
    assert stderr.startswith(f"forexbot: cannot load the TLS certificate {missing}: ")
    assert_refused_before_trading(stderr, log)


async def test_a_second_daemon_on_the_same_real_account_through_another_database_exits_3(
    workdir: Path, empty_database_url: str, migrated_database_url: str
) -> None:
    """Two databases of one PostgreSQL server, one MetaTrader account (a bridge serving one
    terminal): the account lock spans the server, so the second daemon is refused once its
    terminal says which account it is — before any reconciliation or strategy."""
    bridge_port = free_port()
    bridge_env = {k: v for k, v in daemon_env(workdir).items() if k != "DATABASE_URL"}
    bridge_env["FOREXBOT_BRIDGE_SECRET"] = "s" * 40
    bridge = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "forexbot", "bridge-server",
        "--module", "forexbot.connectors.mt5sim", "--port", str(bridge_port),
        "--sim-state", str(workdir / "account.json"),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL, env=bridge_env,
    )  # fmt: skip
    terminal = {
        "FOREXBOT_TERMINAL__BACKEND": "bridge",
        "FOREXBOT_TERMINAL__BRIDGE_PORT": str(bridge_port),
        "FOREXBOT_BRIDGE_SECRET": "s" * 40,
        "FOREXBOT_WATCHLIST": "[Volatility 75 Index]",
    }
    first_dir, second_dir = workdir / "first", workdir / "second"
    first_env = daemon_env(first_dir, DATABASE_URL=empty_database_url, **terminal)
    second_env = daemon_env(second_dir, DATABASE_URL=migrated_database_url, **terminal)
    for env in (first_env, second_env):
        env.pop("FOREXBOT_TERMINAL__SIM_START")  # a bridge's terminal runs on the wall clock
    first = Daemon(first_dir, free_port(), workdir / "first.log", first_env, args=())
    try:
        await first.start()
        code, stderr, log = await run_to_exit(second_dir, free_port(), second_env, args=())
        assert code == EXIT_IN_USE, stderr + log[-3000:]
        assert stderr.startswith("forexbot: account 5000001 on ")
        assert "(magic 2026001) is in use by another forexbot (forexbot pid " in stderr
        assert_refused_before_trading(stderr, log, connected=True)
        code, _ = await first.terminate()
        assert code == 0
    finally:
        first.kill()
        bridge.kill()
        await bridge.wait()


async def test_a_daemon_whose_lock_is_taken_over_stops_trading_with_exit_3(
    workdir: Path, empty_database_url: str
) -> None:
    """The database dropped the daemon's lock connection and another daemon took the lock
    meanwhile: the running one finds out at its next check and stops, exit 3."""
    data_dir = workdir / "data"
    daemon = Daemon(
        data_dir,
        free_port(),
        workdir / "daemon.log",
        daemon_env(data_dir, DATABASE_URL=empty_database_url),
    )
    intruder = AdvisoryLock(empty_database_url, database_lock_name(2_026_001))
    try:
        await daemon.start()
        engine = create_async_engine(empty_database_url, poolclass=NullPool)
        try:
            async with engine.connect() as conn:
                await conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE application_name LIKE 'forexbot pid %'"
                    )
                )
        finally:
            await engine.dispose()
        await intruder.acquire()
        assert daemon.process is not None
        code = await asyncio.wait_for(daemon.process.wait(), 60)
        assert code == EXIT_IN_USE, daemon.log()
        log = daemon.log()
        assert "a trading lock was lost to another daemon" in log
        assert "forexbot: another daemon took over this one's trading lock: stopped" in log
        assert '"event":"stopping"' in log  # the graceful stop, orders in flight settled
    finally:
        await intruder.release()
        daemon.kill()
