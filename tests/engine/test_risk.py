"""Specification of :class:`forexbot.engine.risk.RiskManager` (rules in the module docstring).

Collaborators are small in-test classes implementing the module's Protocols; the bus is real.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
import pytest_asyncio
from polling import eventually
from symbol_specs import EURUSD
from trade_records import trade_record

from forexbot.clock import ManualClock
from forexbot.config.models import RiskSettings
from forexbot.domain.market import SymbolSpec, Tick
from forexbot.domain.rejection import Rejection
from forexbot.domain.trading import AccountState, OrderIntent, Side, Signal, TradeStatus
from forexbot.engine.exposure import Holding
from forexbot.engine.in_flight import OrdersInFlight
from forexbot.engine.risk import RiskManager, new_client_order_id
from forexbot.engine.risk_state import LIMITS_KEY, STATE_KEY
from forexbot.errors import InvalidInputError, RiskRejection, StateConflictError, TerminalError
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

GBPUSD = replace(EURUSD, name="GBPUSD")

NOW = 1_767_225_600.0


class FakeMarket:
    def __init__(self, equity: float = 10_000.0) -> None:
        self.specs: dict[str, SymbolSpec] = {"EURUSD": EURUSD, "GBPUSD": GBPUSD}
        self.ticks: dict[str, Tick] = {}
        self.equity = equity
        self.margin = 0.0  # in use
        self.margin_free: float | None = None  # None: equity less the margin in use
        self.hedging = True
        self.margin_error: TerminalError | None = None
        self.account_error: TerminalError | None = None
        self.now: Callable[[], float] = lambda: NOW

    def quote(self, symbol: str, bid: float, ask: float) -> None:
        """A quote at the harness clock's now."""
        self.ticks[symbol] = Tick(symbol=symbol, time=self.now(), bid=bid, ask=ask)

    def requote(self) -> None:
        """The same prices, quoted again now (the market ticking on)."""
        for symbol, tick in list(self.ticks.items()):
            self.quote(symbol, tick.bid, tick.ask)

    def spec(self, symbol: str) -> SymbolSpec:
        return self.specs[symbol]

    def last_tick(self, symbol: str) -> Tick | None:
        return self.ticks.get(symbol)

    def polled_account(self) -> AccountState | None:
        return None  # no poll snapshot: the risk manager asks account()

    async def polled_margin(
        self, side: Side, symbol: str, volume: float, price: float
    ) -> float | None:
        return None

    async def account(self) -> AccountState:
        if self.account_error is not None:
            raise self.account_error
        free = self.equity - self.margin if self.margin_free is None else self.margin_free
        return AccountState(
            "USD", self.equity, self.equity, self.margin, free, 100, hedging=self.hedging
        )

    async def order_calc_margin(
        self, side: Side, symbol: str, volume: float, price: float
    ) -> float:
        if self.margin_error is not None:
            raise self.margin_error
        return volume * self.specs[symbol].contract_size * price / 100


class FakePositions:
    def __init__(self) -> None:
        self.by_symbol: dict[str, int] = {}
        self.held: list[Holding] = []

    def holdings(self) -> list[Holding]:
        return list(self.held)

    def open_count(self, symbol: str | None = None) -> int:
        if symbol is None:
            return sum(self.by_symbol.values())
        return self.by_symbol.get(symbol, 0)


class FakeRejectionLog:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

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
    ) -> int:
        self.rows.append(
            {
                "level": level,
                "component": component,
                "event": event,
                "message": message,
                "context": context,
            }
        )
        return len(self.rows)


def signal(
    side: Side = Side.BUY,
    symbol: str = "EURUSD",
    entry: float = 1.10000,
    sl: float | None = None,
    tp: float | None = None,
) -> Signal:
    if sl is None:
        sl = entry - side.value * 0.0050
    if tp is None:
        tp = entry + side.value * 0.0100
    return Signal(
        strategy="ma_rsi",
        symbol=symbol,
        timeframe="M15",
        side=side,
        entry=entry,
        sl=sl,
        tp=tp,
        confidence=0.5,
        reason="test",
        bar_time=int(NOW) - 900,
    )


class FakeStore:
    """A ``RiskStateStore`` in a dict (``system_config`` in the daemon)."""

    def __init__(self) -> None:
        self.values: dict[str, dict[str, Any]] = {}
        self.writes: list[tuple[str, str | None]] = []

    async def get(self, key: str) -> dict[str, Any] | None:
        value = self.values.get(key)
        return None if value is None else dict(value)

    async def put(self, key: str, value: Mapping[str, Any], *, updated_by: str | None) -> None:
        self.values[key] = dict(value)
        self.writes.append((key, updated_by))


class FakeCloser:
    def __init__(self, open_positions: int = 2) -> None:
        self.open_positions = open_positions
        self.calls: list[str] = []

    async def close_all(self, reason: str) -> int:
        self.calls.append(reason)
        return self.open_positions


class Harness:
    def __init__(
        self,
        *,
        store: FakeStore | None = None,
        closer: FakeCloser | None = None,
        **settings: Any,
    ) -> None:
        self.market = FakeMarket()
        self.market.quote("EURUSD", 1.10000, 1.10000)
        self.market.quote("GBPUSD", 1.30000, 1.30000)
        self.positions = FakePositions()
        self.log = FakeRejectionLog()
        self.bus = EventBus()
        self.clock = ManualClock(NOW)
        self.market.now = self.clock.time
        self.store = store
        self.closer = closer
        self.orders = OrdersInFlight()
        self.risk = RiskManager(
            RiskSettings(**settings),
            self.market,
            self.positions,
            self.bus,
            self.clock,
            self.log,
            orders=self.orders,
            store=store,
            closer=closer,
        )
        self.risk.mark_ready()  # as the engine does once it has reconciled
        self.intents: list[OrderIntentEvent] = []
        self.rejected: list[RiskRejectedEvent] = []

        async def on_intent(event: OrderIntentEvent) -> None:
            self.intents.append(event)

        async def on_rejected(event: RiskRejectedEvent) -> None:
            self.rejected.append(event)

        self.bus.subscribe(OrderIntentEvent, on_intent, name="test-intents")
        self.bus.subscribe(RiskRejectedEvent, on_rejected, name="test-rejections")

    async def code(self, sig: Signal) -> str:
        return (await self.rejection(sig)).code

    async def rejection(self, sig: Signal) -> Rejection:
        decision = await self.risk.evaluate(sig)
        assert isinstance(decision, Rejection), f"expected a rejection, got {decision}"
        return decision

    async def intent(self, sig: Signal) -> OrderIntent:
        decision = await self.risk.evaluate(sig)
        assert isinstance(decision, OrderIntent), f"expected an intent, got {decision}"
        return decision


