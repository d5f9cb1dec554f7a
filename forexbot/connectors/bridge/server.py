"""``forexbot bridge-server``: serve a ``MetaTrader5``-compatible module to Linux over rpyc.

Run it where the terminal is: Python under Wine (or on Windows) with the ``MetaTrader5``
package installed, next to a running MetaTrader 5 terminal::

    FOREXBOT_BRIDGE_SECRET=... python -m forexbot.connectors.bridge.server --port 18812

The daemon then uses ``terminal.backend: bridge`` with the same host, port and secret.
``--module forexbot.connectors.mt5sim`` serves the simulator instead (tests, demos; add
``--sim-state PATH`` so the paper account survives restarts of the server).

Rules (see :mod:`.service` for the rpyc side):

* binds to 127.0.0.1:18812 by default (rpyc's and mt5linux's default port);
* the shared secret comes from the environment (``FOREXBOT_BRIDGE_SECRET``), never from the
  command line, which every user of the machine can read in ``ps``;
* binding to a non-loopback address without a secret is refused, unless explicitly forced
  (``allow_remote_without_secret`` / ``--allow-remote-without-secret``), with a warning; with a
  secret it is allowed with a reminder that the traffic itself is not encrypted.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import ipaddress
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import structlog
from rpyc.utils.helpers import classpartial
from rpyc.utils.server import ThreadedServer

from forexbot.errors import ConfigError, ForexbotError
from forexbot.logs import configure_logging

from .service import SERVER_CONFIG, Backend, BridgeService

_log = structlog.get_logger("forexbot.bridge.server")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 18812
SECRET_ENV = "FOREXBOT_BRIDGE_SECRET"
_MIN_SECRET_LENGTH = 16
_RPYC_LOGGER = "forexbot.bridge.rpyc"
_SIM_DEFAULT_SEED = 20240101  # mt5sim's DEFAULT_SEED, should the module not say


class _ThreadedServer(ThreadedServer):  # type: ignore[misc]
    """rpyc's ThreadedServer with TCP_NODELAY, quiet client endings and a listening hook."""

    on_listening: Callable[[int], None] | None = None

    def _accept_method(self, sock: socket.socket) -> None:
        # Small request/reply messages: without TCP_NODELAY, Nagle's algorithm and delayed
        # ACKs add ~40 ms to every call.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super()._accept_method(sock)

    def _serve_client(self, sock: socket.socket, credentials: Any) -> None:
        # A client vanishing mid-message, or close() dropping live connections, is routine
        # here: log it instead of letting the thread die with a traceback.
        try:
            super()._serve_client(sock, credentials)
        except Exception as exc:
            if self.active:
                _log.info("bridge client connection ended abruptly", error=repr(exc))

    def _listen(self) -> None:
        was_active = self.active
        super()._listen()
        if not was_active and self.on_listening is not None:
            self.on_listening(int(self.port))


class BridgeServer:
    """A bound (not yet serving) bridge server; :meth:`serve_forever` blocks, :meth:`close`
    (from any thread or a signal handler) stops it."""

    def __init__(
        self,
        module: Any,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        secret: str | None = None,
        *,
        allow_remote_without_secret: bool = False,
    ) -> None:
        _check_exposure(host, secret, allow_remote_without_secret)
        self._backend = Backend(module, secret)
        missing = sorted({"initialize", "last_error"} - set(self._backend.functions))
        if missing:
            raise ConfigError(f"the served module lacks MetaTrader5 functions: {missing}")
        self._ready: Callable[[int], None] | None = None
        rpyc_logger = logging.getLogger(_RPYC_LOGGER)
        self._server = _ThreadedServer(
            classpartial(BridgeService, self._backend),
            hostname=host,
            port=port,
            ipv6=":" in host,
            protocol_config=dict(SERVER_CONFIG),
            logger=rpyc_logger,
            listener_timeout=0.5,
        )
        self._server.on_listening = self._on_listening
        self.host = host

    @property
    def port(self) -> int:
        """The bound TCP port (the real one when 0 was asked for)."""
        return int(self._server.port)

    @property
    def calls(self) -> int:
        """Module calls served so far."""
        return self._backend.calls

    def serve_forever(self, ready: Callable[[int], None] | None = None) -> None:
        """Accept connections until :meth:`close`; ``ready(port)`` runs once listening."""
        self._ready = ready
        try:
            self._server.start()
        finally:
            self._shutdown_module()
            _log.info("bridge server stopped", calls=self._backend.calls)

    def close(self) -> None:
        """Stop accepting and drop every connection (idempotent, thread-safe enough for rpyc)."""
        self._server.close()

    def _on_listening(self, port: int) -> None:
        _log.info(
            "bridge server listening",
            host=self.host,
            port=port,
            functions=len(self._backend.functions),
            auth=self._backend.secret is not None,
        )
        if self._ready is not None:
            self._ready(port)

    def _shutdown_module(self) -> None:
        shutdown = self._backend.functions.get("shutdown")
        if shutdown is None:
            return
        with self._backend.lock:
            try:
                shutdown()
            except Exception as exc:
                _log.warning("module shutdown failed", error=repr(exc))


def serve(
    module: Any,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    secret: str | None = None,
    ready: Callable[[int], None] | None = None,
    *,
    allow_remote_without_secret: bool = False,
) -> None:
    """Serve ``module`` until the process is interrupted (blocking).

    Raises :class:`ConfigError` for an unsafe exposure (see the module doc) and ``OSError``
    when the address cannot be bound. Use :class:`BridgeServer` to stop it from elsewhere.
    """
    server = BridgeServer(
        module, host, port, secret, allow_remote_without_secret=allow_remote_without_secret
    )
    server.serve_forever(ready)


