"""The project's exception hierarchy.

Every exception the daemon raises on purpose derives from :class:`ForexbotError`, so callers
(the CLI, the API's error middleware, the supervisor of a component) can tell our failures,
which carry a message meant for a person, from programming errors.
"""

from __future__ import annotations


class ForexbotError(Exception):
    """Root of every error raised on purpose by forexbot."""


class ConfigError(ForexbotError):
    """A configuration value is missing or invalid; start-up stops with exit code 2."""


class TerminalError(ForexbotError):
    """A MetaTrader 5 terminal call failed.

    ``code`` and ``description`` are what the terminal's ``last_error()`` reported, so a log
    line says exactly what MetaTrader said (e.g. ``-10004 No IPC connection``).
    """

    def __init__(self, message: str, code: int = 0, description: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.description = description


class TerminalTimeout(TerminalError):
    """A terminal call did not return within its timeout.

    The call may still complete on the worker thread: for ``order_send`` a timeout is *not* a
    rejection, and the caller must look for the order before trying again.
    """


class OrderRejected(ForexbotError):
    """The terminal or the trade server refused an order (``retcode`` is MetaTrader's)."""

    def __init__(self, message: str, retcode: int) -> None:
        super().__init__(message)
        self.retcode = retcode


class DatabaseError(ForexbotError):
    """The database could not be reached, started or migrated."""


class InstanceLockedError(ForexbotError):
    """Another daemon already runs on this data directory or trades this account; start-up
    is refused (exit code 3)."""


class ListenError(ForexbotError):
    """The API cannot listen where it is configured to (port in use, no permission, unknown
    host); start-up is refused before anything trades (exit code 4)."""


class StateConflictError(ForexbotError):
    """The request conflicts with a change that happened meanwhile (409)."""


class PersistenceError(ForexbotError):
    """State that must outlive a restart (the kill switch's latch) could not be written."""


class AuthError(ForexbotError):
    """Authentication or authorisation failed."""


class NotFoundError(ForexbotError):
    """A requested record (trade, user, symbol) does not exist."""


class RiskRejection(ForexbotError):
    """The risk manager refused a trade; ``code`` is machine-readable (``max_open_positions``,
    ``kill_switch``...), the message says why in words."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class TradeActionError(ForexbotError):
    """A manual action on a trade or position that cannot be done.

    ``status`` is the HTTP status it means (404 no such trade or position, 409 not in a state
    that allows it, 422 invalid values, 502 the terminal refused, 504 the terminal did not
    answer), ``code`` a machine-readable reason.
    """

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
