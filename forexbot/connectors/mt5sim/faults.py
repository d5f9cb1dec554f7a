"""Fault injection: the terminal failures a daemon must survive, on demand and reproducibly.

``terminal.faults`` is a :class:`FaultInjector`; the constructor's ``faults=Faults(...)`` sets
its starting probabilities and seed. What each fault does, as MetaTrader does it:

* :meth:`~FaultInjector.disconnect`: the terminal goes away. Every call returns None (False
  for the boolean ones) with ``last_error() == (-10004, 'No IPC connection')``, and
  ``initialize()`` fails with ``(-10003, 'IPC initialize failed')`` until
  :meth:`~FaultInjector.reconnect`. After reconnecting the client must ``initialize()`` again,
  as after a real terminal restart. The account is untouched: the market keeps moving, and
  stops or pending orders hit meanwhile are applied when the next call catches up.
* :meth:`~FaultInjector.ipc_timeout`: the next ``calls`` calls, or every call for ``seconds``
  of wall time, fail with ``(-10005, 'IPC timeout')``. With ``order_executes=True`` an
  ``order_send`` in that window **is executed** and still reports the timeout (None +
  -10005): the reply was lost, not the order, which is what makes blind retries duplicate
  orders.
* :meth:`~FaultInjector.slow_calls`: each call sleeps (a real ``time.sleep``, outside the
  terminal's lock) before answering, for ``calls`` calls or until cleared.
* ``order_reply_delay_seconds``: every ``order_send`` is executed (and the account saved) at
  once, but answers that many seconds later: a slow confirmation from the broker. A client
  that dies or times out in that window has an order it does not know about.
* ``requote_probability``: a TRADE_ACTION_DEAL request is answered 10004 (Requote) with the
  current bid/ask in the result, whatever the execution mode, and nothing is executed.
* ``reject_probability``: any ``order_send`` is answered 10006 (Request rejected).

Draws come from one ``random.Random(seed)``: while a probability is set, one draw per
``order_send`` for rejection and, if not rejected, one per market deal for a requote, so a
test sees the same sequence every run. ``last_error()``
never fails (it is answered by the client library, not the terminal). Thread-safe.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, replace

from forexbot.connectors.mt5_constants import RES_E_INTERNAL_FAIL_TIMEOUT

from .errors import INIT_FAILED, NO_IPC, ErrorPair, SimulatorError

IPC_TIMEOUT: ErrorPair = (RES_E_INTERNAL_FAIL_TIMEOUT, "IPC timeout")


@dataclass(frozen=True, slots=True)
class Faults:
    """Starting configuration of a terminal's fault injector (all off by default)."""

    requote_probability: float = 0.0
    reject_probability: float = 0.0
    slow_call_seconds: float = 0.0
    order_reply_delay_seconds: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("requote_probability", "reject_probability"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise SimulatorError(f"{name} must be within [0, 1], got {value}")
        for name in ("slow_call_seconds", "order_reply_delay_seconds"):
            if getattr(self, name) < 0:
                raise SimulatorError(f"{name} must be >= 0, got {getattr(self, name)}")


@dataclass(slots=True)
class _Window:
    """A fault active for a number of calls or until a monotonic deadline (None: no limit)."""

    calls: int | None
    until: float | None

    def take(self) -> bool:
        """Whether the fault applies to this call (consuming one call of the budget)."""
        if self.until is not None and time.monotonic() >= self.until:
            return False
        if self.calls is not None:
            if self.calls <= 0:
                return False
            self.calls -= 1
        return True


def _window(calls: int | None, seconds: float | None) -> _Window:
    if (calls is not None and calls < 0) or (seconds is not None and seconds < 0):
        raise SimulatorError("a fault lasts a non-negative number of calls or seconds")
    return _Window(calls, None if seconds is None else time.monotonic() + seconds)


class FaultInjector:
    """The terminal's fault switches; see the module docstring."""

    def __init__(self, config: Faults | None = None) -> None:
        self._lock = threading.Lock()
        self._config = config or Faults()
        self._random = random.Random(self._config.seed)
        self._down = False
        self._timeout: _Window | None = None
        self._timeout_executes = False
        self._slow: _Window | None = None

    # --- switches -------------------------------------------------------------------------
    @property
    def config(self) -> Faults:
        return self._config

    def configure(self, **changes: float) -> None:
        """Change probabilities or the slow-call delay (``seed`` restarts the draws)."""
        with self._lock:
            self._config = replace(self._config, **changes)  # type: ignore[arg-type]
            if "seed" in changes:
                self._random = random.Random(self._config.seed)

    @property
    def requote_probability(self) -> float:
        return self._config.requote_probability

    @requote_probability.setter
    def requote_probability(self, value: float) -> None:
        self.configure(requote_probability=value)

    @property
    def reject_probability(self) -> float:
        return self._config.reject_probability

    @reject_probability.setter
    def reject_probability(self, value: float) -> None:
        self.configure(reject_probability=value)

    @property
    def disconnected(self) -> bool:
        return self._down

    def disconnect(self) -> None:
        with self._lock:
            self._down = True

    def reconnect(self) -> None:
        with self._lock:
            self._down = False

    def ipc_timeout(
        self,
        *,
        calls: int | None = None,
        seconds: float | None = None,
        order_executes: bool = False,
    ) -> None:
        """Fail the next ``calls`` calls (or all calls for ``seconds``) with -10005."""
        if calls is None and seconds is None:
            calls = 1
        with self._lock:
            self._timeout = _window(calls, seconds)
            self._timeout_executes = order_executes

    def slow_calls(
        self, seconds: float, *, calls: int | None = None, for_seconds: float | None = None
    ) -> None:
        """Delay each call by ``seconds`` (for ``calls`` calls / ``for_seconds``, or until
        :meth:`clear`)."""
        with self._lock:
            self._config = replace(self._config, slow_call_seconds=seconds)
            self._slow = _window(calls, for_seconds)

    def clear(self) -> None:
        """Switch every fault off (the connection comes back too)."""
        with self._lock:
            self._config = replace(
                self._config,
                requote_probability=0.0,
                reject_probability=0.0,
                slow_call_seconds=0,
                order_reply_delay_seconds=0,
            )
            self._down = False
            self._timeout = None
            self._slow = None

    # --- used by the terminal -------------------------------------------------------------
    def reply_delay(self) -> None:
        """Sleep before answering an executed ``order_send`` (called outside the lock)."""
        seconds = self._config.order_reply_delay_seconds
        if seconds:
            time.sleep(seconds)

    def delay(self) -> None:
        """Sleep before a call when calls are slow (called outside the terminal's lock)."""
        with self._lock:
            seconds = self._config.slow_call_seconds
            if not seconds or (self._slow is not None and not self._slow.take()):
                return
        time.sleep(seconds)

    def admit(self, call: str) -> tuple[ErrorPair | None, bool]:
        """(error to fail the call with or None, whether an executed order loses its reply)."""
        with self._lock:
            if self._down:
                return (INIT_FAILED if call == "initialize" else NO_IPC), False
            if self._timeout is not None and self._timeout.take():
                if call == "order_send" and self._timeout_executes:
                    return None, True
                return IPC_TIMEOUT, False
            return None, False

    def trade_fault(self, market_deal: bool) -> str | None:
        """ "reject", "requote" or None for one ``order_send``."""
        with self._lock:
            config = self._config
            if config.reject_probability and self._random.random() < config.reject_probability:
                return "reject"
            if (
                market_deal
                and config.requote_probability
                and self._random.random() < config.requote_probability
            ):
                return "requote"
            return None
