"""The risk manager: every signal and every manual trade passes here before it can be sent.

Rules enforced, in this order (the first that fails rejects, with its code):

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

``terminal_unavailable`` when the terminal cannot tell the account. Decisions are made one at
a time (a lock), so two signals (or a double-tapped manual trade) cannot both take the last
slot of a limit.

An accepted signal becomes an :class:`~forexbot.events.types.OrderIntentEvent`; a rejected one a
:class:`~forexbot.events.types.RiskRejectedEvent` with its code, a log line, a counter, and a
row in ``system_logs`` so the trader can see why nothing was traded.

Equity observations (:class:`~forexbot.events.types.AccountEvent`) feed the guard: reaching
the daily loss stops opening for the day (an error log line, a ``RiskLimitEvent``, a
``system_logs`` row); reaching the drawdown trips the kill switch — a critical log line, a
:class:`~forexbot.events.types.KillSwitchEvent`, and every position closed (and closed again,
every 30 s, while any is still open: a close the market refused is retried). The guard's state
and run-time limits are persisted, so they survive a restart.

The kill switch is safety state, and its persistence obeys stricter rules:

* **Latched first.** Before any position is closed, the switch is written to the latch file
  (:mod:`~forexbot.engine.kill_latch`, local disk, no database); then positions close; then
  the guard state is saved to the database; the audit record comes last, and none of the
  later steps can undo or delay the earlier ones.
* **Fail safe.** At start, a latched switch halts trading even if the database says
  otherwise (its save failed); resuming stores the resume in the database first and releases
  the latch after it — a failure at either step leaves trading halted (503 to the caller).
* **Loud.** A failed save is a critical log line (the first, then one a minute while it
  lasts), a ``RiskLimitEvent`` (``state_not_saved``) on ``/ws/system``, a counter in
  ``/metrics``, and ``/api/health`` says ``degraded`` with the reason until a save succeeds.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson
import structlog
from pydantic import ValidationError

from forexbot.audit import AuditLog
from forexbot.clock import Clock, iso_utc
from forexbot.config.models import RiskSettings
from forexbot.domain.market import SymbolSpec, Tick, Timeframe
from forexbot.domain.trading import AccountState, OrderIntent, Side, Signal, TradeStatus
from forexbot.engine.exposure import Holding, breaches, currency_exposure
from forexbot.engine.guard import EquityGuard, GuardState, Trip, TripKind
from forexbot.engine.kill_latch import KillSwitchLatch
from forexbot.engine.orders import entry_price, exit_price, new_client_order_id
from forexbot.engine.sizing import loss_per_lot, size_position
from forexbot.errors import (
    ConfigError,
    PersistenceError,
    RiskRejection,
    StateConflictError,
    TerminalError,
)
from forexbot.events.bus import EventBus
from forexbot.events.types import (
    AccountEvent,
    KillSwitchEvent,
    OrderIntentEvent,
    RiskLimitEvent,
    RiskRejectedEvent,
    SignalEvent,
    TradeEvent,
)

__all__ = ["RiskManager", "RiskRejection", "new_client_order_id"]

_log = structlog.get_logger("forexbot.risk")

_SETTLED = {TradeStatus.OPEN, TradeStatus.REJECTED, TradeStatus.CANCELLED, TradeStatus.CLOSED}
LIMITS_KEY = "risk.limits"
CLOSE_ALL_RETRY = 30.0
STATE_KEY = "risk.state"
#: While saving the risk state keeps failing, it is logged again this often (seconds).
SAVE_FAILURE_LOG_EVERY = 60.0
#: Problem codes (health, logs): the guard state is not in the database; the kill switch's
#: latch file could not be written.
STATE_NOT_SAVED = "risk_state_not_saved"
LATCH_NOT_SAVED = "kill_switch_latch_not_saved"


class MarketAccess(Protocol):
    """What the risk manager reads from the terminal (the connector provides it)."""

    def spec(self, symbol: str) -> SymbolSpec: ...

    def last_tick(self, symbol: str) -> Tick | None: ...

    async def account(self) -> AccountState: ...

    async def order_calc_margin(
        self, side: Side, symbol: str, volume: float, price: float
    ) -> float: ...


class OpenPositions(Protocol):
    """The bot's open positions (the position manager provides it)."""

    def open_count(self, symbol: str | None = None) -> int: ...

    def holdings(self) -> list[Holding]: ...