def is_loopback(host: str) -> bool:
    """Whether every address ``host`` resolves to is a loopback address."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(i[4][0]).is_loopback for i in infos)


def _check_exposure(host: str, secret: str | None, allow_remote_without_secret: bool) -> None:
    if secret is not None and len(secret) < _MIN_SECRET_LENGTH:
        _log.warning("the bridge secret is short; use 32+ random characters")
    if is_loopback(host):
        return
    if secret is None:
        if not allow_remote_without_secret:
            raise ConfigError(
                f"refusing to serve MetaTrader on non-loopback address {host!r} without a "
                f"secret: anyone who reaches it could trade the account. Set {SECRET_ENV} "
                "(and the same secret on the daemon), or bind to 127.0.0.1 and tunnel the "
                "port; --allow-remote-without-secret overrides this"
            )
        _log.warning(
            "serving MetaTrader without authentication on a non-loopback address",
            host=host,
        )
    else:
        _log.warning(
            "bridge reachable from the network: authenticated, but calls are not encrypted; "
            "prefer an SSH or WireGuard tunnel",
            host=host,
        )


# -- command line ---------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``bridge-server`` options (shared by ``forexbot bridge-server`` and ``python -m``)."""
    parser.add_argument(
        "--module",
        default="MetaTrader5",
        help="module to serve (MetaTrader5; forexbot.connectors.mt5sim for the simulator)",
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to bind (127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="TCP port (18812; 0 picks a free one)"
    )
    parser.add_argument("--port-file", type=Path, help="write the bound port to this file")
    parser.add_argument(
        "--sim-state", type=Path, help="simulator only: keep the paper account in this file"
    )
    parser.add_argument(
        "--allow-remote-without-secret",
        action="store_true",
        help=f"serve a non-loopback address even though {SECRET_ENV} is unset (unsafe)",
    )


def run(args: argparse.Namespace) -> int:
    """Serve as ``args`` say; the exit code (2 for a configuration error)."""
    secret = os.environ.get(SECRET_ENV) or None
    if not logging.getLogger().isEnabledFor(logging.DEBUG):
        # rpyc logs every accept/welcome/goodbye at INFO: keep that for debugging sessions.
        logging.getLogger(_RPYC_LOGGER).setLevel(logging.WARNING)
    try:
        module = load_module(args.module, args.sim_state)
        server = BridgeServer(
            module,
            args.host,
            args.port,
            secret,
            allow_remote_without_secret=args.allow_remote_without_secret,
        )
    except ConfigError as exc:
        print(f"forexbot bridge-server: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        where = f"{args.host}:{args.port}"
        print(f"forexbot bridge-server: cannot listen on {where}: {exc}", file=sys.stderr)
        return 1
    port_file: Path | None = args.port_file

    def ready(port: int) -> None:
        if port_file is not None:
            tmp = port_file.with_name(port_file.name + ".tmp")
            tmp.write_text(f"{port}\n")
            os.replace(tmp, port_file)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda _signum, _frame: server.close())
    server.serve_forever(ready)
    return 0


def load_module(name: str, sim_state: Path | None = None) -> Any:
    """Import the module to serve; with ``sim_state``, give the simulator a persistent account.

    Raises :class:`ConfigError` with what to do when it cannot be served.
    """
    try:
        module = importlib.import_module(name)
    except ImportError as exc:
        if name == "MetaTrader5":
            raise ConfigError(
                f"the MetaTrader5 package cannot be imported here ({exc}). Run the bridge "
                "server with the Windows Python (under Wine on Linux) in which `pip install "
                "MetaTrader5` succeeded, next to the terminal; or serve the simulator with "
                "--module forexbot.connectors.mt5sim"
            ) from None
        raise ConfigError(f"--module {name!r} cannot be imported: {exc}") from None
    if sim_state is not None:
        _install_persistent_simulator(module, sim_state)
    return module


def _install_persistent_simulator(module: Any, state_path: Path) -> None:
    terminal_class = getattr(module, "SimulatedTerminal", None)
    set_terminal = getattr(module, "set_terminal", None)
    if not callable(terminal_class) or not callable(set_terminal):
        raise ConfigError("--sim-state needs --module forexbot.connectors.mt5sim")
    seed_env = str(getattr(module, "SEED_ENV", "FOREXBOT_SIM_SEED"))
    raw = os.environ.get(seed_env, "").strip()
    try:
        seed = int(raw) if raw else int(getattr(module, "DEFAULT_SEED", _SIM_DEFAULT_SEED))
    except ValueError:
        raise ConfigError(f"{seed_env}={raw!r} is not an integer") from None
    try:
        terminal = terminal_class(seed=seed, state_path=state_path)
    except ForexbotError as exc:
        raise ConfigError(f"--sim-state {state_path}: {exc}") from None
    set_terminal(terminal)
    _log.info("serving the simulator with a persistent account", state=str(state_path))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m forexbot.connectors.bridge.server``: parse, configure logging, serve."""
    parser = argparse.ArgumentParser(
        prog="forexbot bridge-server",
        description="Serve the MetaTrader5 module to a forexbot daemon over a restricted rpyc "
        f"service. The shared secret is read from {SECRET_ENV}.",
    )
    add_arguments(parser)
    parser.add_argument("--log-level", default="INFO", help="DEBUG logs every call")
    args = parser.parse_args(argv)
    configure_logging(args.log_level)
    with contextlib.suppress(KeyboardInterrupt):
        return run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
