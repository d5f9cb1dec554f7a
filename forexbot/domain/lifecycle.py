"""The trade lifecycle: the states a trade passes through and the only moves between them.

A strategy's :class:`~forexbot.domain.trading.Signal` is the trade's first, unpersisted state:
the risk manager either refuses it (a ``RiskRejectedEvent``, recorded in ``system_logs``) or
turns it into an order intent, and from then on the trade is a row of ``trades`` whose status
moves only along :data:`TRANSITIONS`::

    signal ─► intent ─► submitted ─► open ─► closing ─► closed
                 │          │          │ ▲       │
                 │          │          │ └───────┘  (partial close, or a refused close)
                 │          │          └──────────────► closed  (SL/TP or a close outside the bot)
                 ├──────────┴─► rejected   (the terminal or the trade server refused the order)
                 └──────────┴─► cancelled  (never sent, or found not executed after a crash)

Why each move exists:

* ``intent → submitted``: the row is written first, then marked just before ``order_send``,
  so a crash leaves either an unsent intent (cancelled by reconciliation) or a submitted order
  that reconciliation looks for at the terminal by its client order id.
* ``intent → open``: reconciliation may find the position of an intent whose ``submitted``
  mark was lost; the terminal is the truth.
* ``open → open``: a partial close (by the bot or by hand) changes the closed volume and the
  realised money, not the state; it is recorded as a transition all the same, so the history
  of the trade's volume is complete.
* ``closing → open``: the rest of a partially closed position, or a close the server refused.

``closed``, ``rejected`` and ``cancelled`` are final. The repository enforces this table in
the database, atomically (``database/trades.py``); nothing else changes a trade's status.
"""

from __future__ import annotations

from collections.abc import Mapping

from forexbot.domain.trading import TradeStatus
from forexbot.errors import DatabaseError

S = TradeStatus

#: For each status, the statuses a trade may move to from it.
TRANSITIONS: Mapping[TradeStatus, frozenset[TradeStatus]] = {
    S.INTENT: frozenset({S.SUBMITTED, S.OPEN, S.REJECTED, S.CANCELLED}),
    S.SUBMITTED: frozenset({S.OPEN, S.REJECTED, S.CANCELLED}),
    S.OPEN: frozenset({S.OPEN, S.CLOSING, S.CLOSED}),
    S.CLOSING: frozenset({S.OPEN, S.CLOSED}),
    S.CLOSED: frozenset(),
    S.REJECTED: frozenset(),
    S.CANCELLED: frozenset(),
}

#: Statuses of a trade that holds, or may hold, a position at the terminal.
LIVE_STATUSES: tuple[TradeStatus, ...] = (S.INTENT, S.SUBMITTED, S.OPEN, S.CLOSING)

#: Statuses a trade never leaves.
FINAL_STATUSES: tuple[TradeStatus, ...] = (S.CLOSED, S.REJECTED, S.CANCELLED)


def allowed_from(target: TradeStatus) -> tuple[TradeStatus, ...]:
    """The statuses from which a trade may move to ``target`` (in enum order)."""
    return tuple(status for status in TradeStatus if target in TRANSITIONS[status])


def can_move(current: TradeStatus, target: TradeStatus) -> bool:
    """Whether ``current → target`` is a transition of the lifecycle."""
    return target in TRANSITIONS[current]


class IllegalTransition(DatabaseError):
    """A trade was asked to move to a status its current status does not allow."""

    def __init__(self, trade_id: int, current: TradeStatus, target: TradeStatus) -> None:
        allowed = ", ".join(status.value for status in allowed_from(target))
        super().__init__(
            f"trade {trade_id} cannot become {target.value!r} from {current.value!r} "
            f"(allowed from: {allowed or 'nothing'})"
        )
        self.trade_id = trade_id
        self.current = current
        self.target = target
