"""A simulated MetaTrader 5 terminal with the ``MetaTrader5`` module's surface.

``import forexbot.connectors.mt5sim as mt5`` works in place of ``import MetaTrader5 as mt5``:
the same constants, named tuples and functions, with the same failure behaviour (None or False
plus ``last_error()``; ``(-10004, 'No IPC connection')`` before ``initialize()`` and after
``shutdown()``). It is a product feature: paper trading, demos and backtests run against it.

The module-level functions delegate to a default :class:`SimulatedTerminal`, created by the
first ``initialize()``: a USD hedging demo account with 10,000 balance and leverage 100 on the
real-time clock, seeded from ``FOREXBOT_SIM_SEED`` (default 20240101); ``FOREXBOT_SIM_STATE``
keeps its account in a file across processes and ``FOREXBOT_SIM_START`` starts its clock at
a fixed time (see :mod:`.environment`). Importing the module does no work. The daemon plugs
in its own instance (accelerated clock, state file) with :func:`set_terminal` and gets it
back with :func:`get_terminal`.

**The functions call like C built-ins.** MetaTrader5's functions are built-ins, which are not
descriptors, so frameworks store them on classes (``setattr(Core, "_initialize",
mt5.initialize)``) and call ``self._initialize()`` without the instance being passed. Every
public function here is therefore a :class:`~.callables.ModuleFunction`: a callable object with
no ``__get__`` (it never binds, wherever it is stored), keeping ``__name__``, ``__doc__``,
``__wrapped__``, ``inspect.signature``, static types and pickling by reference. A
``staticmethod`` was not used: reading it from the class gives back the plain function, which
binds again once stored elsewhere (see :mod:`.callables`).

**The structures are built like MetaTrader's** (C struct sequences): ``Tick(row)`` from one
sequence of exactly the right length (see :mod:`.structures`). ``docs/mt5sim.md`` lists what
the module reproduces, the rulings and their sources, and what it does not reproduce.
"""

from __future__ import annotations

import os
import threading

import numpy as np
from numpy.typing import NDArray

from forexbot.connectors.mt5_constants import *  # noqa: F403  (the module surface is MetaTrader's constants)

from .callables import module_function
from .environment import (
    REPLAY_ENV,
    SEED_ENV,
    SPEED_ENV,
    START_ENV,
    STATE_ENV,
    terminal_from_environment,
)
from .errors import INIT_FAILED, NO_IPC, ErrorPair, SimulatorError, SimulatorStateError
from .faults import FaultInjector, Faults
from .feed import GeneratedFeed, PriceFeed
from .mt5csv import ReplayDataError
from .replay import ReplayBars, ReplayFeed
from .structures import (
    RATES_DTYPE,
    TICKS_DTYPE,
    AccountInfo,
    BookInfo,
    OrderCheckResult,
    OrderSendResult,
    SymbolInfo,
    TerminalInfo,
    Tick,
    TradeDeal,
    TradeOrder,
    TradePosition,
    TradeRequest,
)
from .terminal import DEFAULT_SEED, SimulatedTerminal

__author__ = "forexbot developers (MetaTrader5-compatible simulator)"
__version__ = "5.0.4755"

__all__ = [
    "DEFAULT_SEED",
    "RATES_DTYPE",
    "REPLAY_ENV",
    "SEED_ENV",
    "SPEED_ENV",
    "START_ENV",
    "STATE_ENV",
    "TICKS_DTYPE",
    "AccountInfo",
    "BookInfo",
    "FaultInjector",
    "Faults",
    "GeneratedFeed",
    "OrderCheckResult",
    "OrderSendResult",
    "PriceFeed",
    "ReplayBars",
    "ReplayDataError",
    "ReplayFeed",
    "SimulatedTerminal",
    "SimulatorError",
    "SimulatorStateError",
    "SymbolInfo",
    "TerminalInfo",
    "Tick",
    "TradeDeal",
    "TradeOrder",
    "TradePosition",
    "TradeRequest",
    "account_info",
    "copy_rates_from",
    "copy_rates_from_pos",
    "copy_rates_range",
    "copy_ticks_from",
    "copy_ticks_range",
    "get_terminal",
    "history_deals_get",
    "history_deals_total",
    "history_orders_get",
    "history_orders_total",
    "initialize",
    "last_error",
    "login",
    "market_book_add",
    "market_book_get",
    "market_book_release",
    "order_calc_margin",
    "order_calc_profit",
    "order_check",
    "order_send",
    "orders_get",
    "orders_total",
    "positions_get",
    "positions_total",
    "set_terminal",
    "shutdown",
    "symbol_info",
    "symbol_info_tick",
    "symbol_select",
    "symbols_get",
    "symbols_total",
    "terminal_info",
    "version",
]
__all__ += [name for name in dir() if name.isupper() and name not in __all__]  # constants


