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
    data_dir: Path, port: int, env: dict[str, str], timeout: float = 60.0
) -> tuple[int, str, str]:
    """``forexbot run`` that is expected to refuse: its exit code, stderr and stdout (log)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "forexbot", "run", "--sim-speed", "600",
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


def assert_refused_before_trading(stderr: str, log: str) -> None:
    assert "Traceback" not in stderr + log
    assert len(stderr.strip().splitlines()) == 1, stderr
    for step in TRADING_STEPS:
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
        assert stderr.startswith("forexbot: account -:-:magic 2026001 is already traded by")
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