@pytest_asyncio.fixture(loop_scope="function")
async def h() -> AsyncIterator[Harness]:
    harness = Harness(max_open_positions=5, max_positions_per_symbol=1)
    harness.bus.start()
    yield harness
    await harness.bus.close(timeout=0.5)


# --- rules of evaluate, in their documented order --------------------------------------------


async def test_signal_without_a_quote_is_rejected_no_quote(h: Harness) -> None:
    del h.market.ticks["EURUSD"]

    assert await h.code(signal()) == "no_quote"


async def test_no_quote_is_checked_before_the_stop(h: Harness) -> None:
    del h.market.ticks["EURUSD"]

    assert await h.code(signal(sl=1.2)) == "no_quote"


async def test_buy_with_stop_above_the_ask_is_an_invalid_stop(h: Harness) -> None:
    h.market.quote("EURUSD", 1.10000, 1.10020)

    assert await h.code(signal(Side.BUY, sl=1.10030)) == "invalid_stop"


async def test_buy_with_stop_at_the_ask_is_an_invalid_stop(h: Harness) -> None:
    h.market.quote("EURUSD", 1.10000, 1.10020)

    assert await h.code(signal(Side.BUY, sl=1.10020)) == "invalid_stop"


async def test_sell_with_stop_below_the_bid_is_an_invalid_stop(h: Harness) -> None:
    h.market.quote("EURUSD", 1.10000, 1.10020)

    assert await h.code(signal(Side.SELL, sl=1.09990)) == "invalid_stop"


async def test_stop_between_bid_and_ask_is_rejected(h: Harness) -> None:
    """A buy's stop triggers when Bid ≤ SL, a sell's when Ask ≥ SL (mt5-reference.md, "SL/TP
    triggers"): a stop inside the spread would fire at once, and MetaTrader refuses it
    (10016). Measured from the fill price it looks valid, so the risk manager must look at the
    price that triggers the stop."""
    h.market.quote("EURUSD", 1.10000, 1.10020)

    assert await h.code(signal(Side.BUY, sl=1.10010)) in {"invalid_stop", "stop_too_close"}
    assert await h.code(signal(Side.SELL, sl=1.10010)) in {"invalid_stop", "stop_too_close"}


async def test_stop_closer_than_the_stops_level_is_rejected(h: Harness) -> None:
    h.market.specs["EURUSD"] = replace(EURUSD, stops_level=50)
    h.market.quote("EURUSD", 1.10000, 1.10000)

    # 30 points away, 50 required.
    assert await h.code(signal(Side.BUY, sl=1.09970)) == "stop_too_close"
    assert await h.code(signal(Side.SELL, sl=1.10030)) == "stop_too_close"


async def test_stop_at_least_the_stops_level_away_is_accepted(h: Harness) -> None:
    h.market.specs["EURUSD"] = replace(EURUSD, stops_level=50)
    h.market.quote("EURUSD", 1.10000, 1.10000)

    intent = await h.intent(signal(Side.BUY, sl=1.09900))

    assert intent.volume == 1.0  # 100 allowed / (100 points × 1.0)


async def test_stops_level_is_measured_from_the_price_that_triggers_the_stop(h: Harness) -> None:
    """MetaTrader requires Bid − SL ≥ stops level for a buy and SL − Ask ≥ stops level for a
    sell (mt5-reference.md, "Stops level"); measuring from the fill price instead lets through
    stops the terminal rejects with 10016 whenever the spread is wider than the shortfall."""
    h.market.specs["EURUSD"] = replace(EURUSD, stops_level=50)
    h.market.quote("EURUSD", 1.10000, 1.10030)

    # 40 points below the bid (70 below the ask), 50 required.
    assert await h.code(signal(Side.BUY, sl=1.09960)) == "stop_too_close"
    # 40 points above the ask (70 above the bid).
    assert await h.code(signal(Side.SELL, sl=1.10070)) == "stop_too_close"


async def test_invalid_stop_is_checked_before_the_position_limits(h: Harness) -> None:
    h.positions.by_symbol["GBPUSD"] = 5

    assert await h.code(signal(Side.BUY, sl=1.2)) == "invalid_stop"


async def test_open_positions_at_the_limit_reject_max_open_positions(h: Harness) -> None:
    h.positions.by_symbol = {"A": 3, "B": 2}

    assert await h.code(signal()) == "max_open_positions"


async def test_max_open_positions_counts_intents_in_flight() -> None:
    h = Harness(max_open_positions=2, max_positions_per_symbol=5)
    h.positions.by_symbol = {"USDJPY": 1}
    h.bus.start()
    try:
        await h.risk.on_signal(SignalEvent(signal(symbol="EURUSD")))
        assert h.orders.count() == 1

        assert await h.code(signal(symbol="GBPUSD", entry=1.3)) == "max_open_positions"
    finally:
        await h.bus.close(timeout=0.5)


async def test_positions_on_the_symbol_at_the_limit_reject_max_positions_per_symbol(
    h: Harness,
) -> None:
    h.positions.by_symbol = {"EURUSD": 1}

    assert await h.code(signal(symbol="EURUSD")) == "max_positions_per_symbol"
    await h.intent(signal(symbol="GBPUSD", entry=1.3))


async def test_max_positions_per_symbol_counts_intents_in_flight(h: Harness) -> None:
    await h.risk.on_signal(SignalEvent(signal(symbol="EURUSD")))

    assert await h.code(signal(symbol="EURUSD")) == "max_positions_per_symbol"
    await h.intent(signal(symbol="GBPUSD", entry=1.3))


