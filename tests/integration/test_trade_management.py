"""Managing open trades on the real engine: break-even and trailing stops moved at the
terminal, and closes done outside the bot (in the terminal, by hand) recorded from the deals."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from trading_rig import MAGIC, TradingRig, trading_rig

from forexbot.config.models import TradeManagement
from forexbot.connectors import mt5_constants as mt5c
from forexbot.domain.trading import Side, TradeStatus
from forexbot.engine import positions as positions_module
from forexbot.engine.management import managed_stop
from forexbot.events.types import SignalEvent

pytestmark = pytest.mark.db

INSTANCE = "ma_rsi:EURUSD:M1"


async def open_buy(rig: TradingRig, sl_points: float = 300) -> int:
    rig.bus.publish(SignalEvent(rig.signal(Side.BUY, sl_points=sl_points, tp_points=0)))
    return (await rig.wait_for(TradeStatus.OPEN)).trade_id


def close_by_hand(rig: TradingRig, volume: float) -> float:
    """Close ``volume`` of the bot's position from the terminal (no magic number)."""
    return float(rig.close_at_terminal(rig.our_positions()[0].ticket, volume).price)


async def test_break_even_moves_the_stop_to_the_entry_once_in_profit(
    db_engine: AsyncEngine,
) -> None:
    settings = TradeManagement(break_even_at_r=0.2, break_even_offset_points=2)
    async with trading_rig(
        db_engine, management=lambda key: settings if key == INSTANCE else None
    ) as rig:
        trade_id = await open_buy(rig)
        entry = float((await rig.trade(trade_id)).entry_price or 0)
        point = rig.connector.spec("EURUSD").point
        for _ in range(600):
            await rig.advance(30, step=30)
            positions = rig.our_positions()
            if not positions or positions[0].sl >= entry:
                break
        assert positions, "the trade was stopped out before reaching break-even"
        assert positions[0].sl == pytest.approx(entry + 2 * point, abs=point / 10)
        record = await rig.trade(trade_id)
        assert float(record.sl or 0) == positions[0].sl
        assert rig.positions.trailing_moves == 1


async def test_a_trailing_stop_only_ever_moves_up_for_a_buy(db_engine: AsyncEngine) -> None:
    settings = TradeManagement(trailing_start_r=0.1, trailing_distance_r=0.5)
    async with trading_rig(
        db_engine, management=lambda key: settings if key == INSTANCE else None
    ) as rig:
        trade_id = await open_buy(rig)
        initial_sl = float((await rig.trade(trade_id)).sl or 0)
        stops = [initial_sl]
        for _ in range(400):
            await rig.advance(30, step=30)
            positions = rig.our_positions()
            if not positions:
                break
            stops.append(positions[0].sl)
        assert stops == sorted(stops)
        assert len(set(stops)) > 2, "the stop never trailed"
        # Several quotes per step may each move it: at least one move per level seen.
        assert rig.positions.trailing_moves >= len(set(stops)) - 1
        record = await rig.trade(trade_id)
        if record.status is TradeStatus.OPEN:
            assert float(record.sl or 0) == stops[-1]


async def test_a_partial_close_by_hand_is_recorded_and_the_volume_conserved(
    db_engine: AsyncEngine,
) -> None:
    async with trading_rig(db_engine) as rig:
        trade_id = await open_buy(rig, sl_points=200)
        volume = float((await rig.trade(trade_id)).volume)
        part = round(volume / 2, 2)
        close_by_hand(rig, part)
        await rig.positions.sync()

        record = await rig.trade(trade_id)
        position = rig.our_positions()[0]
        deals = rig.terminal.history_deals_get(position=position.ticket)
        exit_deal = next(d for d in deals if d.entry == mt5c.DEAL_ENTRY_OUT)
        assert record.status is TradeStatus.OPEN
        assert float(record.closed_volume) == part
        assert float(record.open_volume) == pytest.approx(position.volume)
        assert float(record.profit or 0) == round(exit_deal.profit, 2)
        history = await rig.trades.transitions(trade_id)
        assert history[-1].details["event"] == "partial_close"


async def test_a_close_by_hand_in_the_terminal_closes_the_trade_from_its_deals(
    db_engine: AsyncEngine,
) -> None:
    async with trading_rig(db_engine) as rig:
        trade_id = await open_buy(rig, sl_points=200)
        volume = float((await rig.trade(trade_id)).volume)
        price = close_by_hand(rig, volume)
        await rig.positions.sync()

        record = await rig.trade(trade_id)
        assert record.status is TradeStatus.CLOSED
        assert float(record.exit_price or 0) == price
        assert record.closed_volume == record.volume
        # The simulator tags API requests EXPERT; a real terminal's hand close is CLIENT.
        assert record.close_reason in ("expert", "manual")
        assert [p for p in rig.terminal.positions_get() if p.magic == MAGIC] == []


async def test_a_trailing_stop_never_loosens_a_stop_tightened_in_the_terminal(
    db_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    targets: list[float] = []

    def recording(**kwargs: Any) -> float | None:
        target = managed_stop(**kwargs)
        if target is not None:
            targets.append(target)
        return target

    monkeypatch.setattr(positions_module, "managed_stop", recording)
    # Trailing from 0.01 R at 0.9 R behind the price: 270 points behind, for a 300-point stop.
    settings = TradeManagement(trailing_start_r=0.01, trailing_distance_r=0.9)
    async with trading_rig(
        db_engine, management=lambda key: settings if key == INSTANCE else None
    ) as rig:
        await open_buy(rig)
        point = rig.connector.spec("EURUSD").point
        position = rig.our_positions()[0]
        # Someone tightens the stop by hand to 100 points: tighter than the trailing target.
        tight = round(rig.terminal.symbol_info_tick("EURUSD").bid - 100 * point, 5)
        rig.at_terminal(action=mt5c.TRADE_ACTION_SLTP, position=position.ticket, sl=tight, tp=0.0)
        for _ in range(60):
            await rig.advance(30, step=30)
            positions = rig.our_positions()
            if not positions or targets:
                break
            assert positions[0].sl == tight
        # The trailing rule did want to move the stop (to its looser target)...
        assert targets, "the price never reached the trailing start: nothing tested"
        assert max(targets) < tight
        # ...and the stop at the terminal stayed where the person put it.
        assert rig.our_positions()[0].sl == tight
        assert rig.positions.trailing_moves == 0
