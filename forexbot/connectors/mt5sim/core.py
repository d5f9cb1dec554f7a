"""The terminal's core: account creation or loading, the clock, the lock, the call protocol.

Every public method of the terminal follows one protocol (:meth:`TerminalCore._begin`): under
the lock, refuse with ``(-10004, 'No IPC connection')`` when not initialised; otherwise bring
the market up to the clock's now (stops, pending orders, expiries), then answer, recording
``(1, 'Success')`` or the failure in ``last_error()``. The MetaTrader functions themselves live
in :mod:`market_api` (symbols, quotes, history of prices) and :mod:`trading_api` (orders,
positions, deals); :class:`~.terminal.SimulatedTerminal` combines them.
"""

from __future__ import annotations

import logging
import pathlib
import threading

import numpy as np

from forexbot.clock import Clock, RealtimeClock

from .account import AccountState
from .errors import (
    INVALID_PARAMS,
    NO_IPC,
    NOT_FOUND,
    SUCCESS,
    ErrorPair,
    SimulatorError,
)
from .feed import GeneratedFeed
from .ledger import Ledger
from .matching import Matcher
from .persistence import load_state, save_state
from .series import MarketData
from .structures import (
    AccountInfo,
    TerminalInfo,
)
from .symbols import Catalogue, SymbolSpec
from .timeutil import from_server_seconds, server_offset, to_server_msc
from .trading import TradeDesk
from .views import BUILD, BUILD_DATE, account_info, terminal_info

log = logging.getLogger(__name__)

DEFAULT_SEED = 20240101
_NUMBER = (int, float, np.integer, np.floating)


class TerminalCore:
    """State and call protocol shared by the terminal's API groups."""

    def __init__(
        self,
        *,
        seed: int = DEFAULT_SEED,
        clock: Clock | None = None,
        balance: float = 10_000.0,
        leverage: int = 100,
        currency: str = "USD",
        hedging: bool = True,
        login: int = 5_000_001,
        server: str = "Forexbot-Sim",
        state_path: pathlib.Path | None = None,
        requotes: bool = False,
        commission_per_lot: float = 0.0,
    ) -> None:
        self._catalogue = Catalogue()
        if currency not in self._catalogue.currencies():
            raise SimulatorError(f"unsupported account currency {currency!r}")
        if leverage < 1 or balance < 0:
            raise SimulatorError(f"invalid account: leverage={leverage}, balance={balance}")
        self._clock: Clock = clock or RealtimeClock()
        self._lock = threading.RLock()
        self._state_path = state_path
        self._last_now = 0
        self._connected = False
        self._error: ErrorPair = NO_IPC
        now = self._server_now()
        if state_path is not None and state_path.exists():
            state = load_state(state_path)
            if state.seed != seed:
                log.info("paper account %s keeps its seed %s", state_path, state.seed)
        else:
            state = AccountState(
                seed=seed,
                login=login,
                server=server,
                currency=currency,
                leverage=leverage,
                hedging=hedging,
                balance=0.0,
                processed_msc=now,
                market_watch=[s.name for s in self._catalogue.all() if s.in_market_watch],
            )
            if balance:
                state.deposit(balance, now, "Initial deposit")
        self._state = state
        self._feed = GeneratedFeed(state.seed, self._catalogue)
        self._market = MarketData(self._feed, self._catalogue)
        self._ledger = Ledger(
            state, self._catalogue, self._market, commission_per_lot=commission_per_lot
        )
        self._desk = TradeDesk(
            self._ledger,
            market_open=lambda symbol: self._feed.is_open(symbol, self._ledger.now_msc / 1000),
            selected=lambda symbol: symbol in self._state.market_watch,
            requotes=requotes,
        )
        self._matcher = Matcher(self._ledger)
        self._save()

    # --- plumbing ---------------------------------------------------------------------
    @staticmethod
    def saved_clock_time(state_path: pathlib.Path) -> float | None:
        """The UTC time at which the paper account saved in ``state_path`` stopped, if any.

        An accelerated clock should resume there (or later): a paper account's time must not
        run backwards. Raises :class:`SimulatorStateError` for an unreadable file.
        """
        if not state_path.exists():
            return None
        return from_server_seconds(load_state(state_path).processed_msc / 1000)

    @property
    def seed(self) -> int:
        return self._state.seed

    @property
    def state_path(self) -> pathlib.Path | None:
        return self._state_path

    def server_offset(self, utc_epoch: float) -> int:
        """Seconds between the broker's server time and UTC at ``utc_epoch`` (7200 or 10800)."""
        return server_offset(utc_epoch)

    def _server_now(self) -> int:
        self._last_now = max(self._last_now, to_server_msc(self._clock.time()))
        return self._last_now

    def _save(self) -> None:
        if self._state_path is not None:
            save_state(self._state, self._state_path)

    def _begin(self) -> bool:
        """Start a call: refuse without a connection, else bring the market up to now."""
        if not self._connected:
            self._error = NO_IPC
            return False
        now = self._server_now()
        if self._matcher.process(now):
            self._save()
        self._ledger.now_msc = max(now, self._state.processed_msc)
        self._error = SUCCESS
        return True

    def _fail(self, error: ErrorPair) -> None:
        self._error = error

    def _spec(self, symbol: object) -> SymbolSpec | None:
        spec = self._catalogue.get(symbol) if isinstance(symbol, str) else None
        if spec is None:
            self._error = NOT_FOUND
        return spec

    # --- connection -------------------------------------------------------------------
    def initialize(
        self,
        path: str | None = None,
        *,
        login: int | None = None,
        password: str | None = None,
        server: str | None = None,
        timeout: int | None = None,
        portable: bool = False,
    ) -> bool:
        """Connect the terminal. Credentials are checked for type only: one paper account."""
        with self._lock:
            if not credentials_ok(path, login, password, server, timeout):
                self._error = INVALID_PARAMS
                return False
            self._connected = True
            return self._begin()

    def login(
        self,
        login: int,
        password: str | None = None,
        server: str | None = None,
        timeout: int | None = None,
    ) -> bool:
        with self._lock:
            if not self._begin():
                return False
            if not credentials_ok(None, login, password, server, timeout) or login is None:
                self._error = INVALID_PARAMS
                return False
            return True

    def shutdown(self) -> None:
        """Disconnect; the account is first brought up to now and saved."""
        with self._lock:
            if self._connected:
                self._matcher.process(self._server_now())
                self._save()
            self._connected = False
            self._error = SUCCESS

    def version(self) -> tuple[int, int, str] | None:
        with self._lock:
            return (500, BUILD, BUILD_DATE) if self._begin() else None

    def last_error(self) -> tuple[int, str]:
        with self._lock:
            return self._error

    def account_info(self) -> AccountInfo | None:
        with self._lock:
            if not self._begin():
                return None
            profit, margin = self._ledger.totals()
            return account_info(self._state, profit, margin)

    def terminal_info(self) -> TerminalInfo | None:
        with self._lock:
            if not self._begin():
                return None
            return terminal_info(str(self._state_path.parent) if self._state_path else "")


def credentials_ok(
    path: object, login: object, password: object, server: object, timeout: object
) -> bool:
    checks = (
        (path, str),
        (login, int),
        (password, str),
        (server, str),
        (timeout, int),
    )
    return all(value is None or isinstance(value, kind) for value, kind in checks)


def numbers_ok(*values: object) -> bool:
    return all(isinstance(v, _NUMBER) and not isinstance(v, bool) for v in values)
