"""The restricted rpyc service behind ``forexbot bridge-server``.

Rules it enforces, and why:

* **An explicit allow-list.** The service's root exposes four methods — ``hello``,
  ``authenticate``, ``call`` and ``constants`` — through ``_rpyc_getattr``, which refuses every
  other name (``__class__``, ``__dict__``, ``exposed_call``, ``get_service_name``...).
  ``call(name, args, kwargs)`` runs only the MetaTrader5 functions in
  :data:`~.wire.FUNCTIONS`. rpyc classic's SlaveService, which mt5linux serves, lets any client
  run arbitrary code; nothing of the kind is reachable here.
* **By value in both directions.** Arguments and results use :mod:`.wire`; the service never
  returns a netref (a live handle to a server object) and never dereferences one a client
  sent: reading a client's netref would make the server wait on the client while holding the
  module lock.
* **Authentication first.** With a secret, ``call`` and ``constants`` raise
  ``PermissionError`` until :mod:`.auth`'s challenge-response succeeded on this connection.
* **One call at a time.** The MetaTrader5 module is not thread-safe (concurrent calls hang or
  return None), and rpyc serves each connection on its own thread, so every module call runs
  under one lock shared by all connections, with ``last_error()`` read under the same lock so
  each caller gets the error of *its* call.
* **One client's shutdown is not everyone's.** The module is shared by every connection (the
  daemon, a script a trader runs on the side), so ``shutdown()`` reaches the module only when
  no other connection has an initialised session; a connection that drops counts as shut
  down. Stopping the server shuts the module down.
"""

from __future__ import annotations

import errno
import re
import threading
import time
from typing import Any

import rpyc
import structlog

from . import auth
from .wire import CALL_FAILED, FUNCTIONS, PROTOCOL_VERSION, SUCCESS, ErrorPair, WireError
from .wire import decode as wire_decode
from .wire import encode as wire_encode

_log = structlog.get_logger("forexbot.bridge.server")

EXPOSED = frozenset({"hello", "authenticate", "call", "constants"})
_CONSTANT_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
_AUTH_FAILURE_DELAY = 0.25

#: rpyc protocol configuration of the server side: nothing beyond the exposed methods.
SERVER_CONFIG: dict[str, Any] = {
    "allow_public_attrs": False,
    "allow_all_attrs": False,
    "allow_pickle": False,
    "allow_setattr": False,
    "allow_delattr": False,
    "allow_safe_attrs": True,
    "safe_attrs": frozenset({"__eq__", "__ne__", "__hash__", "__repr__", "__str__"}),
    "import_custom_exceptions": False,
    "instantiate_custom_exceptions": False,
    "instantiate_oldstyle_exceptions": False,
    "include_local_traceback": False,
    "include_local_version": False,
}


class Backend:
    """The served module (functions resolved once), its lock, its constants and the secret."""

    def __init__(self, module: Any, secret: str | None) -> None:
        self.functions = {
            name: fn for name in sorted(FUNCTIONS) if callable(fn := getattr(module, name, None))
        }
        constants = {}
        for name in dir(module):
            if _CONSTANT_NAME.match(name):
                value = getattr(module, name)
                if type(value) in (int, float, str, bool):
                    constants[name] = value
        self.constants = wire_encode(constants)
        self.secret = secret.encode() if secret else None
        self.lock = threading.Lock()
        self.calls = 0
        self._sessions_lock = threading.Lock()
        self.sessions = 0

    def open_session(self) -> None:
        """A connection initialised the module."""
        with self._sessions_lock:
            self.sessions += 1

    def close_session(self) -> bool:
        """A connection shut down or left; whether it was the last session."""
        with self._sessions_lock:
            self.sessions = max(0, self.sessions - 1)
            return self.sessions == 0

    def invoke(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], peer: str) -> Any:
        """Run one module function under the lock; the wire answer (see :class:`BridgeService`)."""
        fn = self.functions[name]
        last_error = self.functions.get("last_error")
        with self.lock:
            started = time.perf_counter()
            self.calls += 1
            try:
                result = fn(*args, **kwargs)
            except Exception as exc:
                error = self._last_error(last_error)
                _log.warning("bridge call raised", function=name, peer=peer, error=f"{exc!r}"[:200])
                return ("err", type(exc).__name__, str(exc)[:500], error)
            error = _error_pair(result) if name == "last_error" else self._last_error(last_error)
            try:
                encoded = wire_encode(result)
            except WireError as exc:
                _log.error("bridge result not sendable", function=name, error=str(exc))
                return ("err", "TypeError", str(exc), CALL_FAILED)
            elapsed = time.perf_counter() - started
        _log.debug(
            "bridge call", function=name, peer=peer, ms=round(elapsed * 1000, 3), error=error[0]
        )
        return ("ok", encoded, error)

    @staticmethod
    def _last_error(last_error: Any) -> ErrorPair:
        if last_error is None:
            return SUCCESS
        try:
            return _error_pair(last_error())
        except Exception as exc:
            _log.warning("last_error() failed on the bridge server", error=repr(exc))
            return CALL_FAILED


