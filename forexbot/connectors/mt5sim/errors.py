"""Errors the simulator raises, and MetaTrader's ``last_error()`` values it reports.

The MetaTrader surface never raises for terminal-level problems: it returns None (or False)
and records one of the ``(code, description)`` pairs below, exactly as the real module does.
Exceptions are reserved for misuse of *our* API (a bad constructor argument, an unreadable
state file) and derive from :class:`forexbot.errors.ForexbotError`.
"""

from __future__ import annotations

from forexbot.connectors.mt5_constants import (
    RES_E_FAIL,
    RES_E_INTERNAL_FAIL_CONNECT,
    RES_E_INTERNAL_FAIL_INIT,
    RES_E_INVALID_PARAMS,
    RES_E_NOT_FOUND,
    RES_S_OK,
)
from forexbot.errors import ForexbotError


class SimulatorError(ForexbotError):
    """The simulated terminal was misconfigured or misused."""


class SimulatorStateError(SimulatorError):
    """A persisted paper account cannot be read (corrupt file, unknown version)."""


ErrorPair = tuple[int, str]

SUCCESS: ErrorPair = (RES_S_OK, "Success")
NO_IPC: ErrorPair = (RES_E_INTERNAL_FAIL_CONNECT, "No IPC connection")
INIT_FAILED: ErrorPair = (RES_E_INTERNAL_FAIL_INIT, "IPC initialize failed")
CALL_FAILED: ErrorPair = (RES_E_FAIL, "Terminal: Call failed")
NOT_FOUND: ErrorPair = (RES_E_NOT_FOUND, "Terminal: Not found")
INVALID_PARAMS: ErrorPair = (RES_E_INVALID_PARAMS, "Terminal: Invalid params")


def invalid_argument(name: str) -> ErrorPair:
    """MetaTrader's refusal of a malformed request field: ``Invalid "volume" argument``."""
    return (RES_E_INVALID_PARAMS, f'Invalid "{name}" argument')
