"""The risk manager: every signal passes here before it can become an order.

Rules enforced, in this order (the first that fails rejects the signal):

0. the signal is fresh: acted on within ``signal_grace_seconds`` of its bar's close (a
   lagging daemon must not trade yesterday's setup at today's price);
1. a current quote exists for the symbol;
2. the stop-loss is on the losing side of the price that triggers it — the bid for a buy, the
   ask for a sell, as MetaTrader measures it — and at least the symbol's stops level away;
3. open positions plus orders in flight stay below ``max_open_positions``, and below
   ``max_positions_per_symbol`` for the symbol;
4. the volume from :func:`~forexbot.engine.sizing.size_position` is at least the symbol's
   minimum.

An accepted signal becomes an :class:`~forexbot.events.types.OrderIntentEvent`; a rejected one a
:class:`~forexbot.events.types.RiskRejectedEvent` with a machine-readable code, a log line, a
counter, and a row in ``system_logs`` so the trader can see why nothing was traded.
"""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any, Protocol

import structlog

from forexbot.clock import Clock
from forexbot.config import RiskSettings
from forexbot.domain.market import SymbolSpec, Tick, Timeframe
from forexbot.domain.trading import AccountState, OrderIntent, Side, Signal, TradeStatus
from forexbot.engine.sizing import size_position
from forexbot.events.bus import EventBus
from forexbot.events.types import OrderIntentEvent, RiskRejectedEvent, SignalEvent, TradeEvent

_log = structlog.get_logger("forexbot.risk")

_SETTLED = {TradeStatus.OPEN, TradeStatus.REJECTED, TradeStatus.CANCELLED, TradeStatus.CLOSED}


class MarketAccess(Protocol):
    """What the risk manager reads from the terminal (the connector provides it)."""

    def spec(self, symbol: str) -> SymbolSpec: ...

    def last_tick(self, symbol: str) -> Tick | None: ...

    async def account(self) -> AccountState: ...


class OpenPositions(Protocol):
    """How many positions the bot has open (the position manager provides it)."""

    def open_count(self, symbol: str | None = None) -> int: ...


class RejectionLog(Protocol):
    """Where rejections are recorded (``system_logs``)."""

    async def add(
        self,
        *,
        level: str,
        component: str,
        event: str,
        message: str,
        context: dict[str, Any],
        actor: str | None = None,
        source_ip: str | None = None,
    ) -> int: ...


def new_client_order_id() -> str:
    """A short unique id that fits MetaTrader's comment field (≤ 31 characters)."""
    return "fxb-" + uuid.uuid4().hex[:20]


