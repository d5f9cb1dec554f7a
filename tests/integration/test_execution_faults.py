"""Execution under the terminal's faults, injected by the simulator: what is retried, what is
never retried, and how a lost answer ends with exactly one position."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from trading_rig import FAST, TradingRig, trading_rig

from forexbot.domain.trading import OrderIntent, Side, TradeStatus
from forexbot.events.types import SignalEvent

pytestmark = pytest.mark.db


def count_sends(rig: TradingRig, before: Callable[[int], None] | None = None) -> list[Any]:
    """Wrap the terminal's ``order_send`` to count calls; ``before(n)`` runs before call n."""
    real = rig.terminal.order_send
    calls: list[Any] = []

    def order_send(request: dict[str, Any]) -> Any:
        if before is not None:
            before(len(calls))
        calls.append(request)
        return real(request)

    rig.terminal.order_send = order_send  # type: ignore[method-assign]
    return calls


async def test_requotes_are_retried_at_a_fresh_price_until_filled(
    db_engine: AsyncEngine,
) -> None:
    async with trading_rig(db_engine) as rig:

        def requote_twice(n: int) -> None:
            rig.terminal.faults.requote_probability = 1.0 if n < 2 else 0.0

        calls = count_sends(rig, requote_twice)
        rig.bus.publish(SignalEvent(rig.signal(Side.BUY, sl_points=300, tp_points=600)))
        opened = await rig.wait_for(TradeStatus.OPEN)

        record = await rig.trade(opened.trade_id)
        assert len(calls) == 3
        assert record.execution_details["attempts"] == 3
        assert record.execution_details["retcodes"] == [10004, 10004, 10009]
        assert len(rig.our_positions()) == 1


async def test_requotes_stop_after_max_retries_and_the_trade_is_rejected(
    db_engine: AsyncEngine,
) -> None:
    async with trading_rig(db_engine, execution=FAST.model_copy(update={"max_retries": 2})) as rig:
        rig.terminal.faults.requote_probability = 1.0
        calls = count_sends(rig)
        rig.bus.publish(SignalEvent(rig.signal(Side.BUY, sl_points=300, tp_points=600)))
        rejected = await rig.wait_for(TradeStatus.REJECTED)

        record = await rig.trade(rejected.trade_id)
        assert len(calls) == 3  # the first attempt and two retries
        assert record.reject_code == 10004
        assert record.execution_details["retcodes"] == [10004, 10004, 10004]
        assert rig.our_positions() == []


async def test_a_fatal_code_is_never_retried(db_engine: AsyncEngine) -> None:
    async with trading_rig(db_engine) as rig:
        rig.terminal.faults.reject_probability = 1.0
        calls = count_sends(rig)
        rig.bus.publish(SignalEvent(rig.signal(Side.SELL, sl_points=300, tp_points=600)))
        rejected = await rig.wait_for(TradeStatus.REJECTED)

        record = await rig.trade(rejected.trade_id)
        assert len(calls) == 1
        assert record.reject_code == 10006
        assert "request rejected" in (record.reject_message or "")


async def test_no_money_is_rejected_at_once_with_the_terminals_code(
    db_engine: AsyncEngine,
) -> None:
    async with trading_rig(db_engine) as rig:
        calls = count_sends(rig)
        # Straight to execution, past the risk manager's margin check: the server refuses.
        signal = rig.signal(Side.BUY, sl_points=300, tp_points=600)
        trade_id = await rig.execution.execute(OrderIntent("fxb-too-big", signal, 50.0, 100.0))

        record = await rig.trade(trade_id)
        assert record.status is TradeStatus.REJECTED
        assert record.reject_code == 10019
        assert len(calls) == 1


async def test_a_lost_answer_of_an_executed_order_finds_the_position_and_never_resends(
    db_engine: AsyncEngine,
) -> None:
    async with trading_rig(db_engine) as rig:

        def lose_first_answer(n: int) -> None:
            if n == 0:
                rig.terminal.faults.ipc_timeout(calls=1, order_executes=True)

        calls = count_sends(rig, lose_first_answer)
        rig.bus.publish(SignalEvent(rig.signal(Side.BUY, sl_points=300, tp_points=600)))
        opened = await rig.wait_for(TradeStatus.OPEN)

        record = await rig.trade(opened.trade_id)
        positions = rig.our_positions()
        assert len(calls) == 1
        assert [p.ticket for p in positions] == [record.mt5_position]
        assert positions[0].comment == record.client_order_id
        assert record.execution_details["found_after_timeout"] is True