async def test_total_limit_is_checked_before_the_per_symbol_limit() -> None:
    h = Harness(max_open_positions=1, max_positions_per_symbol=1)
    h.positions.by_symbol = {"EURUSD": 1}

    assert await h.code(signal(symbol="EURUSD")) == "max_open_positions"


async def test_volume_below_minimum_is_rejected_with_the_sizing_code(h: Harness) -> None:
    h.market.equity = 100.0  # 1.00 allowed, 0.01 lot at 50 pips risks 5.00

    assert await h.code(signal()) == "volume_below_minimum"


async def test_buy_volume_is_sized_from_the_ask_not_the_signal_entry(h: Harness) -> None:
    # Entry 1.10000 but the fill will be at the ask 1.10100: 60 pips to the stop, not 50.
    h.market.quote("EURUSD", 1.10000, 1.10100)

    intent = await h.intent(signal(Side.BUY, entry=1.10000, sl=1.09500))

    assert intent.volume == 0.16  # floor(100 / 600, 0.01); 0.20 if sized from the entry
    assert intent.risk_amount == pytest.approx(0.16 * 600)


async def test_sell_volume_is_sized_from_the_bid_not_the_signal_entry(h: Harness) -> None:
    h.market.quote("EURUSD", 1.09900, 1.10000)

    intent = await h.intent(signal(Side.SELL, entry=1.10000, sl=1.10500))

    assert intent.volume == 0.16
    assert intent.risk_amount == pytest.approx(0.16 * 600)


async def test_signal_risk_multiplier_scales_the_volume(h: Harness) -> None:
    intent = await h.intent(replace(signal(), risk_multiplier=0.5))

    assert intent.volume == 0.10


async def test_approved_intent_carries_the_signal_and_the_sized_volume(h: Harness) -> None:
    sig = signal()

    intent = await h.intent(sig)

    assert intent.signal is sig
    assert intent.volume == 0.20
    assert intent.risk_amount == pytest.approx(100.0)


# --- on_signal: events, log rows, in-flight bookkeeping --------------------------------------


async def test_approved_signal_publishes_an_order_intent(h: Harness) -> None:
    h.risk.subscribe()
    sig = signal()

    h.bus.publish(SignalEvent(sig))
    await eventually(lambda: len(h.intents) == 1, timeout=5.0, what="the intent")

    intent = h.intents[0].intent
    assert intent.signal == sig
    assert intent.volume == 0.20
    assert h.risk.approved == 1
    assert h.rejected == []
    assert h.log.rows == []


async def test_rejected_signal_publishes_a_risk_rejected_event(h: Harness) -> None:
    h.risk.subscribe()
    sig = signal(sl=1.2)

    h.bus.publish(SignalEvent(sig))
    await eventually(lambda: len(h.rejected) == 1, timeout=5.0, what="the rejection")

    event = h.rejected[0]
    assert event.signal == sig
    assert event.code == "invalid_stop"
    assert event.message
    assert event.time == NOW
    assert h.intents == []
    assert h.risk.rejections["invalid_stop"] == 1


async def test_rejected_signal_is_recorded_in_the_rejection_log(h: Harness) -> None:
    h.market.equity = 100.0

    await h.risk.on_signal(SignalEvent(signal()))

    assert len(h.log.rows) == 1
    row = h.log.rows[0]
    assert row["component"] == "risk"
    assert row["event"] == "signal_rejected"
    assert row["context"]["code"] == "volume_below_minimum"
    assert row["context"]["symbol"] == "EURUSD"
    assert row["context"]["side"] == "buy"
    assert "5.00" in row["message"]


@pytest.mark.parametrize("status", [TradeStatus.OPEN, TradeStatus.REJECTED])
async def test_settled_trade_event_releases_the_in_flight_intent(
    h: Harness, status: TradeStatus
) -> None:
    h.risk.subscribe()
    h.bus.publish(SignalEvent(signal()))
    await eventually(lambda: len(h.intents) == 1, timeout=5.0, what="the intent")
    client_order_id = h.intents[0].intent.client_order_id
    assert h.orders.count("EURUSD") == 1

    h.bus.publish(TradeEvent(trade_record(1, status, client_order_id=client_order_id)))
    await eventually(lambda: h.orders.count() == 0, timeout=5.0, what="the settled intent")

    assert h.orders.count("EURUSD") == 0
    await h.intent(signal())


async def test_unsettled_or_foreign_trade_events_keep_the_intent_in_flight(h: Harness) -> None:
    h.risk.subscribe()
    h.bus.publish(SignalEvent(signal()))
    await eventually(lambda: len(h.intents) == 1, timeout=5.0, what="the intent")
    client_order_id = h.intents[0].intent.client_order_id

    submitted = trade_record(1, TradeStatus.SUBMITTED, client_order_id=client_order_id)
    h.bus.publish(TradeEvent(submitted))
    h.bus.publish(TradeEvent(trade_record(2, client_order_id="fxb-someone-else")))
    trades = next(s for s in h.bus.stats() if s.name == "risk-trades")
    await eventually(lambda: trades.delivered == 2, timeout=5.0, what="both trade events")

    assert h.orders.count("EURUSD") == 1


def test_client_order_ids_fit_the_comment_field_and_are_unique() -> None:
    ids = [new_client_order_id() for _ in range(10_000)]

    assert max(len(i) for i in ids) <= 31
    assert len(set(ids)) == len(ids)


async def test_each_intent_gets_its_own_client_order_id() -> None:
    h = Harness(max_open_positions=500, max_positions_per_symbol=50)

    ids = {(await h.intent(signal())).client_order_id for _ in range(50)}

    assert len(ids) == 50
    assert all(len(i) <= 31 for i in ids)


async def test_a_signal_acted_on_after_its_grace_is_stale() -> None:
    h = Harness(signal_grace_seconds=120)
    h.clock.advance(121)  # 121 s after the bar closed
    assert await h.code(signal()) == "stale_signal"