class PositionCloser(Protocol):
    """Closes every position of the bot (the kill switch's hand), or a stop-and-reverse
    signal's trades on the other side."""

    async def close_all(self, reason: str) -> int: ...

    async def close_opposite(self, signal: Signal) -> int: ...


class RiskStateStore(Protocol):
    """Where limits changed at run time and the guard's state are kept (``system_config``)."""

    async def get(self, key: str) -> dict[str, Any] | None: ...

    async def put(self, key: str, value: Mapping[str, Any], *, updated_by: str | None) -> None: ...


def _with(base: RiskSettings, changes: Mapping[str, Any]) -> RiskSettings:
    """``base`` with ``changes``, validated strictly as JSON: ``"3"`` is not a number of
    positions and ``true`` is not 1."""
    merged = {**base.model_dump(mode="json"), **dict(changes)}
    return RiskSettings.model_validate_json(orjson.dumps(merged), strict=True)


def _epoch(iso: object) -> float | None:
    """An API time (``…Z``) as epoch seconds, ``None`` when absent or unreadable."""
    if not isinstance(iso, str):
        return None
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def server_day(utc_epoch: float, server_offset: float) -> str:
    """The broker's trading day (its server date) at ``utc_epoch``, as ``YYYY-MM-DD``."""
    return datetime.fromtimestamp(utc_epoch + server_offset, tz=UTC).date().isoformat()