class _Default:
    """The module's terminal slot (a holder rather than module globals)."""

    lock = threading.Lock()
    terminal: SimulatedTerminal | None = None
    error: ErrorPair = NO_IPC  # what last_error() says while there is no terminal


@module_function
def set_terminal(terminal: SimulatedTerminal | None) -> None:
    """Make ``terminal`` the one the module functions use (None: forget the current one)."""
    with _Default.lock:
        _Default.terminal = terminal
        _Default.error = NO_IPC


@module_function
def get_terminal() -> SimulatedTerminal | None:
    """The terminal the module functions use, if one was created or set."""
    return _Default.terminal


def _default_terminal() -> SimulatedTerminal | None:
    with _Default.lock:
        if _Default.terminal is None:
            try:
                _Default.terminal = terminal_from_environment(os.environ)
            except SimulatorError as exc:
                _Default.error = (INIT_FAILED[0], f"{INIT_FAILED[1]}, {exc}")
                return None
        return _Default.terminal


@module_function
def initialize(
    path: str | None = None,
    *,
    login: int | None = None,
    password: str | None = None,
    server: str | None = None,
    timeout: int | None = None,
    portable: bool = False,
) -> bool:
    terminal = _default_terminal()
    if terminal is None:
        return False
    return terminal.initialize(
        path, login=login, password=password, server=server, timeout=timeout, portable=portable
    )


@module_function
def login(
    login: int, password: str | None = None, server: str | None = None, timeout: int | None = None
) -> bool:
    t = _Default.terminal
    return False if t is None else t.login(login, password, server, timeout)


@module_function
def shutdown() -> None:
    t = _Default.terminal
    if t is not None:
        t.shutdown()


@module_function
def version() -> tuple[int, int, str] | None:
    t = _Default.terminal
    return None if t is None else t.version()


@module_function
def last_error() -> tuple[int, str]:
    t = _Default.terminal
    return _Default.error if t is None else t.last_error()


@module_function
def account_info() -> AccountInfo | None:
    t = _Default.terminal
    return None if t is None else t.account_info()


@module_function
def terminal_info() -> TerminalInfo | None:
    t = _Default.terminal
    return None if t is None else t.terminal_info()


@module_function
def symbols_total() -> int | None:
    t = _Default.terminal
    return None if t is None else t.symbols_total()


@module_function
def symbols_get(group: str | None = None) -> tuple[SymbolInfo, ...] | None:
    t = _Default.terminal
    return None if t is None else t.symbols_get(group)


@module_function
def symbol_info(symbol: str) -> SymbolInfo | None:
    t = _Default.terminal
    return None if t is None else t.symbol_info(symbol)


@module_function
def symbol_info_tick(symbol: str) -> Tick | None:
    t = _Default.terminal
    return None if t is None else t.symbol_info_tick(symbol)


@module_function
def symbol_select(symbol: str, enable: bool = True) -> bool:
    t = _Default.terminal
    return False if t is None else t.symbol_select(symbol, enable)


@module_function
def market_book_add(symbol: str) -> bool:
    t = _Default.terminal
    return False if t is None else t.market_book_add(symbol)


@module_function
def market_book_get(symbol: str) -> tuple[BookInfo, ...] | None:
    t = _Default.terminal
    return None if t is None else t.market_book_get(symbol)


