"""Specification of execution's batched intent writes (:mod:`forexbot.engine.execution`, the rule
"intents that queue are written together"): on the daemon's engine, the simulated terminal
and the real PostgreSQL (``trading_rig``). The first write is held on an :class:`asyncio.Event`
so that the intents approved meanwhile queue: each test is an ordering of events, not a race."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
import structlog
from polling import eventually
from sqlalchemy.ext.asyncio import AsyncEngine
from trading_rig import TradingRig, recorded_sends, trading_rig

from forexbot.domain.trades import NewTrade, TradeRecord
from forexbot.domain.trading import OrderIntent, Side, TradeStatus
from forexbot.errors import ForexbotError
from forexbot.events.types import OrderIntentEvent, SignalEvent

pytestmark = pytest.mark.db

SYMBOLS = ("EURUSD", "GBPUSD", "USDJPY")


def record_writes(rig: TradingRig) -> tuple[list[list[str]], asyncio.Event, asyncio.Event]:
    """Record the client order ids of each ``submit_intents`` call; the first call waits for
    the returned ``release`` (``writing`` is set when it does)."""
    real = rig.trades.submit_intents
    calls: list[list[str]] = []
    writing, release = asyncio.Event(), asyncio.Event()

    async def submit_intents(trades: list[NewTrade]) -> list[TradeRecord | ForexbotError]:
        calls.append([trade.client_order_id for trade in trades])
        if len(calls) == 1:
            writing.set()
            await release.wait()
        return await real(trades)

    rig.trades.submit_intents = submit_intents  # type: ignore[method-assign]
    return calls, writing, release


async def approved(rig: TradingRig, symbols: tuple[str, ...]) -> list[OrderIntent]:
    """An intent per symbol, approved by risk (reserved in the orders in flight)."""
    return [
        await rig.risk.approve_manual(rig.signal(Side.BUY, 300, 600, symbol=symbol), 0.1)
        for symbol in symbols
    ]


async def test_intents_approved_while_one_is_written_are_written_together_and_sent_in_order(
    db_engine: AsyncEngine,
) -> None:
    async with trading_rig(db_engine, symbols=SYMBOLS) as rig:
        writes, writing, release = record_writes(rig)
        sends = recorded_sends(rig)
        rig.bus.publish(SignalEvent(rig.signal(Side.BUY, 300, 600, symbol="EURUSD")))
        await writing.wait()
        rig.bus.publish(SignalEvent(rig.signal(Side.SELL, 300, 600, symbol="GBPUSD")))
        rig.bus.publish(SignalEvent(rig.signal(Side.BUY, 300, 600, symbol="USDJPY")))
        await eventually(  # risk approves both; their intents queue behind the held write
            lambda: not rig.bus.busy("risk"), timeout=10.0, what="risk to decide both"
        )

        release.set()
        await rig.settle()

        first, [second, third] = writes
        assert sends == [*first, second, third]
        opened = {t.client_order_id: t.symbol for t in await rig.trades.open_trades()}
        assert opened == {first[0]: "EURUSD", second: "GBPUSD", third: "USDJPY"}
        assert rig.execution.filled == 3
        assert rig.orders.count() == 0


async def test_an_intent_refused_alone_is_logged_and_the_rest_of_its_batch_is_sent(
    db_engine: AsyncEngine,
) -> None:
    async with trading_rig(db_engine, symbols=SYMBOLS) as rig:
        taken = await rig.execution.execute(
            OrderIntent("fxb-taken", rig.signal(Side.BUY, 300, 600), 0.1, 30.0)
        )
        batch = [
            OrderIntent("fxb-batch-1", rig.signal(Side.BUY, 300, 600, symbol="GBPUSD"), 0.1, 30.0),
            OrderIntent("fxb-taken", rig.signal(Side.SELL, 300, 600), 0.2, 60.0),
            OrderIntent("fxb-batch-3", rig.signal(Side.SELL, 300, 600, symbol="USDJPY"), 0.1, 30.0),
        ]
        sends = recorded_sends(rig)

        with structlog.testing.capture_logs() as logs:
            await rig.execution.on_intents([OrderIntentEvent(i) for i in batch])
            await rig.settle()

        assert sends == ["fxb-batch-1", "fxb-batch-3"]
        assert rig.execution.failures == 1
        [failed] = [e for e in logs if e["event"].startswith("order intent failed")]
        assert failed["client_order_id"] == "fxb-taken"
        assert "already belongs to trade" in str(failed["exc_info"])
        assert (await rig.trade(taken)).volume == Decimal("0.1")
        statuses = {t.client_order_id: t.status for t in await rig.trades.open_trades()}
        assert statuses == {
            "fxb-taken": TradeStatus.OPEN,
            "fxb-batch-1": TradeStatus.OPEN,
            "fxb-batch-3": TradeStatus.OPEN,
        }
        assert rig.orders.being_sent() == frozenset()


async def test_a_kill_switch_tripped_while_a_batch_is_written_cancels_all_of_it_unsent(
    db_engine: AsyncEngine,
) -> None:
    async with trading_rig(db_engine, symbols=SYMBOLS) as rig:
        real = rig.trades.submit_intents

        async def submit_then_trip(trades: list[NewTrade]) -> list[TradeRecord | ForexbotError]:
            written = await real(trades)
            await rig.risk.trip_kill_switch("news", actor="me")  # during the write's await
            return written

        rig.trades.submit_intents = submit_then_trip  # type: ignore[method-assign]
        batch = await approved(rig, SYMBOLS)
        reserved = rig.orders.count()

        await rig.execution.on_intents([OrderIntentEvent(i) for i in batch])
        await rig.settle()

        records = [await rig.trades.get_by_client_order_id(i.client_order_id) for i in batch]
        assert [r.status if r else None for r in records] == [TradeStatus.CANCELLED] * 3
        assert all("kill switch" in (r.close_reason or "") for r in records if r)
        assert rig.execution.sent == 0
        assert rig.our_positions() == []
        assert (reserved, rig.orders.count()) == (3, 0)


async def test_a_kill_switch_tripped_between_two_sends_cancels_the_rest_of_the_batch(
    db_engine: AsyncEngine,
) -> None:
    async with trading_rig(db_engine, symbols=SYMBOLS) as rig:
        real = rig.connector.order_send
        ours: list[str] = []

        async def send_then_trip(request: dict[str, Any], timeout: float | None = None) -> Any:
            result = await real(request, timeout)
            if request["comment"].startswith("fxb-"):
                ours.append(request["comment"])
                await rig.risk.trip_kill_switch("news", actor="me")
            return result

        rig.connector.order_send = send_then_trip  # type: ignore[method-assign]
        batch = await approved(rig, SYMBOLS)

        await rig.execution.on_intents([OrderIntentEvent(i) for i in batch])
        await rig.settle()

        records = [await rig.trades.get_by_client_order_id(i.client_order_id) for i in batch]
        assert ours == [batch[0].client_order_id]
        assert [r.status if r else None for r in records[1:]] == [TradeStatus.CANCELLED] * 2
        assert rig.execution.sent == 1
        assert rig.orders.count() == 0


async def test_a_failed_write_fails_every_intent_of_its_batch_and_sends_none(
    db_engine: AsyncEngine,
) -> None:
    async with trading_rig(db_engine, symbols=SYMBOLS) as rig:

        async def unreachable(_trades: list[NewTrade]) -> list[TradeRecord | ForexbotError]:
            raise ConnectionRefusedError("the database is down")

        rig.trades.submit_intents = unreachable  # type: ignore[method-assign]
        batch = await approved(rig, SYMBOLS)
        reserved = rig.orders.count()

        await rig.execution.on_intents([OrderIntentEvent(i) for i in batch])

        assert rig.execution.failures == 3
        assert rig.execution.sent == 0
        assert rig.our_positions() == []
        assert (reserved, rig.orders.count()) == (3, 0)  # not written: nothing holds them


async def test_a_send_cancelled_from_inside_fails_its_intent_only(
    db_engine: AsyncEngine,
) -> None:
    async with trading_rig(db_engine, symbols=SYMBOLS) as rig:
        real = rig.connector.order_send
        calls = 0

        async def first_cancelled(request: dict[str, Any], timeout: float | None = None) -> Any:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise asyncio.CancelledError  # a terminal call cancelled under it
            return await real(request, timeout)

        rig.connector.order_send = first_cancelled  # type: ignore[method-assign]
        batch = await approved(rig, SYMBOLS)
        sends = recorded_sends(rig)

        await rig.execution.on_intents([OrderIntentEvent(i) for i in batch])
        await rig.settle()

        assert sends == [i.client_order_id for i in batch[1:]]
        assert rig.execution.failures == 1
        first = await rig.trades.get_by_client_order_id(batch[0].client_order_id)
        assert first is not None
        assert first.status is TradeStatus.SUBMITTED  # written, fate unknown: reconciliation's
        assert rig.execution.filled == 2


async def test_an_order_listed_twice_in_a_batch_is_sent_once(db_engine: AsyncEngine) -> None:
    async with trading_rig(db_engine, symbols=SYMBOLS) as rig:
        [intent] = await approved(rig, SYMBOLS[:1])
        sends = recorded_sends(rig)

        with structlog.testing.capture_logs() as logs:
            await rig.execution.on_intents([OrderIntentEvent(intent), OrderIntentEvent(intent)])
            await rig.settle()

        assert sends == [intent.client_order_id]
        assert len(rig.our_positions()) == 1
        assert rig.execution.failures == 1
        [failed] = [e for e in logs if e["event"].startswith("order intent failed")]
        assert "IllegalTransition" in repr(failed["exc_info"])
