"""The terminal's core: account creation or loading, the clock, the lock, the call protocol.

Every public method of the terminal follows one protocol (:meth:`TerminalCore._begin`): pass
the fault injector (a slow call sleeps *before* taking the lock; a disconnected terminal or an
IPC timeout fails the call, see :mod:`faults`), then under the lock refuse with
``(-10004, 'No IPC connection')`` when not initialised; otherwise bring the market up to the
clock's now (stops, stop-outs, pending orders, expiries, swaps), then answer, recording
``(1, 'Success')`` or the failure in ``last_error()``. :func:`terminal_call` wraps a method in
that protocol, written once; only ``initialize``, ``shutdown``, ``last_error`` and
``order_send`` (whose late answer comes outside the lock) spell out their own. The MetaTrader
functions themselves live in :mod:`market_api` (symbols, quotes, history of prices) and
:mod:`trading_api` (orders, positions, deals); :class:`~.terminal.SimulatedTerminal` combines
them.
"""

from __future__ import annotations

import functools
import logging
import pathlib
import threading
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, TypeVar

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
from .faults import FaultInjector, Faults
from .feed import GeneratedFeed, PriceFeed, VariantFeed
from .ledger import Ledger
from .matching import Matcher
from .persistence import load_state, save_state
from .replay import ReplayFeed, ReplaySource
from .series import MarketData
from .spread import FixedSpreadFeed
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

_Core = TypeVar("_Core", bound="TerminalCore")
_P = ParamSpec("_P")
_R = TypeVar("_R")
_F = TypeVar("_F")


