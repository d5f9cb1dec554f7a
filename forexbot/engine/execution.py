"""The execution manager: turns approved intents into positions on the terminal.

Rules:

* **Halted means halted.** An intent approved just before the kill switch tripped (or the
  daily loss limit was reached) is recorded and cancelled, never sent; a resend is not made
  once trading is halted.
* **Persist before sending.** The intent row (with its client order id) is written, and marked
  ``submitted``, before ``order_send``: a crash after sending leaves a row that reconciliation
  matches to the terminal's position (or deal) by the order comment.
* **Intents that queue are written together.** On the bus path the intents approved while the
  previous ones were being written and sent (a burst: every M1 bar closes at once) are
  written in one transaction — one commit, one durable write for them all — then sent one by
  one in their order. An intent refused alone (its client order id taken by another order)
  or failing alone is logged and counted (:attr:`ExecutionManager.failures`); the others go
  on. The kill switch is checked again before each send.
* The request carries the bot's magic number and the client order id as comment; prices are
  rounded to the symbol's digits, SL/TP kept outside the stops level, the filling mode is one
  the symbol allows (:mod:`~forexbot.engine.orders`).
* **Retries** follow :mod:`~forexbot.engine.sender`: only retryable codes, at a fresh price,
  bounded — and a resend is abandoned when the fresh price would make the stop-loss cost more
  than 10 % over the risk the risk manager approved.
* **A timeout is not a rejection.** When the answer to ``order_send`` is lost, the order is
  looked for among the positions and in the deal history by its client order id before
  anything else; found, the trade is open with the terminal's fill. When even the lookup is
  impossible (terminal gone), the trade stays ``submitted`` and reconciliation settles it.
* The position ticket is read from the fill's deal (on a netting account it is not the order
  ticket).
* Every outcome is stored with its execution details (requested and filled price, slippage in
  points, retcodes of every attempt, latency of ``order_send``, and the latency from the tick
  that closed the signal's bar to the first ``order_send``) and published as a
  :class:`~forexbot.events.types.TradeEvent`.
* **The next order does not wait for the previous one's settlement.** On the bus path
  (:meth:`ExecutionManager.on_intents`) the settlement — reading the fill's deal and recording
  the trade open or rejected — runs in its own task once ``order_send`` has answered, so the
  next intent of a burst is written and sent at once. Sends stay sequential, in the order of
  the intents. Until its settlement ends the order stays *being sent* in the orders in flight
  (reconciliation leaves it alone) and reserved (risk counts it). The bus counts a settlement
  as work not done (:meth:`~forexbot.events.bus.EventBus.track`), so a drain — a backtest's
  step, a test, closing the bus — waits for it while strategies need not give way to it.
  :meth:`ExecutionManager.stop` waits (bounded) for pending settlements; one that fails is
  logged and counted (:attr:`ExecutionManager.settle_failures`), and reconciliation settles
  its row. :meth:`ExecutionManager.execute` (manual trades, the API) returns after the
  settlement, so its caller reads the final record.
* **A settlement comes after the burst's analysis.** Its terminal read and database
  transaction take the event loop from the strategies still analysing the bars that closed
  with the order's, and from the next signal's order; so a background settlement waits while
  ``settle_after`` says the analysis is busy (the daemon: the strategy manager has bars to
  analyse), for at most :data:`MAX_SETTLE_DEFER` seconds. The order stays reserved and being
  sent meanwhile, so nothing is decided on a book that misses it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog

from forexbot.clock import Clock
from forexbot.config.models import ExecutionSettings
from forexbot.daemon.tasks import stop_task
from forexbot.domain.market import SymbolSpec, Tick
from forexbot.domain.trades import Fill, NewTrade, TradeRecord
from forexbot.domain.trading import Deal, OrderIntent, OrderResult, Position
from forexbot.engine import retcodes
from forexbot.engine.in_flight import OrdersInFlight
from forexbot.engine.latency import LatencyWindow
from forexbot.engine.order_path import OrderPath
from forexbot.engine.orders import entry_price, market_order, normalise_stops
from forexbot.engine.sender import OrderSender, OrderTerminal, SendReport
from forexbot.engine.sizing import loss_per_lot
from forexbot.engine.trade_store import TradeStore
from forexbot.errors import TerminalError
from forexbot.events.bus import EventBus
from forexbot.events.give_way import wait_while
from forexbot.events.types import OrderIntentEvent, TradeEvent

_log = structlog.get_logger("forexbot.execution")

#: A resend may cost at most this much more than the approved risk if its stop is hit.
RISK_TOLERANCE_ON_RESEND = 1.10
#: How far around now the deal history is searched for an order whose answer was lost.
LOOKUP_WINDOW = 3600.0
#: How long :meth:`ExecutionManager.stop` waits for pending settlements before cancelling them.
SETTLE_TIMEOUT = 5.0
#: Longest wait (seconds) of a background settlement for the analysis to finish: a burst of
#: a few dozen symbols is analysed in a few ms; settlements held longer (a burst of hundreds)
#: pile up and then queue their terminal reads ahead of the burst's later orders' (measured:
#: 300 symbols × 4 strategies, p99 tick → order 290 ms at 20 ms, 530–910 ms at 250 ms).
MAX_SETTLE_DEFER = 0.02


class ExecutionGateway(OrderTerminal, Protocol):
    """The part of the connector execution needs."""

    def spec(self, symbol: str) -> SymbolSpec: ...

    def last_tick(self, symbol: str) -> Tick | None: ...

    async def positions(self, magic: int | None = None) -> list[Position]: ...

    async def deals_between(self, utc_from: float, utc_to: float) -> list[Deal]: ...

    async def deals_of_order(self, order_ticket: int) -> list[Deal]: ...


def _being_stopped() -> bool:
    """Whether the running task is being cancelled itself, not something it awaited."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


