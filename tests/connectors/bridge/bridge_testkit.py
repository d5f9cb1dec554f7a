"""Shared helpers of the bridge tests: a bridge server subprocess serving the simulator.

:class:`BridgeProcess` runs ``python -m forexbot.connectors.bridge.server --module
forexbot.connectors.mt5sim`` with a fixed simulator seed, a port file and a ``--sim-state``
file, so a test can SIGKILL it and start it again on the same port with the same account.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
from pathlib import Path

from polling import eventually_sync

SEED = 424242
HOST = "127.0.0.1"
V75 = "Volatility 75 Index"


def _die_with_parent() -> None:
    """Linux: SIGKILL the server if the test process dies first (no orphans on a crash)."""
    pr_set_pdeathsig = 1
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGKILL)


class BridgeProcess:
    """One bridge server subprocess (restartable on the same port with the same state)."""

    def __init__(
        self,
        workdir: Path,
        *,
        secret: str | None = None,
        module: str = "forexbot.connectors.mt5sim",
        extra_args: tuple[str, ...] = (),
    ) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.state = workdir / "sim-state.json"
        self.port_file = workdir / "port"
        self.log = workdir / "server.log"
        self.secret = secret
        self.module = module
        self.extra_args = extra_args
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, timeout: float = 20.0) -> BridgeProcess:
        """Start the server (on the port it had before, if any) and wait until it listens."""
        assert self.process is None or self.process.poll() is not None, "already running"
        self.port_file.unlink(missing_ok=True)
        env = dict(os.environ, FOREXBOT_SIM_SEED=str(SEED))
        env.pop("FOREXBOT_BRIDGE_SECRET", None)
        if self.secret is not None:
            env["FOREXBOT_BRIDGE_SECRET"] = self.secret
        command = [
            sys.executable,
            "-m",
            "forexbot.connectors.bridge.server",
            "--module",
            self.module,
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--port-file",
            str(self.port_file),
            "--sim-state",
            str(self.state),
            *self.extra_args,
        ]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509
            )
        self.starts += 1
        try:
            self.port = eventually_sync(
                self._written_port,
                timeout=timeout,
                what="the bridge server to listen",
                interval=0.02,
                detail=self._log_tail,
            )
        except AssertionError:
            self.stop()
            raise
        return self

    def _written_port(self) -> int:
        """The port from the port file (0 until written); fails at once if the server died."""
        assert self.process is not None
        text = self.port_file.read_text().strip() if self.port_file.exists() else ""
        if text:
            return int(text)
        assert self.process.poll() is None, f"the bridge server exited:\n{self._log_tail()}"
        return 0

    def _log_tail(self) -> str:
        return self.log.read_text()[-3000:]

    def kill(self) -> None:
        """SIGKILL, like a crash: no shutdown, no goodbye to the clients."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM (graceful), SIGKILL when it does not exit in 5 s."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()
