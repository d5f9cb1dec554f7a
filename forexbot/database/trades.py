"""Trades in PostgreSQL: the order intent written before ``order_send`` and every later state
(``docs/trading-and-risk.md``, "Nothing is lost on a crash").

The rules are those of every trade store (:mod:`forexbot.database.trade_store_base`); here they
hold under concurrency too:

* **Idempotent intent**, with ``INSERT … ON CONFLICT DO NOTHING``: concurrent retries of the
  same intent insert one row.
* **Moves are checked by the database, atomically**: each locks the row (``SELECT … FOR
  UPDATE``), checks the move, updates the row and appends the move to ``trade_transitions``,
  all in one transaction; two racing writers cannot both move the same trade.
* **Volume is conserved**: ``closed_volume`` never exceeds ``volume`` (a database ``CHECK``).
* Money and prices are written as exact ``Decimal`` (floats through their shortest repr) and
  read back as ``Decimal``; ``execution_details`` merge in the database (``jsonb ||``).
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ClauseElement,
    ColumnElement,
    Select,
    Text,
    bindparam,
    func,
    insert,
    literal,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.compiler import SQLCompiler

from forexbot.database import trade_changes as changes
from forexbot.database._convert import as_utc, require_aware, utc
from forexbot.database._errors import database_errors
from forexbot.database.direct import DirectConnection
from forexbot.database.tables import trade_transitions, trades
from forexbot.database.trade_store_base import TradeStoreBase
from forexbot.domain.lifecycle import LIVE_STATUSES
from forexbot.domain.trades import Number, TradeRecord, TransitionRecord
from forexbot.domain.trading import Side, TradeStatus
from forexbot.errors import NotFoundError

__all__ = ["LIVE_STATUSES", "TradeRepository", "trade_from_row"]

_SIDES = {"buy": Side.BUY, "sell": Side.SELL}


def trade_from_row(row: Mapping[Any, Any]) -> TradeRecord:
    """The record of a ``trades`` row."""
    return TradeRecord(
        id=row["id"],
        client_order_id=row["client_order_id"],
        strategy=row["strategy"],
        symbol=row["symbol"],
        timeframe=row["timeframe"],
        side=_SIDES[row["side"]],
        status=TradeStatus(row["status"]),
        volume=row["volume"],
        closed_volume=row["closed_volume"],
        requested_price=row["requested_price"],
        entry_price=row["entry_price"],
        sl=row["sl"],
        tp=row["tp"],
        exit_price=row["exit_price"],
        profit=row["profit"],
        swap=row["swap"],
        commission=row["commission"],
        mt5_order=row["mt5_order"],
        mt5_position=row["mt5_position"],
        signal_time=as_utc(row["signal_time"]),
        open_time=as_utc(row["open_time"]),
        close_time=as_utc(row["close_time"]),
        close_reason=row["close_reason"],
        confidence=row["confidence"],
        reason=row["reason"],
        market_condition=dict(row["market_condition"]),
        execution_details=dict(row["execution_details"]),
        reject_code=row["reject_code"],
        reject_message=row["reject_message"],
        created_at=utc(row["created_at"]),
        updated_at=utc(row["updated_at"]),
    )


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


#: The statement of :meth:`TradeRepository._insert_submitted_many` per set of columns written,
#: compiled for asyncpg (built once: composing it costs more than running it).
_submitted_statements: dict[tuple[str, ...], _Positional] = {}


@dataclass(frozen=True, slots=True)
class _Positional:
    """A statement compiled once for asyncpg: its SQL text, the names of its positional
    parameters in order, and the values of its literals."""

    sql: str
    names: tuple[str, ...]
    constants: Mapping[str, Any]

    @classmethod
    def of(cls, statement: ClauseElement, dialect: Dialect) -> _Positional:
        compiled = cast(SQLCompiler, statement.compile(dialect=dialect))
        return cls(compiled.string, tuple(compiled.positiontup or ()), dict(compiled.params))

    def args(self, params: Mapping[str, Any]) -> list[Any]:
        return [params[n] if n in params else self.constants[n] for n in self.names]


def _submitted_statement(row: Mapping[str, Any]) -> ClauseElement:
    """INSERT the trade (``row``'s columns, as bind parameters of the same names) unless its
    client order id exists, and its two history rows, in one statement: data-modifying CTEs.
    ``intent_details`` is the history of its creation."""
    created = (
        pg_insert(trades)
        .values({name: bindparam(name, type_=trades.c[name].type) for name in row})
        .on_conflict_do_nothing(index_elements=[trades.c.client_order_id])
        .returning(*trades.c)
        .cte("created")
    )
    intent, submitted = TradeStatus.INTENT.value, TradeStatus.SUBMITTED.value
    moves = union_all(
        select(
            created.c.id,
            literal(None, Text),
            literal(intent, Text),
            bindparam("intent_details", type_=JSONB),
        ),
        select(created.c.id, literal(intent, Text), literal(submitted, Text), literal({}, JSONB)),
    )
    logged = (
        insert(trade_transitions)
        .from_select(["trade_id", "from_status", "to_status", "details"], moves)
        .cte("logged")
    )
    return select(created).add_cte(logged)


class TradeRepository(TradeStoreBase):
    """Reads and writes ``trades``. Safe to share: every call uses its own pooled connection."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._direct = DirectConnection(engine)  # the intent's write (see _insert_submitted_many)

    async def _insert_intent(
        self, values: dict[str, Any], history: Mapping[str, Any]
    ) -> tuple[int, changes.OrderKey | None]:
        row = {**values, "side": values["side"].label, "status": TradeStatus.INTENT.value}
        insert_ = (
            pg_insert(trades)
            .values(row)
            .on_conflict_do_nothing(index_elements=[trades.c.client_order_id])
            .returning(trades.c.id)
        )
        client_order_id = values["client_order_id"]
        existing_of = select(
            trades.c.id, trades.c.strategy, trades.c.symbol, trades.c.side, trades.c.volume
        ).where(trades.c.client_order_id == client_order_id)
        with database_errors(f"writing the order intent {client_order_id!r}"):
            async with self._engine.begin() as conn:
                new_id = (await conn.execute(insert_)).scalar_one_or_none()
                if new_id is not None:
                    await _log_transition(conn, int(new_id), None, TradeStatus.INTENT, history)
                    return int(new_id), None
                existing = (await conn.execute(existing_of)).mappings().one()
        key = (existing["strategy"], existing["symbol"], existing["side"], existing["volume"])
        return int(existing["id"]), key

    async def _insert_submitted_many(
        self, items: Sequence[tuple[dict[str, Any], Mapping[str, Any]]]
    ) -> list[tuple[TradeRecord | None, int, changes.OrderKey | None]]:
        """One statement per trade, one round trip, one commit for them all: each trade
        inserted ``submitted`` with its two history rows (created as ``intent``, then
        ``submitted``) written by data-modifying CTEs; nothing for a trade whose client order
        id exists (it is read afterwards)."""
        rows = [
            {**values, "side": values["side"].label, "status": TradeStatus.SUBMITTED.value}
            for values, _history in items
        ]
        columns = tuple(rows[0])  # intent_values: the same columns for every trade
        statement = _submitted_statements.get(columns)
        if statement is None:
            statement = _submitted_statements.setdefault(
                columns, _Positional.of(_submitted_statement(rows[0]), self._engine.dialect)
            )
        args = [
            statement.args({**row, "intent_details": dict(history)})
            for row, (_values, history) in zip(rows, items, strict=True)
        ]
        ids = ", ".join(repr(values["client_order_id"]) for values, _ in items)
        with database_errors(f"writing the order intents {ids}"):
            # On the order path: one prepared statement on a connection of its own (see
            # database.direct), one transaction. Idempotent, so a rerun is safe.
            created_rows, rerun = await self._direct.fetchmany(statement.sql, args)
        created = {row["client_order_id"]: row for row in created_rows}
        return [
            await self._created_or_existing(values, created.get(values["client_order_id"]), rerun)
            for values, _history in items
        ]

    async def _created_or_existing(
        self, values: Mapping[str, Any], created: Mapping[str, Any] | None, rerun: bool
    ) -> tuple[TradeRecord | None, int, changes.OrderKey | None]:
        """What :meth:`_insert_submitted_many` returns for one trade: its new row, or the
        existing trade with this client order id — taken as this write's own when the
        statement was run again and the trade is ``submitted`` with the same order (the first
        run committed and its answer was lost; a duplicate intent is still refused when
        nothing was run again, and another order's id is refused by the caller, for this
        intent alone)."""
        if created is not None:
            return trade_from_row(created), int(created["id"]), None
        client_order_id = values["client_order_id"]
        with database_errors(f"reading the order intent {client_order_id!r}"):
            async with self._engine.connect() as conn:
                existing = (
                    (
                        await conn.execute(
                            select(trades).where(trades.c.client_order_id == client_order_id)
                        )
                    )
                    .mappings()
                    .one()
                )
        key = (existing["strategy"], existing["symbol"], existing["side"], existing["volume"])
        ours = rerun and existing["status"] == TradeStatus.SUBMITTED.value
        if ours and key == changes.order_key(values):
            return trade_from_row(existing), int(existing["id"]), None
        return None, int(existing["id"]), key  # another's: the caller refuses this intent

    async def _insert_adopted(
        self, values: dict[str, Any], history: Mapping[str, Any]
    ) -> TradeRecord:
        row = {**values, "side": values["side"].label, "status": TradeStatus.OPEN.value}
        with database_errors(f"adopting position {values['mt5_position']}"):
            async with self._engine.begin() as conn:
                inserted = (
                    (await conn.execute(insert(trades).values(row).returning(*trades.c)))
                    .mappings()
                    .one()
                )
                await _log_transition(conn, int(inserted["id"]), None, TradeStatus.OPEN, history)
        return trade_from_row(inserted)

    async def _apply(self, trade_id: int, change: changes.Change) -> TradeRecord:
        values: dict[str, Any] = dict(change.values)
        if change.details:
            values["execution_details"] = _details(change.details)
        if change.close_whole:
            values["closed_volume"] = trades.c.volume
        with database_errors(f"marking trade {trade_id} {change.target.value}"):
            async with self._engine.begin() as conn:
                current_raw = (
                    await conn.execute(
                        select(trades.c.status).where(trades.c.id == trade_id).with_for_update()
                    )
                ).scalar_one_or_none()
                if current_raw is None:
                    raise NotFoundError(f"trade {trade_id} does not exist")
                current = TradeStatus(current_raw)
                change.check(trade_id, current)
                row = (
                    (
                        await conn.execute(
                            update(trades)
                            .where(trades.c.id == trade_id)
                            .values(status=change.target.value, updated_at=func.now(), **values)
                            .returning(*trades.c)
                        )
                    )
                    .mappings()
                    .one()
                )
                await _log_transition(conn, trade_id, current, change.target, change.history())
        return trade_from_row(row)

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
        return [trade_from_row(row) for row in rows], int(total)

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
        return None if row is None else trade_from_row(row)

    async def _many(self, stmt: Select[Any]) -> builtins.list[TradeRecord]:
        with database_errors("reading trades"):
            async with self._engine.connect() as conn:
                rows = (await conn.execute(stmt)).mappings().all()
        return [trade_from_row(row) for row in rows]