async def find_order(
    gateway: ExecutionGateway, magic: int, client_order_id: str, now: float
) -> OrderResult | None:
    """The fill of the order whose comment is ``client_order_id``, if it executed: its open
    position, else its entry deal in the history (the position may be closed already)."""
    for position in await gateway.positions(magic):
        if position.comment == client_order_id:
            return OrderResult(
                retcode=retcodes.DONE,
                order=position.ticket,
                deal=0,
                volume=position.volume,
                price=position.price_open,
                bid=0.0,
                ask=0.0,
                comment="found after a lost answer",
                position=position.ticket,
            )
    for deal in await gateway.deals_between(now - LOOKUP_WINDOW, now + LOOKUP_WINDOW):
        if deal.comment == client_order_id and deal.entry == 0 and deal.magic == magic:
            return OrderResult(
                retcode=retcodes.DONE,
                order=deal.order,
                deal=deal.ticket,
                volume=deal.volume,
                price=deal.price,
                bid=0.0,
                ask=0.0,
                comment="found in the deal history after a lost answer",
                position=deal.position_id,
            )
    return None


@dataclass(frozen=True, slots=True)
class _Sent:
    """An order ``order_send`` has answered (or failed to): what its settlement needs."""

    trade_id: int
    intent: OrderIntent
    report: SendReport
    details: dict[str, Any]
    spec: SymbolSpec


