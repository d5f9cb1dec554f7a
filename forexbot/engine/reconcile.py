"""Reconciliation: making the database agree with the terminal, which is the truth.

Run by the position manager at start, on every reconnect, and on every periodic sync. It
compares the trades that hold or may hold a position (intent, submitted, open, closing) with
the terminal's positions carrying the bot's magic number, and corrects:

* ``opened``: an intent or submitted trade whose order is at the terminal (a position, or an
  entry deal in the history, matched by the client order id in the comment) — the crash or
  lost answer between ``order_send`` and the database. The position's own fill is recorded.
* ``cancelled``: an intent or submitted trade whose order is nowhere at the terminal (the
  process died before sending, or the order did not execute). Never resent: a person or the
  strategy decides again.
* ``closed_from_history`` / ``partial_close``: an open trade whose position is gone, or
  smaller, is settled from the deals (:mod:`~forexbot.engine.settlement`): SL/TP hits, stop
  outs, closes by hand in the terminal, closes while the daemon was down.
* ``reopened``: a trade left ``closing`` by a crash whose position is still whole.
* ``adopted``: a position with the bot's magic number that no live trade holds becomes an open
  trade (its comment keeps the client order id when it has one), so the risk limits count it
  and the trader sees it.
* Stops changed in the terminal by hand are copied to the trade (not reported as corrections).

Trades whose order the execution manager is sending right now are left alone. Every
correction is logged, recorded in ``system_logs`` and published (a
:class:`~forexbot.events.types.ReconciliationEvent`, and a
:class:`~forexbot.events.types.TradeEvent` for the trade's new state).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

import structlog

from forexbot.audit import AuditLog
from forexbot.clock import Clock
from forexbot.domain.lifecycle import LIVE_STATUSES, IllegalTransition
from forexbot.domain.trades import AdoptedPosition, Fill, TradeRecord
from forexbot.domain.trading import AccountState, Deal, Position, TradeStatus
from forexbot.engine.settlement import settle
from forexbot.engine.trade_store import TradeStore
from forexbot.events.bus import EventBus
from forexbot.events.types import ReconciliationEvent, TradeEvent

_log = structlog.get_logger("forexbot.reconciliation")

#: How far back the deal history is searched for an order that left no position (seconds).
HISTORY_WINDOW = 7 * 86_400


class ReconcileSource(Protocol):
    """What reconciliation reads from the terminal (the connector)."""

    async def positions(self, magic: int | None = None) -> list[Position]: ...

    async def deals_for_position(self, position_ticket: int) -> list[Deal]: ...

    async def deals_between(self, utc_from: float, utc_to: float) -> list[Deal]: ...

    async def account(self) -> AccountState: ...


@dataclass(slots=True)
class ReconcileReport:
    """What one run found: the terminal's positions and account, and the corrections made."""

    positions: list[Position] = field(default_factory=list)
    account: AccountState | None = None
    corrections: list[dict[str, Any]] = field(default_factory=list)
    closed: int = 0

    def count(self, kind: str) -> int:
        return sum(1 for c in self.corrections if c["kind"] == kind)


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


