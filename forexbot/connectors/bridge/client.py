"""The bridge backend: a :class:`TerminalApi` talking to ``forexbot bridge-server``.

``BridgeTerminal(host, port, secret)`` behaves like ``import MetaTrader5`` on the machine where
the server runs: same functions, same named-tuple fields and array dtypes (rebuilt locally from
the :mod:`.wire` format), same None/False + ``last_error()`` failures (see :mod:`.remote` for
how a broken or slow connection is reported). It connects on ``initialize()``:

1. TCP connect (3 s at most) and rpyc handshake, with a restrictive client-side rpyc config
   (the server gets no access to anything here; see :mod:`.connection`);
2. ``hello()``: the server's protocol version (must match :data:`~.wire.PROTOCOL_VERSION`,
   else ``(-5, ...)``), whether it needs a secret, and a nonce;
3. with a secret, the :mod:`.auth` challenge-response; a wrong or missing secret gives
   ``initialize() == False`` and ``last_error() == (-6, 'Authorization failed...')``;
4. the terminal's own ``initialize(...)`` with the caller's arguments.

:func:`create_bridge_terminal` picks this or the mt5linux-compatible
:class:`~.classic.ClassicBridgeTerminal` (``classic=True``).
"""

from __future__ import annotations

import contextlib
from typing import Any

from . import auth
from .classic import ClassicBridgeTerminal
from .connection import connect
from .remote import BridgeArgumentError, BridgeRefused, RemoteCallError, RemoteTerminal
from .wire import (
    AUTH_FAILED,
    INVALID_VERSION,
    PROTOCOL_VERSION,
    SUCCESS,
    WireError,
    decode,
    encode,
)


class BridgeTerminal(RemoteTerminal):
    """The MetaTrader5 module served by ``forexbot bridge-server`` at ``host:port``.

    ``timeout`` bounds every call (seconds); past it the call returns None with
    ``(-10005, 'IPC timeout')`` and the next ``initialize()`` reconnects.
    """

    def __init__(
        self, host: str, port: int, secret: str | None = None, timeout: float = 30.0
    ) -> None:
        super().__init__(host, port, timeout)
        self._secret = secret.encode() if secret else None
        self._conn: Any = None
        self._root: Any = None

    def constants(self) -> dict[str, Any] | None:
        """The served module's constants by name (None when not connected)."""
        value = self._call("constants")
        return value if isinstance(value, dict) else None

    def _open(self) -> None:
        self._conn = connect(self.host, self.port, self.timeout)
        self._root = self._conn.root
        hello = decode(self._root.hello())
        if not isinstance(hello, dict) or hello.get("protocol") != PROTOCOL_VERSION:
            version = hello.get("protocol") if isinstance(hello, dict) else None
            raise BridgeRefused(
                (
                    INVALID_VERSION[0],
                    f"{INVALID_VERSION[1]}: bridge protocol {version!r}, "
                    f"expected {PROTOCOL_VERSION} (upgrade forexbot on both sides)",
                )
            )
        if hello.get("auth_required"):
            self._authenticate(hello.get("nonce"))

    def _authenticate(self, server_nonce: Any) -> None:
        if self._secret is None:
            raise BridgeRefused(
                (AUTH_FAILED[0], f"{AUTH_FAILED[1]}: the bridge server requires a secret")
            )
        if not auth.valid_nonce(server_nonce):
            raise BridgeRefused((AUTH_FAILED[0], f"{AUTH_FAILED[1]}: malformed server nonce"))
        client_nonce = auth.new_nonce()
        proof = auth.client_proof(self._secret, server_nonce, client_nonce)
        answer = self._root.authenticate(client_nonce, proof)
        expected = auth.server_proof(self._secret, server_nonce, client_nonce)
        if answer is None:
            raise BridgeRefused((AUTH_FAILED[0], f"{AUTH_FAILED[1]}: wrong bridge secret"))
        if not auth.matches(expected, answer):
            raise BridgeRefused(
                (AUTH_FAILED[0], f"{AUTH_FAILED[1]}: the server could not prove the secret")
            )

    def _invoke(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        # rpyc's documented knob; the lock makes this call the connection's only user.
        self._conn._config["sync_request_timeout"] = self._call_timeout(name, kwargs)
        if name == "constants":
            return decode(self._root.constants()), SUCCESS
        try:
            wire_args, wire_kwargs = encode(args), encode(kwargs)
        except WireError as exc:
            raise BridgeArgumentError(f"{name}: {exc}") from None
        answer = self._root.call(name, wire_args, wire_kwargs)
        if type(answer) is not tuple or not answer:
            raise WireError(f"malformed bridge answer to {name}")
        if answer[0] == "ok" and len(answer) == 3:
            return decode(answer[1]), _error_pair(answer[2])
        if answer[0] == "err" and len(answer) == 4:
            raise RemoteCallError(str(answer[1]), str(answer[2]), _error_pair(answer[3]))
        raise WireError(f"malformed bridge answer to {name}")

    def _close(self) -> None:
        conn, self._conn, self._root = self._conn, None, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()


def _error_pair(value: Any) -> tuple[int, str]:
    if type(value) is tuple and len(value) == 2 and type(value[0]) is int:
        return (value[0], str(value[1]))
    raise WireError("malformed last_error in the bridge answer")


def create_bridge_terminal(
    host: str,
    port: int,
    secret: str | None = None,
    timeout: float = 30.0,
    *,
    classic: bool = False,
    module: str = "MetaTrader5",
) -> RemoteTerminal:
    """The bridge backend the configuration asks for.

    ``classic=True`` talks to an mt5linux (rpyc classic) server instead of
    ``forexbot bridge-server``; ``secret`` must then be None (classic servers have no
    authentication) and ``module`` names the module the server imports.
    """
    if classic:
        if secret:
            raise ValueError("a classic (mt5linux) server cannot check a secret")
        return ClassicBridgeTerminal(host, port, timeout=timeout, module=module)
    return BridgeTerminal(host, port, secret=secret, timeout=timeout)