async def test_a_signal_within_its_grace_is_acted_on() -> None:
    h = Harness(signal_grace_seconds=120)
    h.clock.advance(119)
    assert (await h.intent(signal())).volume > 0


# --- helpers for the account-level rules ------------------------------------------------------


def now_signal(h: Harness, sig: Signal | None = None) -> Signal:
    """``sig`` (default :func:`signal`) on the bar that closed just now on the harness clock."""
    return replace(sig or signal(), bar_time=int(h.clock.time()) - 900)


def account(equity: float) -> AccountState:
    return AccountState("USD", equity, equity, 0.0, equity, 100)


def closed_trade(profit: float, swap: float = 0.0, commission: float = 0.0) -> TradeEvent:
    money = {"profit": profit, "swap": swap, "commission": commission}
    return TradeEvent(
        trade_record(
            1,
            TradeStatus.CLOSED,
            client_order_id="fxb-old",
            **{name: Decimal(repr(value)) for name, value in money.items()},
        )
    )


def with_condition(**condition: Any) -> Signal:
    return replace(signal(), market_condition=condition)


OPEN_LONDON = {"market_open": True, "sessions": ["London"], "liquidity": "normal"}


# --- 1. account-level limits: kill switch, daily loss, cooldown ------------------------------


async def test_after_the_kill_switch_is_tripped_signals_are_rejected_kill_switch() -> None:
    h = Harness()

    await h.risk.trip_kill_switch("test", actor="me")

    refused = await h.rejection(signal())
    assert refused.code == "kill_switch"
    assert "test" in refused.message


async def test_the_kill_switch_is_checked_before_everything_else() -> None:
    h = Harness()
    await h.risk.trip_kill_switch("test", actor="me")
    del h.market.ticks["EURUSD"]
    h.clock.advance(3600)

    assert await h.code(with_condition(market_open=False)) == "kill_switch"


async def test_tripping_the_kill_switch_closes_everything_and_says_why_it_halted() -> None:
    closer = FakeCloser(open_positions=3)
    h = Harness(closer=closer)

    closed = await h.risk.trip_kill_switch("news", actor="me")

    assert closed == 3
    assert closer.calls == ["kill_switch"]
    assert h.risk.halted() == "kill switch: news"
    assert h.risk.kill_switch_trips == 1
    state = h.risk.guard_state
    assert (state.kill_switch, state.kill_code, state.kill_reason, state.kill_time) == (
        True,
        "manual",
        "news",
        NOW,
    )


async def test_tripping_the_kill_switch_publishes_and_records_it() -> None:
    h = Harness()
    events: list[KillSwitchEvent] = []

    async def on_kill(event: KillSwitchEvent) -> None:
        events.append(event)

    h.bus.subscribe(KillSwitchEvent, on_kill, name="test-kill")
    h.bus.start()
    try:
        await h.risk.trip_kill_switch("news", actor="me")
        await eventually(lambda: len(events) == 1, timeout=5.0, what="the kill switch event")
    finally:
        await h.bus.close(timeout=0.5)

    assert events[0] == KillSwitchEvent(True, "manual", "news", NOW, "me")
    [row] = h.log.rows
    assert (row["level"], row["event"], row["message"]) == ("CRITICAL", "kill_switch", "news")
    assert row["context"] == {"code": "manual"}


async def test_without_the_kill_switch_nothing_is_halted() -> None:
    assert Harness().risk.halted() is None


async def test_resume_lifts_the_kill_switch() -> None:
    h = Harness()
    await h.risk.trip_kill_switch("test", actor="me")

    await h.risk.resume(actor="me")

    assert h.risk.halted() is None
    assert (await h.intent(signal())).volume == 0.20
    assert h.log.rows[-1]["event"] == "kill_switch_released"


async def test_resume_when_not_halted_is_a_not_halted_conflict() -> None:
    h = Harness()

    with pytest.raises(StateConflictError, match="not on") as refused:
        await h.risk.resume(actor="me")
    assert refused.value.code == "not_halted"


async def test_the_kill_switch_is_persisted_and_reloaded_by_a_new_risk_manager() -> None:
    store = FakeStore()
    first = Harness(store=store)
    await first.risk.trip_kill_switch("test", actor="me")
    assert store.values[STATE_KEY]["kill_switch"] is True

    second = Harness(store=store)
    assert second.risk.halted() is None  # nothing read before start()
    await second.risk.start()

    assert second.risk.halted() == "kill switch: test"
    assert await second.code(signal()) == "kill_switch"


async def test_a_resume_is_persisted_too() -> None:
    store = FakeStore()
    first = Harness(store=store)
    await first.risk.trip_kill_switch("test", actor="me")
    await first.risk.resume(actor="me")

    second = Harness(store=store)
    await second.risk.start()

    assert second.risk.halted() is None
    assert store.values[STATE_KEY]["kill_switch"] is False


async def test_at_start_with_the_kill_switch_on_what_is_still_open_is_closed() -> None:
    store = FakeStore()
    await Harness(store=store).risk.trip_kill_switch("test", actor="me")
    closer = FakeCloser(open_positions=1)
    restarted = Harness(store=store, closer=closer)
    await restarted.risk.start()

    assert await restarted.risk.ensure_flat_if_halted() == 1
    assert closer.calls == ["kill_switch"]


async def test_equity_down_by_the_drawdown_trips_the_kill_switch_and_closes_everything() -> None:
    closer = FakeCloser()
    h = Harness(closer=closer, max_drawdown_percent=10.0, max_daily_loss_percent=50.0)

    await h.risk.on_account(AccountEvent(account(10_000.0), NOW))
    await h.risk.on_account(AccountEvent(account(9_000.0), NOW + 60))

    assert await h.code(signal()) == "kill_switch"
    assert h.risk.guard_state.kill_code == "max_drawdown"
    assert closer.calls == ["kill_switch"]


