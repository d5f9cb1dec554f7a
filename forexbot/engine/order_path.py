"""Whether the order path has work that analysing the rest of a burst would delay.

The strategy manager gives way to the order path (``defer_to``: a signal goes to risk and its
order to the terminal before the next instance computes). Giving way is worth it only while
the order path has work *on the event loop*: a signal being decided by risk, an intent's row
or its request being built. An order waiting for the terminal's answer is not such work —
the worker thread and the broker are doing it, and with a real broker that answer takes tens
of milliseconds during which the burst's analysis would stand still for nothing. The next
order cannot overtake it anyway: the terminal's calls run one at a time, in order. Nor is an
intent waiting for the database to commit it (a round trip and a WAL flush, about a
millisecond): the rest of the burst is analysed meanwhile, and the next signals are decided by
risk while the first is being made durable; their intents are written together, in one
transaction, once the first is sent.

Rules:

* **Busy** while the ``risk`` subscriber has a signal queued or in hand, or the ``execution``
  subscriber has an intent queued or in hand and is not waiting (for the terminal's answer to
  its ``order_send``, or for the database to commit its intent).
* **Not busy** while every intent in the execution's hands waits
  (:meth:`OrderPath.at_terminal` around the terminal's call, :meth:`OrderPath.at_database`
  around the intent's write).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from forexbot.events.bus import EventBus

#: The bus subscribers of the order path.
ORDER_PATH = ("risk", "execution")


class OrderPath:
    """The order path's state as the strategy manager's ``defer_to`` reads it."""

    def __init__(self, bus: EventBus) -> None:
        self._bus = bus
        self._at_terminal = 0
        self._at_database = 0

    @contextlib.contextmanager
    def at_terminal(self) -> Iterator[None]:
        """Around an ``order_send`` awaiting the terminal's answer."""
        self._at_terminal += 1
        try:
            yield
        finally:
            self._at_terminal -= 1

    @contextlib.contextmanager
    def at_database(self) -> Iterator[None]:
        """Around an intent's write awaiting the database's commit."""
        self._at_database += 1
        try:
            yield
        finally:
            self._at_database -= 1

    def waiting_for_terminal(self) -> bool:
        return self._at_terminal > 0

    def waiting_for_database(self) -> bool:
        return self._at_database > 0

    def busy(self) -> bool:
        """See the module docstring."""
        risk, execution = ORDER_PATH
        if self._bus.busy(risk):
            return True
        waiting = self._at_terminal > 0 or self._at_database > 0
        return self._bus.busy(execution) and not waiting
