"""A terminal outage longer than a bar, during which the take-profit of an open trade is hit:
after the connector reconnects, reconciliation closes the trade with the terminal's price and
profit — at once, not at the next periodic sync."""

from __future__ import annotations

import pytest
from polling import eventually
from sqlalchemy.ext.asyncio import AsyncEngine
from trading_rig import trading_rig

from forexbot.connectors import mt5_constants as mt5c
from forexbot.domain.trading import Side, TradeStatus
from forexbot.events.types import ConnectionState, SignalEvent

pytestmark = pytest.mark.db


async def test_take_profit_hit_during_an_outage_is_recorded_after_the_reconnect(
    db_engine: AsyncEngine,
) -> None:
    # Polls every 20 ms, periodic sync every hour: only the reconnect can settle the trade.
    async with trading_rig(db_engine, poll_interval=0.02) as rig:
        rig.bus.publish(SignalEvent(rig.signal(Side.BUY, sl_points=5000, tp_points=30)))
        opened = await rig.wait_for(TradeStatus.OPEN)
        ticket = (await rig.trade(opened.trade_id)).mt5_position
        assert ticket is not None

        rig.terminal.faults.disconnect()
        await eventually(
            lambda: rig.connector.state is ConnectionState.DISCONNECTED,
            timeout=15.0,
            what="the connector to see the outage",
            interval=0.01,
        )
        outage_start = rig.clock.time()
        rig.clock.advance(12 * 3600)  # half a day: hundreds of M1 bars
        rig.terminal.faults.reconnect()
        await eventually(
            lambda: rig.connector.state is ConnectionState.CONNECTED,
            timeout=15.0,
            what="the connector to reconnect",
            interval=0.01,
        )
        closed = await rig.wait_for(TradeStatus.CLOSED, opened.trade_id)

        record = await rig.trade(closed.trade_id)
        deals = rig.terminal.history_deals_get(position=ticket)
        exit_deal = next(d for d in deals if d.entry == mt5c.DEAL_ENTRY_OUT)
        exit_time = rig.connector.to_utc(exit_deal.time_msc / 1000)
        assert exit_deal.reason == mt5c.DEAL_REASON_TP
        assert outage_start + 60 < exit_time < rig.clock.time()  # hit well inside the outage
        assert record.status is TradeStatus.CLOSED
        assert record.close_reason == "take_profit"
        assert float(record.exit_price or 0) == exit_deal.price
        assert float(record.profit or 0) == round(exit_deal.profit, 2)
        assert record.closed_volume == record.volume
        assert rig.connector.reconnects >= 1
        assert rig.positions.open_count() == 0