async def test_equity_below_the_daily_loss_limit_rejects_daily_loss_limit() -> None:
    h = Harness(max_daily_loss_percent=5.0)

    await h.risk.on_account(AccountEvent(account(10_000.0), NOW))
    await h.risk.on_account(AccountEvent(account(9_499.0), NOW + 60))

    assert await h.code(signal()) == "daily_loss_limit"
    assert h.risk.halted() is None  # the day's halt is not the kill switch


async def test_equity_above_the_daily_loss_limit_is_no_reason_to_stop() -> None:
    h = Harness(max_daily_loss_percent=5.0)

    await h.risk.on_account(AccountEvent(account(10_000.0), NOW))
    await h.risk.on_account(AccountEvent(account(9_501.0), NOW + 60))

    assert (await h.intent(signal())).volume == 0.20


async def test_reaching_the_daily_loss_publishes_a_risk_limit_event_and_a_log_row() -> None:
    h = Harness(max_daily_loss_percent=5.0)
    limits: list[RiskLimitEvent] = []

    async def on_limit(event: RiskLimitEvent) -> None:
        limits.append(event)

    h.bus.subscribe(RiskLimitEvent, on_limit, name="test-limits")
    h.bus.start()
    try:
        await h.risk.on_account(AccountEvent(account(10_000.0), NOW))
        await h.risk.on_account(AccountEvent(account(9_500.0), NOW + 60))
        await eventually(lambda: len(limits) == 1, timeout=5.0, what="the limit event")
    finally:
        await h.bus.close(timeout=0.5)

    assert limits[0].code == "daily_loss_limit"
    [row] = h.log.rows
    assert (row["level"], row["event"]) == ("ERROR", "daily_loss_limit")
    assert row["context"] == {"equity": 9_500.0, "threshold": 9_500.0}


async def test_the_daily_loss_halt_lifts_on_the_next_trading_day() -> None:
    h = Harness(max_daily_loss_percent=5.0)
    await h.risk.on_account(AccountEvent(account(10_000.0), NOW))
    await h.risk.on_account(AccountEvent(account(9_000.0), NOW + 60))

    h.clock.set(NOW + 86_400)
    h.market.requote()
    await h.risk.on_account(AccountEvent(account(9_000.0), NOW + 86_400))

    assert (await h.intent(now_signal(h))).volume == 0.20


async def test_the_guard_state_is_saved_after_an_equity_observation() -> None:
    store = FakeStore()
    h = Harness(store=store, max_daily_loss_percent=5.0)

    await h.risk.on_account(AccountEvent(account(10_000.0), NOW))

    saved = store.values[STATE_KEY]
    assert (saved["day"], saved["day_start_equity"], saved["peak_equity"]) == (
        "2026-01-01",
        10_000.0,
        10_000.0,
    )


async def test_losing_trades_in_a_row_start_a_cooldown() -> None:
    h = Harness(cooldown_after_losses=2, cooldown_minutes=30)

    await h.risk.on_trade(closed_trade(-10.0))
    assert (await h.intent(signal())).volume == 0.20
    await h.risk.on_trade(closed_trade(-10.0))

    assert await h.code(signal()) == "cooldown"
    assert h.risk.guard_state.cooldown_until == NOW + 30 * 60


async def test_the_cooldown_ends_after_its_minutes() -> None:
    h = Harness(cooldown_after_losses=2, cooldown_minutes=30)
    await h.risk.on_trade(closed_trade(-10.0))
    await h.risk.on_trade(closed_trade(-10.0))

    h.clock.advance(30 * 60 - 1)
    assert await h.code(now_signal(h)) == "cooldown"
    h.clock.advance(1)
    h.market.requote()
    assert (await h.intent(now_signal(h))).volume == 0.20


async def test_a_loss_is_net_of_swap_and_commission() -> None:
    h = Harness(cooldown_after_losses=1, cooldown_minutes=30)

    await h.risk.on_trade(closed_trade(1.0, swap=-0.5, commission=-0.7))

    assert await h.code(signal()) == "cooldown"


async def test_a_winning_trade_ends_the_losing_streak() -> None:
    h = Harness(cooldown_after_losses=2, cooldown_minutes=30)

    await h.risk.on_trade(closed_trade(-10.0))
    await h.risk.on_trade(closed_trade(5.0))
    await h.risk.on_trade(closed_trade(-10.0))

    assert (await h.intent(signal())).volume == 0.20


async def test_the_daily_loss_is_checked_before_the_cooldown() -> None:
    h = Harness(max_daily_loss_percent=5.0, cooldown_after_losses=1, cooldown_minutes=30)
    await h.risk.on_trade(closed_trade(-10.0))
    await h.risk.on_account(AccountEvent(account(10_000.0), NOW))
    await h.risk.on_account(AccountEvent(account(9_000.0), NOW + 60))

    assert await h.code(signal()) == "daily_loss_limit"


# --- 2./3. stale signals and the market-condition filter -------------------------------------


async def test_a_closed_market_rejects_market_closed() -> None:
    h = Harness()

    assert await h.code(with_condition(market_open=False)) == "market_closed"


async def test_a_signal_outside_the_allowed_sessions_is_rejected_session_not_allowed() -> None:
    h = Harness(allowed_sessions=("London", "New York"))

    assert await h.code(with_condition(market_open=True, sessions=["Tokyo"])) == (
        "session_not_allowed"
    )


async def test_a_signal_without_open_sessions_is_rejected_when_sessions_are_required() -> None:
    h = Harness(allowed_sessions=("London",))

    assert await h.code(with_condition(market_open=True, sessions=[])) == "session_not_allowed"


async def test_a_signal_in_one_of_the_allowed_sessions_passes() -> None:
    h = Harness(allowed_sessions=("London", "New York"))

    intent = await h.intent(with_condition(market_open=True, sessions=["Tokyo", "London"]))

    assert intent.volume == 0.20


async def test_without_allowed_sessions_any_open_session_passes() -> None:
    h = Harness()

    assert (await h.intent(with_condition(market_open=True, sessions=["Sydney"]))).volume == 0.20


async def test_a_blocked_liquidity_rejects_liquidity_blocked() -> None:
    h = Harness(blocked_liquidity=("thin",))

    assert await h.code(with_condition(**{**OPEN_LONDON, "liquidity": "thin"})) == (
        "liquidity_blocked"
    )
    assert (await h.intent(with_condition(**OPEN_LONDON))).volume == 0.20


