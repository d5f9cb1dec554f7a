"""The ring behind GET /api/signals: bounded, newest first, decisions matched by identity."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest_asyncio
from polling import eventually

from forexbot.api.recent_signals import RING_SIZE, RecentSignals
from forexbot.api.websockets import signal_data
from forexbot.domain.rejection import RejectCode
from forexbot.domain.trading import OrderIntent, Side, Signal
from forexbot.events.bus import EventBus
from forexbot.events.types import OrderIntentEvent, RiskRejectedEvent, SignalEvent


def signal(n: int = 0) -> Signal:
    return Signal(
        strategy="ma_rsi",
        symbol="EURUSD",
        timeframe="M15",
        side=Side.BUY,
        entry=1.1 + n / 10_000,
        sl=1.09,
        tp=1.12,
        confidence=0.75,
        reason=f"signal {n}",
        bar_time=1_704_164_400 + 900 * n,
        market_condition={"trend": "bullish"},
    )


@pytest_asyncio.fixture(loop_scope="function")
async def bus() -> AsyncIterator[EventBus]:
    bus = EventBus()
    bus.start()
    yield bus
    await bus.close(timeout=1.0)


async def delivered(ring: RecentSignals, count: int) -> None:
    await eventually(
        lambda: len(ring.latest(RING_SIZE)) == count, timeout=5.0, what=f"{count} signals"
    )


async def test_the_ring_starts_empty(bus: EventBus) -> None:
    ring = RecentSignals(bus)
    ring.start()
    assert ring.latest(50) == []


async def test_the_ring_keeps_the_last_200_signals_newest_first(bus: EventBus) -> None:
    ring = RecentSignals(bus)
    ring.start()
    for n in range(250):
        bus.publish(SignalEvent(signal(n)))
    await eventually(
        lambda: ring.latest(1) and ring.latest(1)[0]["reason"] == "signal 249",
        timeout=5.0,
        what="the last signal",
    )
    items = ring.latest(RING_SIZE + 50)
    assert len(items) == RING_SIZE == 200
    assert [item["reason"] for item in items] == [f"signal {n}" for n in range(249, 49, -1)]


async def test_limit_gives_the_newest_signals(bus: EventBus) -> None:
    ring = RecentSignals(bus)
    ring.start()
    for n in range(5):
        bus.publish(SignalEvent(signal(n)))
    await delivered(ring, 5)
    assert [item["reason"] for item in ring.latest(2)] == ["signal 4", "signal 3"]


async def test_an_item_is_the_websocket_data_plus_the_risk_decision(bus: EventBus) -> None:
    ring = RecentSignals(bus)
    ring.start()
    sent = signal(1)
    bus.publish(SignalEvent(sent))
    await delivered(ring, 1)
    assert ring.latest(1) == [signal_data(sent) | {"risk": None}]


async def test_an_approval_and_a_rejection_are_shown_on_their_own_signals(bus: EventBus) -> None:
    ring = RecentSignals(bus)
    ring.start()
    approved, rejected, undecided = signal(1), signal(2), signal(3)
    for sent in (approved, rejected, undecided):
        bus.publish(SignalEvent(sent))
    bus.publish(OrderIntentEvent(OrderIntent("c-1", approved, volume=0.2, risk_amount=50.0)))
    bus.publish(
        RiskRejectedEvent(rejected, RejectCode.SPREAD_TOO_WIDE, "the spread is 40 points", 1.0)
    )
    await eventually(
        lambda: [item["risk"] is not None for item in ring.latest(3)] == [False, True, True],
        timeout=5.0,
        what="both decisions",
    )
    risks = [item["risk"] for item in ring.latest(3)]
    assert risks == [
        None,
        {"decision": "rejected", "code": "spread_too_wide", "message": "the spread is 40 points"},
        {"decision": "approved", "client_order_id": "c-1", "volume": 0.2},
    ]


async def test_a_decision_goes_to_that_very_signal_not_to_an_equal_one(bus: EventBus) -> None:
    ring = RecentSignals(bus)
    first, twin = signal(1), signal(1)
    assert first == twin
    await ring.on_signal(SignalEvent(first))
    await ring.on_signal(SignalEvent(twin))
    await ring.on_rejection(RiskRejectedEvent(first, RejectCode.COOLDOWN, "cooling down", 1.0))
    assert [item["risk"] for item in ring.latest(2)] == [
        None,
        {"decision": "rejected", "code": "cooldown", "message": "cooling down"},
    ]


async def test_a_decision_delivered_before_its_signal_waits_for_it(bus: EventBus) -> None:
    ring = RecentSignals(bus)
    sent = signal(1)
    await ring.on_intent(OrderIntentEvent(OrderIntent("c-9", sent, volume=0.1, risk_amount=9.0)))
    assert ring.latest(5) == []
    await ring.on_signal(SignalEvent(sent))
    assert ring.latest(1)[0]["risk"] == {
        "decision": "approved",
        "client_order_id": "c-9",
        "volume": 0.1,
    }


async def test_a_stopped_ring_takes_no_more_signals_and_keeps_what_it_has(bus: EventBus) -> None:
    ring = RecentSignals(bus)
    ring.start()
    bus.publish(SignalEvent(signal(1)))
    await delivered(ring, 1)
    ring.stop()
    assert not [s for s in bus.stats() if s.name == "api-recent-signals"]
    bus.publish(SignalEvent(signal(2)))
    await eventually(bus.idle, timeout=5.0, what="the bus to be idle")
    assert [item["reason"] for item in ring.latest(5)] == ["signal 1"]


async def test_listeners_hear_each_decision_with_its_signals_item(bus: EventBus) -> None:
    ring = RecentSignals(bus)
    heard: list[dict[str, object]] = []
    ring.listen(heard.append)
    approved, rejected = signal(1), signal(2)
    await ring.on_signal(SignalEvent(approved))
    await ring.on_signal(SignalEvent(rejected))
    assert heard == []  # no decision yet
    await ring.on_intent(OrderIntentEvent(OrderIntent("c-1", approved, volume=0.2, risk_amount=5)))
    await ring.on_rejection(RiskRejectedEvent(rejected, RejectCode.COOLDOWN, "cooling down", 1.0))
    assert heard == [
        signal_data(approved)
        | {"risk": {"decision": "approved", "client_order_id": "c-1", "volume": 0.2}},
        signal_data(rejected)
        | {"risk": {"decision": "rejected", "code": "cooldown", "message": "cooling down"}},
    ]


async def test_a_decision_ahead_of_its_signal_is_heard_when_the_signal_arrives(
    bus: EventBus,
) -> None:
    ring = RecentSignals(bus)
    heard: list[dict[str, object]] = []
    ring.listen(heard.append)
    sent = signal(1)
    await ring.on_intent(OrderIntentEvent(OrderIntent("c-9", sent, volume=0.1, risk_amount=9.0)))
    assert heard == []
    await ring.on_signal(SignalEvent(sent))
    assert heard == [ring.latest(1)[0]]
    assert heard[0]["risk"] == {"decision": "approved", "client_order_id": "c-9", "volume": 0.1}


async def test_a_decision_on_no_signal_is_not_heard(bus: EventBus) -> None:
    # A refused manual trade: the risk manager decides on a signal no strategy emitted.
    ring = RecentSignals(bus)
    heard: list[dict[str, object]] = []
    ring.listen(heard.append)
    await ring.on_rejection(RiskRejectedEvent(signal(1), RejectCode.COOLDOWN, "cooling", 1.0))
    await ring.on_signal(SignalEvent(signal(2)))
    assert heard == []


def test_an_items_time_is_the_close_of_its_bar_so_timeframes_compare_by_when_they_came() -> None:
    h4 = replace(signal(), timeframe="H4", bar_time=1_704_153_600)  # 00:00, closes 04:00
    m5 = replace(signal(), timeframe="M5", bar_time=1_704_166_800)  # 03:40, closes 03:45
    assert (signal_data(h4)["bar_time"], signal_data(h4)["time"]) == (
        "2024-01-02T00:00:00.000Z",
        "2024-01-02T04:00:00.000Z",
    )
    assert (signal_data(m5)["bar_time"], signal_data(m5)["time"]) == (
        "2024-01-02T03:40:00.000Z",
        "2024-01-02T03:45:00.000Z",
    )
    assert signal_data(h4)["time"] > signal_data(m5)["time"]


def test_a_signal_on_an_unknown_timeframe_has_its_bars_open_time() -> None:
    odd = replace(signal(), timeframe="W1")
    assert signal_data(odd)["time"] == signal_data(odd)["bar_time"]
