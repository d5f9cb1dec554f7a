"""Argument checks and filters shared by the terminal's query functions.

MetaTrader's selection rules: ``orders_get``/``positions_get`` take one of ``symbol``,
``group`` or ``ticket`` (``symbol`` wins, then ``group``); ``history_*_get`` take a
``date_from``/``date_to`` window (with an optional ``group``), or ``ticket`` (for deals, the
ticket of the *order* that produced them), or ``position``. Windows include both ends.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, TypeVar

from forexbot.connectors.mt5_constants import COPY_TICKS_ALL, COPY_TICKS_INFO, COPY_TICKS_TRADE

from .symbols import match_group
from .timeutil import date_argument

MAX_COUNT = 100_000
TICK_FLAGS = frozenset({COPY_TICKS_ALL, COPY_TICKS_INFO, COPY_TICKS_TRADE})


class _HasSymbol(Protocol):
    @property
    def symbol(self) -> str: ...

    @property
    def ticket(self) -> int: ...


T = TypeVar("T", bound=_HasSymbol)


def select_open(
    items: Iterable[T], symbol: str | None, group: str | None, ticket: int | None
) -> tuple[T, ...]:
    """Open positions/orders selected MetaTrader's way."""
    if symbol is not None:
        return tuple(i for i in items if i.symbol == symbol)
    if group is not None:
        return tuple(i for i in items if match_group(i.symbol, group))
    if ticket is not None:
        return tuple(i for i in items if i.ticket == ticket)
    return tuple(items)


def is_count(value: object, *, allow_zero: bool = False) -> bool:
    """A usable ``count``/``start_pos``: an int (not bool) within MetaTrader's limits."""
    if not isinstance(value, int) or isinstance(value, bool):
        return False
    return (0 if allow_zero else 1) <= value <= MAX_COUNT


def window(date_from: object, date_to: object) -> tuple[int, int] | None:
    """Both dates as epoch seconds, or None when either is not a date."""
    start, end = date_argument(date_from), date_argument(date_to)
    if start is None or end is None:
        return None
    return start, end


def in_window(time: int, bounds: tuple[int, int]) -> bool:
    return bounds[0] <= time <= bounds[1]
