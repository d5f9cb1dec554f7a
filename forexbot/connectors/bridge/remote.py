"""What every bridge client shares: the MetaTrader5 surface over a connection that can break.

The connector treats a bridged terminal exactly like the ``MetaTrader5`` module, so a broken
bridge must fail the way MetaTrader fails, never with an exception from the network layer:

* a call made while disconnected, or whose connection breaks (server killed, EOF, reset)
  returns None (False for the boolean functions) and ``last_error()`` then says
  ``(-10004, 'No IPC connection')``; a call that times out says ``(-10005, 'IPC timeout')``
  and the connection is dropped, since a late reply could otherwise be taken for the answer
  to the next call;
* ``initialize()`` (re)connects, so the connector's usual recovery — ``shutdown()`` then
  ``initialize()`` with backoff — also reconnects the bridge;
* ``last_error()`` is answered locally with the error the server read *together with* the
  last call, under its lock: another client's call in between cannot overwrite it;
* argument mistakes still raise (TypeError/ValueError), as the native module does.

Subclasses provide the transport (:meth:`_open`, :meth:`_invoke`, :meth:`_close`). One
re-entrant lock serialises calls, so a terminal shared between threads stays consistent even
though the connector only ever calls it from its worker thread.
"""

from __future__ import annotations

import threading
from typing import Any

import structlog

from .wire import BOOL_FUNCTIONS, CALL_FAILED, INIT_FAILED, IPC_TIMEOUT, NO_IPC, ErrorPair

_log = structlog.get_logger("forexbot.bridge.client")

_ARGUMENT_ERRORS: dict[str, type[Exception]] = {
    "TypeError": TypeError,
    "ValueError": ValueError,
    "OverflowError": OverflowError,
}


class BridgeRefused(Exception):
    """The server answered but refused the session (authentication, protocol version)."""

    def __init__(self, error: ErrorPair) -> None:
        super().__init__(f"{error[0]} {error[1]}")
        self.error = error


class RemoteCallError(Exception):
    """The module raised on the server side: exception type name, message, last_error."""

    def __init__(self, type_name: str, message: str, error: ErrorPair) -> None:
        super().__init__(f"{type_name}: {message}")
        self.type_name = type_name
        self.message = message
        self.error = error


class BridgeArgumentError(TypeError):
    """An argument cannot be sent to the bridge (not a value the wire format carries)."""


def is_remote_exception(exc: BaseException) -> bool:
    """Whether rpyc rebuilt ``exc`` from an exception raised on the other side."""
    return hasattr(exc, "_remote_tb")