@module_function
def market_book_release(symbol: str) -> bool:
    t = _Default.terminal
    return False if t is None else t.market_book_release(symbol)


@module_function
def copy_rates_from(
    symbol: str, timeframe: int, date_from: object, count: int
) -> NDArray[np.void] | None:
    t = _Default.terminal
    return None if t is None else t.copy_rates_from(symbol, timeframe, date_from, count)


@module_function
def copy_rates_from_pos(
    symbol: str, timeframe: int, start_pos: int, count: int
) -> NDArray[np.void] | None:
    t = _Default.terminal
    return None if t is None else t.copy_rates_from_pos(symbol, timeframe, start_pos, count)


@module_function
def copy_rates_range(
    symbol: str, timeframe: int, date_from: object, date_to: object
) -> NDArray[np.void] | None:
    t = _Default.terminal
    return None if t is None else t.copy_rates_range(symbol, timeframe, date_from, date_to)


@module_function
def copy_ticks_from(
    symbol: str, date_from: object, count: int, flags: int
) -> NDArray[np.void] | None:
    t = _Default.terminal
    return None if t is None else t.copy_ticks_from(symbol, date_from, count, flags)


@module_function
def copy_ticks_range(
    symbol: str, date_from: object, date_to: object, flags: int
) -> NDArray[np.void] | None:
    t = _Default.terminal
    return None if t is None else t.copy_ticks_range(symbol, date_from, date_to, flags)


@module_function
def orders_total() -> int | None:
    t = _Default.terminal
    return None if t is None else t.orders_total()


@module_function
def orders_get(
    symbol: str | None = None, group: str | None = None, ticket: int | None = None
) -> tuple[TradeOrder, ...] | None:
    t = _Default.terminal
    return None if t is None else t.orders_get(symbol=symbol, group=group, ticket=ticket)


@module_function
def order_calc_margin(action: int, symbol: str, volume: float, price: float) -> float | None:
    t = _Default.terminal
    return None if t is None else t.order_calc_margin(action, symbol, volume, price)


@module_function
def order_calc_profit(
    action: int, symbol: str, volume: float, price_open: float, price_close: float
) -> float | None:
    t = _Default.terminal
    if t is None:
        return None
    return t.order_calc_profit(action, symbol, volume, price_open, price_close)


@module_function
def order_check(request: dict[str, object]) -> OrderCheckResult | None:
    t = _Default.terminal
    return None if t is None else t.order_check(request)


@module_function
def order_send(request: dict[str, object]) -> OrderSendResult | None:
    t = _Default.terminal
    return None if t is None else t.order_send(request)


@module_function
def positions_total() -> int | None:
    t = _Default.terminal
    return None if t is None else t.positions_total()


@module_function
def positions_get(
    symbol: str | None = None, group: str | None = None, ticket: int | None = None
) -> tuple[TradePosition, ...] | None:
    t = _Default.terminal
    return None if t is None else t.positions_get(symbol=symbol, group=group, ticket=ticket)


@module_function
def history_orders_total(date_from: object, date_to: object) -> int | None:
    t = _Default.terminal
    return None if t is None else t.history_orders_total(date_from, date_to)


@module_function
def history_orders_get(
    date_from: object = None,
    date_to: object = None,
    group: str | None = None,
    ticket: int | None = None,
    position: int | None = None,
) -> tuple[TradeOrder, ...] | None:
    t = _Default.terminal
    if t is None:
        return None
    return t.history_orders_get(date_from, date_to, group=group, ticket=ticket, position=position)


@module_function
def history_deals_total(date_from: object, date_to: object) -> int | None:
    t = _Default.terminal
    return None if t is None else t.history_deals_total(date_from, date_to)


@module_function
def history_deals_get(
    date_from: object = None,
    date_to: object = None,
    group: str | None = None,
    ticket: int | None = None,
    position: int | None = None,
) -> tuple[TradeDeal, ...] | None:
    t = _Default.terminal
    if t is None:
        return None
    return t.history_deals_get(date_from, date_to, group=group, ticket=ticket, position=position)
