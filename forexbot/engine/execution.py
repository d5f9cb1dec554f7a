"""The execution manager: turns approved intents into orders on the terminal.

Rules:

* **Persist before sending.** The intent row (with its client order id) is written, and marked
  submitted, before ``order_send``: a crash after sending leaves a row that reconciliation can
  match to the terminal's position by the order comment.
* The request carries the bot's magic number and the client order id as comment; prices are
  rounded to the symbol's digits; the filling mode is one the symbol allows (``filling_mode`` is
  a bitmask, not an ORDER_FILLING value: passing it through is the classic 10030 bug).
* **A timeout is not a rejection.** When ``order_send`` times out, the outcome is unknown: the
  manager looks for a position carrying the client order id before deciding anything, and never
  sends the same intent twice.
* Every outcome is stored with its execution details (requested and filled price, slippage in
  points, retcode, latency) and published as a :class:`~forexbot.events.types.TradeEvent`.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog

from forexbot.clock import Clock
from forexbot.connectors.mt5sim import constants as mt5c
from forexbot.database.trades import TradeRepository
from forexbot.domain.market import SymbolSpec, Tick
from forexbot.domain.trading import OrderIntent, OrderResult, Position, Side, TradeStatus
from forexbot.errors import TerminalError, TerminalTimeout
from forexbot.events.bus import EventBus
from forexbot.events.types import OrderIntentEvent, TradeEvent

_log = structlog.get_logger("forexbot.execution")

IPC_TIMEOUT = -10005


class OrderGateway(Protocol):
    """The part of the connector execution needs."""

    def spec(self, symbol: str) -> SymbolSpec: ...

    def last_tick(self, symbol: str) -> Tick | None: ...

    def to_utc(self, server_epoch: float) -> float: ...

    async def order_send(
        self, request: dict[str, Any], timeout: float | None = None
    ) -> OrderResult: ...

    async def positions(self, magic: int | None = None) -> list[Position]: ...


def filling_type(spec: SymbolSpec) -> int:
    """An ORDER_FILLING value the symbol allows: FOK (bit 1), else IOC (bit 2), else RETURN."""
    if spec.filling_mode & 1:
        return mt5c.ORDER_FILLING_FOK
    if spec.filling_mode & 2:
        return mt5c.ORDER_FILLING_IOC
    return mt5c.ORDER_FILLING_RETURN


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


class ExecutionManager:
    """Sends approved intents, one at a time, and records what happened."""

    def __init__(
        self,
        gateway: OrderGateway,
        trades: TradeRepository,
        bus: EventBus,
        clock: Clock,
        magic: int,
        deviation_points: int,
    ) -> None:
        self._gateway = gateway
        self._trades = trades
        self._bus = bus
        self._clock = clock
        self._magic = magic
        self._deviation = deviation_points
        self.sent = 0
        self.filled = 0
        self.rejected = 0

    def subscribe(self) -> None:
        self._bus.subscribe(OrderIntentEvent, self.on_intent, name="execution")

    async def on_intent(self, event: OrderIntentEvent) -> None:
        intent = event.intent
        signal = intent.signal
        spec = self._gateway.spec(signal.symbol)
        tick = self._gateway.last_tick(signal.symbol)
        price = 0.0
        if tick is not None:
            price = tick.ask if signal.side is Side.BUY else tick.bid
        trade_id = await self._trades.create_intent(
            client_order_id=intent.client_order_id,
            strategy=signal.strategy,
            symbol=signal.symbol,
            timeframe=signal.timeframe,
            side=signal.side.label,
            volume=intent.volume,
            requested_price=spec.round_price(price),
            sl=spec.round_price(signal.sl),
            tp=spec.round_price(signal.tp),
            signal_time=_utc(signal.bar_time),
            confidence=signal.confidence,
            reason=signal.reason,
            market_condition=dict(signal.market_condition),
        )
        await self._trades.mark_submitted(trade_id)
        request = {
            "action": mt5c.TRADE_ACTION_DEAL,
            "symbol": signal.symbol,
            "volume": float(intent.volume),
            "type": mt5c.ORDER_TYPE_BUY if signal.side is Side.BUY else mt5c.ORDER_TYPE_SELL,
            "price": spec.round_price(price),
            "sl": spec.round_price(signal.sl),
            "tp": spec.round_price(signal.tp),
            "deviation": self._deviation,
            "magic": self._magic,
            "comment": intent.client_order_id,
            "type_time": mt5c.ORDER_TIME_GTC,
            "type_filling": filling_type(spec),
        }
        log = _log.bind(
            trade_id=trade_id, client_order_id=intent.client_order_id, symbol=signal.symbol
        )
        self.sent += 1
        started = time.perf_counter()
        try:
            result = await self._gateway.order_send(request)
        except TerminalError as exc:
            # TerminalTimeout is ours; −10005 is the terminal's (or the bridge's) own
            # "IPC timeout": either way the order may have executed.
            if isinstance(exc, TerminalTimeout) or exc.code == IPC_TIMEOUT:
                log.warning("order_send timed out; looking for the order before deciding")
                await self._resolve_timeout(trade_id, intent, request, started)
            else:
                await self._reject(trade_id, exc.code, str(exc), request, started, None)
            return
        if result.done:
            await self._open(trade_id, intent, request, result, started)
        else:
            await self._reject(trade_id, result.retcode, result.comment, request, started, result)

    async def _open(
        self,
        trade_id: int,
        intent: OrderIntent,
        request: dict[str, Any],
        result: OrderResult,
        started: float,
    ) -> None:
        spec = self._gateway.spec(intent.signal.symbol)
        requested = float(request["price"])
        slippage = (result.price - requested) * intent.signal.side.value / spec.point
        details = {
            "requested_price": requested,
            "filled_price": result.price,
            "slippage_points": round(slippage, 1) if requested else None,
            "retcode": result.retcode,
            "comment": result.comment,
            "latency_ms": round((time.perf_counter() - started) * 1000, 3),
            "order": result.order,
            "deal": result.deal,
            "bid": result.bid,
            "ask": result.ask,
        }
        await self._trades.mark_open(
            trade_id,
            mt5_order=result.order,
            mt5_position=result.order,
            entry_price=result.price,
            volume=result.volume,
            open_time=_utc(self._clock.time()),
            execution_details=details,
        )
        self.filled += 1
        _log.info(
            "order filled",
            trade_id=trade_id,
            symbol=intent.signal.symbol,
            side=intent.signal.side.label,
            volume=result.volume,
            price=result.price,
            ticket=result.order,
            latency_ms=details["latency_ms"],
        )
        await self._publish(trade_id, TradeStatus.OPEN)

    async def _reject(
        self,
        trade_id: int,
        code: int,
        message: str,
        request: dict[str, Any],
        started: float,
        result: OrderResult | None,
    ) -> None:
        details: dict[str, Any] = {
            "requested_price": request["price"],
            "retcode": code,
            "latency_ms": round((time.perf_counter() - started) * 1000, 3),
        }
        if result is not None:
            details.update(bid=result.bid, ask=result.ask)
        await self._trades.mark_rejected(
            trade_id, reject_code=code, reject_message=message, execution_details=details
        )
        self.rejected += 1
        _log.warning("order rejected", trade_id=trade_id, retcode=code, reason=message)
        await self._publish(trade_id, TradeStatus.REJECTED)

    async def _resolve_timeout(
        self, trade_id: int, intent: OrderIntent, request: dict[str, Any], started: float
    ) -> None:
        try:
            positions = await self._gateway.positions(self._magic)
        except TerminalError as exc:
            # Still unknown: leave the trade 'submitted'; reconciliation settles it.
            _log.error("cannot check positions after a timeout", trade_id=trade_id, error=str(exc))
            return
        for position in positions:
            if position.comment == intent.client_order_id:
                result = OrderResult(
                    retcode=mt5c.TRADE_RETCODE_DONE,
                    order=position.ticket,
                    deal=0,
                    volume=position.volume,
                    price=position.price_open,
                    bid=0.0,
                    ask=0.0,
                    comment="found after timeout",
                )
                await self._open(trade_id, intent, request, result, started)
                return
        await self._reject(
            trade_id,
            IPC_TIMEOUT,
            "order_send timed out and no position was opened",
            request,
            started,
            None,
        )

    async def _publish(self, trade_id: int, status: TradeStatus) -> None:
        record = await self._trades.get(trade_id)
        payload = record.to_api() if record is not None else {"id": trade_id}
        self._bus.publish(TradeEvent(trade_id, status, payload))
