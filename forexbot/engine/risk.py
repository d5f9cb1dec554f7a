"""The risk manager: every signal and every manual trade passes here before it can be sent.

Rules enforced, in this order (the first that fails rejects, with its
:class:`~forexbot.domain.rejection.RejectCode`; each rule is a function of
:mod:`~forexbot.engine.risk_checks`):

0. ``not_ready``: the engine has loaded its state and reconciled with the terminal;
1. ``kill_switch``, ``daily_loss_limit``, ``cooldown``: the account-level limits of
   :mod:`~forexbot.engine.guard` (drawdown kill switch, loss of the trading day, losing
   streak) are not in force;
2. ``stale_signal``: the signal is acted on within ``signal_grace_seconds`` of its bar's close
   (a lagging daemon must not trade yesterday's setup at today's price);
3. ``market_closed``, ``session_not_allowed``, ``liquidity_blocked``, ``volatility_blocked``:
   the signal's market condition passes the filter (manual trades carry none);
4. ``no_quote``, ``stale_quote``: a quote exists, at most ``max_quote_age_seconds`` old;
5. ``spread_too_wide``: the spread is within the symbol's ``max_spread_points``;
6. ``invalid_stop``, ``stop_too_close``, ``invalid_take_profit``, ``take_profit_too_close``:
   the stop-loss is on the losing side of the price that triggers it (the bid for a buy, the
   ask for a sell, as MetaTrader measures it), the take-profit (when there is one) on the
   winning side, each at least the symbol's stops level away; then ``spread_too_wide`` again
   when the spread is more than ``max_spread_stop_percent`` of the stop distance;
7. ``max_open_positions``, ``max_positions_per_symbol``: positions plus orders in flight stay
   below the limits (one per symbol on a netting account, whatever the setting);
8. sizing: the volume from :func:`~forexbot.engine.sizing.size_position` (fixed-fractional
   risk of equity by stop distance and tick value, scaled by the strategy's risk multiplier)
   is at least the symbol's minimum; a manual trade's own volume must be valid for the symbol
   (``invalid_volume``) and risk no more than that (``risk_per_trade_exceeded``);
9. ``max_currency_exposure``: no currency's net exposure (:mod:`~forexbot.engine.exposure`),
   counting open positions and orders in flight, grows beyond its limit;
10. ``margin_limit``, ``insufficient_margin``: the margin the terminal computes for the order
    (``order_calc_margin``) fits the free margin and keeps the margin in use within
    ``max_margin_usage_percent`` of equity — orders approved and not filled yet counting as
    margin in use.

A stop-and-reverse signal (``close_opposite``) that passes rules 0–4 first closes its
instance's trades on the other side; then, when that instance already holds a trade on the
signal's side, it is refused with ``position_held``: such a strategy is in the market once,
and a repeated same-side signal (its opposite refused, e.g. at a closed market) holds the
position instead of adding a second one, whatever ``max_positions_per_symbol`` allows.

``terminal_unavailable`` (``margin_unknown``) when the terminal cannot tell the account (the
margin). Decisions are made one at a time (a lock), so two signals (or a double-tapped manual
trade) cannot both take the last slot of a limit: an approved order is reserved in the
:class:`~forexbot.engine.in_flight.OrdersInFlight` before the next decision.

An accepted signal becomes an :class:`~forexbot.events.types.OrderIntentEvent`; a rejected one
goes through one sink, :meth:`RiskManager._reject`: a
:class:`~forexbot.events.types.RiskRejectedEvent` with its code, a log line, a counter, and a
row in ``system_logs`` so the trader can see why nothing was traded.

Equity observations (:class:`~forexbot.events.types.AccountEvent`) feed the guard: reaching
the daily loss stops opening for the day (an error log line, a ``RiskLimitEvent``, a
``system_logs`` row); reaching the drawdown trips the kill switch
(:mod:`~forexbot.engine.kill_switch`). The guard's state and the limits changed at run time
are persisted (:mod:`~forexbot.engine.risk_state`), so they survive a restart.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import structlog

from forexbot.audit import AuditLog
from forexbot.clock import Clock, iso_utc
from forexbot.config.models import RiskSettings
from forexbot.domain.rejection import RejectCode, Rejection
from forexbot.domain.trading import AccountState, OrderIntent, Signal, TradeStatus
from forexbot.engine import risk_checks as checks
from forexbot.engine.exposure import Holding
from forexbot.engine.guard import EquityGuard, GuardState, Trip, TripKind
from forexbot.engine.in_flight import OrdersInFlight
from forexbot.engine.kill_latch import KillSwitchLatch
from forexbot.engine.kill_switch import KillSwitch
from forexbot.engine.orders import entry_price, new_client_order_id
from forexbot.engine.risk_journal import RiskJournal
from forexbot.engine.risk_ports import MarketAccess, OpenPositions, PositionCloser, RiskStateStore
from forexbot.engine.risk_state import RiskLimits, RiskStateKeeper
from forexbot.engine.sizing import loss_per_lot, size_position
from forexbot.errors import RiskRejection, TerminalError
from forexbot.events.bus import EventBus
from forexbot.events.types import (
    AccountEvent,
    OrderIntentEvent,
    RiskLimitEvent,
    RiskRejectedEvent,
    SignalEvent,
    TradeEvent,
)

__all__ = ["RiskManager", "RiskRejection", "new_client_order_id", "server_day"]

_log = structlog.get_logger("forexbot.risk")

_SETTLED = {TradeStatus.OPEN, TradeStatus.REJECTED, TradeStatus.CANCELLED, TradeStatus.CLOSED}


def server_day(utc_epoch: float, server_offset: float) -> str:
    """The broker's trading day (its server date) at ``utc_epoch``, as ``YYYY-MM-DD``."""
    return datetime.fromtimestamp(utc_epoch + server_offset, tz=UTC).date().isoformat()