async def test_a_blocked_volatility_rejects_volatility_blocked() -> None:
    h = Harness(blocked_volatility=("high", "low"))

    assert await h.code(with_condition(**OPEN_LONDON, volatility="high")) == "volatility_blocked"
    assert (await h.intent(with_condition(**OPEN_LONDON, volatility="normal"))).volume == 0.20


async def test_the_condition_rules_apply_in_their_order() -> None:
    h = Harness(
        allowed_sessions=("London",), blocked_liquidity=("thin",), blocked_volatility=("high",)
    )
    everything_wrong = {
        "market_open": False,
        "sessions": ["Tokyo"],
        "liquidity": "thin",
        "volatility": "high",
    }

    assert await h.code(with_condition(**everything_wrong)) == "market_closed"
    everything_wrong["market_open"] = True
    assert await h.code(with_condition(**everything_wrong)) == "session_not_allowed"
    everything_wrong["sessions"] = ["London"]
    assert await h.code(with_condition(**everything_wrong)) == "liquidity_blocked"
    everything_wrong["liquidity"] = "deep"
    assert await h.code(with_condition(**everything_wrong)) == "volatility_blocked"


async def test_a_signal_without_a_condition_skips_the_filter() -> None:
    h = Harness(allowed_sessions=("London",), blocked_liquidity=("thin",))

    assert (await h.intent(signal())).volume == 0.20


async def test_a_stale_signal_is_rejected_before_the_condition_filter() -> None:
    h = Harness(signal_grace_seconds=120)
    h.clock.advance(121)

    assert await h.code(with_condition(market_open=False)) == "stale_signal"


async def test_the_condition_filter_comes_before_the_quote() -> None:
    h = Harness()
    del h.market.ticks["EURUSD"]

    assert await h.code(with_condition(market_open=False)) == "market_closed"


# --- 5. the spread ----------------------------------------------------------------------------


async def test_a_spread_above_the_symbols_maximum_rejects_spread_too_wide() -> None:
    h = Harness(max_spread_points={"EURUSD": 15})
    h.market.quote("EURUSD", 1.10000, 1.10020)

    refused = await h.rejection(signal(sl=1.09000))

    assert refused.code == "spread_too_wide"
    assert "20 points" in refused.message
    assert "15" in refused.message


async def test_a_spread_at_the_symbols_maximum_passes() -> None:
    h = Harness(max_spread_points={"EURUSD": 15})
    h.market.quote("EURUSD", 1.10000, 1.10015)

    assert (await h.intent(signal(sl=1.09000))).volume > 0


async def test_the_spread_maximum_applies_only_to_the_symbols_listed() -> None:
    h = Harness(max_spread_points={"EURUSD": 15})
    h.market.quote("GBPUSD", 1.30000, 1.30020)

    assert (await h.intent(signal(symbol="GBPUSD", entry=1.3, sl=1.29))).volume > 0


async def test_the_spread_maximum_is_checked_before_the_stop() -> None:
    h = Harness(max_spread_points={"EURUSD": 15})
    h.market.quote("EURUSD", 1.10000, 1.10020)

    assert await h.code(signal(sl=1.2)) == "spread_too_wide"


async def test_a_spread_above_its_share_of_the_stop_distance_rejects_spread_too_wide() -> None:
    h = Harness(max_spread_stop_percent=30)
    h.market.quote("EURUSD", 1.10000, 1.10020)

    # 20 points of spread on a stop 50 points from the ask: 40 %.
    refused = await h.rejection(signal(Side.BUY, sl=1.09970))

    assert refused.code == "spread_too_wide"
    assert "40 %" in refused.message


async def test_a_spread_within_its_share_of_the_stop_distance_passes() -> None:
    h = Harness(max_spread_stop_percent=30)
    h.market.quote("EURUSD", 1.10000, 1.10020)

    # 20 points on a stop 80 points from the ask: 25 %.
    assert (await h.intent(signal(Side.BUY, sl=1.09940))).volume > 0


async def test_the_share_of_a_sells_stop_is_measured_from_the_bid() -> None:
    h = Harness(max_spread_stop_percent=30)
    h.market.quote("EURUSD", 1.10000, 1.10020)

    # A sell fills at the bid: its stop at 1.10070 is 70 points away, 20/70 = 29 %.
    assert (await h.intent(signal(Side.SELL, sl=1.10070))).volume > 0
    # At 1.10060: 60 points, 33 %.
    assert await h.code(signal(Side.SELL, sl=1.10060)) == "spread_too_wide"


async def test_the_stops_level_is_checked_before_the_spread_share() -> None:
    h = Harness(max_spread_stop_percent=30)
    h.market.specs["EURUSD"] = replace(EURUSD, stops_level=50)
    h.market.quote("EURUSD", 1.10000, 1.10030)

    # Stop 40 points below the bid (level 50); spread 30 points is 43 % of 70 from the ask:
    # the share is measured only against a stop that is valid.
    assert await h.code(signal(Side.BUY, sl=1.09960)) == "stop_too_close"


# --- 7. netting accounts ----------------------------------------------------------------------


async def test_a_netting_account_holds_one_position_per_symbol_whatever_the_setting() -> None:
    h = Harness(max_positions_per_symbol=3)
    h.market.hedging = False
    h.positions.by_symbol = {"EURUSD": 1}

    refused = await h.rejection(signal())

    assert refused.code == "max_positions_per_symbol"
    assert "netting" in refused.message


async def test_a_hedging_account_holds_up_to_the_setting_per_symbol() -> None:
    h = Harness(max_positions_per_symbol=3)
    h.positions.by_symbol = {"EURUSD": 2}

    assert (await h.intent(signal())).volume == 0.20


async def test_a_netting_account_counts_an_order_in_flight_on_the_symbol() -> None:
    h = Harness(max_positions_per_symbol=3)
    h.market.hedging = False
    await h.risk.on_signal(SignalEvent(signal()))

    assert await h.code(signal()) == "max_positions_per_symbol"
    assert (await h.intent(signal(symbol="GBPUSD", entry=1.3))).volume > 0


