"""The position manager: keeps the database in step with the terminal's positions.

Rules:

* It knows which trades are open (from the database at start, then from trade events) and
  answers :meth:`PositionManager.open_count` for the risk manager without a query.
* Every ``sync_interval`` seconds, and at start, it compares the bot's open trades with the
  terminal's positions carrying the bot's magic number. A trade whose position is gone was
  closed at the terminal (stop-loss, take-profit, by hand): its close price, profit, swap and
  commission come from the deal history, never from a guess.
* A position with our magic number that the database does not know is reported (adoption comes
  with full reconciliation).
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog

from forexbot.clock import Clock
from forexbot.database.records import TradeRecord
from forexbot.database.trades import TradeRepository
from forexbot.domain.trading import AccountState, Deal, Position, TradeStatus
from forexbot.errors import TerminalError
from forexbot.events.bus import EventBus
from forexbot.events.types import TradeEvent

_log = structlog.get_logger("forexbot.positions")

_DEAL_ENTRY_OUT = (1, 2, 3)  # OUT, INOUT, OUT_BY
_CLOSE_REASONS = {
    4: "stop_loss",
    5: "take_profit",
    6: "stop_out",
    0: "manual",
    1: "manual",
    2: "manual",
    3: "expert",
}


class PositionSource(Protocol):
    """The part of the connector the position manager needs."""

    async def positions(self, magic: int | None = None) -> list[Position]: ...

    async def deals_for_position(self, position_ticket: int) -> list[Deal]: ...

    async def account(self) -> AccountState: ...


class PositionManager:
    """Tracks open trades and settles the ones the terminal closed."""

    def __init__(
        self,
        source: PositionSource,
        trades: TradeRepository,
        bus: EventBus,
        clock: Clock,
        magic: int,
        sync_interval: float,
    ) -> None:
        self._source = source
        self._trades = trades
        self._bus = bus
        self._clock = clock
        self._magic = magic
        self._sync_interval = sync_interval
        self._open: dict[int, str] = {}  # trade id → symbol
        self._positions: list[Position] = []
        self._account: AccountState | None = None
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.closed_from_terminal = 0
        self.unknown_positions: set[int] = set()

    def subscribe(self) -> None:
        self._bus.subscribe(TradeEvent, self.on_trade, name="positions")

    async def start(self) -> None:
        for trade in await self._trades.open_trades():
            self._open[int(trade.id)] = str(trade.symbol)
        await self.sync()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="position-sync")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._sync_interval)
            try:
                await self.sync()
            except TerminalError as exc:
                _log.warning("position sync skipped: terminal unavailable", error=str(exc))

    async def on_trade(self, event: TradeEvent) -> None:
        if event.status is TradeStatus.OPEN:
            self._open[event.trade_id] = str(event.trade.get("symbol", ""))
        elif event.status in (TradeStatus.CLOSED, TradeStatus.REJECTED, TradeStatus.CANCELLED):
            self._open.pop(event.trade_id, None)

    def open_count(self, symbol: str | None = None) -> int:
        if symbol is None:
            return len(self._open)
        return sum(1 for s in self._open.values() if s == symbol)

    @property
    def account(self) -> AccountState | None:
        """The account as of the last sync."""
        return self._account

    async def sync(self) -> int:
        """Compare with the terminal; close in the database what the terminal closed.
        Returns the number of trades closed."""
        async with self._lock:
            # Trades first, then positions: a fill recorded in between then shows up as a
            # live position, never as a position that vanished.
            open_trades = await self._trades.open_trades()
            positions = await self._source.positions(self._magic)
            self._positions = positions
            self._account = await self._source.account()
            live = {p.ticket for p in positions}
            closed = 0
            known: set[int] = set()
            for trade in open_trades:
                ticket = trade.mt5_position
                if ticket is None:
                    continue  # still being sent; execution settles it
                known.add(int(ticket))
                if trade.status != TradeStatus.OPEN or int(ticket) in live:
                    continue
                if await self._close_from_deals(trade):
                    closed += 1
            for position in positions:
                if position.ticket not in known and position.ticket not in self.unknown_positions:
                    self.unknown_positions.add(position.ticket)
                    _log.warning(
                        "position with our magic number unknown to the database",
                        ticket=position.ticket,
                        symbol=position.symbol,
                        comment=position.comment,
                    )
            return closed

    async def _close_from_deals(self, trade: TradeRecord) -> bool:
        if trade.mt5_position is None:
            return False
        deals = await self._source.deals_for_position(trade.mt5_position)
        exits = [d for d in deals if d.entry in _DEAL_ENTRY_OUT]
        if not exits:
            _log.error(
                "position gone from the terminal but no closing deal in history",
                trade_id=trade.id,
                ticket=trade.mt5_position,
            )
            return False
        volume = sum(d.volume for d in exits)
        exit_price = sum(d.price * d.volume for d in exits) / volume if volume else exits[-1].price
        last = exits[-1]
        await self._trades.mark_closed(
            int(trade.id),
            exit_price=exit_price,
            close_time=datetime.fromtimestamp(last.time, tz=UTC),
            profit=sum(d.profit for d in exits),
            swap=sum(d.swap for d in deals),
            commission=sum(d.commission for d in deals),
            close_reason=_CLOSE_REASONS.get(last.reason, f"reason_{last.reason}"),
        )
        self.closed_from_terminal += 1
        self._open.pop(int(trade.id), None)
        record = await self._trades.get(int(trade.id))
        payload = record.to_api() if record is not None else {"id": trade.id}
        _log.info(
            "trade closed at the terminal",
            trade_id=trade.id,
            symbol=trade.symbol,
            reason=payload.get("close_reason"),
            profit=payload.get("profit"),
        )
        self._bus.publish(TradeEvent(int(trade.id), TradeStatus.CLOSED, payload))
        return True

    async def open_positions(self) -> list[dict[str, Any]]:
        """Open positions as of the last sync, JSON-ready (the API's ``GET /api/positions``)."""
        return [
            {
                "ticket": p.ticket,
                "symbol": p.symbol,
                "side": p.side.label,
                "volume": p.volume,
                "price_open": p.price_open,
                "price_current": p.price_current,
                "sl": p.sl or None,
                "tp": p.tp or None,
                "profit": p.profit,
                "swap": p.swap,
                "time": datetime.fromtimestamp(p.time, tz=UTC).isoformat(),
                "comment": p.comment,
            }
            for p in self._positions
        ]
