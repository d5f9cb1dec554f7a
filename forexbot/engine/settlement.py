"""Settling a trade from the terminal's deals: the one way a trade is closed, fully or in part.

Rules:

* The terminal's deals are the truth: the closed volume, the exit price, the profit, swap and
  commission of a trade are always *recomputed* from every deal of its position, never
  accumulated from guesses. Settling the same deals twice changes nothing.
* Exit deals are those with entry OUT, INOUT or OUT_BY. The closed volume is the sum of their
  volumes; the exit price their volume-weighted average; the profit the sum of their profits
  (so a closed trade's profit equals its deals'); swap and commission are summed over all the
  position's deals, entry included.
* When the closed volume reaches the trade's volume, the trade is closed with the last exit's
  time; otherwise the partial close is recorded and the trade stays open.
* The close reason is the bot's own when it sent the close (``manual_api``, ``kill_switch``,
  ``trailing``...), else the last exit deal's DEAL_REASON: stop-loss, take-profit, stop-out,
  or ``manual`` for a close by hand in the terminal (client, mobile, web).
* Volumes are rounded to 8 decimals and money to cents before they are stored: a float sum
  such as 0.1 + 0.2 must not exceed the trade's 0.3 and break the volume invariant.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from forexbot.domain.lifecycle import IllegalTransition
from forexbot.domain.trades import ExitTotals, TradeRecord
from forexbot.domain.trading import Deal, TradeStatus
from forexbot.engine.trade_store import TradeStore

EXIT_ENTRIES = (1, 2, 3)  # DEAL_ENTRY_OUT, INOUT, OUT_BY
CLOSE_REASONS = {
    0: "manual",
    1: "manual",
    2: "manual",
    3: "expert",
    4: "stop_loss",
    5: "take_profit",
    6: "stop_out",
}


@dataclass(frozen=True, slots=True)
class DealTotals:
    """What a position's deals add up to."""

    closed_volume: Decimal
    exit_price: float | None
    profit: Decimal
    swap: Decimal
    commission: Decimal
    last_exit: Deal | None

    @property
    def close_reason(self) -> str:
        if self.last_exit is None:
            return "unknown"
        return CLOSE_REASONS.get(self.last_exit.reason, f"reason_{self.last_exit.reason}")


def _volume(value: float) -> Decimal:
    return Decimal(repr(round(value, 8)))


def _money(value: float) -> Decimal:
    return Decimal(repr(round(value, 2)))


def totals(deals: Sequence[Deal]) -> DealTotals:
    """Add up a position's deals (see the module rules)."""
    exits = [d for d in deals if d.entry in EXIT_ENTRIES]
    closed = sum(d.volume for d in exits)
    vwap = sum(d.price * d.volume for d in exits) / closed if closed else None
    return DealTotals(
        closed_volume=_volume(closed),
        exit_price=None if vwap is None else round(vwap, 8),
        profit=_money(sum(d.profit for d in exits)),
        swap=_money(sum(d.swap for d in deals)),
        commission=_money(sum(d.commission for d in deals)),
        last_exit=exits[-1] if exits else None,
    )


async def settle(
    trades: TradeStore,
    trade: TradeRecord,
    deals: Sequence[Deal],
    *,
    reason: str | None = None,
) -> TradeRecord | None:
    """Close or partially close ``trade`` from ``deals``; the updated record, or ``None`` when
    the deals show nothing new (no exit, or the same closed volume as recorded)."""
    t = totals(deals)
    if t.last_exit is None or t.exit_price is None or t.closed_volume <= 0:
        return None
    if trade.status is TradeStatus.CLOSED:
        return None
    money = ExitTotals(
        exit_price=t.exit_price, profit=t.profit, swap=t.swap, commission=t.commission
    )
    if t.closed_volume >= trade.volume:
        try:
            return await trades.mark_closed(
                trade.id,
                money,
                close_time=datetime.fromtimestamp(t.last_exit.time, tz=UTC),
                close_reason=reason or t.close_reason,
            )
        except IllegalTransition as exc:
            if exc.current is TradeStatus.CLOSED:
                return None  # settled already (``trade`` was an older copy)
            raise
    return await trades.record_partial_close(trade.id, money, closed_volume=t.closed_volume)
