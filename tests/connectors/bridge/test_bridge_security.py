"""The bridge server exposes the MetaTrader5 functions and nothing else, to whom it should.

Attacks are made with a raw rpyc connection, the way a hostile client would: rpyc's protocol
handlers (getattr, setattr, dir, pickle) on the root object, the classic API (``modules``,
``eval``), and calls of names outside the allow-list.
"""

from __future__ import annotations

import errno
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import rpyc
import structlog
from bridge_testkit import HOST, BridgeProcess
from rpyc.core import consts

from forexbot.connectors.bridge import auth
from forexbot.connectors.bridge.client import BridgeTerminal
from forexbot.connectors.bridge.server import BridgeServer, _check_exposure, is_loopback, main
from forexbot.connectors.bridge.wire import decode
from forexbot.errors import ConfigError

SECRET = secrets.token_urlsafe(32)
NO_ARGS = (("t", ()), ("d", ()))


@pytest.fixture
def secured(bridge_factory: Callable[..., BridgeProcess]) -> BridgeProcess:
    return bridge_factory(secret=SECRET)


@pytest.fixture
def raw(shared_bridge: BridgeProcess) -> Iterator[Any]:
    conn = rpyc.connect(HOST, shared_bridge.port, config={"sync_request_timeout": 10})
    yield conn
    conn.close()


@pytest.mark.parametrize(
    "name",
    [
        "__class__",
        "__dict__",
        "__init__",
        "__module__",
        "__reduce_ex__",
        "__getattribute__",
        "_backend",
        "_authenticated",
        "_rpyc_getattr",
        "exposed_call",
        "exposed_hello",
        "get_service_name",
        "exposed_get_service_name",
        "on_connect",
        "eval",
        "execute",
        "getmodule",
        "namespace",
        "__builtins__",
        "initialize",
        "order_send",
    ],
)
def test_the_root_exposes_nothing_beyond_the_allow_list(raw: Any, name: str) -> None:
    with pytest.raises(AttributeError):
        raw.sync_request(consts.HANDLE_GETATTR, raw.root, name)


def test_rpyc_handlers_reveal_and_change_nothing(raw: Any) -> None:
    root = raw.root
    assert raw.sync_request(consts.HANDLE_DIR, root) == (
        "authenticate",
        "call",
        "constants",
        "hello",
    )
    with pytest.raises(AttributeError):
        raw.sync_request(consts.HANDLE_SETATTR, root, "_authenticated", True)
    with pytest.raises(AttributeError):
        raw.sync_request(consts.HANDLE_DELATTR, root, "_backend")
    with pytest.raises(ValueError, match="pickling is disabled"):
        raw.sync_request(consts.HANDLE_PICKLE, root, 2)
    for name in ("__globals__", "__self__", "__func__", "__code__", "__closure__"):
        with pytest.raises(AttributeError):
            getattr(root.call, name)
    with pytest.raises(AttributeError):
        raw.modules  # noqa: B018  (a plain connection has no classic namespace)
    with pytest.raises(AttributeError):
        raw.eval("1")


def test_a_classic_client_gets_nothing(shared_bridge: BridgeProcess) -> None:
    def use_classic_api() -> None:
        conn = rpyc.classic.connect(HOST, shared_bridge.port)
        conn.modules.os.getcwd()

    with pytest.raises(AttributeError, match="getmodule"):
        use_classic_api()


@pytest.mark.parametrize("name", ["eval", "exec", "__import__", "getattr", "_default_terminal"])
def test_only_metatrader_functions_are_callable(raw: Any, name: str) -> None:
    with pytest.raises(PermissionError, match="does not serve"):
        raw.root.call(name, *NO_ARGS)


def test_arguments_are_taken_by_value_only(raw: Any) -> None:
    local_dict = {"action": 1}  # would travel as a netref to this process's dict
    answer = raw.root.call("order_send", ("t", (local_dict,)), ("d", ()))  # type: ignore[arg-type]
    assert answer[0] == "err"
    assert answer[1] == "TypeError"
    answer = raw.root.call("version", "1+1", ("d", ()))
    assert answer[0] == "err"


def test_without_a_secret_the_answers_are_plain_values(raw: Any) -> None:
    hello = decode(raw.root.hello())
    assert hello["auth_required"] is False
    assert raw.root.call("initialize", *NO_ARGS) == ("ok", True, (1, "Success"))
    kind, value, error = raw.root.call("account_info", *NO_ARGS)
    assert kind == "ok"
    assert type(value) is tuple  # by value, not a netref
    assert value[0] == "nt"
    assert value[1] == "AccountInfo"
    assert error == (1, "Success")