class ExecutionManager:
    """Sends approved intents and records what happened."""

    def __init__(
        self,
        gateway: ExecutionGateway,
        trades: TradeStore,
        bus: EventBus,
        clock: Clock,
        magic: int,
        deviation_points: Callable[[], int],
        settings: Callable[[], ExecutionSettings],
        orders: OrdersInFlight,
        halted: Callable[[], str | None] = lambda: None,
        on_open: Callable[[TradeRecord], None] = lambda _record: None,
        order_path: OrderPath | None = None,
        settle_after: Callable[[], bool] = lambda: False,
    ) -> None:
        self._gateway = gateway
        self._trades = trades
        self._bus = bus
        self._clock = clock
        self._magic = magic
        self._deviation = deviation_points
        self._sender = OrderSender(gateway, settings)
        # Only the bus path's sends: a manual order waiting for the broker must not make the
        # order path look idle while a signal's intent is written.
        self._at_terminal = order_path.at_terminal if order_path else nullcontext
        self._at_database = order_path.at_database if order_path else nullcontext
        self._orders = orders
        self._settle_after = settle_after
        self._halted = halted
        self._on_open = on_open
        self.sent = 0
        self.filled = 0
        self.rejected = 0
        self.unknown = 0
        self.retries = 0
        #: Settlements run in the background that raised (their rows wait for reconciliation).
        self.settle_failures = 0
        #: Intents of the bus path that failed (logged; a written one waits for reconciliation).
        self.failures = 0
        self.tick_to_order = LatencyWindow()
        self.order_latency = LatencyWindow()
        self._settling: set[asyncio.Task[None]] = set()

    def subscribe(self) -> None:
        self._bus.subscribe_batch(OrderIntentEvent, self.on_intents, name="execution")

    async def on_intents(self, events: list[OrderIntentEvent]) -> None:
        """The intents queued since the last call: written in one transaction, then sent one
        by one in their order, each settled in the background (module docstring). An intent
        that fails alone is logged and counted; the others go on."""
        intents = [event.intent for event in events]
        outcomes = await self._execute(intents, on_bus=True)
        for intent, outcome in zip(intents, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                self.failures += 1
                _log.error(
                    "order intent failed; a written one is settled by reconciliation",
                    client_order_id=intent.client_order_id,
                    symbol=intent.signal.symbol,
                    exc_info=outcome,
                )

    async def execute(self, intent: OrderIntent) -> int:
        """Write the intent, send it, record the outcome; returns the trade id (manual trades:
        the caller reads the final record). Raises what refused it."""
        (outcome,) = await self._execute([intent], on_bus=False)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    async def _execute(
        self, intents: list[OrderIntent], *, on_bus: bool
    ) -> list[int | BaseException]:
        """Write ``intents`` (one transaction), then send each in order; per intent its trade
        id or the exception that stopped it (the others go on). Each order is in the orders in
        flight as being sent until its outcome is recorded; failing before its row is written
        takes it out (nothing would ever settle it).

        On the bus path (``on_bus``) an order's outcome is recorded by a task of its own once
        ``order_send`` has answered, so the next intent is sent at once.

        Something awaited that is cancelled (not this task) fails its intent only; this task
        cancelled (the daemon stopping) stops the batch, and the intents written and not sent
        are logged by id (reconciliation cancels them: never sent)."""
        outcomes: list[int | BaseException] = []
        with ExitStack() as every:
            sending = []
            for intent in intents:
                stack = every.enter_context(ExitStack())
                stack.enter_context(self._orders.sending(intent.client_order_id))
                sending.append(stack)
            for place, written in enumerate(await self._write(intents, on_bus)):
                intent = intents[place]
                try:
                    with sending[place] as stack:  # an exception leaves through its block
                        if isinstance(written, BaseException):
                            raise written
                        if isinstance(written, int):
                            outcomes.append(written)  # recorded and cancelled: trading is halted
                            continue
                        sent = await self._send(intent, written, on_bus=on_bus)
                        if isinstance(sent, int):
                            outcomes.append(sent)
                        elif on_bus:
                            self._settle_later(sent, stack.pop_all())
                            outcomes.append(sent.trade_id)
                        else:
                            await self._settle(sent)
                            outcomes.append(sent.trade_id)
                except Exception as failed:
                    outcomes.append(failed)
                except asyncio.CancelledError as cancelled:
                    if _being_stopped():
                        unsent = [i.client_order_id for i in intents[place:]]
                        _log.error("order intents not sent: execution stopped", unsent=unsent)
                        raise
                    outcomes.append(cancelled)
        return outcomes

    def settling(self) -> int:
        """Settlements running in the background."""
        return len(self._settling)

    async def stop(self, timeout: float = SETTLE_TIMEOUT) -> None:
        """Wait up to ``timeout`` seconds for the settlements in the background, so a fill is
        recorded before the process exits; cancel those still running (their rows stay
        ``submitted`` and the next start's reconciliation settles them)."""
        pending = set(self._settling)
        if not pending:
            return
        _done, late = await asyncio.wait(pending, timeout=timeout)
        if late:
            _log.error("settlements still running at stop: cancelled", count=len(late))
            await asyncio.gather(*(stop_task(task, timeout=1.0) for task in late))

    def _settle_later(self, sent: _Sent, sending: ExitStack) -> None:
        """Settle ``sent`` in a task; the order leaves *being sent* when the task ends (closed
        from the task's done callback: a task cancelled before it starts never runs its body)."""

        async def settle() -> None:
            try:
                await wait_while(self._settle_after, MAX_SETTLE_DEFER)
                await self._settle(sent)
            except Exception:
                self.settle_failures += 1
                _log.exception(
                    "settlement failed; reconciliation will settle the trade",
                    trade_id=sent.trade_id,
                    client_order_id=sent.intent.client_order_id,
                )

        def done(task: asyncio.Task[None]) -> None:
            self._settling.discard(task)
            sending.close()

        task = asyncio.get_running_loop().create_task(
            settle(), name=f"settle:{sent.intent.client_order_id}"
        )
        self._settling.add(task)
        task.add_done_callback(done)
        self._bus.track(task, "execution")

    async def _never_sent(self, trade_id: int, intent: OrderIntent, halt: str) -> int:
        """An intent approved before the kill switch tripped: recorded, cancelled, never sent."""
        self._orders.written(intent.client_order_id)
        self._publish(await self._trades.mark_cancelled(trade_id, reason=halt))
        _log.warning("intent cancelled: trading is halted", trade_id=trade_id, reason=halt)
        return trade_id

    def _new_trade(self, intent: OrderIntent) -> NewTrade:
        """The intent's row: its signal, the price it is expected at, rounded as the symbol
        quotes."""
        signal = intent.signal
        spec = self._gateway.spec(signal.symbol)
        tick = self._gateway.last_tick(signal.symbol)
        requested = entry_price(signal.side, tick) if tick is not None else None
        return NewTrade(
            client_order_id=intent.client_order_id,
            strategy=signal.strategy,
            symbol=signal.symbol,
            timeframe=signal.timeframe or None,
            side=signal.side.label,
            volume=intent.volume,
            requested_price=None if requested is None else spec.round_price(requested),
            sl=spec.round_price(signal.sl),
            tp=spec.round_price(signal.tp) if signal.tp else None,
            signal_time=_utc(signal.bar_time),
            confidence=signal.confidence,
            reason=signal.reason,
            market_condition=dict(signal.market_condition),
        )

    async def _write(
        self, intents: list[OrderIntent], on_bus: bool
    ) -> list[TradeRecord | int | BaseException]:
        """Per intent: its row written ``submitted`` (all in one transaction, before any is
        sent), the id of its row recorded and cancelled (trading is halted), or what refused
        it. A write that fails as a whole fails every intent."""
        rows: list[NewTrade | Exception] = []
        for intent in intents:
            try:
                rows.append(self._new_trade(intent))
            except Exception as failed:
                rows.append(failed)
        trades = [row for row in rows if isinstance(row, NewTrade)]
        halt = self._halted()
        written: list[TradeRecord | int | BaseException] = []
        if halt is not None:
            for intent, row in zip(intents, rows, strict=True):
                try:
                    if isinstance(row, Exception):
                        raise row
                    trade_id = await self._trades.create_intent(row)
                    written.append(await self._never_sent(trade_id, intent, halt))
                except Exception as failed:
                    written.append(failed)
            return written
        try:
            with (self._at_database if on_bus else nullcontext)():
                stored = iter(await self._trades.submit_intents(trades))  # one durable write
        except Exception as failed:
            return [failed] * len(intents)
        except asyncio.CancelledError as cancelled:
            if _being_stopped():
                raise
            return [cancelled] * len(intents)
        for intent, row in zip(intents, rows, strict=True):
            outcome = row if isinstance(row, Exception) else next(stored)
            if not isinstance(outcome, Exception):
                self._orders.written(intent.client_order_id)
            written.append(outcome)
        return written

    async def _send(self, intent: OrderIntent, record: TradeRecord, *, on_bus: bool) -> _Sent | int:
        """Send the written intent ``record``: what its settlement needs, or the trade id of
        an intent cancelled unsent (the kill switch tripped since it was approved)."""
        signal = intent.signal
        spec = self._gateway.spec(signal.symbol)
        halt = self._halted()
        if halt is not None:
            return await self._never_sent(record.id, intent, halt)
        trade_id = record.id
        self._publish(record)
        first_price: list[float] = []
        moved: dict[str, bool] = {}

        def build(fresh: Tick | None) -> dict[str, Any] | str:
            halt = self._halted() if fresh is not None else None
            if halt is not None:
                return f"not sent again: {halt}"
            quote = fresh or self._gateway.last_tick(signal.symbol)
            if quote is None:
                return f"no quote for {signal.symbol}"
            price = entry_price(signal.side, quote)
            if fresh is not None:
                at_risk = intent.volume * loss_per_lot(price, signal.sl, spec)
                if at_risk > intent.risk_amount * RISK_TOLERANCE_ON_RESEND:
                    return (
                        f"the price moved to {price}: the stop-loss would now cost "
                        f"{at_risk:.2f}, more than the approved {intent.risk_amount:.2f}"
                    )
                self.retries += 1
            stops = normalise_stops(signal.side, signal.sl, signal.tp, quote, spec)
            moved.update(sl_moved=stops.sl_moved, tp_moved=stops.tp_moved)
            if not first_price:
                first_price.append(spec.round_price(price))
            self.sent += 1
            return market_order(
                symbol=signal.symbol,
                side=signal.side,
                volume=intent.volume,
                price=price,
                stops=stops,
                spec=spec,
                deviation=self._deviation(),
                magic=self._magic,
                comment=intent.client_order_id,
            )

        async def lookup() -> OrderResult | None:
            return await find_order(
                self._gateway, self._magic, intent.client_order_id, self._clock.time()
            )

        at_terminal = self._at_terminal if on_bus else nullcontext
        report = await self._sender.send(signal.symbol, build, lookup, at_terminal)
        if report.result is not None:
            self._orders.answered(intent.client_order_id)  # its margin is the account's now
        details = report.details()
        details["requested_price"] = first_price[0] if first_price else None
        details.update({k: v for k, v in moved.items() if v})
        if report.attempts and signal.received_at:
            tick_to_order = report.first_sent_at - signal.received_at
            self.tick_to_order.add(tick_to_order)
            details["tick_to_order_ms"] = round(tick_to_order * 1000, 3)
        if report.attempts:
            self.order_latency.add(report.latency_ms / 1000)
        return _Sent(trade_id, intent, report, details, spec)

    async def _settle(self, sent: _Sent) -> None:
        """Record the outcome of a sent order: open, rejected, or (answer lost and the
        terminal unreachable) left ``submitted`` for reconciliation."""
        trade_id, intent, report, details = sent.trade_id, sent.intent, sent.report, sent.details
        log = _log.bind(
            trade_id=trade_id, client_order_id=intent.client_order_id, symbol=intent.signal.symbol
        )
        if report.done:
            assert report.result is not None
            await self._open(trade_id, intent, report, details, sent.spec)
        elif report.unknown:
            self.unknown += 1
            log.error(
                "order outcome unknown: the terminal cannot be asked; reconciliation will "
                "settle the trade",
                error=str(report.error),
            )
        else:
            await self._reject(trade_id, report, details, log)

    async def _open(
        self,
        trade_id: int,
        intent: OrderIntent,
        report: SendReport,
        details: dict[str, Any],
        spec: SymbolSpec,
    ) -> None:
        result = report.result
        assert result is not None
        signal = intent.signal
        position, filled_at = await self._position_of(result)
        requested = details.get("requested_price")
        if requested:
            slippage = (result.price - requested) * signal.side.value / spec.point
            details["slippage_points"] = round(slippage, 1)
        details.update(
            filled_price=result.price,
            order=result.order,
            deal=result.deal,
            initial_sl=spec.round_price(signal.sl),
            initial_tp=spec.round_price(signal.tp) if signal.tp else None,
        )
        fill = Fill(
            mt5_order=result.order,
            mt5_position=position,
            entry_price=result.price,
            volume=result.volume,
            open_time=_utc(filled_at),
            execution_details=details,
        )
        record = await self._trades.mark_open(trade_id, fill)
        self.filled += 1
        self._on_open(record)
        _log.info(
            "order filled",
            trade_id=trade_id,
            symbol=signal.symbol,
            side=signal.side.label,
            volume=result.volume,
            price=result.price,
            ticket=position,
            attempts=report.attempts,
            latency_ms=details["latency_ms"],
            slippage_points=details.get("slippage_points"),
        )
        self._publish(record)

    async def _position_of(self, result: OrderResult) -> tuple[int, float]:
        """The position the fill belongs to — its deal's ``position_id`` (the order ticket on a
        hedging account, the symbol's position on a netting one) — and the deal's time."""
        position, filled_at = result.position or result.order, self._clock.time()
        try:
            for deal in await self._gateway.deals_of_order(result.order):
                if deal.entry == 0:
                    return deal.position_id or position, deal.time
        except TerminalError as exc:
            _log.warning("cannot read the fill's deal; using the order ticket", error=str(exc))
        return position, filled_at

    async def _reject(
        self,
        trade_id: int,
        report: SendReport,
        details: dict[str, Any],
        log: Any,
    ) -> None:
        if report.result is not None:
            code, message = report.result.retcode, retcodes.describe(report.result.retcode)
        elif report.error is not None:
            code, message = report.error.code, str(report.error)
        else:
            code, message = 0, report.stopped or "not sent"
        if report.error is not None and report.retcodes[-1:] == [retcodes.IPC_TIMEOUT]:
            message = "order_send timed out and the order was not found at the terminal"
        record = await self._trades.mark_rejected(
            trade_id, code=code, message=message, execution_details=details
        )
        self.rejected += 1
        log.warning("order rejected", retcode=code, reason=message, attempts=report.attempts)
        self._publish(record)

    def _publish(self, record: TradeRecord) -> None:
        self._bus.publish(TradeEvent(record))