class RiskManager:
    """Turns signals into sized order intents, or rejects them with a reason."""

    def __init__(
        self,
        settings: RiskSettings,
        market: MarketAccess,
        positions: OpenPositions,
        bus: EventBus,
        clock: Clock,
        rejection_log: AuditLog,
        *,
        store: RiskStateStore | None = None,
        closer: PositionCloser | None = None,
        trading_day: Callable[[float], str] | None = None,
        latch: KillSwitchLatch | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._market = market
        self._positions = positions
        self._bus = bus
        self._clock = clock
        self._rejection_log = rejection_log
        self._store = store
        self._closer = closer
        self._latch = latch
        self._monotonic = monotonic  # real seconds, for how often a failure is logged again
        self._latching = asyncio.Lock()  # one latch file operation at a time
        self._resuming = asyncio.Lock()
        self._unsaved: dict[str, str] = {}  # problem code → why
        self._unsaved_logged: dict[str, float] = {}
        self.state_save_failures = 0
        self._trading_day = trading_day or (lambda t: server_day(t, 0))
        self._guard = EquityGuard()
        self._saved_state: dict[str, Any] = {}
        self._in_flight: dict[str, Holding] = {}  # client order id → what it will hold
        self._reserved_margin: dict[str, float] = {}  # client order id → margin it will use
        self._deciding = asyncio.Lock()  # one decision at a time: limits see every reservation
        self._ready = False
        self._overlay: dict[str, Any] = {}  # limits changed at run time (stored)
        self._file_settings = settings
        self._last_close_all = -CLOSE_ALL_RETRY
        self.rejections: Counter[str] = Counter()
        self.approved = 0
        self.kill_switch_trips = 0

    # -- lifecycle --------------------------------------------------------------------------

    def subscribe(self) -> None:
        self._bus.subscribe(SignalEvent, self.on_signal, name="risk")
        self._bus.subscribe(TradeEvent, self.on_trade, name="risk-trades")
        self._bus.subscribe(AccountEvent, self.on_account, name="risk-account")

    async def start(self) -> None:
        """Load the limits changed at run time (they win over the file), the guard state, and
        the kill switch's latch (a latched switch halts, whatever the database says)."""
        if self._store is not None:
            await self._load_stored()
        await self._restore_latch()
        if self._guard.state.kill_switch:
            _log.critical(
                "the kill switch is on: trading halted until resumed",
                reason=self._guard.state.kill_reason,
            )

    async def _load_stored(self) -> None:
        assert self._store is not None
        stored = await self._store.get(LIMITS_KEY)
        if stored:
            try:
                self._settings = _with(self._file_settings, stored)
                self._overlay = dict(stored)
                _log.info("risk limits changed at run time are in force", changes=stored)
            except (ValidationError, orjson.JSONEncodeError) as exc:
                _log.error("stored risk limits are invalid; using the file's", error=str(exc))
        state = await self._store.get(STATE_KEY)
        if state:
            self._guard = EquityGuard(GuardState.from_dict(state))
            self._saved_state = self._guard.state.to_dict()

    async def _restore_latch(self) -> None:
        if self._latch is None:
            return
        record = await asyncio.to_thread(self._latch.read)
        if record is not None and not self._guard.state.kill_switch:
            _log.critical(
                "the kill switch was latched when the daemon stopped, though the database did "
                "not record it: trading stays halted until resumed",
                latch=str(self._latch.path),
                reason=record.reason,
            )
            self._guard.trip(record.code, record.reason, record.time)
            await self._save_state_best_effort(force=True)
        elif record is None and self._guard.state.kill_switch:
            await self._engage_latch()  # the database says halted: so does the latch now

    @property
    def settings(self) -> RiskSettings:
        return self._settings

    @property
    def guard_state(self) -> GuardState:
        return self._guard.state

    def halted(self) -> str | None:
        """Why trading is halted (the kill switch), or ``None``."""
        state = self._guard.state
        return f"kill switch: {state.kill_reason}" if state.kill_switch else None

    def sending_blocked(self) -> str | None:
        """Why an order approved earlier must not be sent now — the kill switch, or the daily
        loss limit reached meanwhile — or ``None``."""
        halted = self.halted()
        if halted is not None:
            return halted
        if self._guard.state.daily_halt:
            return f"daily loss limit reached on trading day {self._guard.state.day}"
        return None

    def mark_ready(self) -> None:
        """The engine has loaded its state and reconciled: signals may be approved."""
        self._ready = True

    def release(self, client_order_id: str) -> None:
        """Forget a reservation whose order was never written (execution failed early)."""
        self._in_flight.pop(client_order_id, None)
        self._reserved_margin.pop(client_order_id, None)

    # -- events -----------------------------------------------------------------------------

    async def on_trade(self, event: TradeEvent) -> None:
        """Forget an in-flight intent once execution settled it; count closed trades in the
        losing streak."""
        if event.status in _SETTLED:
            self.release(str(event.trade.get("client_order_id", "")))
        if event.status is TradeStatus.OPEN and self._guard.state.kill_switch:
            # Filled after the switch tripped (an order already at the terminal): close it now.
            self._last_close_all = time.monotonic()
            if self._closer is not None:
                await self._closer.close_all("kill_switch")
        if event.status is TradeStatus.CLOSED:
            trade = event.trade
            net = sum(float(trade.get(k) or 0.0) for k in ("profit", "swap", "commission"))
            closed_at = _epoch(trade.get("close_time")) or self._clock.time()
            if self._guard.record_close(net, closed_at, self._settings):
                message = (
                    f"{self._guard.state.cooldown_streak} losing trades in a row: no new "
                    f"trade for {self._settings.cooldown_minutes:g} min"
                )
                _log.warning("cooldown started", streak=self._guard.state.cooldown_streak)
                self._bus.publish(RiskLimitEvent("cooldown", message, self._clock.time()))
                await self._record("warning", "cooldown_started", message, {})
            await self._save_state_best_effort()

    async def on_account(self, event: AccountEvent) -> None:
        now = event.time
        trips = self._guard.observe(
            event.account.equity, self._trading_day(now), now, self._settings
        )
        # The kill switch first: nothing (a failing record of the daily limit) may delay it.
        for trip in sorted(trips, key=lambda t: t.kind is not TripKind.DRAWDOWN):
            await self._on_trip(trip)
        await self._save_state_best_effort()
        await self._keep_flat_while_halted()

    async def _keep_flat_while_halted(self) -> None:
        """With the kill switch on, positions still open (a close the market refused, or a
        position opened by hand) are closed again, at most every ``CLOSE_ALL_RETRY`` seconds."""
        if not self._guard.state.kill_switch or self._closer is None:
            return
        if self._positions.open_count() == 0:
            return
        now = time.monotonic()
        if now - self._last_close_all < CLOSE_ALL_RETRY:
            return
        self._last_close_all = now
        _log.warning("kill switch on and positions still open: closing them again")
        await self._closer.close_all("kill_switch")

    async def _on_trip(self, trip: Trip) -> None:
        context = {"equity": trip.equity, "threshold": round(trip.threshold, 2)}
        if trip.kind is TripKind.DAILY_LOSS:
            _log.error("daily loss limit reached", reason=trip.message, **context)
            self._bus.publish(RiskLimitEvent(trip.kind.value, trip.message, self._clock.time()))
            await self._record("error", "daily_loss_limit", trip.message, context)
            return
        await self._kill(trip.kind.value, trip.message, actor=None, context=context)

    async def on_signal(self, event: SignalEvent) -> None:
        signal = event.signal
        if signal.close_opposite and self._closer is not None:
            # Stop and reverse: out of the other side first, so the new trade's checks see
            # the position gone (and its margin free) — but only for a signal that passes
            # the rules not about positions: a stale or halted signal closes nothing.
            refused = self._precheck(signal, manual=False)
            if refused is not None:
                await self._reject(signal, *refused)
                return
            await self._closer.close_opposite(signal)
        async with self._deciding:
            decision = await self.evaluate(signal, volume=signal.volume)
            if isinstance(decision, OrderIntent):
                self._approve(decision)
        if isinstance(decision, OrderIntent):
            self._bus.publish(OrderIntentEvent(decision))
            return
        code, message = decision
        await self._reject(signal, code, message)

    # -- the kill switch --------------------------------------------------------------------

    async def trip_kill_switch(self, reason: str, *, actor: str | None) -> int:
        """Trip the kill switch by hand: close everything and halt. Returns positions closed."""
        return await self._kill("manual", reason, actor=actor, context={})

    async def _kill(
        self, code: str, reason: str, *, actor: str | None, context: dict[str, Any]
    ) -> int:
        now = self._clock.time()
        self._guard.trip(code, reason, now)
        self.kill_switch_trips += 1
        _log.critical("KILL SWITCH: closing every position and halting", reason=reason, actor=actor)
        await self._engage_latch()  # from here on, a crash leaves the switch on
        self._bus.publish(KillSwitchEvent(True, code, reason, now, actor))
        closed = 0
        if self._closer is not None:
            # Closing comes first; the records after it must not be able to prevent it.
            self._last_close_all = time.monotonic()
            closed = await self._closer.close_all("kill_switch")
        await self._save_state_best_effort(force=True)
        try:
            await self._record("critical", "kill_switch", reason, {"code": code, **context}, actor)
        except Exception:
            _log.exception("the kill switch could not be recorded in system_logs")
        return closed

    async def resume(self, *, actor: str) -> None:
        """Release the kill switch (only a person does this). The resume is stored in the
        database, then the latch released; if either fails, trading stays halted and
        :class:`~forexbot.errors.DatabaseError` or
        :class:`~forexbot.errors.PersistenceError` is raised."""
        async with self._resuming:
            await self._resume()
        now = self._clock.time()
        _log.warning("kill switch released: trading resumes", actor=actor)
        self._bus.publish(KillSwitchEvent(False, "resumed", f"resumed by {actor}", now, actor))
        await self._record("warning", "kill_switch_released", f"resumed by {actor}", {}, actor)

    async def _resume(self) -> None:
        """Persist the resume, release the latch, then resume in memory — unless the switch
        tripped again meanwhile (a trip never waits for a resume): then the halted state is
        saved back and :class:`~forexbot.errors.StateConflictError` raised."""
        if not self._guard.state.kill_switch:
            raise ConfigError("the kill switch is not on")
        trips = self.kill_switch_trips
        resumed = EquityGuard(replace(self._guard.state))
        resumed.resume()
        if self._store is not None:
            document = resumed.state.to_dict()
            await self._store.put(STATE_KEY, document, updated_by="risk")
            self._saved_state = document
        if self.kill_switch_trips == trips and self._latch is not None:
            try:
                async with self._latching:
                    await asyncio.to_thread(self._latch.release)
            except OSError as exc:
                # The database says resumed, the latch halted: halted wins, now and at start.
                await self._save_state_best_effort(force=True)
                raise PersistenceError(
                    f"the kill switch latch {self._latch.path} could not be released ({exc}): "
                    "trading stays halted"
                ) from exc
        if self.kill_switch_trips != trips:
            await self._engage_latch()  # a trip may have latched before the release
            await self._save_state_best_effort(force=True)
            raise StateConflictError("the kill switch tripped again while resuming: still halted")
        self._guard.resume()  # the live state: what happened meanwhile (equity, trades) stays
        self._saved(STATE_NOT_SAVED)
        self._saved(LATCH_NOT_SAVED)

    async def ensure_flat_if_halted(self) -> int:
        """At start: with the kill switch on, close what is still open (a crash may have
        stopped the closing halfway)."""
        if self._guard.state.kill_switch and self._closer is not None:
            return await self._closer.close_all("kill_switch")
        return 0

    # -- run-time limits --------------------------------------------------------------------

    async def update_limits(self, changes: Mapping[str, Any], *, actor: str) -> RiskSettings:
        """Validate ``changes`` against the whole model, persist, then apply (all or nothing:
        :class:`ConfigError` naming the key leaves everything as it was).

        Only the keys changed at run time are stored (an overlay on the file's limits), so a
        later edit of ``risk_config.yaml`` still applies to every key never changed here.
        """
        overlay = {**self._overlay, **dict(changes)}
        try:
            settings = _with(self._file_settings, overlay)
        except orjson.JSONEncodeError as exc:
            raise ConfigError(f"invalid risk limits: {exc}") from None
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
            raise ConfigError(f"invalid risk limits: {problems}") from None
        if self._store is not None:
            await self._store.put(LIMITS_KEY, overlay, updated_by=actor)
        self._settings, self._overlay = settings, overlay
        _log.info("risk limits changed", actor=actor, changes=dict(changes))
        return settings

    # -- the rules --------------------------------------------------------------------------

    def in_flight(self, symbol: str | None = None) -> int:
        if symbol is None:
            return len(self._in_flight)
        return sum(1 for h in self._in_flight.values() if h.symbol == symbol)

    def _approve(self, intent: OrderIntent) -> None:
        signal = intent.signal
        self._reserved_margin[intent.client_order_id] = intent.margin
        tick = self._market.last_tick(signal.symbol)
        price = entry_price(signal.side, tick) if tick is not None else signal.entry
        self._in_flight[intent.client_order_id] = Holding(
            signal.symbol, signal.side, intent.volume, price
        )
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

    async def approve_manual(self, signal: Signal, volume: float | None) -> OrderIntent:
        """The same rules for a trade a person asked for; raises :class:`RiskRejection`
        (recorded and published like any rejection) or returns the intent, in flight."""
        async with self._deciding:
            decision = await self.evaluate(signal, volume=volume, manual=True)
            if isinstance(decision, OrderIntent):
                self._approve(decision)
        if isinstance(decision, OrderIntent):
            return decision
        code, message = decision
        await self._reject(signal, code, message)
        raise RiskRejection(code, message)

    def _precheck(self, signal: Signal, *, manual: bool) -> tuple[str, str] | None:
        """The rules that do not depend on the positions held: readiness, the account guard,
        a stale signal, the market-condition filter and the quote."""
        s = self._settings
        now = self._clock.time()
        if not self._ready:
            return "not_ready", "the trading engine is starting (reconciling with the terminal)"
        blocked = self._guard.blocked(now)
        if blocked is not None:
            return blocked
        if not manual:
            period = Timeframe.parse(signal.timeframe).seconds
            age = now - (signal.bar_time + period)
            if age > s.signal_grace_seconds:
                return (
                    "stale_signal",
                    f"the {signal.timeframe} bar closed {age:.0f} s ago; signals are acted on "
                    f"within {s.signal_grace_seconds:.0f} s",
                )
        refused = self._condition_filter(signal.market_condition)
        if refused is not None:
            return refused
        tick = self._market.last_tick(signal.symbol)
        if tick is None:
            return "no_quote", f"no quote for {signal.symbol} yet"
        if now - tick.time > s.max_quote_age_seconds:
            return (
                "stale_quote",
                f"the last quote of {signal.symbol} is {now - tick.time:.0f} s old; at most "
                f"{s.max_quote_age_seconds:g} s allowed",
            )
        return None

    async def evaluate(
        self, signal: Signal, *, volume: float | None = None, manual: bool = False
    ) -> OrderIntent | tuple[str, str]:
        """Apply the rules; an intent, or ``(code, message)`` of the first rule that failed."""
        refused = self._precheck(signal, manual=manual)
        if refused is not None:
            return refused
        s = self._settings
        tick = self._market.last_tick(signal.symbol)
        if tick is None:  # the precheck saw one; a quote never goes away, but be explicit
            return "no_quote", f"no quote for {signal.symbol} yet"
        spec = self._market.spec(signal.symbol)
        entry = entry_price(signal.side, tick)
        refused = self._stop_and_spread(signal, tick, spec)
        if refused is not None:
            return refused
        try:
            account = await self._market.account()
        except TerminalError as exc:
            return "terminal_unavailable", f"the terminal did not answer: {exc}"
        refused = self._position_counts(signal.symbol, account)
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
            if not sizing.accepted:
                return str(sizing.refusal_code), str(sizing.refusal)
            volume, risk_amount = sizing.volume, sizing.risk_amount
        else:
            problem = spec.volume_problem(volume)
            if problem is not None:
                return "invalid_volume", problem
            volume = spec.round_volume(volume)
            risk_amount = volume * loss_per_lot(entry, signal.sl, spec)
            if risk_amount > max_risk + 1e-9:
                return (
                    "risk_per_trade_exceeded",
                    f"{volume:g} lots would lose {risk_amount:.2f} at the stop-loss, more than "
                    f"{s.risk_per_trade_percent:g} % of equity ({max_risk:.2f})",
                )
        refused = self._exposure(Holding(signal.symbol, signal.side, volume, entry), account)
        if refused is not None:
            return refused
        margin = await self._margin(signal, volume, entry, account)
        if isinstance(margin, tuple):
            return margin
        return OrderIntent(
            client_order_id=new_client_order_id(),
            signal=signal,
            volume=volume,
            risk_amount=risk_amount,
            margin=margin,
        )

    def _condition_filter(self, condition: Mapping[str, Any]) -> tuple[str, str] | None:
        if not condition:
            return None
        s = self._settings
        if condition.get("market_open") is False:
            return "market_closed", "the market is closed"
        sessions = [str(x) for x in condition.get("sessions") or []]
        if s.allowed_sessions is not None and not set(sessions) & set(s.allowed_sessions):
            return (
                "session_not_allowed",
                f"open sessions {sessions or 'none'}; trading is allowed in "
                f"{list(s.allowed_sessions)}",
            )
        liquidity = condition.get("liquidity")
        if liquidity in s.blocked_liquidity:
            return "liquidity_blocked", f"liquidity is {liquidity}, which is blocked"
        volatility = condition.get("volatility")
        if volatility in s.blocked_volatility:
            return "volatility_blocked", f"volatility is {volatility}, which is blocked"
        return None

    def _stop_and_spread(
        self, signal: Signal, tick: Tick, spec: SymbolSpec
    ) -> tuple[str, str] | None:
        s = self._settings
        spread_points = (tick.ask - tick.bid) / spec.point
        limit = s.max_spread_points.get(signal.symbol)
        if limit is not None and spread_points > limit + 1e-6:
            return (
                "spread_too_wide",
                f"the spread is {spread_points:.0f} points; {signal.symbol} allows {limit}",
            )
        trigger = exit_price(signal.side, tick)
        distance = (trigger - signal.sl) * signal.side.value
        if distance <= 0:
            where = "below the bid" if signal.side is Side.BUY else "above the ask"
            return (
                "invalid_stop",
                f"stop-loss {signal.sl} of a {signal.side.label} must be {where} ({trigger})",
            )
        tolerance = spec.point * 1e-3
        if distance < spec.stops_level * spec.point - tolerance:
            return (
                "stop_too_close",
                f"stop-loss {distance / spec.point:.0f} points away, the symbol requires "
                f"{spec.stops_level}",
            )
        if signal.tp:
            target = (signal.tp - trigger) * signal.side.value
            if target <= tolerance:
                where = "above the bid" if signal.side is Side.BUY else "below the ask"
                return (
                    "invalid_take_profit",
                    f"take-profit {signal.tp} of a {signal.side.label} must be {where} ({trigger})",
                )
            if target < spec.stops_level * spec.point - tolerance:
                return (
                    "take_profit_too_close",
                    f"take-profit {target / spec.point:.0f} points away, the symbol requires "
                    f"{spec.stops_level}",
                )
        stop_points = abs(entry_price(signal.side, tick) - signal.sl) / spec.point
        share = spread_points / stop_points * 100 if stop_points else 100.0
        if share > s.max_spread_stop_percent:
            return (
                "spread_too_wide",
                f"the spread ({spread_points:.0f} points) is {share:.0f} % of the stop distance "
                f"({stop_points:.0f} points); at most {s.max_spread_stop_percent:g} % allowed",
            )
        return None

    def _position_counts(self, symbol: str, account: AccountState) -> tuple[str, str] | None:
        s = self._settings
        total = self._positions.open_count() + self.in_flight()
        if total >= s.max_open_positions:
            return (
                "max_open_positions",
                f"{total} positions open or in flight, the limit is {s.max_open_positions}",
            )
        per_symbol_limit = s.max_positions_per_symbol if account.hedging else 1
        per_symbol = self._positions.open_count(symbol) + self.in_flight(symbol)
        if per_symbol >= per_symbol_limit:
            why = "" if account.hedging else " (a netting account holds one position per symbol)"
            return (
                "max_positions_per_symbol",
                f"{per_symbol} positions on {symbol}, the limit is {per_symbol_limit}{why}",
            )
        return None

    def _exposure(self, new: Holding, account: AccountState) -> tuple[str, str] | None:
        held = [*self._positions.holdings(), *self._in_flight.values()]
        spec_of = self._market.spec
        before = currency_exposure(held, spec_of, account.currency)
        after = currency_exposure([*held, new], spec_of, account.currency)
        limit = account.equity * self._settings.max_exposure_per_currency_percent / 100
        found = breaches(before, after, limit)
        if not found:
            return None
        currency, value = found[0]
        return (
            "max_currency_exposure",
            f"{currency} exposure would be {value:,.0f} {account.currency} "
            f"({abs(value) / account.equity * 100:.0f} % of equity); the limit is "
            f"{self._settings.max_exposure_per_currency_percent:g} %",
        )

    async def _margin(
        self, signal: Signal, volume: float, entry: float, account: AccountState
    ) -> tuple[str, str] | float:
        """The margin the order needs, or why it does not fit. Orders approved and not yet
        filled count as margin in use (the account does not show them yet)."""
        try:
            required = await self._market.order_calc_margin(
                signal.side, signal.symbol, volume, entry
            )
        except TerminalError as exc:
            return "margin_unknown", f"the terminal could not compute the margin: {exc}"
        reserved = sum(self._reserved_margin.values())
        account = replace(
            account, margin=account.margin + reserved, margin_free=account.margin_free - reserved
        )
        if required > account.margin_free:
            return (
                "insufficient_margin",
                f"{volume:g} lots need {required:.2f} {account.currency} of margin; "
                f"{account.margin_free:.2f} is free",
            )
        usage_limit = account.equity * self._settings.max_margin_usage_percent / 100
        if account.margin + required > usage_limit:
            return (
                "margin_limit",
                f"margin in use would be {account.margin + required:.2f} "
                f"{account.currency}, above {self._settings.max_margin_usage_percent:g} % "
                f"of equity ({usage_limit:.2f})",
            )
        return required

    # -- records ----------------------------------------------------------------------------

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
        await self._record(
            "info",
            "signal_rejected",
            message,
            {
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

    async def _record(
        self,
        level: str,
        event: str,
        message: str,
        context: dict[str, Any],
        actor: str | None = None,
    ) -> None:
        try:
            await self._rejection_log.add(
                level=level.upper(),
                component="risk",
                event=event,
                message=message,
                context=context,
                actor=actor,
            )
        except Exception:
            # The decision stands; only its record failed. Logged, and counted by the bus.
            _log.exception("could not record a risk event", event=event)
            raise

    async def _save_state_best_effort(self, *, force: bool = False) -> None:
        """Save the guard state; a database failure is reported loudly (the state in memory
        stands, and the next observation saves it again)."""
        try:
            await self._save_state(force=force)
        except Exception as exc:
            self._unsaved_failure(STATE_NOT_SAVED, f"the risk state could not be saved: {exc}")
        else:
            self._saved(STATE_NOT_SAVED)

    async def _engage_latch(self) -> None:
        """Write the kill switch's latch file; a failure is reported loudly, never raised
        (positions must still close)."""
        if self._latch is None:
            return
        s = self._guard.state
        try:
            async with self._latching:
                await asyncio.to_thread(
                    self._latch.engage, s.kill_code or "manual", s.kill_reason or "", s.kill_time
                )
        except OSError as exc:
            message = f"the kill switch latch {self._latch.path} could not be written: {exc}"
            self._unsaved_failure(LATCH_NOT_SAVED, message)
        else:
            self._saved(LATCH_NOT_SAVED)

    def _unsaved_failure(self, what: str, message: str) -> None:
        self.state_save_failures += 1
        first = what not in self._unsaved
        self._unsaved[what] = message
        now = self._monotonic()
        if first or now - self._unsaved_logged.get(what, now) >= SAVE_FAILURE_LOG_EVERY:
            self._unsaved_logged[what] = now
            _log.critical(
                message,
                problem=what,
                kill_switch=self._guard.state.kill_switch,
                failures=self.state_save_failures,
            )
        if first:
            self._bus.publish(RiskLimitEvent("state_not_saved", message, self._clock.time()))

    def _saved(self, what: str) -> None:
        if self._unsaved.pop(what, None) is not None:
            self._unsaved_logged.pop(what, None)
            _log.warning("the risk state is saved again", problem=what)
            message = f"the risk state is saved again ({what} is over)"
            self._bus.publish(RiskLimitEvent("state_saved", message, self._clock.time()))

    def problems(self) -> dict[str, str]:
        """What could not be persisted — a code (:data:`STATE_NOT_SAVED`,
        :data:`LATCH_NOT_SAVED`) and its message — empty when all is saved. Health reports
        the daemon degraded, with the codes only (it is public), while there is any."""
        return dict(self._unsaved)

    async def _save_state(self, *, force: bool = False) -> None:
        if self._store is None:
            return
        state = self._guard.state.to_dict()
        unchanged = {**state, "last_equity": None} == {**self._saved_state, "last_equity": None}
        if unchanged and not force:
            return
        await self._store.put(STATE_KEY, state, updated_by="risk")
        self._saved_state = state

    def describe(self) -> dict[str, Any]:
        """Limits, guard state, orders in flight and rejection counts (``GET /api/risk``)."""
        g = self._guard.state
        return {
            "limits": self._settings.model_dump(mode="json"),
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
            "blocked": None if (b := self._guard.blocked(self._clock.time())) is None else b[0],
            "in_flight": len(self._in_flight),
            "approved": self.approved,
            "rejections": dict(self.rejections),
            "problems": dict(self._unsaved),
        }
