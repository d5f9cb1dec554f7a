"""Closing and modifying positions: the bot's own actions on what it holds.

Used by the position manager (under its lock) for manual actions from the API, the kill
switch and trailing stops. Every action is validated the way the terminal would validate it,
before anything is sent, so a person gets a clear error rather than a MetaTrader code:

* a close: the trade is open, its position exists, the volume is valid for the symbol (minimum,
  maximum, step: 10014) and at most the position's volume (10038);
* a new SL/TP: on the right side of the price the position closes at (Bid for a buy, Ask for
  a sell), at least the stops level away (10016), and neither the old nor the new level inside
  the freeze level (10029).

A close moves the trade to ``closing`` first, then sends the opposite deal with
``position=<ticket>`` and a comment of its own (``fxc-…``), then settles the trade from the
deals (:mod:`~forexbot.engine.settlement`): closed, or partially closed and open again. A
refused close reopens the trade; a close whose answer was lost and cannot be found is left
``closing`` for reconciliation, which sees whether the position is gone.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from forexbot.clock import Clock
from forexbot.domain.market import SymbolSpec, Tick
from forexbot.domain.trades import TradeRecord
from forexbot.domain.trading import Deal, OrderResult, Position, TradeStatus
from forexbot.engine import retcodes
from forexbot.engine.orders import Stops, exit_price, market_order, modify_stops
from forexbot.engine.sender import OrderSender, OrderTerminal, SendReport
from forexbot.engine.settlement import settle
from forexbot.engine.trade_store import TradeStore
from forexbot.errors import (
    DatabaseError,
    ForexbotError,
    InvalidInputError,
    NotFoundError,
    OrderRefusedError,
    OutcomeUnknownError,
    StateConflictError,
    TerminalError,
)
from forexbot.events.bus import EventBus
from forexbot.events.types import TradeEvent

_log = structlog.get_logger("forexbot.positions")

#: What a close or a change of stops raises when it cannot be done: the caller that acts on
#: its own (the kill switch, a reversal, a trailing stop) logs it and goes on.
ACTION_FAILURES: tuple[type[ForexbotError], ...] = (
    InvalidInputError,
    NotFoundError,
    StateConflictError,
    OrderRefusedError,
    OutcomeUnknownError,
    TerminalError,
    DatabaseError,
)


#: The bot's close reasons, as short codes in the close order's comment.
_REASON_CODES = {
    "manual_api": "api",
    "kill_switch": "ks",
    "trailing": "tr",
    "end_of_test": "eot",  # a backtest closes what is still open when its period ends
    "reversal": "rev",  # a stop-and-reverse signal closes the other side first
}
_REASONS = {code: reason for reason, code in _REASON_CODES.items()}


def close_comment(reason: str) -> str:
    """``fxc-<reason code>-<16 hex>``: unique, within MetaTrader's comment length, and
    telling the reason of the close to whoever reads the deal later (a restarted daemon)."""
    code = _REASON_CODES.get(reason, "bot")
    return f"fxc-{code}-{uuid.uuid4().hex[:16]}"


def reason_of_comment(comment: str) -> str | None:
    """The bot's reason from a close comment made by :func:`close_comment`, else ``None``."""
    parts = comment.split("-")
    if len(parts) != 3 or parts[0] != "fxc":
        return None
    return _REASONS.get(parts[1], "expert")


class ActionTerminal(OrderTerminal, Protocol):
    """What the actions need from the connector."""

    def spec(self, symbol: str) -> SymbolSpec: ...

    def last_tick(self, symbol: str) -> Tick | None: ...

    async def positions(self, magic: int | None = None) -> list[Position]: ...

    async def deals_for_position(self, position_ticket: int) -> list[Deal]: ...


@dataclass(frozen=True, slots=True)
class StopsChange:
    """A validated SL/TP change: the values to send (0.0 = none)."""

    sl: float
    tp: float


def validate_stops(
    position: Position, sl: float, tp: float, tick: Tick, spec: SymbolSpec
) -> StopsChange:
    """Check a new SL/TP as the server would; :class:`InvalidInputError` (``invalid_stops``,
    ``frozen``) names the problem. ``sl``/``tp`` of 0 remove the level."""
    reference = exit_price(position.side, tick)
    sign = position.side.value
    minimum = spec.stops_level * spec.point
    tolerance = spec.point * 1e-3
    sl, tp = spec.round_price(sl) if sl else 0.0, spec.round_price(tp) if tp else 0.0
    which = "bid" if sign > 0 else "ask"
    for name, level, direction in (("sl", sl, -1), ("tp", tp, 1)):
        if not level:
            continue
        if level < 0:
            raise InvalidInputError(f"{name} must not be negative", code="invalid_stops")
        distance = (level - reference) * sign * direction
        if distance <= tolerance:
            side = "below" if direction * sign < 0 else "above"
            raise InvalidInputError(
                f"{name} {level} of a {position.side.label} must be {side} the {which} "
                f"({reference})",
                code="invalid_stops",
            )
        if distance < minimum - tolerance:
            raise InvalidInputError(
                f"{name} {level} is {distance / spec.point:.0f} points from the {which}; "
                f"{spec.name} requires at least {spec.stops_level}",
                code="invalid_stops",
            )
    freeze = spec.freeze_level * spec.point
    if freeze:
        for name, level in (("sl", position.sl), ("tp", position.tp), ("sl", sl), ("tp", tp)):
            if level and abs(reference - level) <= freeze + tolerance:
                raise InvalidInputError(
                    f"{name} {level} is within the freeze level ({spec.freeze_level} points) "
                    f"of the {which} {reference}: it cannot be changed now",
                    code="frozen",
                )
    return StopsChange(sl, tp)


