"""The orders in flight: approved, not settled yet. One book, written by the risk manager and
execution, read by the risk rules and reconciliation; the engine's assembly creates it and
hands it to both.

Why it matters: an approved order is not a position yet — the account, the position manager
and the terminal do not show it — but it will be one. Until it settles it counts as what it
will be: a position for the position limits, a holding for currency exposure, and margin in
use for the margin rules; otherwise two signals a moment apart could both take the last slot.

Rules:

* **Enters on approval** (:meth:`OrdersInFlight.reserve`): the risk manager reserves, under
  its decision lock (so the next decision sees it), the position the order will open (symbol,
  side, volume, price) and the margin the terminal computed for it.
* **Sending** (:meth:`OrdersInFlight.sending`): while execution writes and sends it,
  reconciliation leaves it alone (:meth:`OrdersInFlight.being_sent`) — its row may say
  ``intent`` or ``submitted`` with nothing at the terminal yet. Once its row is written
  (:meth:`OrdersInFlight.written`) only its settlement can release it. An order handed to
  execution without an approval (a tool, a test) is tracked only while it is being sent and
  reserves nothing.
* **Its margin is the account's once answered** (:meth:`OrdersInFlight.answered`): every
  account read after the terminal's answer to its ``order_send`` (the one that answer brings,
  or any asked later: the terminal answers in order) already holds the fill's margin, so
  from then the order stops reserving margin; it still counts as a position and a holding
  until it settles (the position manager learns of it then).
* **Leaves when its trade settles** (:meth:`OrdersInFlight.settle`): opened (filled),
  rejected, cancelled or closed, as the trade's event says. A lost answer (timeout) is looked
  for at the terminal first: found, it is a fill; not found, a rejection. When the terminal
  cannot even be asked, the row stays ``submitted`` and the order stays in flight — its slot
  and its margin kept — until reconciliation settles the row.
* **Leaves when nothing will settle it**: execution failed (or was cancelled) before its row
  was written.
* **Crash recovery**: the book is in memory only. After a restart it is empty; rows left
  ``submitted`` are settled by the first reconciliation against the terminal (a position or
  deal carrying the order's comment), which runs before anything is approved.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from forexbot.engine.exposure import Holding


@dataclass(slots=True)
class _Order:
    """One order in the book; ``holding`` is ``None`` for one sent without an approval."""

    holding: Holding | None
    margin: float = 0.0
    sending: bool = False
    written: bool = False
    answered: bool = False


class OrdersInFlight:
    """The book of orders in flight, by client order id (rules in the module docstring)."""

    def __init__(self) -> None:
        self._orders: dict[str, _Order] = {}

    # -- entering and leaving ---------------------------------------------------------------

    def reserve(self, client_order_id: str, holding: Holding, margin: float) -> None:
        """An approved order: it counts as ``holding`` and uses ``margin`` until it leaves."""
        self._orders[client_order_id] = _Order(holding, margin)

    @contextmanager
    def sending(self, client_order_id: str) -> Iterator[None]:
        """Execution is writing and sending the order. Leaving the block ends that; an
        exception before :meth:`written` also takes the order out of the book."""
        order = self._orders.setdefault(client_order_id, _Order(None))
        order.sending = True
        try:
            yield
        except BaseException:
            if not order.written:
                self._drop(client_order_id, order)  # no row: nothing will ever settle it
            raise
        finally:
            order.sending = False
            if order.holding is None:
                self._drop(client_order_id, order)

    def written(self, client_order_id: str) -> None:
        """The order's trade row exists: from now on only its settlement releases it."""
        order = self._orders.get(client_order_id)
        if order is not None:
            order.written = True

    def answered(self, client_order_id: str) -> None:
        """The terminal answered the order's ``order_send``: its margin is in the account."""
        order = self._orders.get(client_order_id)
        if order is not None:
            order.answered = True

    def settle(self, client_order_id: str) -> None:
        """The order's trade settled (open, rejected, cancelled, closed): it leaves. An order
        not in the book (settled already, or from before a restart) is ignored."""
        self._orders.pop(client_order_id, None)

    # -- reading ----------------------------------------------------------------------------

    def count(self, symbol: str | None = None) -> int:
        """Approved orders in flight, on ``symbol`` or on every symbol."""
        return sum(
            1
            for order in self._orders.values()
            if order.holding is not None and (symbol is None or order.holding.symbol == symbol)
        )

    def holdings(self) -> list[Holding]:
        """What the approved orders will hold once filled (for currency exposure)."""
        return [order.holding for order in self._orders.values() if order.holding is not None]

    def reserved_margin(self) -> float:
        """The margin the approved orders will use once filled, and the account does not show
        yet (not answered)."""
        return sum(order.margin for order in self._orders.values() if not order.answered)

    def being_sent(self) -> frozenset[str]:
        """Client order ids execution is sending right now (reconciliation leaves them be)."""
        return frozenset(coid for coid, order in self._orders.items() if order.sending)

    def _drop(self, client_order_id: str, order: _Order) -> None:
        if self._orders.get(client_order_id) is order:
            del self._orders[client_order_id]
