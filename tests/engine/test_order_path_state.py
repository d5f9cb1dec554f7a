"""Specification of :class:`~forexbot.engine.order_path.OrderPath`: what the strategy manager
gives way to. The order path is busy while it has work on the event loop; an order waiting
for the terminal's answer, or an intent waiting for the database's commit, is not such work."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from trading_rig import hold_terminal_call, trading_rig

from forexbot.domain.trading import OrderIntent, Side, TradeStatus
from forexbot.engine.order_path import OrderPath
from forexbot.events.bus import EventBus
from forexbot.events.types import OrderIntentEvent, SignalEvent


class Held:
    """A bus handler that takes an event and holds it until released."""

    def __init__(self) -> None:
        self.taken = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self, _event: Any) -> None:
        self.taken.set()
        await self.release.wait()


@pytest.fixture
async def bus() -> AsyncIterator[EventBus]:
    bus = EventBus()
    yield bus
    await bus.close(timeout=1.0)


async def in_hand(bus: EventBus, name: str) -> Held:
    """A subscriber ``name`` (risk: signals, execution: intents) holding one event."""
    held = Held()
    kind = SignalEvent if name == "risk" else OrderIntentEvent
    bus.subscribe(kind, held, name=name)
    bus.start()
    bus.publish(kind(object()))  # type: ignore[arg-type]
    await held.taken.wait()
    return held


def test_an_idle_order_path_is_not_busy() -> None:
    assert not OrderPath(EventBus()).busy()


async def test_a_signal_in_risks_hands_makes_it_busy(bus: EventBus) -> None:
    path = OrderPath(bus)

    risk = await in_hand(bus, "risk")

    assert path.busy()
    risk.release.set()


async def test_an_intent_being_written_makes_it_busy(bus: EventBus) -> None:
    path = OrderPath(bus)

    execution = await in_hand(bus, "execution")

    assert path.busy()
    execution.release.set()


async def test_an_order_waiting_for_the_terminals_answer_does_not(bus: EventBus) -> None:
    path = OrderPath(bus)
    execution = await in_hand(bus, "execution")

    with path.at_terminal():
        assert path.waiting_for_terminal()
        assert not path.busy()
    assert path.busy()
    execution.release.set()


async def test_an_intent_waiting_for_its_commit_does_not(bus: EventBus) -> None:
    path = OrderPath(bus)
    execution = await in_hand(bus, "execution")

    with path.at_database():
        assert path.waiting_for_database()
        assert not path.busy()
    assert path.busy()
    execution.release.set()


async def test_a_signal_at_risk_is_busy_even_while_an_intent_is_committed(
    bus: EventBus,
) -> None:
    path = OrderPath(bus)
    risk = await in_hand(bus, "risk")

    with path.at_database():
        assert path.busy()
    risk.release.set()


async def test_a_signal_at_risk_is_busy_even_while_an_order_waits_for_its_answer(
    bus: EventBus,
) -> None:
    path = OrderPath(bus)
    risk = await in_hand(bus, "risk")

    with path.at_terminal():
        assert path.busy()
    risk.release.set()


@pytest.mark.db
async def test_the_engine_marks_its_order_send_as_waiting_for_the_terminal(
    db_engine: AsyncEngine,
) -> None:
    """The daemon's wiring: while the terminal's ``order_send`` is held in the worker thread,
    the order path waits for the terminal and is not busy; once answered, it waits no more."""
    seen: list[bool] = []
    async with trading_rig(db_engine) as rig:
        path = rig.order_path
        entered, release = hold_terminal_call(rig, "order_send")
        rig.bus.publish(SignalEvent(rig.signal(Side.BUY, 300, 600)))
        await asyncio.to_thread(entered.wait, 10)
        seen.append(path.waiting_for_terminal())
        seen.append(path.busy())
        release.set()
        await rig.wait_for(TradeStatus.OPEN)
        seen.append(path.waiting_for_terminal())

    assert seen == [True, False, False]


@pytest.mark.db
async def test_a_manual_order_waiting_for_the_broker_leaves_the_order_path_as_it_is(
    db_engine: AsyncEngine,
) -> None:
    """A manual order (the API's, outside the bus) waiting for its answer does not make the
    order path look idle while a signal's intent would be written."""
    async with trading_rig(db_engine) as rig:
        entered, release = hold_terminal_call(rig, "order_send")
        intent = await rig.risk.evaluate(rig.signal(Side.BUY, 300, 600), manual=True)
        assert isinstance(intent, OrderIntent)
        manual = asyncio.ensure_future(rig.execution.execute(intent))
        await asyncio.to_thread(entered.wait, 10)

        waiting = rig.order_path.waiting_for_terminal()
        release.set()
        await manual

    assert waiting is False


@pytest.mark.db
async def test_the_engine_marks_its_intent_write_as_waiting_for_the_database(
    db_engine: AsyncEngine,
) -> None:
    """While the intent's write waits for the server, the order path is not busy; once it is
    written (and the order sent), it waits for the database no more."""
    seen: list[bool] = []
    async with trading_rig(db_engine) as rig:
        path = rig.order_path
        writing, release = asyncio.Event(), asyncio.Event()
        submit = rig.trades.submit_intents

        async def held_submit(trades: Any) -> Any:
            writing.set()
            await release.wait()
            return await submit(trades)

        rig.trades.submit_intents = held_submit  # type: ignore[method-assign]
        rig.bus.publish(SignalEvent(rig.signal(Side.BUY, 300, 600)))
        await asyncio.wait_for(writing.wait(), 10)
        seen.append(path.waiting_for_database())
        seen.append(path.busy())
        release.set()
        await rig.wait_for(TradeStatus.OPEN)
        seen.append(path.waiting_for_database())

    assert seen == [True, False, False]