# --- 8. manual trades -------------------------------------------------------------------------


async def test_a_manual_trade_with_an_invalid_volume_is_refused_invalid_volume() -> None:
    h = Harness()

    with pytest.raises(RiskRejection) as refused:
        await h.risk.approve_manual(signal(), 0.015)

    assert refused.value.code == "invalid_volume"
    assert "step" in str(refused.value)
    assert h.risk.rejections["invalid_volume"] == 1
    assert h.log.rows[-1]["context"]["code"] == "invalid_volume"


async def test_a_manual_trade_above_the_risk_per_trade_is_refused() -> None:
    h = Harness()

    with pytest.raises(RiskRejection) as refused:
        await h.risk.approve_manual(signal(), 0.5)  # 50 pips × 0.5 lot = 250 > 100

    assert refused.value.code == "risk_per_trade_exceeded"
    assert "250.00" in str(refused.value)
    assert h.orders.count() == 0


async def test_a_manual_trade_at_the_risk_per_trade_is_approved() -> None:
    h = Harness()

    intent = await h.risk.approve_manual(signal(), 0.20)

    assert intent.volume == 0.20
    assert intent.risk_amount == pytest.approx(100.0)


async def test_an_approved_manual_trade_is_in_flight() -> None:
    h = Harness()

    intent = await h.risk.approve_manual(signal(), 0.1)

    assert intent.volume == 0.1
    assert intent.risk_amount == pytest.approx(50.0)
    assert h.orders.count("EURUSD") == 1
    assert h.risk.approved == 1
    assert await h.code(signal()) == "max_positions_per_symbol"


async def test_a_manual_trade_without_a_volume_is_sized() -> None:
    h = Harness()

    assert (await h.risk.approve_manual(signal(), None)).volume == 0.20


async def test_a_manual_trade_is_not_checked_for_staleness() -> None:
    h = Harness(signal_grace_seconds=120)
    h.clock.advance(86_400)
    h.market.requote()

    intent = await h.risk.approve_manual(signal(), 0.1)

    assert intent.volume == 0.1


async def test_a_manual_trade_is_refused_by_the_kill_switch() -> None:
    h = Harness()
    await h.risk.trip_kill_switch("test", actor="me")

    with pytest.raises(RiskRejection) as refused:
        await h.risk.approve_manual(signal(), 0.1)

    assert refused.value.code == "kill_switch"


# --- 9. currency exposure ---------------------------------------------------------------------


def with_currencies(h: Harness) -> None:
    h.market.specs["EURUSD"] = replace(EURUSD, currency_base="EUR", currency_profit="USD")
    h.market.specs["GBPUSD"] = replace(GBPUSD, currency_base="GBP", currency_profit="USD")


async def test_exposure_growing_beyond_its_limit_rejects_max_currency_exposure() -> None:
    # Limit 250 % of 10,000 = 25,000; 0.1 lot held (11,000) + 0.20 new (22,000) = 33,000 EUR.
    h = Harness(max_exposure_per_currency_percent=250)
    with_currencies(h)
    h.positions.held = [Holding("EURUSD", Side.BUY, 0.1, 1.1)]

    refused = await h.rejection(signal(Side.BUY))

    assert refused.code == "max_currency_exposure"
    assert refused.message.startswith("EUR exposure would be 33,000 USD")


async def test_exposure_within_its_limit_passes() -> None:
    h = Harness(max_exposure_per_currency_percent=250)
    with_currencies(h)

    assert (await h.intent(signal(Side.BUY))).volume == 0.20  # 22,000 EUR


async def test_a_trade_reducing_an_excess_exposure_passes() -> None:
    h = Harness(max_exposure_per_currency_percent=250)
    with_currencies(h)
    h.positions.held = [Holding("EURUSD", Side.BUY, 0.5, 1.1)]  # 55,000 EUR already

    assert (await h.intent(signal(Side.SELL))).volume == 0.20


async def test_exposure_counts_orders_in_flight() -> None:
    h = Harness(max_exposure_per_currency_percent=250, max_positions_per_symbol=5)
    with_currencies(h)
    await h.risk.on_signal(SignalEvent(signal(Side.BUY)))

    assert await h.code(signal(Side.BUY)) == "max_currency_exposure"


async def test_exposure_adds_up_a_currency_across_symbols() -> None:
    # Short GBPUSD is short GBP; the USD legs are the account currency.
    h = Harness(max_exposure_per_currency_percent=250)
    with_currencies(h)
    h.positions.held = [Holding("GBPUSD", Side.SELL, 0.1, 1.3)]  # -13,000 GBP

    assert await h.code(signal(Side.SELL, symbol="GBPUSD", entry=1.3)) == ("max_currency_exposure")
    assert (await h.intent(signal(Side.BUY, symbol="EURUSD"))).volume == 0.20


async def test_the_volume_is_sized_before_the_exposure_is_checked() -> None:
    h = Harness(max_exposure_per_currency_percent=1)
    with_currencies(h)
    h.market.equity = 100.0

    assert await h.code(signal()) == "volume_below_minimum"


# --- 10. margin -------------------------------------------------------------------------------


async def test_margin_above_the_free_margin_rejects_insufficient_margin() -> None:
    h = Harness()
    h.market.margin_free = 200.0  # 0.20 lot × 100,000 × 1.1 / 100 = 220 needed

    refused = await h.rejection(signal())

    assert refused.code == "insufficient_margin"
    assert "220.00" in refused.message
    assert "200.00" in refused.message


async def test_margin_in_use_beyond_its_share_of_equity_rejects_margin_limit() -> None:
    h = Harness(max_margin_usage_percent=50)
    h.market.margin = 4_900.0  # + 220 = 5,120 > 50 % of 10,000

    refused = await h.rejection(signal())

    assert refused.code == "margin_limit"
    assert "5120.00" in refused.message