async def test_a_lost_order_that_did_not_execute_is_sent_again_once(
    db_engine: AsyncEngine,
) -> None:
    async with trading_rig(db_engine) as rig:

        def time_out_first(n: int) -> None:
            if n == 0:
                rig.terminal.faults.ipc_timeout(calls=1, order_executes=False)

        calls = count_sends(rig, time_out_first)
        rig.bus.publish(SignalEvent(rig.signal(Side.BUY, sl_points=300, tp_points=600)))
        opened = await rig.wait_for(TradeStatus.OPEN)

        record = await rig.trade(opened.trade_id)
        assert len(calls) == 2
        assert record.execution_details["retcodes"] == [-10005, 10009]
        assert len(rig.our_positions()) == 1


async def test_when_even_the_lookup_fails_the_trade_stays_submitted_until_reconciled(
    db_engine: AsyncEngine,
) -> None:
    async with trading_rig(db_engine) as rig:

        def terminal_unreachable(n: int) -> None:
            # The order executes; its answer and the lookups that follow all time out.
            rig.terminal.faults.ipc_timeout(calls=4, order_executes=True)

        calls = count_sends(rig, terminal_unreachable)
        rig.bus.publish(SignalEvent(rig.signal(Side.BUY, sl_points=300, tp_points=600)))
        submitted = await rig.wait_for(TradeStatus.SUBMITTED)
        await rig.settle()

        record = await rig.trade(submitted.trade_id)
        assert record.status is TradeStatus.SUBMITTED
        assert rig.execution.unknown == 1
        assert rig.orders.count() == 1  # its risk slot is kept meanwhile

        rig.terminal.faults.clear()
        await rig.positions.sync()
        await rig.settle()
        record = await rig.trade(submitted.trade_id)
        assert record.status is TradeStatus.OPEN
        assert [p.ticket for p in rig.our_positions()] == [record.mt5_position]
        assert len(calls) == 1
        assert rig.orders.count() == 0


async def test_slippage_and_latencies_are_recorded_with_the_fill(db_engine: AsyncEngine) -> None:
    async with trading_rig(db_engine) as rig:
        rig.bus.publish(SignalEvent(rig.signal(Side.SELL, sl_points=300, tp_points=600)))
        opened = await rig.wait_for(TradeStatus.OPEN)

        details = (await rig.trade(opened.trade_id)).execution_details
        assert details["filled_price"] == details["requested_price"]
        assert details["slippage_points"] == 0.0
        assert details["latency_ms"] > 0
        assert details["retcodes"] == [10009]
        assert rig.execution.order_latency.count == 1


async def test_an_order_that_fails_before_its_row_is_written_frees_its_risk_slot(
    db_engine: AsyncEngine,
) -> None:
    async with trading_rig(db_engine) as rig:
        intent = await rig.risk.approve_manual(rig.signal(Side.BUY, 300, 600), 0.1)
        assert rig.orders.count() == 1

        def no_spec(symbol: str) -> Any:
            raise KeyError(symbol)  # a bug, before anything is written

        real = rig.connector.spec
        rig.connector.spec = no_spec  # type: ignore[method-assign]
        with pytest.raises(KeyError):
            await rig.execution.execute(intent)
        rig.connector.spec = real  # type: ignore[method-assign]

        assert rig.orders.count() == 0
        assert await rig.trades.list(limit=5, offset=0) == ([], 0)


async def test_a_fill_counts_in_the_exposure_before_the_next_sync(db_engine: AsyncEngine) -> None:
    async with trading_rig(db_engine) as rig:
        rig.bus.publish(SignalEvent(rig.signal(Side.BUY, 300, 600)))
        opened = await rig.wait_for(TradeStatus.OPEN)

        record = await rig.trade(opened.trade_id)
        held = rig.positions.holdings()
        assert [(h.symbol, h.side, h.volume) for h in held] == [
            ("EURUSD", Side.BUY, float(record.volume))
        ]
        assert rig.positions.open_count("EURUSD") == 1
