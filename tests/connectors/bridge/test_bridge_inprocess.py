"""Bridge behaviour that needs a scripted module: serialisation, timeouts, errors, stopping.

The server runs in a thread of the test process (real rpyc over loopback) and serves a small
MetaTrader5-compatible object whose functions can be slow, raise or count concurrency.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from polling import eventually_sync

from forexbot.connectors.bridge.client import BridgeTerminal
from forexbot.connectors.bridge.server import BridgeServer

HOST = "127.0.0.1"


class ScriptedModule:
    """A MetaTrader5 stand-in that records how it is called."""

    TRADE_RETCODE_DONE = 10009

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self.active = 0
        self.max_active = 0
        self.calls = 0
        self.shutdowns = 0
        self.error = (1, "Success")

    def initialize(self, *args: Any, **kwargs: Any) -> bool:
        if kwargs.get("timeout"):  # like a terminal being launched
            time.sleep(0.6)
        return True

    def shutdown(self) -> None:
        self.shutdowns += 1

    def last_error(self) -> tuple[int, str]:
        return self.error

    def symbol_info(self, symbol: str) -> Any:
        with self._guard:
            self.active += 1
            self.calls += 1
            self.max_active = max(self.max_active, self.active)
        try:
            if symbol == "SLOW":
                time.sleep(1.0)
            elif symbol == "RAISE":
                raise RuntimeError("terminal exploded")
            elif symbol == "BADARG":
                raise TypeError("symbol must be str")
            else:
                time.sleep(0.005)
            self.error = (1, "Success") if symbol != "MISSING" else (-4, "Terminal: Not found")
            return None if symbol == "MISSING" else symbol.lower()
        finally:
            with self._guard:
                self.active -= 1

    def order_send(self, request: dict[str, Any]) -> Any:
        assert type(request) is dict  # a real local dict, not a proxy
        return {"echo": request}


@pytest.fixture
def module() -> ScriptedModule:
    return ScriptedModule()


@pytest.fixture
def server(module: ScriptedModule) -> Iterator[BridgeServer]:
    bridge = BridgeServer(module, HOST, 0)
    ready = threading.Event()
    thread = threading.Thread(target=bridge.serve_forever, args=(lambda _p: ready.set(),))
    thread.start()
    assert ready.wait(10)
    yield bridge
    bridge.close()
    thread.join(10)
    assert not thread.is_alive()


def connected(server: BridgeServer, timeout: float = 10.0) -> BridgeTerminal:
    terminal = BridgeTerminal(HOST, server.port, timeout=timeout)
    assert terminal.initialize(), terminal.last_error()
    return terminal


def test_module_calls_are_serialised_across_connections(
    server: BridgeServer, module: ScriptedModule
) -> None:
    terminals = [connected(server) for _ in range(4)]
    results: list[Any] = []

    def hammer(terminal: BridgeTerminal) -> None:
        results.extend(terminal.symbol_info("EURUSD") for _ in range(15))

    threads = [threading.Thread(target=hammer, args=(t,)) for t in terminals]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results == ["eurusd"] * 60
    assert module.calls == 60
    assert module.max_active == 1


def test_each_call_gets_its_own_last_error(server: BridgeServer) -> None:
    terminal = connected(server)
    assert terminal.symbol_info("MISSING") is None
    assert terminal.last_error() == (-4, "Terminal: Not found")
    assert terminal.symbol_info("EURUSD") == "eurusd"
    assert terminal.last_error() == (1, "Success")


def test_every_call_is_logged_at_debug(server: BridgeServer) -> None:
    terminal = connected(server)
    with structlog.testing.capture_logs() as logs:
        terminal.symbol_info("EURUSD")
    calls = [entry for entry in logs if entry["event"] == "bridge call"]
    assert [(c["function"], c["log_level"]) for c in calls] == [("symbol_info", "debug")]
    assert calls[0]["ms"] >= 0


def test_a_timeout_is_ipc_timeout_and_initialize_reconnects(server: BridgeServer) -> None:
    terminal = connected(server, timeout=0.3)
    started = time.monotonic()
    assert terminal.symbol_info("SLOW") is None
    assert time.monotonic() - started < 0.9
    assert terminal.last_error() == (-10005, "IPC timeout")
    assert not terminal.connected
    assert terminal.symbol_info("EURUSD") is None
    assert terminal.last_error() == (-10004, "No IPC connection")
    time.sleep(1.0)  # the slow call still holds the module; let it finish
    assert terminal.initialize()
    assert terminal.symbol_info("EURUSD") == "eurusd"
    assert terminal.connects == 2
    assert terminal.connection_losses == 1


def test_initialize_may_wait_for_the_terminal_longer_than_other_calls(
    server: BridgeServer,
) -> None:
    terminal = BridgeTerminal(HOST, server.port, timeout=0.3)
    assert terminal.initialize(timeout=1000), terminal.last_error()
    assert terminal.symbol_info("EURUSD") == "eurusd"


def test_module_exceptions(server: BridgeServer) -> None:
    terminal = connected(server)
    with pytest.raises(TypeError, match="symbol must be str"):
        terminal.symbol_info("BADARG")
    assert terminal.symbol_info("RAISE") is None
    code, description = terminal.last_error()
    assert code == -1
    assert "RuntimeError: terminal exploded" in description
    assert terminal.symbol_info("EURUSD") == "eurusd"


def test_the_request_dict_arrives_as_a_plain_dict(server: BridgeServer) -> None:
    terminal = connected(server)
    request = {"action": 1, "symbol": "EURUSD", "volume": 0.1, "comment": "x"}
    assert terminal.order_send(request) == {"echo": request}


def test_one_clients_shutdown_does_not_shut_the_others_terminal(
    server: BridgeServer, module: ScriptedModule
) -> None:
    daemon, script = connected(server), connected(server)
    script.shutdown()
    assert module.shutdowns == 0
    assert daemon.symbol_info("EURUSD") == "eurusd"
    assert script.symbol_info("EURUSD") is None  # the script itself is disconnected
    assert script.last_error() == (-10004, "No IPC connection")
    daemon.shutdown()
    assert module.shutdowns == 1


def test_close_stops_serving_and_shuts_the_module_down(
    server: BridgeServer, module: ScriptedModule
) -> None:
    terminal = connected(server)
    server.close()
    time.sleep(0.2)
    assert terminal.symbol_info("EURUSD") is None
    assert terminal.last_error() == (-10004, "No IPC connection")
    assert terminal.initialize() is False
    eventually_sync(lambda: module.shutdowns, timeout=5, what="the module's shutdown")
    assert module.shutdowns == 1
