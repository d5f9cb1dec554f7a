"""The trade-store operations written once, for the PostgreSQL and the in-memory store.

:class:`TradeStoreBase` implements every write of the
:class:`~forexbot.engine.trade_store.TradeStore` protocol by building its
:class:`~forexbot.database.trade_changes.Change` (what the move writes, where it may come from)
and handing it to the store, which only knows how to keep it:
:class:`~forexbot.database.trades.TradeRepository` applies it in one PostgreSQL transaction,
:class:`~forexbot.backtest.trade_store.MemoryTradeStore` in a dict. The rules therefore hold
alike in both:

* **Idempotent intent.** An intent whose client order id exists returns the existing trade's
  id and writes nothing (:meth:`~TradeStoreBase.submit_intent` then only marks that trade
  submitted); reusing the id for a *different* order (another strategy, symbol, side
  or volume) is :class:`~forexbot.database.trade_changes.ClientOrderIdConflict`.
* **Checked moves.** Each move is checked against the lifecycle
  (:mod:`forexbot.domain.lifecycle`) and, for some, a narrower set of origins; an illegal one is
  :class:`~forexbot.database.trade_changes.IllegalTransition` and changes nothing; an unknown
  trade is :class:`~forexbot.errors.NotFoundError`.
* **Every change is in the history**, creation included, with its details.
* **Volume is conserved.** A partial close records the totals recomputed from the deals, so
  recording the same deals twice changes nothing (``None``); it must leave volume open; a
  closed trade has closed its whole volume.
* ``execution_details`` accumulate: each step merges its keys into the trade's.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from forexbot.database import trade_changes as changes
from forexbot.database._convert import require_aware, to_decimal
from forexbot.domain.trades import AdoptedPosition, ExitTotals, Fill, NewTrade, Number, TradeRecord
from forexbot.domain.trading import TradeStatus
from forexbot.errors import ForexbotError, InvalidInputError, NotFoundError


def _money(totals: ExitTotals) -> dict[str, Any]:
    """The exit price and money columns of a close, full or partial."""
    return {
        "exit_price": to_decimal(totals.exit_price, name="exit_price"),
        "profit": to_decimal(totals.profit, name="profit"),
        "swap": to_decimal(totals.swap, name="swap"),
        "commission": to_decimal(totals.commission, name="commission"),
    }


class TradeStoreBase(ABC):
    """Every write of a trade store, as changes the concrete store keeps (see the module)."""

    # -- what a concrete store provides -----------------------------------------------------

    @abstractmethod
    async def _insert_intent(
        self, values: dict[str, Any], history: Mapping[str, Any]
    ) -> tuple[int, changes.OrderKey | None]:
        """Insert an ``intent`` trade unless its client order id exists: ``(new id, None)``,
        or the existing trade's ``(id, order key)`` with nothing written."""

    async def _insert_submitted_many(
        self, items: Sequence[tuple[dict[str, Any], Mapping[str, Any]]]
    ) -> list[tuple[TradeRecord | None, int, changes.OrderKey | None]]:
        """Insert each trade (``(values, history)``) as an intent moved to ``submitted`` (both
        moves in the history): ``(record, id, None)``; or, when its client order id exists,
        ``(None, existing id, its order key)`` with nothing written for it. A store that can
        write them all in one transaction and one round trip overrides this; by default each
        is its two writes."""
        inserted: list[tuple[TradeRecord | None, int, changes.OrderKey | None]] = []
        for values, history in items:
            trade_id, theirs = await self._insert_intent(values, history)
            if theirs is not None:
                inserted.append((None, trade_id, theirs))
            else:
                inserted.append((await self.mark_submitted(trade_id), trade_id, None))
        return inserted

    @abstractmethod
    async def _insert_adopted(
        self, values: dict[str, Any], history: Mapping[str, Any]
    ) -> TradeRecord:
        """Insert an ``open`` trade for an adopted position."""

    @abstractmethod
    async def _apply(self, trade_id: int, change: changes.Change) -> TradeRecord:
        """Check ``change`` against the trade's current status (atomically with the write),
        write it, append it to the history; the updated record."""

    @abstractmethod
    async def get(self, trade_id: int) -> TradeRecord | None:
        """The trade with this id, or ``None``."""

    # -- writes ------------------------------------------------------------------------------

    async def create_intent(self, trade: NewTrade) -> int:
        """Record an order intent (status ``intent``) before it is sent; the trade id.
        Idempotent on the client order id (see the module docstring)."""
        values = changes.intent_values(trade)
        trade_id, theirs = await self._insert_intent(values, {"volume": str(values["volume"])})
        if theirs is not None:
            ours = changes.order_key(values)
            changes.require_same_order(trade.client_order_id, trade_id, theirs, ours)
        return trade_id

    async def submit_intent(self, trade: NewTrade) -> TradeRecord:
        """Record an order intent already marked ``submitted`` (it is about to be handed to the
        terminal): what :meth:`create_intent` then :meth:`mark_submitted` write — the same row,
        the same two history entries — committed at once, so the order path waits for one
        durable write instead of two. Idempotent like :meth:`create_intent`: an existing
        intent with this client order id (the same order) is only marked submitted."""
        (outcome,) = await self.submit_intents([trade])
        if isinstance(outcome, ForexbotError):
            raise outcome
        return outcome

    async def submit_intents(self, trades: Sequence[NewTrade]) -> list[TradeRecord | ForexbotError]:
        """:meth:`submit_intent` for several intents, written in one transaction (one commit:
        the intents of a burst that queued while the previous one was written wait for one
        durable write together, not one each). One outcome per intent, in order: its record,
        or the error that refused it alone (a client order id reused for another order, an
        existing intent that can no longer be submitted) — the others are written all the
        same. A failure of the write itself (the database unreachable) refuses them all and
        is raised."""
        outcomes: list[TradeRecord | ForexbotError | None] = [None] * len(trades)
        items: list[tuple[dict[str, Any], Mapping[str, Any]]] = []
        places: list[int] = []
        first_of: dict[str, tuple[int, dict[str, Any]]] = {}  # id → its first intent here
        copies: list[tuple[int, dict[str, Any]]] = []  # later intents with an id seen here
        for place, trade in enumerate(trades):
            try:
                values = changes.intent_values(trade)
            except ValueError as invalid:
                outcomes[place] = InvalidInputError(
                    f"order intent {trade.client_order_id!r}: {invalid}"
                )
                continue
            if values["client_order_id"] in first_of:
                copies.append((place, values))  # submitted again once its first is written
                continue
            first_of[values["client_order_id"]] = (place, values)
            items.append((values, {"volume": str(values["volume"])}))
            places.append(place)
        inserted = await self._insert_submitted_many(items) if items else []
        for place, (values, _), (record, trade_id, theirs) in zip(
            places, items, inserted, strict=True
        ):
            outcomes[place] = (
                record
                if record is not None
                else await self._submit_existing(values, trade_id, theirs)
            )
        for place, values in copies:
            first, first_values = first_of[values["client_order_id"]]
            written = outcomes[first]
            outcomes[place] = (
                await self._submit_existing(values, written.id, changes.order_key(first_values))
                if isinstance(written, TradeRecord)
                else written
            )
        settled = [outcome for outcome in outcomes if outcome is not None]
        assert len(settled) == len(trades), "every intent has an outcome"
        return settled

    async def _submit_existing(
        self, values: Mapping[str, Any], trade_id: int, theirs: changes.OrderKey | None
    ) -> TradeRecord | ForexbotError:
        """An intent whose client order id existed: that trade marked submitted if it is the
        same order, else the error refusing it."""
        assert theirs is not None
        try:
            ours = changes.order_key(values)
            changes.require_same_order(values["client_order_id"], trade_id, theirs, ours)
            return await self.mark_submitted(trade_id)
        except ForexbotError as refused:
            return refused

    async def adopt_position(self, position: AdoptedPosition) -> TradeRecord:
        """Record a position the terminal has and the store did not (reconciliation): a
        trade created directly ``open``, with no signal."""
        return await self._insert_adopted(changes.adopted_values(position), position.details)

    async def mark_submitted(self, trade_id: int) -> TradeRecord:
        """``intent`` → ``submitted``: the order is being handed to the terminal."""
        return await self._apply(trade_id, changes.Change(TradeStatus.SUBMITTED))

    async def mark_open(self, trade_id: int, fill: Fill) -> TradeRecord:
        """``intent``/``submitted`` → ``open`` with the fill: tickets, filled price and
        volume, open time."""
        values = {
            "mt5_order": fill.mt5_order,
            "mt5_position": fill.mt5_position,
            "entry_price": to_decimal(fill.entry_price, name="entry_price"),
            "volume": changes.positive_volume(fill.volume),
            "open_time": require_aware(fill.open_time, name="open_time"),
        }
        change = changes.Change(
            TradeStatus.OPEN,
            values,
            from_statuses=(TradeStatus.INTENT, TradeStatus.SUBMITTED),
            details=fill.execution_details,
        )
        return await self._apply(trade_id, change)

    async def mark_rejected(
        self, trade_id: int, *, code: int, message: str, execution_details: Mapping[str, Any]
    ) -> TradeRecord:
        """→ ``rejected`` with MetaTrader's retcode (``code``) and its ``message``."""
        values = {"reject_code": code, "reject_message": message}
        change = changes.Change(TradeStatus.REJECTED, values, details=execution_details)
        return await self._apply(trade_id, change)

    async def mark_cancelled(
        self, trade_id: int, *, reason: str, execution_details: Mapping[str, Any] | None = None
    ) -> TradeRecord:
        """→ ``cancelled``: the order was never executed; ``reason`` goes to ``close_reason``."""
        change = changes.Change(
            TradeStatus.CANCELLED, {"close_reason": reason}, details=execution_details or None
        )
        return await self._apply(trade_id, change)

    async def mark_closing(
        self, trade_id: int, *, details: Mapping[str, Any] | None = None
    ) -> TradeRecord:
        """``open`` → ``closing``: a close order is about to be sent (``details`` go to the
        history only)."""
        return await self._apply(
            trade_id, changes.Change(TradeStatus.CLOSING, log=dict(details or {}))
        )

    async def reopen(self, trade_id: int, *, reason: str) -> TradeRecord:
        """``closing`` → ``open``: the close order was refused or did not execute."""
        change = changes.Change(
            TradeStatus.OPEN, from_statuses=(TradeStatus.CLOSING,), log={"reason": reason}
        )
        return await self._apply(trade_id, change)

    async def record_partial_close(
        self, trade_id: int, totals: ExitTotals, *, closed_volume: Number
    ) -> TradeRecord | None:
        """``open``/``closing`` → ``open`` with the totals of the closes so far (recomputed
        from the deals by the caller); ``None``, changing nothing, when the recorded closed
        volume is already ``closed_volume`` (the same deals recorded twice)."""
        closed = changes.positive_volume(closed_volume)
        current = await self.get(trade_id)
        if current is None:
            raise NotFoundError(f"trade {trade_id} does not exist")
        if not changes.partial_close_is_new(
            trade_id, recorded=current.closed_volume, volume=current.volume, closed=closed
        ):
            return None
        change = changes.Change(
            TradeStatus.OPEN,
            {"closed_volume": closed, **_money(totals)},
            from_statuses=(TradeStatus.OPEN, TradeStatus.CLOSING),
            log={"event": "partial_close", "closed_volume": str(closed)},
        )
        return await self._apply(trade_id, change)

    async def mark_closed(
        self, trade_id: int, totals: ExitTotals, *, close_time: datetime, close_reason: str
    ) -> TradeRecord:
        """→ ``closed`` with the exit and the money it made or lost; its whole volume is
        closed."""
        values = {
            **_money(totals),
            "close_time": require_aware(close_time, name="close_time"),
            "close_reason": close_reason,
        }
        return await self._apply(
            trade_id, changes.Change(TradeStatus.CLOSED, values, close_whole=True)
        )
