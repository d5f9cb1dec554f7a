"""Trades: the order intent written before ``order_send`` and every later state
(``docs/trading-and-risk.md``, "Nothing is lost on a crash").

Rules enforced:

* **Idempotent intent.** :meth:`TradeRepository.create_intent` with a client order id that
  already exists returns the existing trade's id and inserts nothing (``ON CONFLICT DO
  NOTHING``, so it holds under concurrent retries too). Reusing an id for a *different* order
  (another strategy, symbol, side or volume) is refused with :class:`ClientOrderIdConflict`:
  fills would otherwise be attached to the wrong trade.
* **Transitions are checked by the database, atomically**: each ``mark_*`` locks the row
  (``SELECT … FOR UPDATE``), checks the move against the lifecycle
  (:data:`forexbot.domain.lifecycle.TRANSITIONS`), updates it and appends the move to
  ``trade_transitions``, all in one transaction. An illegal move raises
  :class:`IllegalTransition` (or :class:`~forexbot.errors.NotFoundError` for an unknown id)
  and changes nothing; two racing writers cannot both move the same trade.
* **Every change is in the history.** Creation (intent, or an adopted position) and every
  transition, partial closes included, add a ``trade_transitions`` row with its details.
* **Volume is conserved.** ``closed_volume`` never exceeds ``volume`` (a database ``CHECK``);
  a partial close records the totals recomputed from the terminal's deals, so recording the
  same deals twice changes nothing, and a closed trade has closed its whole volume.
* ``execution_details`` accumulate: each step merges its keys into the stored JSON object.
* Money and prices are written as exact ``Decimal`` (floats through their shortest repr) and
  read back as ``Decimal``.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from forexbot.database import trade_changes as changes
from forexbot.database._convert import require_aware, utc
from forexbot.database._errors import database_errors
from forexbot.database.records import TradeRecord
from forexbot.database.tables import trade_transitions, trades
from forexbot.domain.lifecycle import LIVE_STATUSES, allowed_from, can_move
from forexbot.domain.trading import Side, TradeStatus
from forexbot.errors import DatabaseError, NotFoundError

Number = float | Decimal

__all__ = [
    "LIVE_STATUSES",
    "ClientOrderIdConflict",
    "IllegalTransition",
    "TradeRepository",
    "TransitionRecord",
]


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


class ClientOrderIdConflict(DatabaseError):
    """A client order id already belongs to a different order."""


@dataclass(frozen=True, slots=True)
class TransitionRecord:
    """One row of ``trade_transitions``: a move of a trade, with what came with it."""

    id: int
    trade_id: int
    from_status: TradeStatus | None
    to_status: TradeStatus
    time: datetime
    details: dict[str, Any]

    def to_api(self) -> dict[str, Any]:
        return {
            "from": None if self.from_status is None else self.from_status.value,
            "to": self.to_status.value,
            "time": utc(self.time).isoformat().replace("+00:00", "Z"),
            "details": self.details,
        }


def _status(value: TradeStatus | str) -> TradeStatus:
    try:
        return TradeStatus(value)
    except ValueError:
        allowed = ", ".join(status.value for status in TradeStatus)
        raise ValueError(f"unknown trade status {value!r}; allowed: {allowed}") from None


def _details(value: Mapping[str, Any]) -> ColumnElement[Any]:
    """``execution_details || :value`` (merge, later keys win)."""
    return trades.c.execution_details.op("||", return_type=JSONB)(
        bindparam(None, dict(value), type_=JSONB)
    )


def _jsonable(values: Mapping[str, Any]) -> dict[str, Any]:
    """Transition details: the plain values of a change (expressions and Decimals as text)."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, ColumnElement):
            continue
        out[key] = str(value) if isinstance(value, Decimal) else value
    return out


async def _log_transition(
    conn: AsyncConnection,
    trade_id: int,
    from_status: TradeStatus | None,
    to_status: TradeStatus,
    details: Mapping[str, Any],
) -> None:
    await conn.execute(
        insert(trade_transitions).values(
            trade_id=trade_id,
            from_status=None if from_status is None else from_status.value,
            to_status=to_status.value,
            details=dict(details),
        )
    )