class RemoteTerminal:
    """The MetaTrader5 functions, forwarded through :meth:`_invoke`."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self._lock = threading.RLock()
        self._connected = False
        self._error: ErrorPair = NO_IPC
        self.connects = 0
        self.connection_losses = 0

    # -- transport, provided by subclasses --------------------------------------------------------

    def _open(self) -> None:
        """Connect (and authenticate). Raise :class:`BridgeRefused`, or the transport's error."""
        raise NotImplementedError

    def _invoke(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Call ``name`` remotely: ``(value, last_error)``, or raise :class:`RemoteCallError`."""
        raise NotImplementedError

    def _close(self) -> None:
        """Drop the connection; must not raise."""
        raise NotImplementedError

    # -- connection state -------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether a connection is open (it may still turn out to be broken on the next call)."""
        return self._connected

    def _connect(self) -> bool:
        where = f"{self.host}:{self.port}"
        try:
            self._open()
        except BridgeRefused as exc:
            self._error = exc.error
            _log.warning("bridge refused the session", address=where, error=str(exc))
        except TimeoutError:
            self._error = IPC_TIMEOUT
            _log.info("bridge connection timed out", address=where)
        except (OSError, EOFError) as exc:
            self._error = NO_IPC
            _log.info("bridge unreachable", address=where, error=repr(exc))
        except Exception as exc:  # rpyc handshake or protocol failure
            self._error = (INIT_FAILED[0], f"{INIT_FAILED[1]}: {exc!r}"[:300])
            _log.warning("bridge handshake failed", address=where, error=repr(exc))
        else:
            self._connected = True
            self.connects += 1
            _log.info("bridge connected", address=where, connects=self.connects)
            return True
        self._close()
        return False

    def _lose(self, error: ErrorPair, name: str, exc: BaseException) -> None:
        self._connected = False
        self._error = error
        self.connection_losses += 1
        _log.warning(
            "bridge connection lost",
            address=f"{self.host}:{self.port}",
            function=name,
            error=repr(exc),
            last_error=error,
        )
        self._close()

    def _call_timeout(self, name: str, kwargs: dict[str, Any]) -> float:
        """Seconds to wait for ``name``: ``timeout``, except for ``initialize``/``login``, which
        MetaTrader lets wait for the terminal (``timeout`` ms, 60 s by default) plus 5 s."""
        if name not in ("initialize", "login"):
            return self.timeout
        ms = kwargs.get("timeout")
        wait = ms / 1000 if isinstance(ms, int | float) and ms > 0 else 60.0
        return max(self.timeout, wait + 5.0)

    def _call(self, function: str, /, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return self._call_locked(function, args, kwargs)

    def _call_locked(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        failure = False if name in BOOL_FUNCTIONS else None
        if not self._connected:
            self._error = NO_IPC
            return failure
        try:
            value, error = self._invoke(name, args, kwargs)
        except BridgeArgumentError:
            raise
        except RemoteCallError as exc:
            self._error = exc.error
            argument_error = _ARGUMENT_ERRORS.get(exc.type_name)
            if argument_error is not None:
                raise argument_error(f"{name}: {exc.message}") from None
            _log.warning("bridge call raised on the server", function=name, error=str(exc))
            self._error = (CALL_FAILED[0], f"{CALL_FAILED[1]}: {exc}"[:300])
            return failure
        except (TimeoutError, EOFError, OSError) as exc:
            if is_remote_exception(exc):  # e.g. PermissionError raised by the server
                _log.warning("bridge server refused the call", function=name, error=str(exc))
                self._error = (CALL_FAILED[0], f"{CALL_FAILED[1]}: {exc}"[:300])
                return failure
            self._lose(IPC_TIMEOUT if isinstance(exc, TimeoutError) else NO_IPC, name, exc)
            return failure
        except Exception as exc:  # a malformed answer or an rpyc-level failure
            _log.warning("bridge call failed", function=name, error=repr(exc))
            self._error = (CALL_FAILED[0], f"{CALL_FAILED[1]}: {exc!r}"[:300])
            return failure
        self._error = error
        return value

    # -- the MetaTrader5 functions ----------------------------------------------------------------

    def initialize(self, *args: Any, **kwargs: Any) -> bool:
        """Connect to the bridge if needed, then the terminal's ``initialize``.

        A connection found broken by this very call is replaced once, so ``initialize()``
        after a server restart succeeds without a ``shutdown()`` first.
        """
        with self._lock:
            if self._connected:
                result = self._call_locked("initialize", args, kwargs)
                if result or self._connected:
                    return bool(result)
            if not self._connect():
                return False
            return bool(self._call_locked("initialize", args, kwargs))

    def shutdown(self) -> None:
        """The terminal's ``shutdown``, then close the bridge connection."""
        with self._lock:
            if self._connected:
                self._call_locked("shutdown", (), {})
            self._connected = False
            self._close()
            self._error = NO_IPC

    def last_error(self) -> tuple[int, str]:
        """The error of the last call (read on the server with it), or the bridge's own."""
        with self._lock:
            return self._error

    def login(self, *args: Any, **kwargs: Any) -> bool:
        return bool(self._call("login", *args, **kwargs))

    def version(self) -> Any:
        return self._call("version")

    def account_info(self) -> Any:
        return self._call("account_info")

    def terminal_info(self) -> Any:
        return self._call("terminal_info")

    def symbols_total(self) -> Any:
        return self._call("symbols_total")

    def symbols_get(self, *args: Any, **kwargs: Any) -> Any:
        return self._call("symbols_get", *args, **kwargs)

    def symbol_info(self, symbol: str) -> Any:
        return self._call("symbol_info", symbol)

    def symbol_info_tick(self, symbol: str) -> Any:
        return self._call("symbol_info_tick", symbol)

    def symbol_select(self, symbol: str, enable: bool = True) -> bool:
        return bool(self._call("symbol_select", symbol, enable))

    def market_book_add(self, symbol: str) -> bool:
        return bool(self._call("market_book_add", symbol))

    def market_book_get(self, symbol: str) -> Any:
        return self._call("market_book_get", symbol)

    def market_book_release(self, symbol: str) -> bool:
        return bool(self._call("market_book_release", symbol))

    def copy_rates_from(self, symbol: str, timeframe: int, date_from: Any, count: int) -> Any:
        return self._call("copy_rates_from", symbol, timeframe, date_from, count)

    def copy_rates_from_pos(self, symbol: str, timeframe: int, start_pos: int, count: int) -> Any:
        return self._call("copy_rates_from_pos", symbol, timeframe, start_pos, count)

    def copy_rates_range(self, symbol: str, timeframe: int, date_from: Any, date_to: Any) -> Any:
        return self._call("copy_rates_range", symbol, timeframe, date_from, date_to)

    def copy_ticks_from(self, symbol: str, date_from: Any, count: int, flags: int) -> Any:
        return self._call("copy_ticks_from", symbol, date_from, count, flags)

    def copy_ticks_range(self, symbol: str, date_from: Any, date_to: Any, flags: int) -> Any:
        return self._call("copy_ticks_range", symbol, date_from, date_to, flags)

    def orders_total(self) -> Any:
        return self._call("orders_total")

    def orders_get(self, *args: Any, **kwargs: Any) -> Any:
        return self._call("orders_get", *args, **kwargs)

    def order_calc_margin(self, action: int, symbol: str, volume: float, price: float) -> Any:
        return self._call("order_calc_margin", action, symbol, volume, price)

    def order_calc_profit(
        self, action: int, symbol: str, volume: float, price_open: float, price_close: float
    ) -> Any:
        return self._call("order_calc_profit", action, symbol, volume, price_open, price_close)

    def order_check(self, request: dict[str, Any]) -> Any:
        return self._call("order_check", request)

    def order_send(self, request: dict[str, Any]) -> Any:
        return self._call("order_send", request)

    def positions_total(self) -> Any:
        return self._call("positions_total")

    def positions_get(self, *args: Any, **kwargs: Any) -> Any:
        return self._call("positions_get", *args, **kwargs)

    def history_orders_total(self, date_from: Any, date_to: Any) -> Any:
        return self._call("history_orders_total", date_from, date_to)

    def history_orders_get(self, *args: Any, **kwargs: Any) -> Any:
        return self._call("history_orders_get", *args, **kwargs)

    def history_deals_total(self, date_from: Any, date_to: Any) -> Any:
        return self._call("history_deals_total", date_from, date_to)

    def history_deals_get(self, *args: Any, **kwargs: Any) -> Any:
        return self._call("history_deals_get", *args, **kwargs)