class RiskManager:
    """Turns signals into sized order intents, or rejects them with a reason."""

    def __init__(
        self,
        settings: RiskSettings | RiskLimits,
        market: MarketAccess,
        positions: OpenPositions,
        bus: EventBus,
        clock: Clock,
        rejection_log: AuditLog,
        *,
        orders: OrdersInFlight,
        store: RiskStateStore | None = None,
        closer: PositionCloser | None = None,
        trading_day: Callable[[float], str] | None = None,
        latch: KillSwitchLatch | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._market = market
        self._positions = positions
        self._orders = orders
        self._bus = bus
        self._clock = clock
        self._closer = closer
        self._trading_day = trading_day or (lambda t: server_day(t, 0))
        self._journal = RiskJournal(rejection_log)
        # The engine's assembly passes the limits it shares with the position manager.
        self._limits = settings if isinstance(settings, RiskLimits) else RiskLimits(settings, store)
        self._guard = EquityGuard()
        self._state = RiskStateKeeper(
            self._guard, bus, clock, store=store, latch=latch, monotonic=monotonic
        )
        self._kill_switch = KillSwitch(
            self._guard, self._state, self._journal, bus, clock, positions, closer
        )
        self._deciding = asyncio.Lock()  # one decision at a time: limits see every reservation
        self._ready = False
        self.rejections: Counter[str] = Counter()
        self.approved = 0

    # -- lifecycle --------------------------------------------------------------------------

    def subscribe(self) -> None:
        self._bus.subscribe(SignalEvent, self.on_signal, name="risk")
        self._bus.subscribe(TradeEvent, self.on_trade, name="risk-trades")
        self._bus.subscribe(AccountEvent, self.on_account, name="risk-account")

    async def start(self) -> None:
        """Load the limits changed at run time (they win over the file), the guard state, and
        the kill switch's latch (a latched switch halts, whatever the database says)."""
        await self._limits.load()
        await self._state.load()
        await self._kill_switch.restore()

    @property
    def settings(self) -> RiskSettings:
        return self._limits.settings

    @property
    def guard_state(self) -> GuardState:
        return self._guard.state

    @property
    def kill_switch_trips(self) -> int:
        return self._kill_switch.trips

    @property
    def state_save_failures(self) -> int:
        return self._state.failures

    def halted(self) -> str | None:
        """Why trading is halted (the kill switch), or ``None``."""
        return self._kill_switch.halted()

    def sending_blocked(self) -> str | None:
        """Why an order approved earlier must not be sent now — the kill switch, or the daily
        loss limit reached meanwhile — or ``None``."""
        halted = self.halted()
        if halted is not None:
            return halted
        if self._guard.state.daily_halt:
            return f"daily loss limit reached on trading day {self._guard.state.day}"
        return None

    def problems(self) -> dict[str, str]:
        """What could not be persisted (see :meth:`RiskStateKeeper.problems`)."""
        return self._state.problems()

    def mark_ready(self) -> None:
        """The engine has loaded its state and reconciled: signals may be approved."""
        self._ready = True

    # -- events -----------------------------------------------------------------------------

    async def on_trade(self, event: TradeEvent) -> None:
        """What a trade's progress means for risk: a settled trade leaves the orders in
        flight; one that opened while the kill switch is on is closed; a closed one counts in
        the losing streak. (The one place risk reads a trade.)"""
        if event.status in _SETTLED:
            self._orders.settle(event.trade.client_order_id)
        if event.status is TradeStatus.OPEN:
            await self._kill_switch.close_late_fill()
        if event.status is TradeStatus.CLOSED:
            trade = event.trade
            net = sum(float(m or 0) for m in (trade.profit, trade.swap, trade.commission))
            closed = trade.close_time
            closed_at = closed.timestamp() if closed is not None else self._clock.time()
            await self._count_close(net, closed_at)

    async def _count_close(self, net: float, closed_at: float) -> None:
        if self._guard.record_close(net, closed_at, self.settings):
            message = (
                f"{self._guard.state.cooldown_streak} losing trades in a row: no new "
                f"trade for {self.settings.cooldown_minutes:g} min"
            )
            _log.warning("cooldown started", streak=self._guard.state.cooldown_streak)
            self._bus.publish(RiskLimitEvent("cooldown", message, self._clock.time()))
            await self._journal.record("warning", "cooldown_started", message, {})
        await self._state.save()

    async def on_account(self, event: AccountEvent) -> None:
        now = event.time
        trips = self._guard.observe(
            event.account.equity, self._trading_day(now), now, self.settings
        )
        # The kill switch first: nothing (a failing record of the daily limit) may delay it.
        for trip in sorted(trips, key=lambda t: t.kind is not TripKind.DRAWDOWN):
            await self._on_trip(trip)
        await self._state.save()
        await self._kill_switch.keep_flat()

    async def _on_trip(self, trip: Trip) -> None:
        context = {"equity": trip.equity, "threshold": round(trip.threshold, 2)}
        if trip.kind is TripKind.DAILY_LOSS:
            _log.error("daily loss limit reached", reason=trip.message, **context)
            self._bus.publish(RiskLimitEvent(trip.kind.value, trip.message, self._clock.time()))
            await self._journal.record("error", "daily_loss_limit", trip.message, context)
            return
        await self._kill_switch.trip(trip.kind.value, trip.message, actor=None, context=context)

    async def on_signal(self, event: SignalEvent) -> None:
        signal = event.signal
        if signal.close_opposite and self._closer is not None:
            # Stop and reverse: out of the other side first, so the new trade's checks see
            # the position gone (and its margin free) — but only for a signal that passes
            # the rules not about positions: a stale or halted signal closes nothing.
            refused = self._precheck(signal, manual=False)
            if refused is not None:
                await self._reject(signal, refused)
                return
            await self._closer.close_opposite(signal)
            held = self._closer.held_on_side(signal)
            if held:
                side = signal.side.label
                await self._reject(
                    signal,
                    Rejection(
                        RejectCode.POSITION_HELD,
                        f"stop and reverse: {signal.strategy} already holds {held} {side} "
                        f"trade(s) on {signal.symbol} {signal.timeframe}; a repeated {side} "
                        "signal holds the position",
                    ),
                )
                return
        decision = await self._decide(signal, volume=signal.volume, manual=False)
        if isinstance(decision, OrderIntent):
            self._bus.publish(OrderIntentEvent(decision))
            return
        await self._reject(signal, decision)

    async def approve_manual(self, signal: Signal, volume: float | None) -> OrderIntent:
        """The same rules for a trade a person asked for; raises :class:`RiskRejection`
        (recorded and published like any rejection) or returns the intent, in flight."""
        decision = await self._decide(signal, volume=volume, manual=True)
        if isinstance(decision, OrderIntent):
            return decision
        await self._reject(signal, decision)
        raise RiskRejection(decision.code.value, decision.message)

    # -- the kill switch and run-time limits ------------------------------------------------

    async def trip_kill_switch(self, reason: str, *, actor: str | None) -> int:
        """Trip the kill switch by hand: close everything and halt. Returns positions closed."""
        return await self._kill_switch.trip("manual", reason, actor=actor, context={})

    async def resume(self, *, actor: str) -> None:
        """Release the kill switch (see :meth:`~forexbot.engine.kill_switch.KillSwitch.resume`)."""
        await self._kill_switch.resume(actor=actor)

    async def ensure_flat_if_halted(self) -> int:
        """At start: with the kill switch on, close what is still open."""
        return await self._kill_switch.ensure_flat()

    async def update_limits(self, changes: Mapping[str, Any], *, actor: str) -> RiskSettings:
        """Validate, persist and apply limits changed at run time (see
        :meth:`~forexbot.engine.risk_state.RiskLimits.update`)."""
        return await self._limits.update(changes, actor=actor)

    # -- the decision -----------------------------------------------------------------------

    async def _decide(
        self, signal: Signal, *, volume: float | None, manual: bool
    ) -> OrderIntent | Rejection:
        """Evaluate and, when approved, reserve the order in flight — one decision at a time,
        so the next one sees this one's reservation."""
        async with self._deciding:
            decision = await self.evaluate(signal, volume=volume, manual=manual)
            if isinstance(decision, OrderIntent):
                self._approve(decision)
        return decision

    def _approve(self, intent: OrderIntent) -> None:
        signal = intent.signal
        tick = self._market.last_tick(signal.symbol)
        price = entry_price(signal.side, tick) if tick is not None else signal.entry
        holding = Holding(signal.symbol, signal.side, intent.volume, price)
        self._orders.reserve(intent.client_order_id, holding, intent.margin)
        self.approved += 1
        _log.info(
            "signal approved",
            symbol=signal.symbol,
            strategy=signal.strategy,
            side=signal.side.label,
            volume=intent.volume,
            risk=round(intent.risk_amount, 2),
            client_order_id=intent.client_order_id,
        )

    def _precheck(self, signal: Signal, *, manual: bool) -> Rejection | None:
        """The rules that do not depend on the positions held: readiness, the account guard,
        a stale signal, the market-condition filter and the quote."""
        s = self.settings
        now = self._clock.time()
        refused = checks.readiness(self._ready) or self._guard.blocked(now)
        if refused is None and not manual:
            refused = checks.signal_age(signal, now, s.signal_grace_seconds)
        return (
            refused
            or checks.market_condition(signal.market_condition, s)
            or checks.quote(
                signal.symbol, self._market.last_tick(signal.symbol), now, s.max_quote_age_seconds
            )
        )

    async def evaluate(
        self, signal: Signal, *, volume: float | None = None, manual: bool = False
    ) -> OrderIntent | Rejection:
        """Apply the rules; an intent, or the rejection of the first rule that failed. Nothing
        is reserved or published here (see :meth:`_decide` and :meth:`_reject`)."""
        refused = self._precheck(signal, manual=manual)
        if refused is not None:
            return refused
        s = self.settings
        tick = self._market.last_tick(signal.symbol)
        if tick is None:  # the precheck saw one; a quote never goes away, but be explicit
            return Rejection(RejectCode.NO_QUOTE, f"no quote for {signal.symbol} yet")
        spec = self._market.spec(signal.symbol)
        entry = entry_price(signal.side, tick)
        refused = (
            checks.spread(signal.symbol, tick, spec, s.max_spread_points.get(signal.symbol))
            or checks.stop_loss(signal, tick, spec)
            or checks.take_profit(signal, tick, spec)
            or checks.spread_share_of_stop(signal, tick, spec, s.max_spread_stop_percent)
        )
        if refused is not None:
            return refused
        account = self._market.polled_account()
        if account is None:
            try:
                account = await self._market.account()
            except TerminalError as exc:
                return Rejection(
                    RejectCode.TERMINAL_UNAVAILABLE, f"the terminal did not answer: {exc}"
                )
        refused = checks.position_counts(
            signal.symbol,
            self._positions.open_count() + self._orders.count(),
            self._positions.open_count(signal.symbol) + self._orders.count(signal.symbol),
            s,
            hedging=account.hedging,
        )
        if refused is not None:
            return refused
        max_risk = account.equity * s.risk_per_trade_percent / 100.0 * signal.risk_multiplier
        if volume is None:
            sizing = size_position(
                account.equity,
                s.risk_per_trade_percent,
                entry,
                signal.sl,
                spec,
                signal.risk_multiplier,
            )
            if sizing.refusal is not None:
                return sizing.refusal
            volume, risk_amount = sizing.volume, sizing.risk_amount
        else:
            refused = checks.manual_volume(volume, spec)
            if refused is not None:
                return refused
            volume = spec.round_volume(volume)
            risk_amount = volume * loss_per_lot(entry, signal.sl, spec)
            refused = checks.risk_per_trade(volume, risk_amount, max_risk, s.risk_per_trade_percent)
            if refused is not None:
                return refused
        refused = checks.exposure(
            Holding(signal.symbol, signal.side, volume, entry),
            [*self._positions.holdings(), *self._orders.holdings()],
            self._market.spec,
            account,
            s.max_exposure_per_currency_percent,
        )
        if refused is not None:
            return refused
        margin = await self._margin(signal, volume, entry, account)
        if isinstance(margin, Rejection):
            return margin
        return OrderIntent(
            client_order_id=new_client_order_id(),
            signal=signal,
            volume=volume,
            risk_amount=risk_amount,
            margin=margin,
        )

    async def _margin(
        self, signal: Signal, volume: float, entry: float, account: AccountState
    ) -> Rejection | float:
        """The margin the order needs, or why it does not fit."""
        try:
            required = await self._market.polled_margin(signal.side, signal.symbol, volume, entry)
            if required is None:
                required = await self._market.order_calc_margin(
                    signal.side, signal.symbol, volume, entry
                )
        except TerminalError as exc:
            return Rejection(
                RejectCode.MARGIN_UNKNOWN, f"the terminal could not compute the margin: {exc}"
            )
        refused = checks.margin(
            required,
            volume,
            account,
            self._orders.reserved_margin(),
            self.settings.max_margin_usage_percent,
        )
        return required if refused is None else refused

    # -- the one rejection sink -------------------------------------------------------------

    async def _reject(self, signal: Signal, rejection: Rejection) -> None:
        """Every rejection, whichever rule and whoever asked: counted, logged, published as a
        :class:`~forexbot.events.types.RiskRejectedEvent`, recorded in ``system_logs``."""
        code, message = rejection.code, rejection.message
        self.rejections[code.value] += 1
        _log.info(
            "signal rejected",
            symbol=signal.symbol,
            strategy=signal.strategy,
            side=signal.side.label,
            code=code.value,
            reason=message,
        )
        self._bus.publish(RiskRejectedEvent(signal, code, message, self._clock.time()))
        await self._journal.record(
            "info",
            "signal_rejected",
            message,
            {
                "code": code.value,
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

    # -- reading ----------------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        """Limits, guard state, orders in flight and rejection counts (``GET /api/risk``)."""
        g = self._guard.state
        blocked = self._guard.blocked(self._clock.time())
        return {
            "limits": self.settings.model_dump(mode="json"),
            "kill_switch": {
                "active": g.kill_switch,
                "code": g.kill_code,
                "reason": g.kill_reason,
                "since": None if g.kill_time is None else iso_utc(g.kill_time),
            },
            "trading_day": {
                "day": g.day,
                "start_equity": g.day_start_equity,
                "halted": g.daily_halt,
            },
            "peak_equity": g.peak_equity,
            "equity": g.last_equity,
            "loss_streak": g.loss_streak,
            "cooldown_until": None if g.cooldown_until is None else iso_utc(g.cooldown_until),
            "blocked": None if blocked is None else blocked.code.value,
            "in_flight": self._orders.count(),
            "approved": self.approved,
            "rejections": dict(self.rejections),
            "problems": self._state.problems(),
        }