class RiskManager:
    """Turns signals into sized order intents, or rejects them with a reason."""

    def __init__(
        self,
        settings: RiskSettings,
        market: MarketAccess,
        positions: OpenPositions,
        bus: EventBus,
        clock: Clock,
        rejection_log: RejectionLog,
    ) -> None:
        self._settings = settings
        self._market = market
        self._positions = positions
        self._bus = bus
        self._clock = clock
        self._rejection_log = rejection_log
        self._in_flight: dict[str, str] = {}  # client order id → symbol
        self.rejections: Counter[str] = Counter()
        self.approved = 0

    def subscribe(self) -> None:
        self._bus.subscribe(SignalEvent, self.on_signal, name="risk")
        self._bus.subscribe(TradeEvent, self.on_trade, name="risk-trades")

    async def on_trade(self, event: TradeEvent) -> None:
        """Forget an in-flight intent once execution has settled it."""
        if event.status in _SETTLED:
            self._in_flight.pop(str(event.trade.get("client_order_id", "")), None)

    def in_flight(self, symbol: str | None = None) -> int:
        if symbol is None:
            return len(self._in_flight)
        return sum(1 for s in self._in_flight.values() if s == symbol)

    async def on_signal(self, event: SignalEvent) -> None:
        signal = event.signal
        decision = await self.evaluate(signal)
        if isinstance(decision, OrderIntent):
            self._in_flight[decision.client_order_id] = signal.symbol
            self.approved += 1
            _log.info(
                "signal approved",
                symbol=signal.symbol,
                strategy=signal.strategy,
                side=signal.side.label,
                volume=decision.volume,
                risk=round(decision.risk_amount, 2),
                client_order_id=decision.client_order_id,
            )
            self._bus.publish(OrderIntentEvent(decision))
            return
        code, message = decision
        await self._reject(signal, code, message)

    async def evaluate(self, signal: Signal) -> OrderIntent | tuple[str, str]:
        """Apply the rules; an intent, or ``(code, message)`` of the first rule that failed."""
        s = self._settings
        period = Timeframe.parse(signal.timeframe).seconds
        age = self._clock.time() - (signal.bar_time + period)
        if age > s.signal_grace_seconds:
            return (
                "stale_signal",
                f"the {signal.timeframe} bar closed {age:.0f} s ago; signals are acted on "
                f"within {s.signal_grace_seconds:.0f} s",
            )
        tick = self._market.last_tick(signal.symbol)
        if tick is None:
            return "no_quote", f"no quote for {signal.symbol} yet"
        spec = self._market.spec(signal.symbol)
        entry = tick.ask if signal.side is Side.BUY else tick.bid
        trigger = tick.bid if signal.side is Side.BUY else tick.ask
        distance = (trigger - signal.sl) * signal.side.value
        min_distance = spec.stops_level * spec.point
        if distance <= 0:
            where = "below the bid" if signal.side is Side.BUY else "above the ask"
            return (
                "invalid_stop",
                f"stop-loss {signal.sl} of a {signal.side.label} must be {where} ({trigger})",
            )
        if distance < min_distance:
            return (
                "stop_too_close",
                f"stop-loss {distance / spec.point:.0f} points away, the symbol requires "
                f"{spec.stops_level}",
            )
        total = self._positions.open_count() + self.in_flight()
        if total >= s.max_open_positions:
            return (
                "max_open_positions",
                f"{total} positions open or in flight, the limit is {s.max_open_positions}",
            )
        per_symbol = self._positions.open_count(signal.symbol) + self.in_flight(signal.symbol)
        if per_symbol >= s.max_positions_per_symbol:
            return (
                "max_positions_per_symbol",
                f"{per_symbol} positions on {signal.symbol}, the limit is "
                f"{s.max_positions_per_symbol}",
            )
        account = await self._market.account()
        sizing = size_position(
            account.equity,
            s.risk_per_trade_percent,
            entry,
            signal.sl,
            spec,
            signal.risk_multiplier,
        )
        if not sizing.accepted:
            return str(sizing.refusal_code), str(sizing.refusal)
        return OrderIntent(
            client_order_id=new_client_order_id(),
            signal=signal,
            volume=sizing.volume,
            risk_amount=sizing.risk_amount,
        )

    async def _reject(self, signal: Signal, code: str, message: str) -> None:
        self.rejections[code] += 1
        _log.info(
            "signal rejected",
            symbol=signal.symbol,
            strategy=signal.strategy,
            side=signal.side.label,
            code=code,
            reason=message,
        )
        self._bus.publish(RiskRejectedEvent(signal, code, message, self._clock.time()))
        try:
            await self._rejection_log.add(
                level="INFO",
                component="risk",
                event="signal_rejected",
                message=message,
                context={
                    "code": code,
                    "symbol": signal.symbol,
                    "strategy": signal.strategy,
                    "timeframe": signal.timeframe,
                    "side": signal.side.label,
                    "entry": signal.entry,
                    "sl": signal.sl,
                    "tp": signal.tp,
                    "bar_time": signal.bar_time,
                },
            )
        except Exception:
            # The rejection stands; only its record failed. Logged, counted by the bus.
            _log.exception("could not record a risk rejection", code=code)
            raise
