"""Indexes over the account's history, so lookups stay fast however long the history grows.

Finished orders and deals are only ever appended. A :class:`HistoryIndex` follows one such list
incrementally (records appended since the last query are indexed on the next one): by order
ticket, by position, and — when the times are in order, as deal times are — by time, so a
window is found by bisection. A backtest with tens of thousands of deals, each settled by its
order or position, would otherwise scan the whole history per trade.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from typing import Generic, Protocol, TypeVar


class Record(Protocol):
    @property
    def position_id(self) -> int: ...


R = TypeVar("R", bound=Record)


class HistoryIndex(Generic[R]):
    """Lookups over an append-only list of history records (see the module docstring)."""

    def __init__(
        self, records: Sequence[R], order_of: Callable[[R], int], time_of: Callable[[R], int]
    ) -> None:
        self.records = records
        self._order_of = order_of
        self._time_of = time_of
        self._size = 0
        self._by_order: dict[int, list[R]] = {}
        self._by_position: dict[int, list[R]] = {}
        self._times: list[int] = []
        self._in_order = True

    def follows(self, records: Sequence[R]) -> bool:
        """Whether this index still describes ``records`` (the same list, only grown)."""
        return records is self.records and len(records) >= self._size

    def _catch_up(self) -> None:
        for record in self.records[self._size :]:
            self._by_order.setdefault(self._order_of(record), []).append(record)
            self._by_position.setdefault(record.position_id, []).append(record)
            when = self._time_of(record)
            if self._times and when < self._times[-1]:
                self._in_order = False
            self._times.append(when)
        self._size = len(self.records)

    def by_order(self, ticket: int) -> tuple[R, ...]:
        self._catch_up()
        return tuple(self._by_order.get(ticket, ()))

    def by_position(self, position: int) -> tuple[R, ...]:
        self._catch_up()
        return tuple(self._by_position.get(position, ()))

    def in_window(self, start: int, end: int) -> Sequence[R]:
        """Records with ``start <= time <= end``, in list order."""
        self._catch_up()
        if not self._in_order:
            return [r for r, t in zip(self.records, self._times, strict=True) if start <= t <= end]
        lo = bisect.bisect_left(self._times, start)
        hi = bisect.bisect_right(self._times, end)
        return self.records[lo:hi]
