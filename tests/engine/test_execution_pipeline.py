"""Specification of execution's pipelining (:mod:`forexbot.engine.execution`, the rule "the next
order does not wait for the previous one's settlement").

The daemon's engine on the simulated terminal and the real PostgreSQL (``trading_rig``); the
trade store's ``mark_open`` is held on an :class:`asyncio.Event` to keep a settlement pending,
so each test is an ordering of events, not a race.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
import structlog
from polling import eventually
from sqlalchemy.ext.asyncio import AsyncEngine
from trading_rig import TradingRig, recorded_sends, trading_rig

from forexbot.domain.trades import Fill, TradeRecord
from forexbot.domain.trading import OrderIntent, Side, TradeStatus
from forexbot.engine import execution as execution_module
from forexbot.events.types import SignalEvent

pytestmark = pytest.mark.db


def hold_first_mark_open(rig: TradingRig) -> tuple[asyncio.Event, asyncio.Event]:
    """Make the first ``mark_open`` wait for the returned ``release``; ``entered`` is set when
    it starts waiting. Later calls go straight through."""
    real: Callable[[int, Fill], Awaitable[TradeRecord]] = rig.trades.mark_open
    entered, release = asyncio.Event(), asyncio.Event()
    calls = 0

    async def mark_open(trade_id: int, fill: Fill) -> TradeRecord:
        nonlocal calls
        calls += 1
        if calls == 1:
            entered.set()
            await release.wait()
        return await real(trade_id, fill)

    rig.trades.mark_open = mark_open  # type: ignore[method-assign]
    return entered, release


async def submitted_trades(rig: TradingRig) -> list[TradeRecord]:
    return [t for t in await rig.trades.open_trades() if t.status is TradeStatus.SUBMITTED]


async def test_the_next_intent_is_sent_before_the_previous_settlement_is_written(
    db_engine: AsyncEngine,
) -> None:
    async with trading_rig(db_engine, symbols=("EURUSD", "GBPUSD")) as rig:
        sends = recorded_sends(rig)
        entered, release = hold_first_mark_open(rig)
        rig.bus.publish(SignalEvent(rig.signal(Side.BUY, 300, 600, symbol="EURUSD")))
        await entered.wait()  # the first order is filled and its settlement is writing
        rig.bus.publish(SignalEvent(rig.signal(Side.SELL, 300, 600, symbol="GBPUSD")))

        second = await rig.wait_for(TradeStatus.OPEN)  # the first is still held

        assert len(sends) == 2
        first = await rig.trades.get_by_client_order_id(sends[0])
        assert first is not None
        assert first.status is TradeStatus.SUBMITTED
        assert second.trade.client_order_id == sends[1]
        release.set()
        await rig.settle()
        assert (await rig.trade(first.id)).status is TradeStatus.OPEN
        assert rig.execution.filled == 2


async def test_a_settling_order_is_being_sent_and_reserved_and_reconciliation_leaves_it(
    db_engine: AsyncEngine,
) -> None:
    async with trading_rig(db_engine) as rig:
        sends = recorded_sends(rig)
        entered, release = hold_first_mark_open(rig)
        rig.bus.publish(SignalEvent(rig.signal(Side.BUY, 300, 600)))
        await entered.wait()
        coid = sends[0]

        assert rig.execution.settling() == 1
        assert coid in rig.orders.being_sent()
        assert rig.orders.count("EURUSD") == 1
        assert rig.orders.reserved_margin() == 0  # answered: its margin is the account's
        assert rig.terminal.account_info().margin > 0
        assert not rig.bus.idle()  # a drain waits for the settlement
        assert not rig.bus.busy("execution")  # the next intent is taken at once
        await rig.positions.sync()  # its position is at the terminal, its row is submitted
        [pending] = await submitted_trades(rig)
        assert pending.client_order_id == coid
        assert len(rig.our_positions()) == 1

        release.set()
        opened = await rig.wait_for(TradeStatus.OPEN)
        await rig.settle()
        assert opened.trade.client_order_id == coid
        assert opened.trade.mt5_position == rig.our_positions()[0].ticket
        assert rig.orders.being_sent() == frozenset()
        assert rig.orders.count() == 0
        assert rig.execution.settling() == 0


async def test_stopping_waits_for_a_pending_settlement(db_engine: AsyncEngine) -> None:
    async with trading_rig(db_engine) as rig:
        entered, release = hold_first_mark_open(rig)
        rig.bus.publish(SignalEvent(rig.signal(Side.BUY, 300, 600)))
        await entered.wait()
        [pending] = await submitted_trades(rig)

        stopping = asyncio.create_task(rig.engine.stop())
        for _ in range(20):
            await asyncio.sleep(0)
        assert not stopping.done()
        release.set()
        await stopping

        assert (await rig.trade(pending.id)).status is TradeStatus.OPEN
        assert rig.execution.settling() == 0


async def test_a_failing_settlement_is_logged_and_counted_and_the_next_orders_go_on(
    db_engine: AsyncEngine,
) -> None:
    async with trading_rig(db_engine) as rig:
        real = rig.trades.mark_open
        failures = 0

        async def mark_open(trade_id: int, fill: Fill) -> TradeRecord:
            nonlocal failures
            if failures == 0:
                failures += 1
                raise ConnectionError("the database went away")
            return await real(trade_id, fill)

        rig.trades.mark_open = mark_open  # type: ignore[method-assign]
        with structlog.testing.capture_logs() as logs:
            rig.bus.publish(SignalEvent(rig.signal(Side.BUY, 300, 600)))
            await rig.settle()
        [failed] = await submitted_trades(rig)
        rig.bus.publish(SignalEvent(rig.signal(Side.SELL, 300, 600)))
        opened = await rig.wait_for(TradeStatus.OPEN)

        assert rig.execution.settle_failures == 1
        assert [e["trade_id"] for e in logs if e["event"].startswith("settlement failed")] == [
            failed.id
        ]
        assert opened.trade_id != failed.id
        assert failed.client_order_id not in rig.orders.being_sent()
        await rig.positions.sync()  # the backstop: reconciliation finds its position
        assert (await rig.trade(failed.id)).status is TradeStatus.OPEN


async def test_execute_returns_after_the_settlement(db_engine: AsyncEngine) -> None:
    async with trading_rig(db_engine) as rig:
        signal = rig.signal(Side.BUY, 300, 600)

        trade_id = await rig.execution.execute(OrderIntent("fxb-by-hand", signal, 0.1, 30.0))

        assert (await rig.trade(trade_id)).status is TradeStatus.OPEN
        assert rig.execution.settling() == 0


async def test_a_settlement_waits_while_the_burst_is_still_analysed(
    db_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(execution_module, "MAX_SETTLE_DEFER", 60.0)  # only the analysis ends it
    analysing = [True]
    async with trading_rig(db_engine, settle_after=lambda: analysing[0]) as rig:
        sends = recorded_sends(rig)
        rig.bus.publish(SignalEvent(rig.signal(Side.BUY, 300, 600)))
        await eventually(lambda: rig.execution.settling() == 1, timeout=5.0, what="a settlement")
        await asyncio.sleep(0.05)  # the settlement task has had many turns of the loop

        [pending] = await submitted_trades(rig)
        assert pending.client_order_id == sends[0]
        analysing[0] = False
        opened = await rig.wait_for(TradeStatus.OPEN)
        assert opened.trade.client_order_id == sends[0]


async def test_a_settlement_waits_for_the_analysis_no_longer_than_its_bound(
    db_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    bound = 0.2
    monkeypatch.setattr(execution_module, "MAX_SETTLE_DEFER", bound)
    async with trading_rig(db_engine, settle_after=lambda: True) as rig:  # never ends
        loop = asyncio.get_running_loop()
        published = loop.time()
        rig.bus.publish(SignalEvent(rig.signal(Side.BUY, 300, 600)))

        opened = await rig.wait_for(TradeStatus.OPEN, timeout=bound + 10.0)

        assert opened.trade.status is TradeStatus.OPEN
        assert loop.time() - published >= bound