def terminal_call(
    *, failure: _F
) -> Callable[[Callable[Concatenate[_Core, _P], _R]], Callable[Concatenate[_Core, _P], _R | _F]]:
    """Run a MetaTrader function under the terminal's call protocol (see the module doc).

    Under the lock, :meth:`TerminalCore._begin` admits the call and brings the market up to
    now; when it refuses (no connection, an injected fault) the function answers ``failure``
    (None, or False for the boolean functions) with ``last_error()`` already set, as
    MetaTrader does. The method itself then only checks its arguments and answers.
    """

    def wrap(
        method: Callable[Concatenate[_Core, _P], _R],
    ) -> Callable[Concatenate[_Core, _P], _R | _F]:
        @functools.wraps(method)
        def call(self: _Core, /, *args: _P.args, **kwargs: _P.kwargs) -> _R | _F:
            with self._lock:
                if not self._begin():
                    return failure
                return method(self, *args, **kwargs)

        return call

    return wrap


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
        margin_call: float = 100.0,
        stop_out: float = 50.0,
        replay: Mapping[str, ReplaySource] | None = None,
        faults: Faults | None = None,
        fixed_spread: Mapping[str, int] | None = None,
        slippage_points: int = 0,
        swap_free: bool = False,
        fill_model: str = "ticks",
        cache_days: int = 256,
        symbol_variants: Sequence[str] = (),
    ) -> None:
        self._catalogue = Catalogue(variants=symbol_variants)
        if currency not in self._catalogue.currencies():
            raise SimulatorError(f"unsupported account currency {currency!r}")
        if leverage < 1 or balance < 0:
            raise SimulatorError(f"invalid account: leverage={leverage}, balance={balance}")
        if not 0 <= stop_out <= margin_call:
            raise SimulatorError(
                f"need 0 <= stop_out <= margin_call, got {stop_out}, {margin_call}"
            )
        self._clock: Clock = clock or RealtimeClock()
        self.faults = FaultInjector(faults)
        self._lock = _CallGate(self.faults)
        self._lost_reply = False
        # Lookups over the account's order and deal history (see :mod:`.history_index`).
        self._history_indexes: dict[int, Any] = {}
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
                margin_call=margin_call,
                stop_out=stop_out,
            )
            if balance:
                state.deposit(balance, now, "Initial deposit")
        self._state = state
        held = {p.symbol for p in state.positions.values()} | {
            o.symbol for o in state.orders.values()
        }
        if unknown := sorted(name for name in held if name not in self._catalogue):
            raise SimulatorError(
                f"the paper account holds positions or orders on {', '.join(unknown)}, which "
                "this terminal does not list (pass the account's symbol_variants)"
            )
        self._feed: PriceFeed = GeneratedFeed(state.seed, self._catalogue, day_cache=cache_days)
        self._replay: ReplayFeed | None = None
        if replay:
            self._replay = ReplayFeed.from_files(
                replay,
                catalogue=self._catalogue,
                fallback=self._feed,
                seed=state.seed,
                cache_days=cache_days,
            )
            self._feed = self._replay
        if self._catalogue.has_variants:
            self._feed = VariantFeed(self._feed, self._catalogue)
        if fixed_spread:
            self._feed = FixedSpreadFeed(self._feed, self._catalogue, fixed_spread, cache_days)
        self._market = MarketData(self._feed, self._catalogue)
        self._ledger = Ledger(
            state,
            self._catalogue,
            self._market,
            commission_per_lot=commission_per_lot,
            swap_free=swap_free,
        )
        self._desk = TradeDesk(
            self._ledger,
            market_open=lambda symbol: self._feed.is_open(symbol, self._ledger.now_msc / 1000),
            selected=lambda symbol: symbol in self._state.market_watch,
            requotes=requotes,
            slippage_points=slippage_points,
        )
        self._matcher = Matcher(self._ledger, fill_model)
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

    @property
    def feed(self) -> PriceFeed:
        """The market data source (generated, or a :class:`ReplayFeed` over it)."""
        return self._feed

    @property
    def replay_end(self) -> float | None:
        """UTC time after which no replayed symbol has data (None without replay)."""
        end = self._replay.end if self._replay is not None else None
        return None if end is None else from_server_seconds(end)

    def server_offset(self, utc_epoch: float) -> int:
        """Seconds between the broker's server time and UTC at ``utc_epoch`` (7200 or 10800)."""
        return server_offset(utc_epoch)

    def _server_now(self) -> int:
        self._last_now = max(self._last_now, to_server_msc(self._clock.time()))
        return self._last_now

    def _save(self) -> None:
        if self._state_path is not None:
            save_state(self._state, self._state_path)

    def _admit(self, call: str) -> bool:
        """The fault injector's verdict on a call (see :mod:`faults`)."""
        error, lose_reply = self.faults.admit(call)
        if error is not None:
            if self.faults.disconnected:
                self._connected = False
            self._error = error
            return False
        self._lost_reply = lose_reply
        return True

    def _take_lost_reply(self) -> bool:
        lost, self._lost_reply = self._lost_reply, False
        return lost

    def _begin(self, call: str = "", *, admitted: bool = False) -> bool:
        """Start a call: refuse without a connection, else bring the market up to now."""
        if not admitted and not self._admit(call):
            return False
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
        """Connect the terminal, like a demo account: any password is accepted.

        Credentials are checked for type only; a ``login``/``server`` given becomes the paper
        account's number and server name (it is the one account this terminal holds).
        """
        with self._lock:
            if not self._admit("initialize"):
                return False
            if not credentials_ok(path, login, password, server, timeout):
                self._error = INVALID_PARAMS
                return False
            self._connected = True
            if not self._begin(admitted=True):
                return False
            self._adopt(login, server)
            return True

    def _adopt(self, login: int | None, server: str | None) -> None:
        changed = False
        if login is not None and login != self._state.login:
            self._state.login, changed = login, True
        if server is not None and server != self._state.server:
            self._state.server, changed = server, True
        if changed:
            self._save()

    @terminal_call(failure=False)
    def login(
        self,
        login: int,
        password: str | None = None,
        server: str | None = None,
        timeout: int | None = None,
    ) -> bool:
        if not credentials_ok(None, login, password, server, timeout) or login is None:
            self._error = INVALID_PARAMS
            return False
        self._adopt(login, server)
        return True

    def shutdown(self) -> None:
        """Disconnect; the account is first brought up to now and saved."""
        with self._lock:
            if self._connected:
                self._matcher.process(self._server_now())
                self._save()
            self._connected = False
            self._error = SUCCESS

    @terminal_call(failure=None)
    def version(self) -> tuple[int, int, str] | None:
        return (500, BUILD, BUILD_DATE)

    def last_error(self) -> tuple[int, str]:
        """Answered locally, like the client library does: never slow, never failing."""
        return self._error

    @terminal_call(failure=None)
    def account_info(self) -> AccountInfo | None:
        profit, margin = self._ledger.totals()
        return account_info(self._state, profit, margin)

    @terminal_call(failure=None)
    def terminal_info(self) -> TerminalInfo | None:
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


class _CallGate:
    """The terminal's re-entrant lock, which first lets a slow-call fault sleep.

    The delay happens only on the outermost entry of a thread and before the lock is taken,
    so a slow call does not hold the lock while it sleeps (a fault switch or another thread
    is not blocked by it).
    """

    def __init__(self, faults: FaultInjector) -> None:
        self._faults = faults
        self._lock = threading.RLock()
        self._owner: int | None = None
        self._depth = 0

    def __enter__(self) -> None:
        me = threading.get_ident()
        if self._owner != me:
            self._faults.delay()
            self._lock.acquire()
            self._owner = me
        self._depth += 1

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._depth -= 1
        if self._depth == 0:
            self._owner = None
            self._lock.release()
