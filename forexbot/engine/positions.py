"""The position manager: keeps the database in step with the terminal and acts on positions.

Rules:

* It knows which trades are open (from the database at start, then from trade events) and
  answers :meth:`PositionManager.open_count` and :meth:`PositionManager.holdings` for the
  risk manager without a query.
* At start, every ``sync_interval`` seconds and after every reconnect it reconciles the
  database with the terminal (:mod:`~forexbot.engine.reconcile`): SL/TP hits, closes by hand,
  partial closes, orders whose answer was lost, positions unknown to the database. After each
  pass it publishes the account (:class:`~forexbot.events.types.AccountEvent`) for the risk
  manager's equity limits.
* Manual actions (close, partial close, SL/TP), the kill switch's close-all and trailing stops
  go through :mod:`~forexbot.engine.position_actions`. Everything that changes positions —
  these actions and reconciliation — holds one lock, so a sync never sees a close halfway.
* Trailing stop and break-even: on each quote of a symbol with open trades, a trade whose
  strategy instance has :class:`~forexbot.config.models.TradeManagement` gets its stop moved when
  :func:`~forexbot.engine.management.managed_stop` says so.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

import structlog

from forexbot.audit import AuditLog
from forexbot.clock import Clock, iso_utc
from forexbot.config.models import ExecutionSettings, TradeManagement
from forexbot.daemon.tasks import stop_task
from forexbot.domain.market import SymbolSpec, Tick
from forexbot.domain.trades import TradeRecord
from forexbot.domain.trading import AccountState, Deal, Position, Side, Signal, TradeStatus
from forexbot.engine.exposure import Holding
from forexbot.engine.management import managed_stop
from forexbot.engine.orders import exit_price
from forexbot.engine.position_actions import ACTION_FAILURES, PositionActions
from forexbot.engine.reconcile import Reconciler, ReconcileReport
from forexbot.engine.sender import OrderSender, OrderTerminal
from forexbot.engine.trade_store import TradeStore
from forexbot.errors import DatabaseError, NotFoundError, TerminalError
from forexbot.events.bus import EventBus
from forexbot.events.types import (
    AccountEvent,
    ConnectionState,
    ConnectionStateEvent,
    TickEvent,
    TradeEvent,
)

_log = structlog.get_logger("forexbot.positions")

_LIVE = (TradeStatus.OPEN, TradeStatus.CLOSING)
#: Periodic syncs leave a ``submitted`` trade this long (seconds) before settling it: its order
#: may still be on its way (a slow bridge). At start and after a reconnect there is no wait.
SUBMITTED_GRACE = 30.0


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


class PositionSource(OrderTerminal, Protocol):
    """The part of the connector the position manager needs."""

    def spec(self, symbol: str) -> SymbolSpec: ...

    def last_tick(self, symbol: str) -> Tick | None: ...

    async def positions(self, magic: int | None = None) -> list[Position]: ...

    async def deals_for_position(self, position_ticket: int) -> list[Deal]: ...

    async def deals_between(self, utc_from: float, utc_to: float) -> list[Deal]: ...

    async def account(self) -> AccountState: ...


@dataclass(frozen=True, slots=True)
class OpenTrade:
    """What the manager keeps in memory about an open trade."""

    id: int
    instance: str
    symbol: str
    side: Side
    ticket: int | None
    entry: float | None
    initial_sl: float | None
    sl: float | None
    volume: float

    @classmethod
    def from_record(cls, trade: TradeRecord) -> OpenTrade:
        """What to keep of ``trade``; its initial stop is the one it was opened with (in its
        execution details), else its stop."""
        initial = trade.execution_details.get("initial_sl", trade.sl)
        return cls(
            id=trade.id,
            instance=f"{trade.strategy}:{trade.symbol}:{trade.timeframe}",
            symbol=trade.symbol,
            side=trade.side,
            ticket=trade.mt5_position,
            entry=_float(trade.entry_price),
            initial_sl=None if initial is None else float(initial),
            sl=_float(trade.sl),
            volume=float(trade.open_volume or trade.volume),
        )


class PositionManager:
    """Tracks open trades, reconciles them with the terminal, and acts on positions."""

    def __init__(
        self,
        source: PositionSource,
        trades: TradeStore,
        bus: EventBus,
        clock: Clock,
        magic: int,
        *,
        audit: AuditLog,
        settings: Callable[[], ExecutionSettings] = ExecutionSettings,
        deviation_points: Callable[[], int] = lambda: 20,
        in_flight: Callable[[], frozenset[str]] = frozenset,
        management: Callable[[str], TradeManagement | None] = lambda _key: None,
    ) -> None:
        self._source = source
        self._trades = trades
        self._bus = bus
        self._clock = clock
        self._magic = magic
        self._settings = settings
        self._management = management
        self._actions = PositionActions(
            source, trades, bus, clock, magic, OrderSender(source, settings), deviation_points
        )
        self._reconciler = Reconciler(
            source,
            trades,
            bus,
            clock,
            magic,
            audit,
            in_flight,
            self._actions.reason_of,
            track=self.track,
        )
        self._open: dict[int, OpenTrade] = {}
        self._positions: list[Position] = []
        self._account: AccountState | None = None
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._managing: set[int] = set()
        self._was_disconnected = False
        self.closed_from_terminal = 0
        self.syncs = 0
        self.sync_failures = 0
        self.trailing_moves = 0

    # -- lifecycle ------------------------------------------------------------------------

    def subscribe(self) -> None:
        self._bus.subscribe(TradeEvent, self.on_trade, name="positions")
        self._bus.subscribe(ConnectionStateEvent, self.on_connection, name="positions-reconnect")
        # Only the latest quote per symbol matters to a trailing stop.
        self._bus.subscribe(
            TickEvent,
            self.on_tick,
            name="positions-ticks",
            maxsize=64,
            coalesce_by=lambda event: event.symbol,
        )

    async def start(self) -> ReconcileReport:
        """Load the open trades, reconcile with the terminal, start the periodic sync."""
        for trade in await self._trades.open_trades():
            if trade.status in _LIVE:
                self._open[trade.id] = OpenTrade.from_record(trade)
        report = await self.reconcile()
        _log.info(
            "reconciled with the terminal at start",
            positions=len(report.positions),
            corrections=len(report.corrections),
        )
        self._task = asyncio.get_running_loop().create_task(self._run(), name="position-sync")
        return report

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            await stop_task(task)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._settings().sync_interval_seconds)
            try:
                await self.reconcile(submitted_grace=SUBMITTED_GRACE)
            except TerminalError as exc:
                self.sync_failures += 1
                _log.warning("position sync skipped: terminal unavailable", error=str(exc))
            except DatabaseError as exc:
                self.sync_failures += 1
                _log.error("position sync failed: database unavailable", error=str(exc))
            except Exception:
                # A bug must not end the sync: it is the source of SL/TP detection and of the
                # equity the account limits watch.
                self.sync_failures += 1
                _log.exception("position sync failed unexpectedly")

    # -- reconciliation ---------------------------------------------------------------------

    async def reconcile(self, *, submitted_grace: float = 0.0) -> ReconcileReport:
        """One reconciliation pass under the lock; publishes the account afterwards."""
        async with self._lock:
            report = await self._reconciler.run(submitted_grace=submitted_grace)
        self.syncs += 1
        self.closed_from_terminal += report.closed
        self._positions = report.positions
        if report.account is not None:
            self._account = report.account
            self._bus.publish(AccountEvent(report.account, self._clock.time()))
        return report

    async def sync(self) -> int:
        """Reconcile; returns the number of trades found closed at the terminal."""
        return (await self.reconcile()).closed

    async def on_connection(self, event: ConnectionStateEvent) -> None:
        """After a reconnect, reconcile at once: the terminal may have closed positions (SL/TP)
        while it was unreachable."""
        if event.state is ConnectionState.DISCONNECTED:
            self._was_disconnected = True
            return
        if event.state is ConnectionState.CONNECTED and self._was_disconnected:
            self._was_disconnected = False
            try:
                report = await self.reconcile()
            except TerminalError as exc:
                _log.warning("reconciliation after reconnect failed", error=str(exc))
                return
            _log.info(
                "reconciled after reconnect",
                positions=len(report.positions),
                corrections=len(report.corrections),
            )

    async def on_trade(self, event: TradeEvent) -> None:
        if event.status in _LIVE and event.trade.mt5_position is not None:
            self._open[event.trade_id] = OpenTrade.from_record(event.trade)
        elif event.status in (TradeStatus.CLOSED, TradeStatus.REJECTED, TradeStatus.CANCELLED):
            self._open.pop(event.trade_id, None)

    def track(self, record: TradeRecord) -> None:
        """Count a trade that just opened at once, before its event goes round the bus: the
        risk manager releases the order's reservation on that event, and the position must
        already count by then."""
        if record.status in _LIVE and record.mt5_position is not None:
            self._open[record.id] = OpenTrade.from_record(record)

    # -- queries ----------------------------------------------------------------------------

    def open_count(self, symbol: str | None = None) -> int:
        if symbol is None:
            return len(self._open)
        return sum(1 for t in self._open.values() if t.symbol == symbol)

    def holdings(self) -> list[Holding]:
        """The bot's positions for the exposure limit: as of the last sync, plus the trades
        opened since (not in that snapshot yet)."""
        held = [Holding(p.symbol, p.side, p.volume, p.price_open) for p in self._positions]
        synced = {p.ticket for p in self._positions}
        for trade in self._open.values():
            if trade.ticket not in synced and trade.entry is not None:
                held.append(Holding(trade.symbol, trade.side, trade.volume, trade.entry))
        return held

    @property
    def account(self) -> AccountState | None:
        """The account as of the last sync."""
        return self._account

    @property
    def corrections(self) -> int:
        return self._reconciler.corrections

    async def open_positions(self) -> list[dict[str, Any]]:
        """Open positions as of the last sync, JSON-ready (the API's ``GET /api/positions``)."""
        trade_of = {t.ticket: t.id for t in self._open.values() if t.ticket is not None}
        return [
            {
                "ticket": p.ticket,
                "trade_id": trade_of.get(p.ticket),
                "symbol": p.symbol,
                "side": p.side.label,
                "volume": p.volume,
                "price_open": p.price_open,
                "price_current": p.price_current,
                "sl": p.sl or None,
                "tp": p.tp or None,
                "profit": p.profit,
                "swap": p.swap,
                "time": iso_utc(p.time),
                "comment": p.comment,
            }
            for p in self._positions
        ]

    # -- actions ----------------------------------------------------------------------------

    async def close_trade(
        self, trade_id: int, *, volume: float | None, reason: str, actor: str | None
    ) -> TradeRecord:
        """Close a trade, or ``volume`` lots of it; one of
        :data:`~forexbot.engine.position_actions.ACTION_FAILURES` when it cannot
        (:class:`~forexbot.errors.NotFoundError` for an unknown trade)."""
        async with self._lock:
            trade = await self._trade(trade_id)
            return await self._actions.close(trade, volume, reason, actor)

    async def close_position(
        self, ticket: int, *, volume: float | None, reason: str, actor: str | None
    ) -> TradeRecord:
        """Close (part of) the bot's position ``ticket``."""
        return await self.close_trade(
            await self._trade_id_of(ticket), volume=volume, reason=reason, actor=actor
        )

    async def modify_trade(
        self, trade_id: int, *, sl: float | None, tp: float | None, actor: str | None
    ) -> TradeRecord:
        """Change a trade's SL and/or TP (``None`` keeps, 0 removes)."""
        async with self._lock:
            trade = await self._trade(trade_id)
            return await self._actions.modify(trade, sl, tp, actor)

    async def modify_position(
        self, ticket: int, *, sl: float | None, tp: float | None, actor: str | None
    ) -> TradeRecord:
        return await self.modify_trade(await self._trade_id_of(ticket), sl=sl, tp=tp, actor=actor)

    async def close_opposite(self, signal: Signal) -> int:
        """Close the signal's instance's open trades on the other side (stop and reverse);
        returns how many closed. A trade that cannot be closed is logged and left open."""
        instance = f"{signal.strategy}:{signal.symbol}:{signal.timeframe}"
        closed = 0
        for trade in list(self._open.values()):
            if trade.instance != instance or trade.side is signal.side:
                continue
            try:
                record = await self.close_trade(
                    trade.id, volume=None, reason="reversal", actor=None
                )
            except ACTION_FAILURES as exc:
                _log.warning("reversal: trade not closed", trade_id=trade.id, error=str(exc))
                continue
            if record.status is TradeStatus.CLOSED:
                closed += 1
                self._open.pop(trade.id, None)  # before its event goes round the bus
        if closed:
            # The risk manager checks the new trade right after: it must see the position
            # gone from the counts, the exposure and the margin in use.
            try:
                await self.reconcile()
            except (TerminalError, DatabaseError) as exc:
                _log.warning("reconciliation after a reversal failed", error=str(exc))
        return closed

    def held_on_side(self, signal: Signal) -> int:
        """How many open trades the signal's instance holds on the signal's side (a
        stop-and-reverse signal finding one holds it: see the risk manager)."""
        instance = f"{signal.strategy}:{signal.symbol}:{signal.timeframe}"
        return sum(
            1 for t in self._open.values() if t.instance == instance and t.side is signal.side
        )

    async def close_all(self, reason: str) -> int:
        """Close every position of the bot (the kill switch); returns how many were closed.

        Works from the terminal's positions, not the database's trades, so it closes even
        what the database does not know yet and goes on when the database is down (the
        closes are then recorded by the next reconciliation). A failure on one position does
        not stop the others; it is logged, and the next call tries again.
        """
        closed = 0
        async with self._lock:
            for position in await self._source.positions(self._magic):
                try:
                    trade = await self._trades.get_by_position(position.ticket)
                except DatabaseError as exc:
                    _log.error("database unavailable: closing at the terminal", error=str(exc))
                    trade = None
                try:
                    if trade is not None and trade.status is TradeStatus.OPEN:
                        record = await self._actions.close(trade, None, reason, actor=None)
                        closed += record.status is TradeStatus.CLOSED
                    elif await self._actions.close_at_terminal(position, reason):
                        closed += 1
                except ACTION_FAILURES as exc:
                    _log.error("could not close a position", ticket=position.ticket, error=str(exc))
        _log.warning("close all done", reason=reason, closed=closed)
        return closed

    async def _trade(self, trade_id: int) -> TradeRecord:
        trade = await self._trades.get(trade_id)
        if trade is None:
            raise NotFoundError(f"trade {trade_id} does not exist")
        return trade

    async def _trade_id_of(self, ticket: int) -> int:
        for trade in self._open.values():
            if trade.ticket == ticket:
                return trade.id
        record = await self._trades.get_by_position(ticket)
        if record is None or record.status not in _LIVE:
            raise NotFoundError(f"position {ticket} is not an open position of this bot")
        return record.id

    # -- trailing stops ---------------------------------------------------------------------

    async def on_tick(self, event: TickEvent) -> None:
        tick = event.tick
        for trade in list(self._open.values()):
            if trade.symbol != tick.symbol or trade.id in self._managing:
                continue
            settings = self._management(trade.instance)
            if settings is None or not settings.active:
                continue
            if trade.entry is None or trade.initial_sl is None:
                continue
            target = managed_stop(
                side=trade.side,
                entry=trade.entry,
                initial_sl=trade.initial_sl,
                current_sl=trade.sl or 0.0,
                price=exit_price(trade.side, tick),
                spec=self._source.spec(trade.symbol),
                settings=settings,
            )
            if target is None:
                continue
            self._managing.add(trade.id)
            try:
                async with self._lock:
                    record = await self._trade(trade.id)
                    if record.status is TradeStatus.OPEN:
                        before = self._actions.modifications
                        await self._actions.modify(
                            record, target, None, actor="trailing", only_tighten=True
                        )
                        self.trailing_moves += self._actions.modifications - before
            except ACTION_FAILURES as exc:
                _log.info("stop not moved", trade_id=trade.id, target=target, error=str(exc))
            finally:
                self._managing.discard(trade.id)