class TradeRepository:
    """Reads and writes ``trades``. Safe to share: every call uses its own pooled connection."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def create_intent(
        self,
        *,
        client_order_id: str,
        strategy: str,
        symbol: str,
        timeframe: str | None,
        side: Side | str,
        volume: Number,
        requested_price: Number | None,
        sl: Number | None,
        tp: Number | None,
        signal_time: datetime,
        confidence: float,
        reason: str,
        market_condition: Mapping[str, Any],
    ) -> int:
        """Persist an order intent (status ``intent``) before it is sent; return the trade id.

        Idempotent on ``client_order_id`` (see the module docstring).
        """
        values = changes.intent_values(
            client_order_id=client_order_id,
            strategy=strategy,
            symbol=symbol,
            timeframe=timeframe,
            side=side,
            volume=volume,
            requested_price=requested_price,
            sl=sl,
            tp=tp,
            signal_time=signal_time,
            confidence=confidence,
            reason=reason,
            market_condition=market_condition,
        )
        side_, volume_ = values["side"], values["volume"]
        row = {**values, "side": side_.label, "status": TradeStatus.INTENT.value}
        insert_ = (
            pg_insert(trades)
            .values(row)
            .on_conflict_do_nothing(index_elements=[trades.c.client_order_id])
            .returning(trades.c.id)
        )
        with database_errors(f"writing the order intent {client_order_id!r}"):
            async with self._engine.begin() as conn:
                new_id = (await conn.execute(insert_)).scalar_one_or_none()
                if new_id is not None:
                    await _log_transition(
                        conn, int(new_id), None, TradeStatus.INTENT, {"volume": str(volume_)}
                    )
                    return int(new_id)
                existing = (
                    (
                        await conn.execute(
                            select(
                                trades.c.id,
                                trades.c.strategy,
                                trades.c.symbol,
                                trades.c.side,
                                trades.c.volume,
                            ).where(trades.c.client_order_id == client_order_id)
                        )
                    )
                    .mappings()
                    .one()
                )
        theirs = (existing["strategy"], existing["symbol"], existing["side"], existing["volume"])
        ours = (strategy, symbol, side_.label, volume_)
        if theirs != ours:
            raise ClientOrderIdConflict(
                f"client order id {client_order_id!r} already belongs to trade "
                f"{existing['id']} (strategy, symbol, side, volume = {theirs}), not {ours}"
            )
        return int(existing["id"])

    async def adopt_position(
        self,
        *,
        client_order_id: str,
        strategy: str,
        symbol: str,
        side: Side | str,
        volume: Number,
        entry_price: Number,
        sl: Number | None,
        tp: Number | None,
        mt5_position: int,
        open_time: datetime,
        details: Mapping[str, Any],
    ) -> TradeRecord:
        """Record a position the terminal has and the database did not (reconciliation): a
        trade created directly ``open``, with no signal."""
        values = changes.adopted_values(
            client_order_id=client_order_id,
            strategy=strategy,
            symbol=symbol,
            side=side,
            volume=volume,
            entry_price=entry_price,
            sl=sl,
            tp=tp,
            mt5_position=mt5_position,
            open_time=open_time,
            details=details,
        )
        row = {**values, "side": values["side"].label, "status": TradeStatus.OPEN.value}
        with database_errors(f"adopting position {mt5_position}"):
            async with self._engine.begin() as conn:
                inserted = (
                    (await conn.execute(insert(trades).values(row).returning(*trades.c)))
                    .mappings()
                    .one()
                )
                await _log_transition(
                    conn, int(inserted["id"]), None, TradeStatus.OPEN, dict(details)
                )
        return TradeRecord.from_row(inserted)

    async def mark_submitted(self, trade_id: int) -> TradeRecord:
        """``intent`` → ``submitted``: the order is being handed to the terminal."""
        return await self._apply(trade_id, changes.submitted())

    async def mark_open(
        self,
        trade_id: int,
        *,
        mt5_order: int,
        mt5_position: int,
        entry_price: Number,
        volume: Number,
        open_time: datetime,
        execution_details: Mapping[str, Any],
    ) -> TradeRecord:
        """→ ``open`` with the fill: tickets, filled price and volume, open time."""
        return await self._apply(
            trade_id,
            changes.opened(
                mt5_order=mt5_order,
                mt5_position=mt5_position,
                entry_price=entry_price,
                volume=volume,
                open_time=open_time,
                execution_details=execution_details,
            ),
        )

    async def mark_rejected(
        self,
        trade_id: int,
        *,
        reject_code: int,
        reject_message: str,
        execution_details: Mapping[str, Any],
    ) -> TradeRecord:
        """→ ``rejected`` with MetaTrader's retcode and message."""
        return await self._apply(
            trade_id,
            changes.rejected(
                reject_code=reject_code,
                reject_message=reject_message,
                execution_details=execution_details,
            ),
        )

    async def mark_cancelled(
        self, trade_id: int, *, reason: str, execution_details: Mapping[str, Any] | None = None
    ) -> TradeRecord:
        """→ ``cancelled``: the order was never executed; ``reason`` goes to ``close_reason``."""
        return await self._apply(
            trade_id, changes.cancelled(reason=reason, execution_details=execution_details)
        )

    async def mark_closing(
        self, trade_id: int, *, details: Mapping[str, Any] | None = None
    ) -> TradeRecord:
        """``open`` → ``closing``: a close order is about to be sent."""
        return await self._apply(trade_id, changes.closing(details=details))

    async def reopen(self, trade_id: int, *, reason: str) -> TradeRecord:
        """``closing`` → ``open``: the close order was refused or did not execute."""
        return await self._apply(trade_id, changes.reopened(reason=reason))

    async def record_partial_close(
        self,
        trade_id: int,
        *,
        closed_volume: Number,
        exit_price: Number,
        profit: Number,
        swap: Number,
        commission: Number,
    ) -> TradeRecord | None:
        """``open``/``closing`` → ``open`` with the totals of the closes so far (recomputed
        from the deals by the caller); returns ``None``, changing nothing, when the stored
        closed volume is already ``closed_volume`` (the same deals recorded twice)."""
        closed = changes.positive_volume(closed_volume)
        current = await self.get(trade_id)
        if current is None:
            raise NotFoundError(f"trade {trade_id} does not exist")
        if not changes.partial_close_is_new(
            trade_id, recorded=current.closed_volume, volume=current.volume, closed=closed
        ):
            return None
        return await self._apply(
            trade_id,
            changes.partly_closed(
                closed_volume=closed,
                exit_price=exit_price,
                profit=profit,
                swap=swap,
                commission=commission,
            ),
        )

    async def mark_closed(
        self,
        trade_id: int,
        *,
        exit_price: Number,
        close_time: datetime,
        profit: Number,
        swap: Number,
        commission: Number,
        close_reason: str,
    ) -> TradeRecord:
        """→ ``closed`` with the exit and the money it made or lost (its whole volume)."""
        return await self._apply(
            trade_id,
            changes.closed(
                exit_price=exit_price,
                close_time=close_time,
                profit=profit,
                swap=swap,
                commission=commission,
                close_reason=close_reason,
            ),
        )

    async def update_stops(self, trade_id: int, *, sl: Number | None, tp: Number | None) -> None:
        """Store the SL/TP the terminal now has for the trade's position (0 or None: none)."""
        stmt = (
            update(trades)
            .where(trades.c.id == trade_id)
            .values(**changes.stops(sl, tp), updated_at=func.now())
        )
        with database_errors(f"updating the stops of trade {trade_id}"):
            async with self._engine.begin() as conn:
                await conn.execute(stmt)

    async def _apply(self, trade_id: int, change: changes.Change) -> TradeRecord:
        values: dict[str, Any] = dict(change.values)
        if change.details:
            values["execution_details"] = _details(change.details)
        if change.close_whole:
            values["closed_volume"] = trades.c.volume
        return await self._transition(
            trade_id,
            change.target,
            values,
            from_statuses=change.from_statuses,
            log=change.log,
        )

    async def _transition(
        self,
        trade_id: int,
        target: TradeStatus,
        values: Mapping[str, Any],
        *,
        from_statuses: tuple[TradeStatus, ...] | None = None,
        log: Mapping[str, Any] | None = None,
    ) -> TradeRecord:
        allowed = from_statuses or allowed_from(target)
        with database_errors(f"marking trade {trade_id} {target.value}"):
            async with self._engine.begin() as conn:
                current_raw = (
                    await conn.execute(
                        select(trades.c.status).where(trades.c.id == trade_id).with_for_update()
                    )
                ).scalar_one_or_none()
                if current_raw is None:
                    raise NotFoundError(f"trade {trade_id} does not exist")
                current = TradeStatus(current_raw)
                if current not in allowed or not can_move(current, target):
                    raise IllegalTransition(trade_id, current, target)
                row = (
                    (
                        await conn.execute(
                            update(trades)
                            .where(trades.c.id == trade_id)
                            .values(status=target.value, updated_at=func.now(), **values)
                            .returning(*trades.c)
                        )
                    )
                    .mappings()
                    .one()
                )
                await _log_transition(
                    conn, trade_id, current, target, {**_jsonable(values), **(log or {})}
                )
        return TradeRecord.from_row(row)

    async def get(self, trade_id: int) -> TradeRecord | None:
        """The trade with this id, or ``None``."""
        return await self._one(select(trades).where(trades.c.id == trade_id))

    async def get_by_client_order_id(self, client_order_id: str) -> TradeRecord | None:
        """The trade with this client order id (the one in the MT5 order comment), or ``None``."""
        return await self._one(select(trades).where(trades.c.client_order_id == client_order_id))

    async def get_by_position(self, mt5_position: int) -> TradeRecord | None:
        """The newest trade holding (or having held) the terminal position ``mt5_position``."""
        stmt = (
            select(trades)
            .where(trades.c.mt5_position == mt5_position)
            .order_by(trades.c.id.desc())
            .limit(1)
        )
        return await self._one(stmt)

    async def transitions(self, trade_id: int) -> builtins.list[TransitionRecord]:
        """The trade's history, oldest first."""
        stmt = (
            select(trade_transitions)
            .where(trade_transitions.c.trade_id == trade_id)
            .order_by(trade_transitions.c.id)
        )
        with database_errors(f"reading the history of trade {trade_id}"):
            async with self._engine.connect() as conn:
                rows = (await conn.execute(stmt)).mappings().all()
        return [
            TransitionRecord(
                id=row["id"],
                trade_id=row["trade_id"],
                from_status=None if row["from_status"] is None else TradeStatus(row["from_status"]),
                to_status=TradeStatus(row["to_status"]),
                time=utc(row["time"]),
                details=dict(row["details"]),
            )
            for row in rows
        ]

    async def list(
        self,
        *,
        limit: int,
        offset: int,
        symbol: str | None = None,
        status: TradeStatus | str | None = None,
        strategy: str | None = None,
        opened_from: datetime | None = None,
        opened_to: datetime | None = None,
    ) -> tuple[builtins.list[TradeRecord], int]:
        """A page of trades, newest first (by id), and the total number matching the filters.

        ``opened_from``/``opened_to`` keep the trades whose open time (the time the order
        was written, for one that never opened) lies in ``[opened_from, opened_to)``."""
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        if offset < 0:
            raise ValueError(f"offset must not be negative, got {offset}")
        conditions: builtins.list[ColumnElement[bool]] = []
        if symbol is not None:
            conditions.append(trades.c.symbol == symbol)
        if status is not None:
            conditions.append(trades.c.status == _status(status).value)
        if strategy is not None:
            conditions.append(trades.c.strategy == strategy)
        opened = func.coalesce(trades.c.open_time, trades.c.created_at)
        if opened_from is not None:
            conditions.append(opened >= require_aware(opened_from, name="opened_from"))
        if opened_to is not None:
            conditions.append(opened < require_aware(opened_to, name="opened_to"))
        page = select(trades).where(*conditions).order_by(trades.c.id.desc())
        count = select(func.count()).select_from(trades).where(*conditions)
        with database_errors("listing trades"):
            # One snapshot for both statements, so the total and the page agree.
            async with self._engine.connect() as plain:
                conn = await plain.execution_options(isolation_level="REPEATABLE READ")
                total = (await conn.execute(count)).scalar_one()
                rows = (await conn.execute(page.limit(limit).offset(offset))).mappings().all()
        return [TradeRecord.from_row(row) for row in rows], int(total)

    async def closed_between(self, start: datetime, end: datetime) -> builtins.list[TradeRecord]:
        """Trades closed in ``[start, end)``, in close order (performance figures)."""
        stmt = (
            select(trades)
            .where(
                trades.c.status == TradeStatus.CLOSED.value,
                trades.c.close_time >= require_aware(start, name="start"),
                trades.c.close_time < require_aware(end, name="end"),
            )
            .order_by(trades.c.close_time, trades.c.id)
        )
        return await self._many(stmt)

    async def open_trades(self) -> builtins.list[TradeRecord]:
        """Trades that hold or may hold a position (intent, submitted, open, closing), oldest
        first: what reconciliation compares with the terminal's positions."""
        stmt = (
            select(trades)
            .where(trades.c.status.in_([status.value for status in LIVE_STATUSES]))
            .order_by(trades.c.id)
        )
        return await self._many(stmt)

    async def _one(self, stmt: Select[Any]) -> TradeRecord | None:
        with database_errors("reading a trade"):
            async with self._engine.connect() as conn:
                row = (await conn.execute(stmt)).mappings().one_or_none()
        return None if row is None else TradeRecord.from_row(row)

    async def _many(self, stmt: Select[Any]) -> builtins.list[TradeRecord]:
        with database_errors("reading trades"):
            async with self._engine.connect() as conn:
                rows = (await conn.execute(stmt)).mappings().all()
        return [TradeRecord.from_row(row) for row in rows]