def _not_open(trade: TradeRecord) -> StateConflictError:
    return StateConflictError(
        f"trade {trade.id} is {trade.status.value}, not open", code="not_open"
    )


def _no_position(trade: TradeRecord) -> StateConflictError:
    return StateConflictError(
        f"trade {trade.id} has no open position at the terminal", code="no_position"
    )


class PositionActions:
    """Close and modify; callers hold the position manager's lock."""

    def __init__(
        self,
        terminal: ActionTerminal,
        trades: TradeStore,
        bus: EventBus,
        clock: Clock,
        magic: int,
        sender: OrderSender,
        deviation_points: Callable[[], int],
    ) -> None:
        self._terminal = terminal
        self._trades = trades
        self._bus = bus
        self._clock = clock
        self._magic = magic
        self._sender = sender
        self._deviation = deviation_points
        self.closes_sent = 0
        self.modifications = 0

    def reason_of(self, deal: Deal | None) -> str | None:
        """The bot's reason for the close that produced ``deal``, when the bot sent it."""
        return None if deal is None else reason_of_comment(deal.comment)

    async def position_of(self, trade: TradeRecord) -> Position | None:
        if trade.mt5_position is None:
            return None
        for position in await self._terminal.positions(self._magic):
            if position.ticket == trade.mt5_position:
                return position
        return None

    async def close(
        self, trade: TradeRecord, volume: float | None, reason: str, actor: str | None
    ) -> TradeRecord:
        """Close ``volume`` lots of the trade (all of it when ``None``); the updated trade.

        Raises one of :data:`ACTION_FAILURES`: :class:`StateConflictError` (``not_open``,
        ``no_position``), :class:`InvalidInputError` (``invalid_volume``,
        ``invalid_close_volume``), :class:`OrderRefusedError` (``close_refused``: the trade is
        open again) or :class:`OutcomeUnknownError` (it stays ``closing``)."""
        if trade.status is not TradeStatus.OPEN:
            raise _not_open(trade)
        position = await self.position_of(trade)
        if position is None:
            # Closed at the terminal already: record that instead.
            settled = await self._settle(trade, None)
            if settled is not None:
                return settled
            raise _no_position(trade)
        spec = self._terminal.spec(position.symbol)
        volume = position.volume if volume is None else volume
        problem = spec.volume_problem(volume)
        if problem is not None:
            raise InvalidInputError(problem, code="invalid_volume")
        if volume > position.volume + 1e-9:
            raise InvalidInputError(
                f"cannot close {volume:g} lots: position {position.ticket} holds "
                f"{position.volume:g}",
                code="invalid_close_volume",
            )
        volume = spec.round_volume(volume)
        closing = await self._trades.mark_closing(
            trade.id, details={"volume": volume, "reason": reason, "actor": actor}
        )
        self._publish(closing)
        report = await self._send_close(position, volume, reason)
        if report.done:
            try:
                settled = await self._settle(closing, reason)
            except (TerminalError, DatabaseError) as exc:
                # It executed: reconciliation records it once the deals can be read.
                _log.error("close executed, settling it failed", trade_id=trade.id, error=str(exc))
                return closing
            if settled is not None:
                _log.info(
                    "trade closed" if settled.status is TradeStatus.CLOSED else "trade reduced",
                    trade_id=trade.id,
                    volume=volume,
                    reason=reason,
                    actor=actor,
                    profit=None if settled.profit is None else float(settled.profit),
                )
                return settled
            return closing  # no deal visible yet: reconciliation settles it
        if report.unknown:
            _log.error(
                "close outcome unknown; reconciliation will settle the trade",
                trade_id=trade.id,
                error=str(report.error),
            )
            raise OutcomeUnknownError(
                f"the terminal did not answer the close of trade {trade.id}; it stays "
                f"'closing' until the terminal is reachable"
            )
        why = (
            retcodes.describe(report.result.retcode)
            if report.result is not None
            else str(report.error or report.stopped)
        )
        await self._reopen(closing, f"close refused: {why}")
        raise OrderRefusedError(f"the terminal refused the close: {why}", code="close_refused")

    async def close_at_terminal(self, position: Position, reason: str) -> bool:
        """Close a whole position without the database (the kill switch when the database is
        down, or a position no trade holds yet); reconciliation records it afterwards."""
        report = await self._send_close(position, position.volume, reason)
        if not report.done:
            _log.error(
                "close at the terminal failed",
                ticket=position.ticket,
                retcodes=report.retcodes,
                error=str(report.error or report.stopped or ""),
            )
        return report.done

    async def _send_close(self, position: Position, volume: float, reason: str) -> SendReport:
        """The opposite deal of ``volume`` lots with ``position=<ticket>``; its comment names
        the bot's reason (:func:`close_comment`), so the close is recognised after a restart."""
        spec = self._terminal.spec(position.symbol)
        comment = close_comment(reason)
        side = position.side.opposite

        def build(fresh: Tick | None) -> dict[str, Any] | str:
            tick = fresh or self._terminal.last_tick(position.symbol)
            if tick is None:
                return f"no quote for {position.symbol}"
            self.closes_sent += 1
            return market_order(
                symbol=position.symbol,
                side=side,
                volume=volume,
                price=exit_price(position.side, tick),
                stops=Stops(0.0, 0.0),
                spec=spec,
                deviation=self._deviation(),
                magic=self._magic,
                comment=comment,
                position=position.ticket,
            )

        async def lookup() -> OrderResult | None:
            for deal in await self._terminal.deals_for_position(position.ticket):
                if deal.comment == comment:
                    return OrderResult(
                        retcodes.DONE,
                        deal.order,
                        deal.ticket,
                        deal.volume,
                        deal.price,
                        0.0,
                        0.0,
                        "found after a lost answer",
                        position.ticket,
                    )
            return None

        return await self._sender.send(position.symbol, build, lookup)

    async def modify(
        self,
        trade: TradeRecord,
        sl: float | None,
        tp: float | None,
        actor: str | None,
        *,
        only_tighten: bool = False,
    ) -> TradeRecord:
        """Set the position's SL and/or TP (``None`` keeps a level, 0 removes it).

        ``only_tighten`` (trailing stops): the new SL is sent only when it is in the trade's
        favour against the position's *current* SL, which a person may have moved in the
        terminal since the last sync.

        Raises one of :data:`ACTION_FAILURES`: :class:`StateConflictError` (``not_open``,
        ``no_position``), :class:`InvalidInputError` (see :func:`validate_stops`) or
        :class:`OrderRefusedError` (``modify_refused``).
        """
        if trade.status is not TradeStatus.OPEN:
            raise _not_open(trade)
        position = await self.position_of(trade)
        if position is None:
            raise _no_position(trade)
        spec = self._terminal.spec(position.symbol)
        gain = 0.0 if sl is None else (sl - position.sl) * position.side.value
        if only_tighten and position.sl and gain < spec.point - spec.point * 1e-6:
            return trade  # the stop at the terminal is already at least as tight
        tick = await self._terminal.fresh_tick(position.symbol)
        change = validate_stops(
            position,
            position.sl if sl is None else sl,
            position.tp if tp is None else tp,
            tick,
            spec,
        )
        if (change.sl, change.tp) == (position.sl, position.tp):
            return trade
        request = modify_stops(
            symbol=position.symbol,
            position=position.ticket,
            sl=change.sl,
            tp=change.tp,
            magic=self._magic,
            comment=trade.client_order_id,
        )

        async def lookup() -> OrderResult | None:
            for now in await self._terminal.positions(self._magic):
                if now.ticket == position.ticket and (now.sl, now.tp) == (change.sl, change.tp):
                    return OrderResult(retcodes.DONE, 0, 0, 0.0, 0.0, 0.0, 0.0, "found", 0)
            return None

        report = await self._sender.send(position.symbol, lambda _: request, lookup)
        if not report.done:
            code = report.result.retcode if report.result is not None else None
            if code == retcodes.NO_CHANGES:
                return trade
            why = retcodes.describe(code) if code is not None else str(report.error)
            raise OrderRefusedError(f"the terminal refused: {why}", code="modify_refused")
        self.modifications += 1
        await self._trades.update_stops(trade.id, sl=change.sl, tp=change.tp)
        updated = await self._trades.get(trade.id)
        assert updated is not None
        _log.info("stops changed", trade_id=trade.id, sl=change.sl, tp=change.tp, actor=actor)
        self._publish(updated)
        return updated

    async def _settle(self, trade: TradeRecord, reason: str | None) -> TradeRecord | None:
        if trade.mt5_position is None:
            return None
        deals = await self._terminal.deals_for_position(trade.mt5_position)
        settled = await settle(self._trades, trade, deals, reason=reason)
        if settled is not None:
            self._publish(settled)
        return settled

    async def _reopen(self, trade: TradeRecord, why: str) -> TradeRecord:
        record = await self._trades.reopen(trade.id, reason=why)
        self._publish(record)
        return record

    def _publish(self, record: TradeRecord) -> None:
        self._bus.publish(TradeEvent(record))
