"""MemoryTradeStore beyond the trade store contract: every time is read from the backtest's
virtual clock, ids count from 1, and ``all()`` lists the backtest's trades.

The rules it shares with the database's TradeRepository (idempotent intents, checked
transitions with a history, conserved volume, exact money) are specified once, for both, in
``tests/engine/test_trade_store_contract.py``.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from trade_records import adopted, fill, intent

from forexbot.backtest.trade_store import MemoryTradeStore
from forexbot.clock import ManualClock
from forexbot.domain.trades import ClientOrderIdConflict, ExitTotals, TradeRecord

CLOCK_START = datetime(2024, 3, 4, 10, 0, 5, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(CLOCK_START.timestamp())


@pytest.fixture
def store(clock: ManualClock) -> MemoryTradeStore:
    return MemoryTradeStore(clock)


async def test_create_intent_times_come_from_the_clock(
    store: MemoryTradeStore, clock: ManualClock
) -> None:
    clock.advance(60)

    record = await store.get(await store.create_intent(intent()))

    assert record is not None
    assert record.created_at == CLOCK_START + timedelta(seconds=60)
    assert record.updated_at == CLOCK_START + timedelta(seconds=60)
    assert record.created_at.tzinfo is UTC


async def test_create_intent_returns_ids_one_two_three_in_creation_order(
    store: MemoryTradeStore,
) -> None:
    ids = [await store.create_intent(intent(client_order_id=f"fx-{n}")) for n in range(3)]

    assert ids == [1, 2, 3]
    assert [record.id for record in store.all()] == [1, 2, 3]


async def test_transition_times_come_from_the_clock(
    store: MemoryTradeStore, clock: ManualClock
) -> None:
    trade_id = await store.create_intent(intent())
    clock.advance(1)
    await store.mark_submitted(trade_id)
    clock.advance(2)
    await store.mark_open(trade_id, fill())
    clock.advance(3600)
    await store.mark_closed(
        trade_id,
        ExitTotals(exit_price=1.09, profit=38.5, swap=0, commission=-0.7),
        close_time=datetime(2024, 3, 4, 12, 0, tzinfo=UTC),
        close_reason="take_profit",
    )

    assert [t.time for t in await store.transitions(trade_id)] == [
        CLOCK_START,
        CLOCK_START + timedelta(seconds=1),
        CLOCK_START + timedelta(seconds=3),
        CLOCK_START + timedelta(seconds=3603),
    ]


async def test_updated_at_follows_the_clock_and_created_at_stays(
    store: MemoryTradeStore, clock: ManualClock
) -> None:
    trade_id = await store.create_intent(intent())
    clock.advance(90)

    record = await store.mark_submitted(trade_id)

    assert record.created_at == CLOCK_START
    assert record.updated_at == CLOCK_START + timedelta(seconds=90)


async def test_update_stops_sets_updated_at_from_the_clock(
    store: MemoryTradeStore, clock: ManualClock
) -> None:
    trade_id = await store.create_intent(intent())
    await store.mark_open(trade_id, fill())
    clock.advance(10)

    await store.update_stops(trade_id, sl=1.0855, tp=1.1)

    record = await store.get(trade_id)
    assert record is not None
    assert record.updated_at == CLOCK_START + timedelta(seconds=10)


async def test_history_ids_count_from_one_across_trades(store: MemoryTradeStore) -> None:
    first = await store.create_intent(intent(client_order_id="a"))
    second = await store.create_intent(intent(client_order_id="b"))
    await store.mark_submitted(first)

    first_ids = [t.id for t in await store.transitions(first)]
    second_ids = [t.id for t in await store.transitions(second)]

    assert (first_ids, second_ids) == ([1, 3], [2])


async def test_an_adopted_trade_is_created_at_the_clock_time(store: MemoryTradeStore) -> None:
    record = await store.adopt_position(adopted())

    [created] = await store.transitions(record.id)

    assert record.id == 1
    assert record.created_at == CLOCK_START
    assert created.time == CLOCK_START


async def test_adopting_with_a_client_order_id_in_use_is_refused(
    store: MemoryTradeStore,
) -> None:
    await store.create_intent(intent(client_order_id="adopted-777"))
    before = store.all()

    with pytest.raises(ClientOrderIdConflict, match="'adopted-777' exists"):
        await store.adopt_position(adopted())

    assert store.all() == before


async def test_a_move_after_new_stops_keeps_the_new_stops(store: MemoryTradeStore) -> None:
    trade_id = await store.create_intent(intent())
    await store.mark_open(trade_id, fill())
    await store.update_stops(trade_id, sl=1.0855, tp=None)

    closing = await store.mark_closing(trade_id)
    closed = await store.mark_closed(
        trade_id,
        ExitTotals(exit_price=1.0855, profit=-10, swap=0, commission=0),
        close_time=datetime(2024, 3, 4, 12, 0, tzinfo=UTC),
        close_reason="stop_loss",
    )

    assert (closing.sl, closing.tp) == (Decimal("1.0855"), None)
    assert (closed.sl, closed.tp) == (Decimal("1.0855"), None)
    assert await store.get(trade_id) == closed


async def test_a_move_changes_only_the_columns_it_writes(
    store: MemoryTradeStore, clock: ManualClock
) -> None:
    trade_id = await store.create_intent(intent())
    submitted = await store.mark_submitted(trade_id)
    clock.advance(5)

    opened = await store.mark_open(trade_id, fill(execution_details={"retcode": 10009}))

    changed = {
        name
        for name in (f.name for f in dataclasses.fields(TradeRecord))
        if getattr(opened, name) != getattr(submitted, name)
    }
    assert changed == {
        "status",
        "updated_at",
        "mt5_order",
        "mt5_position",
        "entry_price",
        "open_time",
        "execution_details",
    }
    assert opened.volume == submitted.volume  # the fill's volume, the same as requested
    assert opened.updated_at == CLOCK_START + timedelta(seconds=5)