class Reconciler:
    """One reconciliation pass; see the module docstring."""

    def __init__(
        self,
        source: ReconcileSource,
        trades: TradeStore,
        bus: EventBus,
        clock: Clock,
        magic: int,
        audit: AuditLog,
        in_flight: Callable[[], frozenset[str]],
        close_reason: Callable[[Deal | None], str | None],
        *,
        track: Callable[[TradeRecord], None] = lambda _record: None,
    ) -> None:
        self._source = source
        self._trades = trades
        self._bus = bus
        self._clock = clock
        self._magic = magic
        self._audit = audit
        self._in_flight = in_flight
        self._close_reason = close_reason
        self._track = track
        self.corrections = 0

    async def run(self, *, submitted_grace: float = 0.0) -> ReconcileReport:
        """Compare and correct (the deal history is read only when a trade needs it).

        ``submitted_grace``: a ``submitted`` trade changed less than that many seconds ago is
        left alone (its order may still be on its way through a slow bridge); at start and
        after a reconnect it is 0.
        """
        report = ReconcileReport()
        # Trades first, then positions: a fill recorded in between shows up as a live
        # position, never as a position that vanished.
        live_trades = await self._trades.open_trades()
        report.positions = await self._source.positions(self._magic)
        report.account = await self._source.account()
        by_ticket = {p.ticket: p for p in report.positions}
        by_comment = {p.comment: p for p in report.positions if p.comment}
        sending = self._in_flight()
        held: set[int] = set()
        history: list[Deal] | None = None
        for trade in live_trades:
            if trade.client_order_id in sending:
                if trade.mt5_position is not None:
                    held.add(trade.mt5_position)
                if trade.client_order_id in by_comment:
                    held.add(by_comment[trade.client_order_id].ticket)
                continue
            if trade.status in (TradeStatus.INTENT, TradeStatus.SUBMITTED):
                position = by_comment.get(trade.client_order_id)
                if position is not None:
                    held.add(position.ticket)
                    await self._open_from_position(report, trade, position)
                    continue
                age = (datetime.now(UTC) - trade.updated_at).total_seconds()
                if trade.status is TradeStatus.SUBMITTED and age < submitted_grace:
                    continue
                if history is None:
                    history = await self._history()
                await self._settle_unsent(report, trade, history)
                continue
            ticket = trade.mt5_position
            if ticket is None:
                continue
            held.add(ticket)
            position = by_ticket.get(ticket)
            if position is None:
                await self._settle_gone(report, trade)
            else:
                await self._check_live(report, trade, position)
        for position in report.positions:
            if position.ticket in held or position.comment in sending:
                continue
            await self._adopt(report, position)
        return report

    async def _history(self) -> list[Deal]:
        now = self._clock.time()
        return await self._source.deals_between(now - HISTORY_WINDOW, now + 3600)

    async def _entry(self, position: Position) -> tuple[float, list[Deal]]:
        """The volume the position was opened with (its entry deals: part of it may have
        been closed since) and its deals."""
        deals = await self._source.deals_for_position(position.ticket)
        entered = sum(d.volume for d in deals if d.entry == 0)
        return (round(entered, 8) if entered > 0 else position.volume), deals

    async def _settle_partial(
        self, report: ReconcileReport, record: TradeRecord, deals: list[Deal]
    ) -> TradeRecord | None:
        """Record the closes of a position that is still open (by hand, while the daemon was
        down, before its trade was found or adopted); the updated trade, if anything closed."""
        if not any(d.entry != 0 for d in deals):
            return None
        settled = await self._move(settle(self._trades, record, deals))
        if settled is not None:
            await self._partial_close(report, settled)
        return settled

    async def _partial_close(self, report: ReconcileReport, settled: TradeRecord) -> None:
        await self._correct(
            report,
            "partial_close",
            settled,
            f"trade {settled.id}: {settled.closed_volume} of {settled.volume} closed at the "
            f"terminal",
            {"ticket": settled.mt5_position},
        )

    async def _open_from_position(
        self, report: ReconcileReport, trade: TradeRecord, position: Position
    ) -> None:
        volume, deals = await self._entry(position)
        record = await self._move(
            self._trades.mark_open(
                trade.id,
                Fill(
                    mt5_order=position.ticket,
                    mt5_position=position.ticket,
                    entry_price=position.price_open,
                    volume=volume,
                    open_time=_utc(position.time),
                    execution_details={
                        "filled_price": position.price_open,
                        "initial_sl": float(trade.sl) if trade.sl is not None else None,
                        "initial_tp": float(trade.tp) if trade.tp is not None else None,
                        "reconciled": "position found by its client order id",
                    },
                ),
            )
        )
        if record is not None:
            await self._correct(
                report,
                "opened",
                record,
                f"trade {trade.id} was {trade.status.value}; its order is position "
                f"{position.ticket} at the terminal",
                {"ticket": position.ticket, "was": trade.status.value},
            )
            await self._settle_partial(report, record, deals)

    async def _settle_unsent(
        self, report: ReconcileReport, trade: TradeRecord, history: list[Deal]
    ) -> None:
        entry = next(
            (
                d
                for d in history
                if d.comment == trade.client_order_id and d.entry == 0 and d.magic == self._magic
            ),
            None,
        )
        if entry is None:
            why = (
                "never sent: the process stopped before order_send"
                if trade.status is TradeStatus.INTENT
                else "not executed: no position or deal at the terminal carries its id"
            )
            record = await self._move(
                self._trades.mark_cancelled(
                    trade.id, reason=why, execution_details={"reconciled": why}
                )
            )
            if record is not None:
                await self._correct(
                    report, "cancelled", record, f"trade {trade.id}: {why}", {"was": trade.status}
                )
            return
        record = await self._move(
            self._trades.mark_open(
                trade.id,
                Fill(
                    mt5_order=entry.order,
                    mt5_position=entry.position_id,
                    entry_price=entry.price,
                    volume=entry.volume,
                    open_time=_utc(entry.time),
                    execution_details={
                        "filled_price": entry.price,
                        "reconciled": "entry deal found in the history",
                    },
                ),
            )
        )
        if record is None:
            return
        await self._correct(
            report,
            "opened",
            record,
            f"trade {trade.id} was {trade.status.value}; its order executed as position "
            f"{entry.position_id}, already closed",
            {"ticket": entry.position_id, "was": trade.status.value},
        )
        await self._settle_gone(report, record)

    async def _settle_gone(self, report: ReconcileReport, trade: TradeRecord) -> None:
        assert trade.mt5_position is not None
        deals = await self._source.deals_for_position(trade.mt5_position)
        exits = [d for d in deals if d.entry != 0]
        settled = await self._move(
            settle(
                self._trades,
                trade,
                deals,
                reason=self._close_reason(exits[-1] if exits else None),
            )
        )
        if settled is None:
            _log.error(
                "position gone from the terminal but no closing deal in history",
                trade_id=trade.id,
                ticket=trade.mt5_position,
            )
            return
        if settled.status is TradeStatus.CLOSED:
            report.closed += 1
            await self._correct(
                report,
                "closed_from_history",
                settled,
                f"trade {trade.id} was closed at the terminal ({settled.close_reason}) at "
                f"{settled.exit_price}, profit {settled.profit}",
                {"ticket": trade.mt5_position, "reason": settled.close_reason},
                level="info" if trade.status is TradeStatus.OPEN else "warning",
            )
        else:
            await self._partial_close(report, settled)

    async def _check_live(
        self, report: ReconcileReport, trade: TradeRecord, position: Position
    ) -> None:
        open_volume = Decimal(repr(round(position.volume, 8)))
        if open_volume < trade.open_volume:
            deals = await self._source.deals_for_position(position.ticket)
            trade = await self._settle_partial(report, trade, deals) or trade
        if trade.status is TradeStatus.CLOSING:
            record = await self._move(
                self._trades.reopen(trade.id, reason="its position is still open")
            )
            if record is not None:
                await self._correct(
                    report,
                    "reopened",
                    record,
                    f"trade {trade.id} was closing, but position {position.ticket} is still open",
                    {"ticket": position.ticket},
                )
        sl, tp = position.sl or None, position.tp or None
        stored = (
            None if trade.sl is None else float(trade.sl),
            None if trade.tp is None else float(trade.tp),
        )
        if (sl, tp) != stored:
            await self._trades.update_stops(trade.id, sl=sl, tp=tp)
            _log.info(
                "stops changed at the terminal copied to the trade",
                trade_id=trade.id,
                sl=sl,
                tp=tp,
            )
            updated = await self._trades.get(trade.id)
            if updated is not None:
                self._bus.publish(TradeEvent(updated))

    async def _adopt(self, report: ReconcileReport, position: Position) -> None:
        existing = (
            await self._trades.get_by_client_order_id(position.comment)
            if position.comment
            else None
        )
        if (
            existing is not None
            and existing.mt5_position == position.ticket
            and existing.status in LIVE_STATUSES
        ):
            return  # settled by execution while this pass ran
        duplicate_of = existing.id if existing is not None else None
        client_order_id = (
            position.comment
            if position.comment and existing is None
            else f"adopted-{position.ticket}-{position.time:.0f}"
        )
        volume, deals = await self._entry(position)
        adopted = AdoptedPosition(
            client_order_id=client_order_id,
            # A late fill of an order given up as not executed keeps its strategy.
            strategy=existing.strategy if existing is not None else "adopted",
            symbol=position.symbol,
            side=position.side,
            volume=volume,
            entry_price=position.price_open,
            sl=position.sl or None,
            tp=position.tp or None,
            mt5_position=position.ticket,
            open_time=_utc(position.time),
            details={
                "reconciled": "position with our magic number unknown to the database",
                "comment": position.comment,
                "duplicate_of": duplicate_of,
                "initial_sl": position.sl or None,
            },
        )
        record = await self._trades.adopt_position(adopted)
        message = f"position {position.ticket} ({position.symbol}) adopted as trade {record.id}"
        if duplicate_of is not None:
            message += f"; its comment names trade {duplicate_of}, which does not hold it"
        await self._correct(
            report,
            "adopted",
            record,
            message,
            {"ticket": position.ticket, "duplicate_of": duplicate_of},
            level="warning",
        )
        await self._settle_partial(report, record, deals)

    async def _move(self, step: Any) -> TradeRecord | None:
        """Await a trade change; ``None`` when someone else moved the trade first."""
        try:
            result: TradeRecord | None = await step
        except IllegalTransition as exc:
            _log.info("trade already settled elsewhere", trade_id=exc.trade_id, now=exc.current)
            return None
        return result

    async def _correct(
        self,
        report: ReconcileReport,
        kind: str,
        record: TradeRecord,
        message: str,
        details: dict[str, Any],
        *,
        level: str = "warning",
    ) -> None:
        now = self._clock.time()
        context = {"kind": kind, "trade_id": record.id, **_plain(details)}
        report.corrections.append(context)
        self.corrections += 1
        self._track(record)
        getattr(_log, level)("reconciliation: " + message, **context)
        self._bus.publish(TradeEvent(record))
        self._bus.publish(ReconciliationEvent(kind, record.id, message, context, now))
        await self._audit.add(
            level=level,
            component="reconciliation",
            event="reconciliation_correction",
            message=message,
            context=context,
        )


def _plain(details: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.value if isinstance(v, TradeStatus) else v) for k, v in details.items()}
