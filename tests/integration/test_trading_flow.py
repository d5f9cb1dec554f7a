"""The trading path, wired as the daemon wires it: simulated terminal (manual clock) →
connector → risk → execution → position manager, with the real PostgreSQL behind.

Each test drives one behaviour through the real components and checks the database against
what the terminal itself reports.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine
from trading_rig import MAGIC, OPEN_LIMITS, TradingRig, trading_rig

from forexbot.domain.trading import Side, TradeStatus
from forexbot.engine.sizing import loss_per_lot
from forexbot.events.types import BarEvent, SignalEvent, TickEvent


@pytest_asyncio.fixture(loop_scope="function")
async def rig(db_engine: AsyncEngine) -> AsyncIterator[TradingRig]:
    limits = OPEN_LIMITS.model_copy(update={"max_open_positions": 2, "max_positions_per_symbol": 1})
    async with trading_rig(db_engine, risk=limits) as rig:
        yield rig


async def test_approved_signal_opens_one_position_recorded_with_the_terminals_fill(
    rig: TradingRig,
) -> None:
    signal = rig.signal(Side.BUY, sl_points=200, tp_points=400)
    rig.bus.publish(SignalEvent(signal))
    event = await rig.wait_for(TradeStatus.OPEN)

    record = await rig.trades.get(event.trade_id)
    assert record is not None
    positions = rig.terminal.positions_get()
    assert len(positions) == 1
    position = positions[0]
    assert record.status is TradeStatus.OPEN
    assert record.mt5_position == position.ticket
    assert float(record.entry_price or 0) == position.price_open
    assert float(record.volume) == position.volume
    assert position.magic == MAGIC
    assert position.comment == record.client_order_id
    assert record.execution_details["retcode"] == 10009


async def test_volume_risks_at_most_the_configured_percent_of_equity(rig: TradingRig) -> None:
    signal = rig.signal(Side.SELL, sl_points=150, tp_points=300)
    rig.bus.publish(SignalEvent(signal))
    event = await rig.wait_for(TradeStatus.OPEN)
    record = await rig.trades.get(event.trade_id)
    assert record is not None

    spec = rig.connector.spec("EURUSD")
    at_risk = float(record.volume) * loss_per_lot(float(record.entry_price or 0), signal.sl, spec)
    assert at_risk <= 10_000 * 0.01 + 1e-6
    # Rounded down to the step, not far below: one more step would exceed the limit.
    one_more = (float(record.volume) + spec.volume_step) * loss_per_lot(
        float(record.entry_price or 0), signal.sl, spec
    )
    assert one_more > 10_000 * 0.01


async def test_take_profit_hit_at_the_terminal_closes_the_trade_from_the_deals(
    rig: TradingRig,
) -> None:
    rig.bus.publish(SignalEvent(rig.signal(Side.BUY, sl_points=3000, tp_points=30)))
    opened = await rig.wait_for(TradeStatus.OPEN)
    ticket = rig.terminal.positions_get()[0].ticket

    for _ in range(24 * 60):
        rig.clock.advance(60)
        if not rig.terminal.positions_get():
            break
    assert not rig.terminal.positions_get(), "the take-profit was never reached"
    closed_count = await rig.positions.sync()
    assert closed_count == 1

    record = await rig.trades.get(opened.trade_id)
    assert record is not None
    deals = rig.terminal.history_deals_get(position=ticket)
    exit_deal = next(d for d in deals if d.entry == 1)
    assert record.status is TradeStatus.CLOSED
    assert record.close_reason == "take_profit"
    assert float(record.exit_price or 0) == exit_deal.price
    assert float(record.profit or 0) == round(exit_deal.profit, 2)
    assert float(record.profit or 0) > 0
    await rig.wait_for(TradeStatus.CLOSED)
    assert rig.positions.open_count() == 0


async def test_signal_over_the_position_limit_is_rejected_and_recorded(rig: TradingRig) -> None:
    rig.bus.publish(SignalEvent(rig.signal(Side.BUY, sl_points=200, tp_points=400)))
    await rig.wait_for(TradeStatus.OPEN)
    # One per symbol by default: the second EURUSD signal is refused.
    rig.bus.publish(SignalEvent(rig.signal(Side.BUY, sl_points=200, tp_points=400)))
    await rig.settle()

    assert rig.risk.rejections["max_positions_per_symbol"] == 1
    rows = await rig.logs.recent(10, component="risk")
    assert len(rows) == 1
    assert rows[0].event == "signal_rejected"
    assert rows[0].context["code"] == "max_positions_per_symbol"
    assert len(rig.terminal.positions_get()) == 1


async def test_polled_ticks_build_the_terminals_own_m1_bars(rig: TradingRig) -> None:
    bars: list[BarEvent] = []
    ticks: list[TickEvent] = []

    async def on_bar(event: BarEvent) -> None:
        bars.append(event)

    async def on_tick(event: TickEvent) -> None:
        ticks.append(event)

    rig.bus.subscribe(BarEvent, on_bar, name="test-bars")
    rig.bus.subscribe(TickEvent, on_tick, name="test-ticks")
    for _ in range(12):
        rig.clock.advance(30)
        await rig.connector.poll_once()
    await rig.settle()

    tick_times = [t.tick.time for t in ticks]
    assert tick_times == sorted(tick_times)
    assert len(set(tick_times)) == len(tick_times)
    assert len(bars) >= 4
    offset = rig.connector.server_offset
    for event in bars[1:]:  # the first may have been seeded mid-bar
        bar = event.bar
        rates = rig.terminal.copy_rates_range("EURUSD", 1, bar.time + offset, bar.time + offset)
        assert len(rates) == 1
        row = rates[0]
        assert (bar.open, bar.high, bar.low, bar.close) == (
            row["open"],
            row["high"],
            row["low"],
            row["close"],
        )
        assert bar.tick_volume == int(row["tick_volume"])


async def test_order_whose_reply_is_lost_opens_exactly_one_position(rig: TradingRig) -> None:
    """The terminal executes the order but the call times out (−10005): execution finds the
    position by its client order id instead of calling it failed or sending it again."""
    real_order_send = rig.terminal.order_send
    calls: list[dict[str, object]] = []

    def lose_the_reply(request: dict[str, object]) -> object:
        calls.append(request)
        rig.terminal.faults.ipc_timeout(calls=1, order_executes=True)
        return real_order_send(request)

    rig.terminal.order_send = lose_the_reply  # type: ignore[method-assign]
    rig.bus.publish(SignalEvent(rig.signal(Side.BUY, sl_points=200, tp_points=400)))
    event = await rig.wait_for(TradeStatus.OPEN)

    record = await rig.trades.get(event.trade_id)
    assert record is not None
    positions = rig.terminal.positions_get()
    assert len(calls) == 1
    assert len(positions) == 1
    assert record.mt5_position == positions[0].ticket
    assert positions[0].comment == record.client_order_id
    assert record.execution_details["found_after_timeout"] is True
    assert record.execution_details["retcodes"] == [-10005]