def test_an_unauthenticated_call_is_refused(secured: BridgeProcess) -> None:
    conn = rpyc.connect(HOST, secured.port, config={"sync_request_timeout": 10})
    try:
        hello = decode(conn.root.hello())
        assert hello["auth_required"] is True
        with pytest.raises(PermissionError) as raised:
            conn.root.call("account_info", *NO_ARGS)
        assert raised.value.errno == errno.EACCES
        with pytest.raises(PermissionError):
            conn.root.constants()
    finally:
        conn.close()
    terminal = BridgeTerminal(HOST, secured.port)
    assert terminal.initialize() is False
    assert terminal.last_error() == (
        -6,
        "Authorization failed: the bridge server requires a secret",
    )
    assert terminal.account_info() is None


def test_a_wrong_secret_is_refused_and_gets_one_attempt(secured: BridgeProcess) -> None:
    terminal = BridgeTerminal(HOST, secured.port, secret="not the secret")
    assert terminal.initialize() is False
    assert terminal.last_error() == (-6, "Authorization failed: wrong bridge secret")
    conn = rpyc.connect(HOST, secured.port, config={"sync_request_timeout": 10})
    try:
        nonce = decode(conn.root.hello())["nonce"]
        client_nonce = auth.new_nonce()
        assert conn.root.authenticate(client_nonce, b"\0" * 32) is None
        right = auth.client_proof(SECRET.encode(), nonce, client_nonce)
        assert conn.root.authenticate(client_nonce, right) is None  # no second try
        with pytest.raises(PermissionError):
            conn.root.call("account_info", *NO_ARGS)
    finally:
        conn.close()
    assert "bridge authentication failed" in secured.log.read_text()


def test_the_right_secret_opens_the_session_and_the_server_proves_it_too(
    secured: BridgeProcess,
) -> None:
    conn = rpyc.connect(HOST, secured.port, config={"sync_request_timeout": 10})
    try:
        nonce = decode(conn.root.hello())["nonce"]
        client_nonce = auth.new_nonce()
        proof = auth.client_proof(SECRET.encode(), nonce, client_nonce)
        answer = conn.root.authenticate(client_nonce, proof)
        assert answer == auth.server_proof(SECRET.encode(), nonce, client_nonce)
        assert conn.root.call("initialize", *NO_ARGS)[1] is True
    finally:
        conn.close()
    terminal = BridgeTerminal(HOST, secured.port, secret=SECRET)
    assert terminal.initialize(), terminal.last_error()
    assert terminal.account_info().balance == 10_000.0
    terminal.shutdown()


class _Module:
    """The smallest MetaTrader5-compatible module."""

    def initialize(self) -> bool:
        return True

    def last_error(self) -> tuple[int, str]:
        return (1, "Success")


@pytest.mark.parametrize("host", ["0.0.0.0", "::"])
def test_non_loopback_without_a_secret_is_refused(host: str) -> None:
    with pytest.raises(ConfigError, match="FOREXBOT_BRIDGE_SECRET"):
        BridgeServer(_Module(), host=host, port=0)


@pytest.mark.parametrize(
    ("secret", "forced", "warning"),
    [
        (
            SECRET,
            False,
            "bridge reachable from the network: authenticated, but calls are not encrypted; "
            "prefer an SSH or WireGuard tunnel",
        ),
        (None, True, "serving MetaTrader without authentication on a non-loopback address"),
    ],
    ids=["with-a-secret", "forced"],
)
def test_non_loopback_is_allowed_with_a_secret_or_when_forced(
    secret: str | None, forced: bool, warning: str
) -> None:
    # The decision itself, for an address outside loopback (binding one is not possible here).
    host = "192.0.2.10"
    with structlog.testing.capture_logs() as logs:
        _check_exposure(host, secret, allow_remote_without_secret=forced)  # no refusal raised

    assert logs == [{"event": warning, "host": host, "log_level": "warning"}]


def test_the_command_line_refuses_non_loopback_without_a_secret(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("FOREXBOT_BRIDGE_SECRET", raising=False)
    argv = ["--module", "forexbot.connectors.mt5sim", "--host", "0.0.0.0", "--port", "0"]
    assert main(argv) == 2
    assert "refusing to serve MetaTrader on non-loopback address" in capsys.readouterr().err


def test_the_command_line_names_the_fix_when_metatrader5_is_missing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "MetaTrader5 package cannot be imported" in err
    assert "--module forexbot.connectors.mt5sim" in err


def test_loopback_detection() -> None:
    assert is_loopback("127.0.0.1")
    assert is_loopback("127.0.0.53")
    assert is_loopback("::1")
    assert is_loopback("localhost")
    assert not is_loopback("0.0.0.0")
    assert not is_loopback("::")
    assert not is_loopback("192.168.1.10")
