"""The project's exception hierarchy: one class per kind of failure.

Every exception the daemon raises on purpose derives from :class:`ForexbotError`, so callers
(the CLI, the API's error middleware, the supervisor of a component) can tell our failures,
which carry a message meant for a person, from programming errors. A class says what went
wrong, never how it is answered: the HTTP statuses are chosen in :mod:`forexbot.api.errors`
only, the exit codes in :func:`forexbot.cli.main.main`. The kinds a client can act on carry a
machine-readable ``code`` beside the message (``invalid_stops``, ``not_open``...)::

    ForexbotError
    ├── ConfigError            a configuration file, environment variable or command-line
    │                          option is missing or wrong
    ├── InvalidInputError      a value given to an operation is refused (code)
    ├── NotFoundError          what was named (a trade, a user, a strategy) does not exist
    ├── StateConflictError     not in a state that allows it (code)
    ├── ShuttingDownError      the daemon is stopping: no new action
    ├── AuthError              authentication or authorisation failed
    ├── RiskRejection          the risk manager refused a trade (code)
    ├── OrderRefusedError      the terminal refused a close or a change of stops (code)
    ├── OutcomeUnknownError    an order went out and its answer was lost
    ├── TerminalError          a terminal call failed
    │   └── TerminalTimeout    ... or did not return in time
    ├── DatabaseError          the database could not be reached, started or migrated
    ├── PersistenceError       state that must outlive a restart could not be written
    ├── SealedFieldError       a sealed field does not open with the data key
    ├── InstanceLockedError    another daemon holds the data directory or the account
    ├── ListenError            the API cannot listen where it is configured to
    └── StopFailedError        steps of a stop failed (every other step still ran)

Modules refine a kind where a caller must tell cases apart: ``SettingsRefused`` is an
:class:`InvalidInputError` naming each refused key, ``DuplicateUser`` a
:class:`StateConflictError`.
"""

from __future__ import annotations


class ForexbotError(Exception):
    """Root of every error raised on purpose by forexbot."""


class ConfigError(ForexbotError):
    """A configuration value is missing or invalid: a configuration file, an environment
    variable, a key or secret file, a command-line option. Start-up or the command stops
    with exit code 2."""


class InvalidInputError(ForexbotError):
    """A value given to an operation is refused by its rules: an API request's field, a
    strategy's parameters, a password, a period with no data. The caller can fix it and try
    again; nothing changed. ``code`` is machine-readable (``invalid_stops``,
    ``unknown_symbol``...)."""

    def __init__(self, message: str, *, code: str = "validation_error") -> None:
        super().__init__(message)
        self.code = code


class NotFoundError(ForexbotError):
    """A requested record (trade, position, user, strategy instance) does not exist."""


class StateConflictError(ForexbotError):
    """The thing acted on is not in a state that allows the action (a trade not open, the
    kill switch not on, a name already taken), possibly because of a change made meanwhile.
    ``code`` is machine-readable (``not_open``, ``not_halted``...)."""

    def __init__(self, message: str, *, code: str = "conflict") -> None:
        super().__init__(message)
        self.code = code


class ShuttingDownError(ForexbotError):
    """The daemon is shutting down and accepts no new action."""


class AuthError(ForexbotError):
    """Authentication or authorisation failed."""


class RiskRejection(ForexbotError):
    """The risk manager refused a trade; ``code`` is machine-readable (``max_open_positions``,
    ``kill_switch``...), the message says why in words."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class OrderRefusedError(ForexbotError):
    """The terminal or the trade server refused an order acting on a position (a close, a
    change of SL/TP); nothing changed at the terminal. ``code`` names the action refused
    (``close_refused``, ``modify_refused``)."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


class OutcomeUnknownError(ForexbotError):
    """An order was sent and its answer was lost, and it could not be found since: whether it
    executed is known only once reconciliation reads the terminal again."""


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


class DatabaseError(ForexbotError):
    """The database could not be reached, started or migrated."""


class PersistenceError(ForexbotError):
    """State that must outlive a restart (the kill switch's latch) could not be written."""


class SealedFieldError(ForexbotError):
    """A field stored sealed does not open with the data key: the key was changed, or the row
    was altered. Never answered with a wrong value."""


class InstanceLockedError(ForexbotError):
    """Another daemon already runs on this data directory or trades this account; start-up
    is refused (exit code 3)."""


class ListenError(ForexbotError):
    """The API cannot listen where it is configured to (port in use, no permission, unknown
    host); start-up is refused before anything trades (exit code 4)."""


class StopFailedError(ForexbotError):
    """One or more steps of a stop failed; every other step still ran. ``errors`` holds what
    each failed step raised (each was logged with the step's name when it happened)."""

    def __init__(self, errors: list[BaseException]) -> None:
        names = ", ".join(type(e).__name__ for e in errors)
        super().__init__(f"{len(errors)} stop step(s) failed: {names}")
        self.errors = errors
