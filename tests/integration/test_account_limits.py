"""The account-level limits on the real engine: the drawdown kill switch closes everything and
halts until resumed (also across a restart); the daily loss stops opening for the day."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from trading_rig import MAGIC, OPEN_LIMITS, TradingRig, trading_rig

from forexbot.clock import ManualClock
from forexbot.connectors import mt5_constants as mt5c
from forexbot.domain.trades import NewTrade, TradeRecord
from forexbot.domain.trading import Side, TradeStatus
from forexbot.engine import kill_switch as kill_switch_module
from forexbot.errors import DatabaseError, ForexbotError
from forexbot.events.types import KillSwitchEvent, RiskLimitEvent, RiskRejectedEvent, SignalEvent

pytestmark = pytest.mark.db


async def open_two(rig: TradingRig) -> list[int]:
    ids = []
    for symbol, side in (("EURUSD", Side.BUY), ("GBPUSD", Side.SELL)):
        rig.bus.publish(SignalEvent(rig.signal(side, 3000, 3000, symbol=symbol)))
        await rig.settle()
        ids.append((await rig.wait_for(TradeStatus.OPEN, len(ids) + 1)).trade_id)
    return ids


async def rejection_codes(rig: TradingRig) -> list[str]:
    await rig.settle()
    return [e.code for e in rig.seen_of(RiskRejectedEvent)]


async def test_drawdown_trips_the_kill_switch_which_closes_everything_and_halts(
    db_engine: AsyncEngine,
) -> None:
    # 0.001 % below the peak: the spread paid on opening is enough to reach it.
    limits = OPEN_LIMITS.model_copy(update={"max_drawdown_percent": 0.001})
    async with trading_rig(db_engine, symbols=("EURUSD", "GBPUSD"), risk=limits) as rig:
        ids = await open_two(rig)
        assert len(rig.our_positions()) == 2
        await rig.positions.sync()  # equity below the peak: the kill switch trips
        await rig.settle()

        assert rig.our_positions() == []
        for trade_id in ids:
            record = await rig.trade(trade_id)
            assert record.status is TradeStatus.CLOSED
            assert record.close_reason == "kill_switch"
        trips = rig.seen_of(KillSwitchEvent)
        assert [(t.active, t.code) for t in trips] == [(True, "max_drawdown")]
        logged = [r for r in await rig.logs.recent(20) if r.event == "kill_switch"]
        assert [r.level for r in logged] == ["critical"]

        rig.bus.publish(SignalEvent(rig.signal(Side.BUY, 3000, 3000)))
        assert await rejection_codes(rig) == ["kill_switch"]
        assert rig.our_positions() == []


async def test_the_kill_switch_stays_on_across_a_restart_until_resumed(
    db_engine: AsyncEngine, tmp_path: Path
) -> None:
    state = tmp_path / "account.json"
    clock = ManualClock(1_773_136_800.0)
    async with trading_rig(db_engine, state_path=state, clock=clock) as rig:
        await rig.risk.trip_kill_switch("going on holiday", actor="me")

    async with trading_rig(db_engine, state_path=state, clock=clock) as rig:
        assert rig.risk.halted() == "kill switch: going on holiday"
        rig.bus.publish(SignalEvent(rig.signal(Side.BUY, 3000, 3000)))
        assert await rejection_codes(rig) == ["kill_switch"]

        await rig.risk.resume(actor="me")
        rig.bus.publish(SignalEvent(rig.signal(Side.BUY, 3000, 3000)))
        await rig.wait_for(TradeStatus.OPEN)
        assert len(rig.our_positions()) == 1


async def test_a_restart_finishes_a_close_all_the_crash_interrupted(
    db_engine: AsyncEngine, tmp_path: Path
) -> None:
    state = tmp_path / "account.json"
    async with trading_rig(db_engine, state_path=state) as rig:
        rig.bus.publish(SignalEvent(rig.signal(Side.BUY, 3000, 3000)))
        opened = await rig.wait_for(TradeStatus.OPEN)
        # The switch tripped and was stored, but the process died before closing anything.
        rig.risk.guard_state.kill_switch = True
        rig.risk.guard_state.kill_reason = "drawdown"
        await rig.store.put("risk.state", rig.risk.guard_state.to_dict(), updated_by="test")

    async with trading_rig(db_engine, state_path=state) as rig:
        assert rig.our_positions() == []
        record = await rig.trade(opened.trade_id)
        assert (record.status, record.close_reason) == (TradeStatus.CLOSED, "kill_switch")


async def test_an_intent_approved_before_the_kill_switch_is_cancelled_not_sent(
    db_engine: AsyncEngine,
) -> None:
    async with trading_rig(db_engine) as rig:
        signal = rig.signal(Side.BUY, 3000, 3000)
        intent = await rig.risk.evaluate(signal)
        await rig.risk.trip_kill_switch("stop", actor="me")
        trade_id = await rig.execution.execute(intent)

        record = await rig.trade(trade_id)
        assert record.status is TradeStatus.CANCELLED
        assert "kill switch" in (record.close_reason or "")
        assert rig.our_positions() == []


async def test_a_kill_switch_tripped_while_the_intent_is_written_cancels_it_unsent(
    db_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with trading_rig(db_engine) as rig:
        submit = rig.trades.submit_intents

        async def submit_then_trip(trades: list[NewTrade]) -> list[TradeRecord | ForexbotError]:
            written = await submit(trades)
            await rig.risk.trip_kill_switch("news", actor="me")  # during the write's await
            return written

        monkeypatch.setattr(rig.trades, "submit_intents", submit_then_trip)
        intent = await rig.risk.evaluate(rig.signal(Side.BUY, 3000, 3000))
        trade_id = await rig.execution.execute(intent)

        record = await rig.trade(trade_id)
        assert record.status is TradeStatus.CANCELLED
        assert "kill switch" in (record.close_reason or "")
        assert rig.our_positions() == []
        assert rig.execution.sent == 0


async def test_daily_loss_stops_opening_for_the_day_and_keeps_the_positions(
    db_engine: AsyncEngine,
) -> None:
    limits = OPEN_LIMITS.model_copy(update={"max_daily_loss_percent": 0.001})
    async with trading_rig(db_engine, risk=limits) as rig:
        rig.bus.publish(SignalEvent(rig.signal(Side.BUY, 3000, 3000)))
        await rig.wait_for(TradeStatus.OPEN)
        await rig.positions.sync()
        await rig.settle()

        assert [e.code for e in rig.seen_of(RiskLimitEvent)] == ["daily_loss_limit"]
        assert len(rig.our_positions()) == 1  # kept: its stop-loss still protects it
        rig.bus.publish(SignalEvent(rig.signal(Side.SELL, 3000, 3000)))
        assert await rejection_codes(rig) == ["daily_loss_limit"]

        # The next trading day (the broker's midnight) lifts the halt.
        rig.clock.advance(24 * 3600)
        await rig.connector.poll_once()
        await rig.positions.sync()
        await rig.settle()
        assert rig.risk.guard_state.daily_halt is False
        rig.bus.publish(SignalEvent(rig.signal(Side.SELL, 3000, 3000)))
        await rig.settle()
        assert len(rig.our_positions()) == 2


async def test_while_halted_a_position_still_open_is_closed_again(
    db_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kill_switch_module, "CLOSE_ALL_RETRY", 0.0)
    async with trading_rig(db_engine) as rig:
        await rig.risk.trip_kill_switch("stop", actor="me")
        # Someone opens a position with the bot's magic number in the terminal meanwhile.
        result = rig.at_terminal(
            action=mt5c.TRADE_ACTION_DEAL,
            volume=0.1,
            type=mt5c.ORDER_TYPE_BUY,
            price=rig.terminal.symbol_info_tick("EURUSD").ask,
            magic=MAGIC,
            comment="by hand",
        )
        await rig.positions.sync()  # adopted, then the account event closes it
        await rig.settle()

        assert rig.our_positions() == []
        adopted = await rig.trades.get_by_position(result.order)
        assert adopted is not None
        assert (adopted.status, adopted.close_reason) == (TradeStatus.CLOSED, "kill_switch")


async def test_the_kill_switch_closes_at_the_terminal_when_the_database_is_down(
    db_engine: AsyncEngine,
) -> None:
    async with trading_rig(db_engine) as rig:
        rig.bus.publish(SignalEvent(rig.signal(Side.BUY, 3000, 3000)))
        opened = await rig.wait_for(TradeStatus.OPEN)

        async def database_down(_ticket: int) -> None:
            raise DatabaseError("connection refused")

        real = rig.trades.get_by_position
        rig.trades.get_by_position = database_down  # type: ignore[method-assign]
        closed = await rig.risk.trip_kill_switch("database trouble", actor="me")
        rig.trades.get_by_position = real  # type: ignore[method-assign]

        assert closed == 1
        assert rig.our_positions() == []
        await rig.positions.sync()  # the database is back: the close is recorded
        record = await rig.trade(opened.trade_id)
        assert (record.status, record.close_reason) == (TradeStatus.CLOSED, "kill_switch")


async def test_an_order_filled_after_the_kill_switch_tripped_is_closed_at_once(
    db_engine: AsyncEngine,
) -> None:
    async with trading_rig(db_engine) as rig:
        signal = rig.signal(Side.BUY, 3000, 3000)
        intent = await rig.risk.evaluate(signal)
        real = rig.terminal.order_send

        def trip_while_sending(request: dict[str, object]) -> object:
            result = real(request)
            rig.risk.guard_state.kill_switch = True  # tripped while the order was on its way
            rig.risk.guard_state.kill_reason = "drawdown"
            return result

        rig.terminal.order_send = trip_while_sending  # type: ignore[method-assign]
        trade_id = await rig.execution.execute(intent)
        rig.terminal.order_send = real  # type: ignore[method-assign]
        await rig.settle()

        record = await rig.trade(trade_id)
        assert (record.status, record.close_reason) == (TradeStatus.CLOSED, "kill_switch")
        assert rig.our_positions() == []