def _error_pair(value: Any) -> ErrorPair:
    """A ``last_error()`` answer as a plain ``(int, str)`` pair (rpyc sends it by value)."""
    try:
        code, description = value
        return (int(code), str(description))
    except (TypeError, ValueError):
        return CALL_FAILED


class BridgeService(rpyc.Service):  # type: ignore[misc]
    """One instance per connection: its authentication state and the shared :class:`Backend`.

    Wire answers of ``call``: ``("ok", value, last_error)`` or ``("err", exception type name,
    message, last_error)`` when the module raised (a TypeError for bad arguments, as the real
    module does).
    """

    def __init__(self, backend: Backend) -> None:
        super().__init__()
        self._backend = backend
        self._nonce = auth.new_nonce()
        self._authenticated = backend.secret is None
        self._attempted = False
        self._session = False
        self._peer = "?"

    def on_connect(self, conn: Any) -> None:
        endpoints = conn._config.get("endpoints")
        if endpoints:
            self._peer = f"{endpoints[1][0]}:{endpoints[1][1]}"

    def on_disconnect(self, conn: Any) -> None:
        if self._session:
            self._session = False
            self._backend.close_session()

    def _rpyc_getattr(self, name: str) -> Any:
        # rpyc calls this for every attribute a client asks for, instead of its own checks.
        if name in EXPOSED:
            return getattr(self, f"exposed_{name}")
        raise AttributeError(f"the bridge does not expose {name!r}")

    def __dir__(self) -> list[str]:
        return sorted(EXPOSED)

    def exposed_hello(self) -> Any:
        """Protocol version, whether a secret is required, and this connection's nonce."""
        return wire_encode(
            {
                "server": "forexbot-bridge",
                "protocol": PROTOCOL_VERSION,
                "auth_required": self._backend.secret is not None,
                "nonce": self._nonce,
            }
        )

    def exposed_authenticate(self, client_nonce: Any, proof: Any) -> bytes | None:
        """Check the client's proof; the server's proof on success, None otherwise."""
        secret = self._backend.secret
        if secret is None:
            return None
        ok = False
        if not self._attempted and auth.valid_nonce(client_nonce):
            expected = auth.client_proof(secret, self._nonce, client_nonce)
            ok = auth.matches(expected, proof)
        self._attempted = True
        if not ok:
            _log.warning("bridge authentication failed", peer=self._peer)
            time.sleep(_AUTH_FAILURE_DELAY)
            return None
        self._authenticated = True
        _log.info("bridge client authenticated", peer=self._peer)
        return auth.server_proof(secret, self._nonce, client_nonce)

    def exposed_constants(self) -> Any:
        """The module's constants (upper-case int/float/str/bool attributes) as a wire dict."""
        self._require_auth()
        return self._backend.constants

    def exposed_call(self, name: Any, args: Any, kwargs: Any) -> Any:
        """Run the allowed MetaTrader5 function ``name`` with wire-encoded arguments."""
        self._require_auth()
        if type(name) is not str or name not in self._backend.functions:
            raise PermissionError(errno.EACCES, f"the bridge does not serve {name!r}")
        try:
            positional = wire_decode(args)
            keywords = wire_decode(kwargs)
        except WireError as exc:
            return ("err", "TypeError", f"bad arguments: {exc}", CALL_FAILED)
        if type(positional) is not tuple or type(keywords) is not dict:
            return ("err", "TypeError", "bad arguments: expected a tuple and a dict", CALL_FAILED)
        if not all(type(k) is str for k in keywords):
            return ("err", "TypeError", "keyword names must be strings", CALL_FAILED)
        if name == "shutdown":
            return self._shutdown()
        answer = self._backend.invoke(name, positional, keywords, self._peer)
        if name == "initialize" and answer[:2] == ("ok", True) and not self._session:
            self._session = True
            self._backend.open_session()
        return answer

    def _shutdown(self) -> Any:
        if self._session:
            self._session = False
            last = self._backend.close_session()
        else:
            last = self._backend.sessions == 0
        if last:
            return self._backend.invoke("shutdown", (), {}, self._peer)
        _log.debug("shutdown kept from the module: other sessions are open", peer=self._peer)
        return ("ok", None, SUCCESS)

    def _require_auth(self) -> None:
        if not self._authenticated:
            raise PermissionError(errno.EACCES, "the bridge requires authentication first")
