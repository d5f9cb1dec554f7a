"""Trades: the order intent written before ``order_send`` and every later state (design §4).

Rules enforced:

* **Idempotent intent.** :meth:`TradeRepository.create_intent` with a client order id that
  already exists returns the existing trade's id and inserts nothing (``ON CONFLICT DO
  NOTHING``, so it holds under concurrent retries too). Reusing an id for a *different* order
  (another strategy, symbol, side or volume) is refused with :class:`ClientOrderIdConflict`:
  fills would otherwise be attached to the wrong trade.
* **Transitions are checked by the database, atomically**: each ``mark_*`` is one
  ``UPDATE … WHERE id = :id AND status IN (<allowed previous states>)``; when no row matches,
  :class:`IllegalTransition` (or :class:`~forexbot.errors.NotFoundError` for an unknown id) is
  raised and nothing changes. Two racing writers cannot both move the same trade.

  ============  =============================  =============================================
  target        allowed from                   why
  ============  =============================  =============================================
  submitted     intent                         ``order_send`` is about to be called
  open          intent, submitted              a crash may fall between send and ``submitted``;
                                               reconciliation then finds the position
  rejected      intent, submitted              the terminal or the server refused the order
  cancelled     intent, submitted              never sent, or a pending order withdrawn
  closing       open                           a close order was sent
  closed        open, closing                  closed by us, by SL/TP or found closed in history
  ============  =============================  =============================================

* ``execution_details`` accumulate: each step merges its keys into the stored JSON object.
* Money and prices are written as exact ``Decimal`` (floats through their shortest repr) and
  read back as ``Decimal``.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from forexbot.database._convert import require_aware, to_decimal, to_decimal_or_none
from forexbot.database._errors import database_errors
from forexbot.database.records import TradeRecord
from forexbot.database.tables import trades
from forexbot.domain.trading import Side, TradeStatus
from forexbot.errors import DatabaseError, NotFoundError

Number = float | Decimal

#: For each target status, the statuses a trade may move to it from.
TRANSITIONS: Mapping[TradeStatus, tuple[TradeStatus, ...]] = {
    TradeStatus.SUBMITTED: (TradeStatus.INTENT,),
    TradeStatus.OPEN: (TradeStatus.INTENT, TradeStatus.SUBMITTED),
    TradeStatus.REJECTED: (TradeStatus.INTENT, TradeStatus.SUBMITTED),
    TradeStatus.CANCELLED: (TradeStatus.INTENT, TradeStatus.SUBMITTED),
    TradeStatus.CLOSING: (TradeStatus.OPEN,),
    TradeStatus.CLOSED: (TradeStatus.OPEN, TradeStatus.CLOSING),
}

#: Statuses of a trade that holds, or may hold, a position at the terminal.
LIVE_STATUSES = (TradeStatus.SUBMITTED, TradeStatus.OPEN, TradeStatus.CLOSING)


class IllegalTransition(DatabaseError):
    """A trade was asked to move to a status its current status does not allow."""

    def __init__(self, trade_id: int, current: TradeStatus, target: TradeStatus) -> None:
        allowed = ", ".join(status.value for status in TRANSITIONS[target])
        super().__init__(
            f"trade {trade_id} cannot become {target.value!r} from {current.value!r} "
            f"(allowed from: {allowed})"
        )
        self.trade_id = trade_id
        self.current = current
        self.target = target


class ClientOrderIdConflict(DatabaseError):
    """A client order id already belongs to a different order."""


def _side(value: Side | str) -> Side:
    if isinstance(value, Side):
        return value
    try:
        return Side[value.upper()]
    except KeyError:
        raise ValueError(f"side must be 'buy' or 'sell', got {value!r}") from None


def _status(value: TradeStatus | str) -> TradeStatus:
    try:
        return TradeStatus(value)
    except ValueError:
        allowed = ", ".join(status.value for status in TradeStatus)
        raise ValueError(f"unknown trade status {value!r}; allowed: {allowed}") from None


def _positive_volume(value: Number) -> Decimal:
    volume = to_decimal(value, name="volume")
    if volume <= 0:
        raise ValueError(f"volume must be positive, got {value!r}")
    return volume


def _details(value: Mapping[str, Any]) -> ColumnElement[Any]:
    """``execution_details || :value`` (merge, later keys win)."""
    return trades.c.execution_details.op("||", return_type=JSONB)(
        bindparam(None, dict(value), type_=JSONB)
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
        if not client_order_id:
            raise ValueError("client_order_id must not be empty")
        if not 0.0 <= confidence <= 1.0:
            raise ValueError(f"confidence must be within [0, 1], got {confidence!r}")
        side_ = _side(side)
        volume_ = _positive_volume(volume)
        values = {
            "client_order_id": client_order_id,
            "strategy": strategy,
            "symbol": symbol,
            "timeframe": timeframe,
            "side": side_.label,
            "status": TradeStatus.INTENT.value,
            "volume": volume_,
            "requested_price": to_decimal_or_none(requested_price, name="requested_price"),
            "sl": to_decimal_or_none(sl, name="sl"),
            "tp": to_decimal_or_none(tp, name="tp"),
            "signal_time": require_aware(signal_time, name="signal_time"),
            "confidence": confidence,
            "reason": reason,
            "market_condition": dict(market_condition),
        }
        insert = (
            pg_insert(trades)
            .values(values)
            .on_conflict_do_nothing(index_elements=[trades.c.client_order_id])
            .returning(trades.c.id)
        )
        with database_errors(f"writing the order intent {client_order_id!r}"):
            async with self._engine.begin() as conn:
                new_id = (await conn.execute(insert)).scalar_one_or_none()
                if new_id is not None:
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

    async def mark_submitted(self, trade_id: int) -> None:
        """``intent`` → ``submitted``: the order is being handed to the terminal."""
        await self._transition(trade_id, TradeStatus.SUBMITTED, {})

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
    ) -> None:
        """→ ``open`` with the fill: tickets, filled price and volume, open time."""
        await self._transition(
            trade_id,
            TradeStatus.OPEN,
            {
                "mt5_order": mt5_order,
                "mt5_position": mt5_position,
                "entry_price": to_decimal(entry_price, name="entry_price"),
                "volume": _positive_volume(volume),
                "open_time": require_aware(open_time, name="open_time"),
                "execution_details": _details(execution_details),
            },
        )

    async def mark_rejected(
        self,
        trade_id: int,
        *,
        reject_code: int,
        reject_message: str,
        execution_details: Mapping[str, Any],
    ) -> None:
        """→ ``rejected`` with MetaTrader's retcode and message."""
        await self._transition(
            trade_id,
            TradeStatus.REJECTED,
            {
                "reject_code": reject_code,
                "reject_message": reject_message,
                "execution_details": _details(execution_details),
            },
        )

    async def mark_cancelled(self, trade_id: int, *, reason: str) -> None:
        """→ ``cancelled``: the order was never executed; ``reason`` goes to ``close_reason``."""
        await self._transition(trade_id, TradeStatus.CANCELLED, {"close_reason": reason})

    async def mark_closing(self, trade_id: int) -> None:
        """``open`` → ``closing``: a close order has been sent."""
        await self._transition(trade_id, TradeStatus.CLOSING, {})

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
    ) -> None:
        """→ ``closed`` with the exit and the money it made or lost."""
        await self._transition(
            trade_id,
            TradeStatus.CLOSED,
            {
                "exit_price": to_decimal(exit_price, name="exit_price"),
                "close_time": require_aware(close_time, name="close_time"),
                "profit": to_decimal(profit, name="profit"),
                "swap": to_decimal(swap, name="swap"),
                "commission": to_decimal(commission, name="commission"),
                "close_reason": close_reason,
            },
        )

    async def _transition(
        self, trade_id: int, target: TradeStatus, values: Mapping[str, Any]
    ) -> None:
        allowed = [status.value for status in TRANSITIONS[target]]
        stmt = (
            update(trades)
            .where(trades.c.id == trade_id, trades.c.status.in_(allowed))
            .values(status=target.value, updated_at=func.now(), **values)
            .returning(trades.c.id)
        )
        with database_errors(f"marking trade {trade_id} {target.value}"):
            async with self._engine.begin() as conn:
                if (await conn.execute(stmt)).scalar_one_or_none() is not None:
                    return
                current = (
                    await conn.execute(select(trades.c.status).where(trades.c.id == trade_id))
                ).scalar_one_or_none()
        if current is None:
            raise NotFoundError(f"trade {trade_id} does not exist")
        raise IllegalTransition(trade_id, TradeStatus(current), target)

    async def get(self, trade_id: int) -> TradeRecord | None:
        """The trade with this id, or ``None``."""
        return await self._one(select(trades).where(trades.c.id == trade_id))

    async def get_by_client_order_id(self, client_order_id: str) -> TradeRecord | None:
        """The trade with this client order id (the one in the MT5 order comment), or ``None``."""
        return await self._one(select(trades).where(trades.c.client_order_id == client_order_id))

    async def list(
        self,
        *,
        limit: int,
        offset: int,
        symbol: str | None = None,
        status: TradeStatus | str | None = None,
        strategy: str | None = None,
    ) -> tuple[builtins.list[TradeRecord], int]:
        """A page of trades, newest first (by id), and the total number matching the filters."""
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
        page = select(trades).where(*conditions).order_by(trades.c.id.desc())
        count = select(func.count()).select_from(trades).where(*conditions)
        with database_errors("listing trades"):
            # One snapshot for both statements, so the total and the page agree.
            async with self._engine.connect() as plain:
                conn = await plain.execution_options(isolation_level="REPEATABLE READ")
                total = (await conn.execute(count)).scalar_one()
                rows = (await conn.execute(page.limit(limit).offset(offset))).mappings().all()
        return [TradeRecord.from_row(row) for row in rows], int(total)

    async def open_trades(self) -> builtins.list[TradeRecord]:
        """Trades that hold or may hold a position (submitted, open, closing), oldest first.

        What reconciliation compares with the terminal's positions.
        """
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
