"""Specification of :class:`forexbot.engine.risk.RiskManager` (rules in the module docstring).

Collaborators are small in-test classes implementing the module's Protocols; the bus is real.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
import pytest_asyncio

from forexbot.clock import ManualClock
from forexbot.config import RiskSettings
from forexbot.domain.market import SymbolSpec, Tick
from forexbot.domain.trading import AccountState, OrderIntent, Side, Signal, TradeStatus
from forexbot.engine.exposure import Holding
from forexbot.engine.risk import RiskManager, new_client_order_id
from forexbot.events.bus import EventBus
from forexbot.events.types import OrderIntentEvent, RiskRejectedEvent, SignalEvent, TradeEvent

EURUSD = SymbolSpec(
    name="EURUSD",
    digits=5,
    point=0.00001,
    tick_size=0.00001,
    tick_value=1.0,
    contract_size=100_000,
    volume_min=0.01,
    volume_max=100.0,
    volume_step=0.01,
)
GBPUSD = replace(EURUSD, name="GBPUSD")

NOW = 1_767_225_600.0


class FakeMarket:
    def __init__(self, equity: float = 10_000.0) -> None:
        self.specs: dict[str, SymbolSpec] = {"EURUSD": EURUSD, "GBPUSD": GBPUSD}
        self.ticks: dict[str, Tick] = {}
        self.equity = equity

    def quote(self, symbol: str, bid: float, ask: float) -> None:
        self.ticks[symbol] = Tick(symbol=symbol, time=NOW, bid=bid, ask=ask)

    def spec(self, symbol: str) -> SymbolSpec:
        return self.specs[symbol]

    def last_tick(self, symbol: str) -> Tick | None:
        return self.ticks.get(symbol)

    async def account(self) -> AccountState:
        return AccountState("USD", self.equity, self.equity, 0.0, self.equity, 100)

    async def order_calc_margin(
        self, side: Side, symbol: str, volume: float, price: float
    ) -> float:
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


class Harness:
    def __init__(self, **settings: Any) -> None:
        self.market = FakeMarket()
        self.market.quote("EURUSD", 1.10000, 1.10000)
        self.market.quote("GBPUSD", 1.30000, 1.30000)
        self.positions = FakePositions()
        self.log = FakeRejectionLog()
        self.bus = EventBus()
        self.clock = ManualClock(NOW)
        self.risk = RiskManager(
            RiskSettings(**settings),
            self.market,
            self.positions,
            self.bus,
            self.clock,
            self.log,
        )
        self.intents: list[OrderIntentEvent] = []
        self.rejected: list[RiskRejectedEvent] = []

        async def on_intent(event: OrderIntentEvent) -> None:
            self.intents.append(event)

        async def on_rejected(event: RiskRejectedEvent) -> None:
            self.rejected.append(event)

        self.bus.subscribe(OrderIntentEvent, on_intent, name="test-intents")
        self.bus.subscribe(RiskRejectedEvent, on_rejected, name="test-rejections")

    async def code(self, sig: Signal) -> str:
        decision = await self.risk.evaluate(sig)
        assert isinstance(decision, tuple), f"expected a rejection, got {decision}"
        return decision[0]

    async def intent(self, sig: Signal) -> OrderIntent:
        decision = await self.risk.evaluate(sig)
        assert isinstance(decision, OrderIntent), f"expected an intent, got {decision}"
        return decision


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("condition not reached in time")
        await asyncio.sleep(0.001)


@pytest_asyncio.fixture(loop_scope="function")
async def h():
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
        assert h.risk.in_flight() == 1

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
    await until(lambda: len(h.intents) == 1)

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
    await until(lambda: len(h.rejected) == 1)

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
    await until(lambda: len(h.intents) == 1)
    client_order_id = h.intents[0].intent.client_order_id
    assert h.risk.in_flight("EURUSD") == 1

    h.bus.publish(TradeEvent(1, status, {"client_order_id": client_order_id}))
    await until(lambda: h.risk.in_flight() == 0)

    assert h.risk.in_flight("EURUSD") == 0
    await h.intent(signal())


async def test_unsettled_or_foreign_trade_events_keep_the_intent_in_flight(h: Harness) -> None:
    h.risk.subscribe()
    h.bus.publish(SignalEvent(signal()))
    await until(lambda: len(h.intents) == 1)
    client_order_id = h.intents[0].intent.client_order_id

    h.bus.publish(TradeEvent(1, TradeStatus.SUBMITTED, {"client_order_id": client_order_id}))
    h.bus.publish(TradeEvent(2, TradeStatus.OPEN, {"client_order_id": "fxb-someone-else"}))
    trades = next(s for s in h.bus.stats() if s.name == "risk-trades")
    await until(lambda: trades.delivered == 2)

    assert h.risk.in_flight("EURUSD") == 1


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
