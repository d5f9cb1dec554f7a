"""Reconciliation at start: the database is made to agree with the terminal after a crash.

Each test plays a crash at one precise moment of the order path by leaving the database and
the paper account (a real account file, as the daemon keeps it) in the state that moment
leaves, then starts the engine again on them and checks the terminal's truth won, every
correction was reported, and nothing was sent twice.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from trading_rig import MAGIC, START, TradingRig, trading_rig

from forexbot.clock import ManualClock
from forexbot.connectors import mt5_constants as mt5c
from forexbot.database.trades import TradeRepository
from forexbot.domain.trades import NewTrade
from forexbot.domain.trading import Side, TradeStatus
from forexbot.events.types import ReconciliationEvent, SignalEvent

pytestmark = pytest.mark.db


async def write_intent(trades: TradeRepository, client_order_id: str, *, submitted: bool) -> int:
    trade_id = await trades.create_intent(
        NewTrade(
            client_order_id=client_order_id,
            strategy="ma_rsi",
            symbol="EURUSD",
            timeframe="M1",
            side="buy",
            volume=0.1,
            requested_price=1.1,
            sl=1.0,
            tp=1.5,
            signal_time=datetime.fromtimestamp(START, tz=UTC),
            confidence=0.5,
            reason="test",
            market_condition={},
        )
    )
    if submitted:
        await trades.mark_submitted(trade_id)
    return trade_id


def send_at_terminal(
    rig: TradingRig,
    comment: str,
    *,
    tp_points: float = 0,
    magic: int = MAGIC,
    volume: float = 0.1,
) -> int:
    """A buy placed at the terminal directly: what ``order_send`` did before the crash."""
    tick = rig.terminal.symbol_info_tick("EURUSD")
    point = rig.terminal.symbol_info("EURUSD").point
    result = rig.at_terminal(
        action=mt5c.TRADE_ACTION_DEAL,
        volume=volume,
        type=mt5c.ORDER_TYPE_BUY,
        price=tick.ask,
        sl=round(tick.bid - 3000 * point, 5),
        tp=round(tick.bid + tp_points * point, 5) if tp_points else 0.0,
        magic=magic,
        comment=comment,
    )
    return int(result.order)


async def corrections(rig: TradingRig) -> list[dict[str, Any]]:
    rows = await rig.logs.recent(50, component="reconciliation")
    return [row.context for row in rows]


async def test_an_intent_never_sent_is_cancelled_and_reported(db_engine: AsyncEngine) -> None:
    trades = TradeRepository(db_engine)
    trade_id = await write_intent(trades, "fxb-never-sent", submitted=False)

    async with trading_rig(db_engine) as rig:
        record = await rig.trade(trade_id)
        assert record.status is TradeStatus.CANCELLED
        assert "never sent" in (record.close_reason or "")
        assert rig.our_positions() == []
        assert [c["kind"] for c in await corrections(rig)] == ["cancelled"]
        await rig.settle()
        events = rig.seen_of(ReconciliationEvent)
        assert [(e.kind, e.trade_id) for e in events] == [("cancelled", trade_id)]


async def test_a_submitted_order_that_executed_is_opened_from_its_position(
    db_engine: AsyncEngine, tmp_path: Path
) -> None:
    state = tmp_path / "account.json"
    trades = TradeRepository(db_engine)
    trade_id = await write_intent(trades, "fxb-sent-not-recorded", submitted=True)
    async with trading_rig(db_engine, state_path=state, start_engine=False) as before:
        ticket = send_at_terminal(before, "fxb-sent-not-recorded")
        price_open = before.terminal.positions_get(ticket=ticket)[0].price_open

    async with trading_rig(db_engine, state_path=state) as rig:
        record = await rig.trade(trade_id)
        assert record.status is TradeStatus.OPEN
        assert record.mt5_position == ticket
        assert float(record.entry_price or 0) == price_open
        assert [p.ticket for p in rig.our_positions()] == [ticket]
        assert [(c["kind"], c["ticket"]) for c in await corrections(rig)] == [("opened", ticket)]


async def test_a_submitted_order_whose_position_closed_meanwhile_is_settled_from_history(
    db_engine: AsyncEngine, tmp_path: Path
) -> None:
    state = tmp_path / "account.json"
    clock = ManualClock(START)
    trades = TradeRepository(db_engine)
    trade_id = await write_intent(trades, "fxb-opened-and-closed", submitted=True)
    async with trading_rig(db_engine, state_path=state, clock=clock, start_engine=False) as rig:
        ticket = send_at_terminal(rig, "fxb-opened-and-closed", tp_points=20)
        # The daemon is down while the market reaches the take-profit.
        for _ in range(24 * 60):
            clock.advance(60)
            if not rig.our_positions():
                break
        else:
            pytest.fail("the take-profit was never reached")

    async with trading_rig(db_engine, state_path=state, clock=clock) as rig:
        record = await rig.trade(trade_id)
        deals = rig.terminal.history_deals_get(position=ticket)
        exit_deal = next(d for d in deals if d.entry == mt5c.DEAL_ENTRY_OUT)
        assert record.status is TradeStatus.CLOSED
        assert record.mt5_position == ticket
        assert float(record.exit_price or 0) == exit_deal.price
        assert float(record.profit or 0) == round(exit_deal.profit, 2)
        assert record.close_reason == "take_profit"
        assert [c["kind"] for c in await corrections(rig)][::-1] == [
            "opened",
            "closed_from_history",
        ]


async def test_a_submitted_order_that_never_reached_the_terminal_is_cancelled(
    db_engine: AsyncEngine,
) -> None:
    trades = TradeRepository(db_engine)
    trade_id = await write_intent(trades, "fxb-lost-before-sending", submitted=True)

    async with trading_rig(db_engine) as rig:
        record = await rig.trade(trade_id)
        assert record.status is TradeStatus.CANCELLED
        assert "not executed" in (record.close_reason or "")
        assert rig.our_positions() == []


async def test_an_open_trade_whose_take_profit_hit_while_down_is_closed_with_the_deal(
    db_engine: AsyncEngine, tmp_path: Path
) -> None:
    state = tmp_path / "account.json"
    clock = ManualClock(START)
    async with trading_rig(db_engine, state_path=state, clock=clock) as rig:
        rig.bus.publish(SignalEvent(rig.signal(Side.BUY, sl_points=3000, tp_points=25)))
        opened = await rig.wait_for(TradeStatus.OPEN)
        ticket = (await rig.trade(opened.trade_id)).mt5_position
    clock.advance(24 * 3600)  # down for a day: the take-profit is hit meanwhile

    async with trading_rig(db_engine, state_path=state, clock=clock) as rig:
        record = await rig.trade(opened.trade_id)
        deals = rig.terminal.history_deals_get(position=ticket)
        exit_deal = next(d for d in deals if d.entry == mt5c.DEAL_ENTRY_OUT)
        assert exit_deal.reason == mt5c.DEAL_REASON_TP
        assert record.status is TradeStatus.CLOSED
        assert float(record.exit_price or 0) == exit_deal.price
        assert float(record.profit or 0) == round(exit_deal.profit, 2)
        assert record.close_time == datetime.fromtimestamp(
            rig.connector.to_utc(exit_deal.time_msc / 1000), tz=UTC
        )
        assert record.close_reason == "take_profit"


async def test_a_position_with_our_magic_unknown_to_the_database_is_adopted(
    db_engine: AsyncEngine, tmp_path: Path
) -> None:
    state = tmp_path / "account.json"
    async with trading_rig(db_engine, state_path=state, start_engine=False) as before:
        ticket = send_at_terminal(before, "restored-from-backup")
        foreign = send_at_terminal(before, "another-ea", magic=1234)

    async with trading_rig(db_engine, state_path=state) as rig:
        adopted, total = await rig.trades.list(limit=10, offset=0)
        assert total == 1
        record = adopted[0]
        assert record.status is TradeStatus.OPEN
        assert record.strategy == "adopted"
        assert record.mt5_position == ticket
        assert record.client_order_id == "restored-from-backup"
        assert record.timeframe is None
        assert rig.positions.open_count() == 1
        assert foreign not in {t.mt5_position for t in adopted}
        assert [c["kind"] for c in await corrections(rig)] == ["adopted"]


async def test_a_trade_left_closing_with_its_position_whole_is_reopened(
    db_engine: AsyncEngine, tmp_path: Path
) -> None:
    state = tmp_path / "account.json"
    async with trading_rig(db_engine, state_path=state) as rig:
        rig.bus.publish(SignalEvent(rig.signal(Side.BUY, sl_points=3000, tp_points=3000)))
        opened = await rig.wait_for(TradeStatus.OPEN)
        await rig.trades.mark_closing(opened.trade_id)  # the close was never sent

    async with trading_rig(db_engine, state_path=state) as rig:
        record = await rig.trade(opened.trade_id)
        assert record.status is TradeStatus.OPEN
        assert len(rig.our_positions()) == 1
        assert [c["kind"] for c in await corrections(rig)] == ["reopened"]


async def test_a_trade_left_closing_whose_close_executed_is_closed(
    db_engine: AsyncEngine, tmp_path: Path
) -> None:
    state = tmp_path / "account.json"
    async with trading_rig(db_engine, state_path=state) as rig:
        rig.bus.publish(SignalEvent(rig.signal(Side.BUY, sl_points=3000, tp_points=3000)))
        opened = await rig.wait_for(TradeStatus.OPEN)
        record = await rig.trades.mark_closing(opened.trade_id)
        position = rig.our_positions()[0]
        result = rig.close_at_terminal(position.ticket, position.volume, magic=MAGIC)

    async with trading_rig(db_engine, state_path=state) as rig:
        closed = await rig.trade(record.id)
        assert closed.status is TradeStatus.CLOSED
        assert float(closed.exit_price or 0) == result.price
        assert closed.closed_volume == closed.volume
        assert [c["kind"] for c in await corrections(rig)] == ["closed_from_history"]


async def test_every_correction_is_one_system_log_row_with_its_kind(
    db_engine: AsyncEngine,
) -> None:
    trades = TradeRepository(db_engine)
    await write_intent(trades, "fxb-a", submitted=False)
    await write_intent(trades, "fxb-b", submitted=True)

    async with trading_rig(db_engine) as rig:
        rows = await rig.logs.recent(50, component="reconciliation")
        assert sorted(r.context["kind"] for r in rows) == ["cancelled", "cancelled"]
        assert {r.event for r in rows} == {"reconciliation_correction"}
        assert {r.level for r in rows} == {"warning"}


async def test_a_position_partly_closed_while_down_is_adopted_with_its_whole_history(
    db_engine: AsyncEngine, tmp_path: Path
) -> None:
    state = tmp_path / "account.json"
    async with trading_rig(db_engine, state_path=state, start_engine=False) as before:
        ticket = send_at_terminal(before, "fxb-unknown", volume=0.3)
        before.close_at_terminal(ticket, 0.1)

    async with trading_rig(db_engine, state_path=state) as rig:
        record = await rig.trades.get_by_position(ticket)
        assert record is not None
        assert record.status is TradeStatus.OPEN
        assert (float(record.volume), float(record.closed_volume)) == (0.3, 0.1)
        assert float(record.open_volume) == rig.our_positions()[0].volume
        kinds = [c["kind"] for c in await corrections(rig)][::-1]
        assert kinds == ["adopted", "partial_close"]


async def test_a_recent_submitted_trade_is_left_to_its_execution_by_the_periodic_sync(
    db_engine: AsyncEngine,
) -> None:
    async with trading_rig(db_engine) as rig:
        trade_id = await write_intent(rig.trades, "fxb-on-its-way", submitted=True)

        await rig.positions.reconcile(submitted_grace=30.0)
        assert (await rig.trade(trade_id)).status is TradeStatus.SUBMITTED

        await rig.positions.reconcile(submitted_grace=0.0)
        assert (await rig.trade(trade_id)).status is TradeStatus.CANCELLED


async def test_a_late_fill_of_an_order_given_up_is_adopted_with_its_strategy(
    db_engine: AsyncEngine,
) -> None:
    async with trading_rig(db_engine) as rig:
        trade_id = await write_intent(rig.trades, "fxb-late-fill", submitted=True)
        await rig.positions.sync()  # nothing at the terminal: given up
        assert (await rig.trade(trade_id)).status is TradeStatus.CANCELLED

        ticket = send_at_terminal(rig, "fxb-late-fill")  # ...and then it fills after all
        await rig.positions.sync()

        adopted = await rig.trades.get_by_position(ticket)
        assert adopted is not None
        assert (adopted.status, adopted.strategy) == (TradeStatus.OPEN, "ma_rsi")
        assert adopted.execution_details["duplicate_of"] == trade_id
