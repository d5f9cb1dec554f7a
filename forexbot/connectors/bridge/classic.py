"""Client for an existing mt5linux server (rpyc *classic*), for installs not yet migrated.

An mt5linux server runs rpyc's SlaveService: anyone who can connect may execute arbitrary
code on the Windows/Wine side, and the usual client builds Python source from ``repr()``
strings and ``eval``\\ s it there (``conn.eval(f"mt5.fn(*{args})")``), which breaks on
numpy-2 scalars, unquoted symbols and int epochs. This client keeps compatibility without
those weaknesses on our side:

* it logs a warning at every connect: the server is unauthenticated remote code execution;
* it connects with rpyc's VoidService and a restrictive config, so the server in turn gets
  no access to the daemon (``rpyc.classic.connect`` would serve SlaveService to it);
* it calls ``conn.root.getmodule("MetaTrader5").<function>(...)``: no source strings, no
  ``eval``/``execute``; arguments are values (dicts and datetimes are built on the server
  side from values);
* results are copied by value field by field (named tuples, arrays as raw bytes + dtype,
  tuples, numpy scalars), never unpickled: unpickling data from the server would let it run
  code here, and needs ``MetaTrader5``'s classes locally.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

import numpy as np
import structlog

from .connection import connect
from .remote import BridgeArgumentError, RemoteCallError, RemoteTerminal, is_remote_exception
from .wire import MAX_DEPTH, WireError, decode, encode, namedtuple_class, wall_time

_log = structlog.get_logger("forexbot.bridge.client")

_SCALARS = (type(None), bool, int, float, str, bytes)


class ClassicBridgeTerminal(RemoteTerminal):
    """The ``module`` (``MetaTrader5``) of an rpyc classic / mt5linux server at host:port."""

    def __init__(
        self, host: str, port: int, timeout: float = 30.0, module: str = "MetaTrader5"
    ) -> None:
        super().__init__(host, port, timeout)
        self._module_name = module
        self._conn: Any = None
        self._mt5: Any = None
        self._builtins: Any = None
        self._datetime: Any = None
        self._functions: dict[str, Any] = {}

    def _open(self) -> None:
        _log.warning(
            "connecting to a classic rpyc (mt5linux) server: it executes any code any client "
            "sends, without authentication; keep it on loopback and prefer "
            "`forexbot bridge-server`",
            address=f"{self.host}:{self.port}",
        )
        self._conn = connect(self.host, self.port, self.timeout)
        slave = self._conn.root
        self._mt5 = slave.getmodule(self._module_name)
        self._builtins = slave.getmodule("builtins")
        self._datetime = slave.getmodule("datetime")

    def _close(self) -> None:
        conn = self._conn
        self._conn = self._mt5 = self._builtins = self._datetime = None
        self._functions = {}
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def _invoke(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        remote_args = tuple(self._to_remote(a, 0) for a in args)
        remote_kwargs = {str(k): self._to_remote(v, 0) for k, v in kwargs.items()}
        function = self._functions.get(name)
        if function is None:
            function = self._functions[name] = getattr(self._mt5, name)
        self._conn._config["sync_request_timeout"] = self._call_timeout(name, kwargs)
        try:
            result = function(*remote_args, **remote_kwargs)
        except Exception as exc:
            if not is_remote_exception(exc) or isinstance(exc, OSError):
                raise
            message = str(exc.args[0]) if exc.args else ""
            raise RemoteCallError(_builtin_name(exc), message, self._last_error()) from None
        return self._obtain(result, 0), self._last_error()

    def _last_error(self) -> tuple[int, str]:
        pair = self._obtain(self._mt5.last_error(), 0)
        if isinstance(pair, tuple) and len(pair) == 2:
            return (int(pair[0]), str(pair[1]))
        raise WireError("malformed last_error() from the classic server")

    # -- arguments: local values -> objects built on the server ----------------------------------

    def _to_remote(self, value: Any, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise BridgeArgumentError("argument nested too deeply")
        if isinstance(value, dt.datetime):
            offset = value.utcoffset()
            tz = None
            if offset is not None:
                delta = self._datetime.timedelta(seconds=offset.total_seconds())
                tz = self._datetime.timezone(delta)
            return self._datetime.datetime(*wall_time(value), tz)
        if isinstance(value, dict):
            pairs = tuple((str(k), self._to_remote(v, depth + 1)) for k, v in value.items())
            return self._builtins.dict(pairs)
        if isinstance(value, list | tuple) and not hasattr(value, "_fields"):
            items = tuple(self._to_remote(v, depth + 1) for v in value)
            return items if isinstance(value, tuple) else self._builtins.list(items)
        try:
            plain = encode(value)
        except WireError as exc:
            raise BridgeArgumentError(str(exc)) from None
        if type(plain) not in _SCALARS:
            raise BridgeArgumentError(f"cannot send a {type(value).__name__} to a classic server")
        return plain

    # -- results: remote objects -> local values ------------------------------------------------

    def _obtain(self, value: Any, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise WireError("result nested too deeply")
        if type(value) in _SCALARS:
            return value
        if type(value) is tuple:  # sent by value: only scalars and tuples inside
            return tuple(self._obtain(v, depth + 1) for v in value)
        try:
            type_name = str(object.__getattribute__(value, "____id_pack__")[0])
        except AttributeError:
            raise WireError(f"unexpected local {type(value).__name__} in a result") from None
        if type_name == "numpy.ndarray":
            return self._obtain_array(value)
        if type_name.startswith("numpy."):
            return self._obtain(value.item(), depth + 1)
        if type_name == "datetime.datetime":
            return dt.datetime.fromisoformat(str(value.isoformat()))
        if type_name == "builtins.dict":
            pairs = self._builtins.tuple(value.items())
            return {
                self._obtain(k, depth + 1): self._obtain(v, depth + 1)
                for k, v in self._items(pairs)
            }
        items = [self._obtain(v, depth + 1) for v in self._items(value)]
        if type_name in ("builtins.tuple", "builtins.list"):
            return tuple(items) if type_name == "builtins.tuple" else items
        fields = value._fields
        if type(fields) is not tuple or len(fields) != len(items):
            raise WireError(f"cannot copy a remote {type_name} by value")
        return namedtuple_class(type_name.rsplit(".", 1)[-1], fields)(*items)

    def _items(self, value: Any) -> list[Any]:
        """The elements of a remote sequence: in one round trip when they are all values."""
        copied = self._builtins.tuple(value)
        if type(copied) is tuple:
            return list(copied)
        return [copied[i] for i in range(len(copied))]

    def _obtain_array(self, value: Any) -> np.ndarray[Any, Any]:
        dtype = value.dtype
        descr: Any = (
            str(dtype.str) if dtype.names is None else list(self._builtins.tuple(dtype.descr))
        )
        wire = ("nd", encode(descr), tuple(int(n) for n in value.shape), bytes(value.tobytes()))
        array = decode(wire)
        assert isinstance(array, np.ndarray)
        return array


def _builtin_name(exc: BaseException) -> str:
    for cls in type(exc).__mro__:
        if cls.__module__ == "builtins":
            return cls.__name__
    return type(exc).__name__