async def test_margin_in_use_within_its_share_of_equity_passes() -> None:
    h = Harness(max_margin_usage_percent=50)
    h.market.margin = 4_700.0  # + 220 = 4,920

    assert (await h.intent(signal())).volume == 0.20


async def test_insufficient_margin_is_checked_before_the_margin_limit() -> None:
    h = Harness(max_margin_usage_percent=50)
    h.market.margin = 9_900.0

    assert await h.code(signal()) == "insufficient_margin"


async def test_a_margin_the_terminal_cannot_compute_rejects_margin_unknown() -> None:
    h = Harness()
    h.market.margin_error = TerminalError("order_calc_margin failed", -1, "no connection")

    assert await h.code(signal()) == "margin_unknown"


async def test_exposure_is_checked_before_the_margin() -> None:
    h = Harness(max_exposure_per_currency_percent=100)
    with_currencies(h)
    h.market.margin_free = 0.0

    assert await h.code(signal()) == "max_currency_exposure"


# --- run-time limits --------------------------------------------------------------------------


async def test_update_limits_applies_valid_changes() -> None:
    h = Harness(max_open_positions=5)

    settings = await h.risk.update_limits({"max_open_positions": 1}, actor="me")

    assert settings.max_open_positions == 1
    assert h.risk.settings is settings
    h.positions.by_symbol = {"GBPUSD": 1}
    assert await h.code(signal()) == "max_open_positions"


async def test_update_limits_keeps_the_limits_not_named() -> None:
    h = Harness(max_open_positions=5, risk_per_trade_percent=0.5)

    settings = await h.risk.update_limits({"max_open_positions": 2}, actor="me")

    assert settings.risk_per_trade_percent == 0.5


async def test_an_invalid_limit_is_refused_naming_the_key_and_changes_nothing() -> None:
    store = FakeStore()
    h = Harness(store=store)
    before = h.risk.settings

    with pytest.raises(InvalidInputError, match="risk_per_trade_percent"):
        await h.risk.update_limits(
            {"max_open_positions": 1, "risk_per_trade_percent": 50}, actor="me"
        )

    assert h.risk.settings == before
    assert h.risk.settings.max_open_positions == 5
    assert LIMITS_KEY not in store.values


async def test_an_unknown_limit_is_refused_naming_it() -> None:
    h = Harness()

    with pytest.raises(InvalidInputError, match="max_lots"):
        await h.risk.update_limits({"max_lots": 3}, actor="me")


async def test_changed_limits_are_stored_and_win_after_a_restart() -> None:
    store = FakeStore()
    await Harness(store=store).risk.update_limits({"max_open_positions": 2}, actor="me")
    assert store.writes == [(LIMITS_KEY, "me")]
    assert store.values[LIMITS_KEY]["max_open_positions"] == 2

    restarted = Harness(store=store, max_open_positions=9)
    await restarted.risk.start()

    assert restarted.risk.settings.max_open_positions == 2


async def test_a_quote_older_than_the_limit_is_stale() -> None:
    h = Harness(max_quote_age_seconds=60)
    h.clock.advance(61)

    assert await h.code(now_signal(h)) == "stale_quote"
    h.market.requote()
    assert (await h.intent(now_signal(h))).volume > 0


async def test_nothing_is_approved_before_the_engine_is_ready() -> None:
    h = Harness()
    h.risk._ready = False  # as built, before the engine reconciled

    assert await h.code(signal()) == "not_ready"


async def test_two_decisions_at_once_cannot_both_take_the_last_slot() -> None:
    h = Harness(max_open_positions=5, max_positions_per_symbol=1)

    first, second = await asyncio.gather(
        h.risk.approve_manual(signal(), 0.1),
        h.risk.approve_manual(signal(), 0.1),
        return_exceptions=True,
    )

    assert isinstance(first, OrderIntent)
    assert isinstance(second, RiskRejection)
    assert second.code == "max_positions_per_symbol"
    assert h.orders.count("EURUSD") == 1


async def test_orders_in_flight_count_as_margin_in_use() -> None:
    h = Harness(max_open_positions=50, max_positions_per_symbol=50, max_margin_usage_percent=5)
    # Each 0.2-lot EURUSD order needs 220 of margin; 5 % of 10,000 is 500: two fit, not three.
    approved = [await h.risk.approve_manual(signal(), 0.2) for _ in range(2)]
    assert len(approved) == 2

    with pytest.raises(RiskRejection) as refused:
        await h.risk.approve_manual(signal(), 0.2)

    assert refused.value.code == "margin_limit"


async def test_a_released_reservation_frees_its_slot() -> None:
    h = Harness(max_open_positions=5, max_positions_per_symbol=1)
    intent = await h.risk.approve_manual(signal(), 0.1)

    h.orders.settle(intent.client_order_id)

    assert h.orders.count() == 0
    assert isinstance(await h.risk.approve_manual(signal(), 0.1), OrderIntent)


async def test_an_unreachable_terminal_is_a_rejection_with_its_code() -> None:
    h = Harness()
    h.market.account_error = TerminalError("account_info failed", -10004, "No IPC connection")

    assert await h.code(signal()) == "terminal_unavailable"


async def test_limits_changed_at_run_time_overlay_the_file_and_keep_its_other_keys() -> None:
    store = FakeStore()
    h = Harness(store=store, max_open_positions=5, max_daily_loss_percent=4)

    await h.risk.update_limits({"max_open_positions": 7}, actor="admin")

    assert store.values[LIMITS_KEY] == {"max_open_positions": 7}
    file_now = RiskSettings(max_open_positions=5, max_daily_loss_percent=2)  # edited file
    fresh = RiskManager(
        file_now, h.market, h.positions, h.bus, h.clock, h.log, orders=h.orders, store=store
    )
    await fresh.start()
    assert (fresh.settings.max_open_positions, fresh.settings.max_daily_loss_percent) == (7, 2)


async def test_a_manual_volume_off_the_step_grid_by_float_error_is_sent_on_the_grid() -> None:
    h = Harness(risk_per_trade_percent=2)

    intent = await h.risk.approve_manual(signal(), 0.1 + 0.2)

    assert intent.volume == 0.3  # not 0.30000000000000004
