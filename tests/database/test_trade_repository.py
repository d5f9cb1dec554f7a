"""TradeRepository: the idempotent order intent, checked transitions, listing, exact money."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from forexbot.database.tables import trades
from forexbot.database.trades import ClientOrderIdConflict, IllegalTransition, TradeRepository
from forexbot.domain.trading import Side, TradeStatus
from forexbot.errors import NotFoundError

pytestmark = pytest.mark.db

SIGNAL_TIME = datetime(2024, 3, 4, 10, 0, tzinfo=UTC)


def intent(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "client_order_id": "fx-0001",
        "strategy": "ma_cross",
        "symbol": "EURUSD",
        "timeframe": "M15",
        "side": "buy",
        "volume": 0.1,
        "requested_price": 1.08512,
        "sl": 1.08012,
        "tp": 1.09512,
        "signal_time": SIGNAL_TIME,
        "confidence": 0.75,
        "reason": "fast MA crossed above slow MA",
        "market_condition": {"trend": "up", "atr": 0.0012},
    }
    fields.update(overrides)
    return fields


async def row_count(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(trades))).scalar_one())


@pytest.fixture
def repo(db_engine: AsyncEngine) -> TradeRepository:
    return TradeRepository(db_engine)


async def test_create_intent_stores_the_intent(repo: TradeRepository) -> None:
    trade_id = await repo.create_intent(**intent())
    record = await repo.get(trade_id)
    assert record is not None
    assert record.id == trade_id
    assert record.status is TradeStatus.INTENT
    assert record.side is Side.BUY
    assert (record.strategy, record.symbol, record.timeframe) == ("ma_cross", "EURUSD", "M15")
    assert record.volume == Decimal("0.1")
    assert record.requested_price == Decimal("1.08512")
    assert (record.sl, record.tp) == (Decimal("1.08012"), Decimal("1.09512"))
    assert record.signal_time == SIGNAL_TIME
    assert record.confidence == 0.75
    assert record.reason == "fast MA crossed above slow MA"
    assert record.market_condition == {"trend": "up", "atr": 0.0012}
    assert record.execution_details == {}
    assert record.entry_price is None
    assert record.open_time is None
    assert record.created_at.tzinfo is UTC


async def test_create_intent_is_idempotent_on_client_order_id(
    repo: TradeRepository, db_engine: AsyncEngine
) -> None:
    first = await repo.create_intent(**intent())
    second = await repo.create_intent(**intent())
    assert second == first
    assert await row_count(db_engine) == 1


async def test_concurrent_identical_intents_insert_one_row(
    repo: TradeRepository, db_engine: AsyncEngine
) -> None:
    ids = await asyncio.gather(*(repo.create_intent(**intent()) for _ in range(5)))
    assert len(set(ids)) == 1
    assert await row_count(db_engine) == 1


async def test_reusing_a_client_order_id_for_another_order_is_refused(
    repo: TradeRepository, db_engine: AsyncEngine
) -> None:
    await repo.create_intent(**intent())
    with pytest.raises(ClientOrderIdConflict, match="fx-0001"):
        await repo.create_intent(**intent(side="sell"))
    assert await row_count(db_engine) == 1


async def test_full_lifecycle_records_fill_and_close(repo: TradeRepository) -> None:
    trade_id = await repo.create_intent(**intent())
    await repo.mark_submitted(trade_id)
    assert (await repo.get(trade_id)).status is TradeStatus.SUBMITTED  # type: ignore[union-attr]
    open_time = datetime(2024, 3, 4, 10, 0, 1, tzinfo=UTC)
    await repo.mark_open(
        trade_id,
        mt5_order=5001,
        mt5_position=5001,
        entry_price=1.08515,
        volume=0.1,
        open_time=open_time,
        execution_details={"filled_price": 1.08515, "slippage_points": 0.3, "retcode": 10009},
    )
    await repo.mark_closing(trade_id)
    close_time = datetime(2024, 3, 4, 12, 30, tzinfo=UTC)
    await repo.mark_closed(
        trade_id,
        exit_price=1.09512,
        close_time=close_time,
        profit=99.7,
        swap=-0.35,
        commission=-0.7,
        close_reason="tp",
    )
    record = await repo.get(trade_id)
    assert record is not None
    assert record.status is TradeStatus.CLOSED
    assert (record.mt5_order, record.mt5_position) == (5001, 5001)
    assert record.entry_price == Decimal("1.08515")
    assert record.open_time == open_time
    assert record.exit_price == Decimal("1.09512")
    assert record.close_time == close_time
    assert (record.profit, record.swap, record.commission) == (
        Decimal("99.7"),
        Decimal("-0.35"),
        Decimal("-0.7"),
    )
    assert record.close_reason == "tp"
    assert record.execution_details["retcode"] == 10009
    assert record.updated_at >= record.created_at


async def test_mark_open_directly_from_intent_is_allowed(repo: TradeRepository) -> None:
    # A crash between order_send and mark_submitted: reconciliation finds the position.
    trade_id = await repo.create_intent(**intent())
    await repo.mark_open(
        trade_id,
        mt5_order=1,
        mt5_position=2,
        entry_price=1.1,
        volume=0.1,
        open_time=SIGNAL_TIME,
        execution_details={},
    )
    assert (await repo.get(trade_id)).status is TradeStatus.OPEN  # type: ignore[union-attr]


async def test_execution_details_are_merged_across_steps(repo: TradeRepository) -> None:
    trade_id = await repo.create_intent(**intent())
    await repo.mark_rejected(
        trade_id,
        reject_code=10030,
        reject_message="unsupported filling mode",
        execution_details={"retcode": 10030, "latency_ms": 12.5},
    )
    record = await repo.get(trade_id)
    assert record is not None
    assert record.status is TradeStatus.REJECTED
    assert (record.reject_code, record.reject_message) == (10030, "unsupported filling mode")
    assert record.execution_details == {"retcode": 10030, "latency_ms": 12.5}


async def test_illegal_transition_is_refused_and_changes_nothing(repo: TradeRepository) -> None:
    trade_id = await repo.create_intent(**intent())
    with pytest.raises(IllegalTransition, match="cannot become 'closed' from 'intent'") as caught:
        await repo.mark_closed(
            trade_id,
            exit_price=1.1,
            close_time=SIGNAL_TIME,
            profit=1,
            swap=0,
            commission=0,
            close_reason="manual",
        )
    assert caught.value.current is TradeStatus.INTENT
    assert caught.value.target is TradeStatus.CLOSED
    record = await repo.get(trade_id)
    assert record is not None
    assert record.status is TradeStatus.INTENT
    assert record.exit_price is None
    assert record.close_reason is None


async def test_a_rejected_trade_cannot_be_opened(repo: TradeRepository) -> None:
    trade_id = await repo.create_intent(**intent())
    await repo.mark_rejected(
        trade_id, reject_code=10006, reject_message="rejected", execution_details={}
    )
    with pytest.raises(IllegalTransition, match="from 'rejected'"):
        await repo.mark_open(
            trade_id,
            mt5_order=1,
            mt5_position=1,
            entry_price=1.1,
            volume=0.1,
            open_time=SIGNAL_TIME,
            execution_details={},
        )


async def test_submitting_twice_is_an_illegal_transition(repo: TradeRepository) -> None:
    trade_id = await repo.create_intent(**intent())
    await repo.mark_submitted(trade_id)
    with pytest.raises(IllegalTransition):
        await repo.mark_submitted(trade_id)


async def test_cancel_records_the_reason(repo: TradeRepository) -> None:
    trade_id = await repo.create_intent(**intent())
    await repo.mark_cancelled(trade_id, reason="market closed")
    record = await repo.get(trade_id)
    assert record is not None
    assert (record.status, record.close_reason) == (TradeStatus.CANCELLED, "market closed")


async def test_transition_of_an_unknown_trade_is_not_found(repo: TradeRepository) -> None:
    with pytest.raises(NotFoundError, match="trade 424242 does not exist"):
        await repo.mark_submitted(424242)


async def test_get_of_unknown_ids_returns_none(repo: TradeRepository) -> None:
    assert await repo.get(99) is None
    assert await repo.get_by_client_order_id("nope") is None


async def test_get_by_client_order_id(repo: TradeRepository) -> None:
    trade_id = await repo.create_intent(**intent(client_order_id="fx-42"))
    record = await repo.get_by_client_order_id("fx-42")
    assert record is not None
    assert record.id == trade_id


async def make_trades(repo: TradeRepository) -> list[int]:
    specs = [
        ("EURUSD", "ma_cross"),
        ("GBPUSD", "ma_cross"),
        ("EURUSD", "breakout"),
        ("EURUSD", "ma_cross"),
        ("USDJPY", "breakout"),
    ]
    ids = []
    for n, (symbol, strategy) in enumerate(specs):
        ids.append(
            await repo.create_intent(
                **intent(client_order_id=f"fx-{n}", symbol=symbol, strategy=strategy)
            )
        )
    return ids


async def test_list_is_newest_first_with_total(repo: TradeRepository) -> None:
    ids = await make_trades(repo)
    records, total = await repo.list(limit=10, offset=0)
    assert [r.id for r in records] == list(reversed(ids))
    assert total == 5


async def test_list_paginates(repo: TradeRepository) -> None:
    ids = await make_trades(repo)
    page1, total1 = await repo.list(limit=2, offset=0)
    page3, total3 = await repo.list(limit=2, offset=4)
    beyond, total_beyond = await repo.list(limit=2, offset=10)
    assert [r.id for r in page1] == [ids[4], ids[3]]
    assert [r.id for r in page3] == [ids[0]]
    assert beyond == []
    assert total1 == total3 == total_beyond == 5


async def test_list_filters_combine_and_total_follows_the_filter(repo: TradeRepository) -> None:
    ids = await make_trades(repo)
    await repo.mark_submitted(ids[3])
    by_symbol, n_symbol = await repo.list(limit=10, offset=0, symbol="EURUSD")
    by_both, n_both = await repo.list(limit=10, offset=0, symbol="EURUSD", strategy="ma_cross")
    by_status, n_status = await repo.list(limit=1, offset=0, status="intent", symbol="EURUSD")
    assert ([r.id for r in by_symbol], n_symbol) == ([ids[3], ids[2], ids[0]], 3)
    assert ([r.id for r in by_both], n_both) == ([ids[3], ids[0]], 2)
    assert ([r.id for r in by_status], n_status) == ([ids[2]], 2)


async def test_list_validates_its_arguments(repo: TradeRepository) -> None:
    with pytest.raises(ValueError, match="unknown trade status 'lost'"):
        await repo.list(limit=10, offset=0, status="lost")
    with pytest.raises(ValueError, match="limit"):
        await repo.list(limit=0, offset=0)
    with pytest.raises(ValueError, match="offset"):
        await repo.list(limit=1, offset=-1)


async def test_open_trades_are_the_live_ones_oldest_first(
    repo: TradeRepository,
) -> None:
    ids = await make_trades(repo)
    await repo.mark_submitted(ids[0])
    await repo.mark_open(
        ids[1],
        mt5_order=1,
        mt5_position=1,
        entry_price=1.2,
        volume=0.1,
        open_time=SIGNAL_TIME,
        execution_details={},
    )
    await repo.mark_open(
        ids[2],
        mt5_order=2,
        mt5_position=2,
        entry_price=1.2,
        volume=0.1,
        open_time=SIGNAL_TIME,
        execution_details={},
    )
    await repo.mark_closing(ids[2])
    await repo.mark_rejected(ids[3], reject_code=1, reject_message="x", execution_details={})
    # ids[4] is still an intent: it may be about to be sent, so it is live too.
    assert [r.id for r in await repo.open_trades()] == [ids[0], ids[1], ids[2], ids[4]]


async def test_money_is_exact_decimal(repo: TradeRepository, db_engine: AsyncEngine) -> None:
    first = await repo.create_intent(**intent(client_order_id="a", volume=0.1))
    second = await repo.create_intent(**intent(client_order_id="b", volume=0.2))
    third = await repo.create_intent(**intent(client_order_id="c", volume=0.1 + 0.2))
    async with db_engine.connect() as conn:
        total = (
            await conn.execute(
                select(func.sum(trades.c.volume)).where(trades.c.id.in_([first, second]))
            )
        ).scalar_one()
    assert total == Decimal("0.3")  # in floats 0.1 + 0.2 == 0.30000000000000004
    record = await repo.get(third)
    assert record is not None
    # The float 0.1 + 0.2 as written (its shortest repr), not its 52-digit binary expansion.
    assert record.volume == Decimal("0.30000000000000004")


async def test_decimal_values_pass_through_unchanged(repo: TradeRepository) -> None:
    price = Decimal("1.234567890123456789012345678901")
    trade_id = await repo.create_intent(**intent(requested_price=price, volume=Decimal("0.01")))
    record = await repo.get(trade_id)
    assert record is not None
    assert record.requested_price == price
    assert str(record.volume) == "0.01"


async def test_invalid_values_are_refused_before_the_database(repo: TradeRepository) -> None:
    with pytest.raises(ValueError, match="finite"):
        await repo.create_intent(**intent(requested_price=float("nan")))
    with pytest.raises(ValueError, match="timezone-aware"):
        await repo.create_intent(**intent(signal_time=datetime(2024, 1, 1)))
    with pytest.raises(ValueError, match="volume must be positive"):
        await repo.create_intent(**intent(volume=0))
    with pytest.raises(ValueError, match="side"):
        await repo.create_intent(**intent(side="long"))
    with pytest.raises(ValueError, match="confidence"):
        await repo.create_intent(**intent(confidence=1.5))


async def test_times_are_stored_as_instants_and_read_in_utc(repo: TradeRepository) -> None:
    paris = timezone(timedelta(hours=1))
    trade_id = await repo.create_intent(
        **intent(signal_time=datetime(2024, 3, 4, 11, 0, tzinfo=paris))
    )
    record = await repo.get(trade_id)
    assert record is not None
    assert record.signal_time == SIGNAL_TIME
    assert record.signal_time.tzinfo is UTC


async def test_market_condition_accepts_what_indicators_produce(repo: TradeRepository) -> None:
    condition = {
        "atr": np.float64(0.00123),
        "regime": TradeStatus.OPEN,
        "risk": Decimal("0.5"),
        "rsi": float("nan"),
        "at": SIGNAL_TIME,
    }
    trade_id = await repo.create_intent(**intent(market_condition=condition))
    record = await repo.get(trade_id)
    assert record is not None
    assert record.market_condition == {
        "atr": 0.00123,
        "regime": "open",
        "risk": 0.5,
        "rsi": None,
        "at": "2024-03-04T10:00:00+00:00",
    }


async def test_to_api_is_json_ready(repo: TradeRepository) -> None:
    trade_id = await repo.create_intent(**intent())
    record = await repo.get(trade_id)
    assert record is not None
    api = record.to_api()
    assert json.loads(json.dumps(api)) == api
    assert api["id"] == trade_id
    assert api["side"] == "buy"
    assert api["status"] == "intent"
    assert api["volume"] == 0.1
    assert api["requested_price"] == 1.08512
    assert api["entry_price"] is None
    assert api["signal_time"] == "2024-03-04T10:00:00Z"
    assert api["created_at"].endswith("Z")
    assert api["market_condition"] == {"trend": "up", "atr": 0.0012}


# --- the transition history ------------------------------------------------------------------

OPEN_TIME = datetime(2024, 3, 4, 10, 0, 1, tzinfo=UTC)


async def open_trade(
    repo: TradeRepository, client_order_id: str = "fx-0001", position: int = 5001
) -> int:
    trade_id = await repo.create_intent(**intent(client_order_id=client_order_id))
    await repo.mark_submitted(trade_id)
    await repo.mark_open(
        trade_id,
        mt5_order=position,
        mt5_position=position,
        entry_price=1.08515,
        volume=0.1,
        open_time=OPEN_TIME,
        execution_details={},
    )
    return trade_id


async def moves(repo: TradeRepository, trade_id: int) -> list[tuple[str | None, str]]:
    return [
        (None if t.from_status is None else t.from_status.value, t.to_status.value)
        for t in await repo.transitions(trade_id)
    ]


async def close(repo: TradeRepository, trade_id: int, **overrides: Any) -> Any:
    fields: dict[str, Any] = {
        "exit_price": 1.09,
        "close_time": datetime(2024, 3, 4, 12, 0, tzinfo=UTC),
        "profit": 38.5,
        "swap": 0,
        "commission": -0.7,
        "close_reason": "take_profit",
    }
    fields.update(overrides)
    return await repo.mark_closed(trade_id, **fields)


async def test_creating_an_intent_records_a_move_from_nothing(repo: TradeRepository) -> None:
    trade_id = await repo.create_intent(**intent())

    [created] = await repo.transitions(trade_id)

    assert (created.trade_id, created.from_status, created.to_status) == (
        trade_id,
        None,
        TradeStatus.INTENT,
    )
    assert created.details == {"volume": "0.1"}
    assert created.time.tzinfo is UTC


async def test_a_repeated_intent_records_no_second_creation(repo: TradeRepository) -> None:
    trade_id = await repo.create_intent(**intent())
    await repo.create_intent(**intent())

    assert await moves(repo, trade_id) == [(None, "intent")]


async def test_every_transition_appends_a_history_row_in_order(repo: TradeRepository) -> None:
    trade_id = await open_trade(repo)
    await repo.mark_closing(trade_id, details={"why": "manual_api"})
    await repo.reopen(trade_id, reason="requote")
    await repo.record_partial_close(
        trade_id, closed_volume=0.04, exit_price=1.086, profit=3.4, swap=0, commission=-0.28
    )
    await repo.mark_closing(trade_id)
    await close(repo, trade_id)

    assert await moves(repo, trade_id) == [
        (None, "intent"),
        ("intent", "submitted"),
        ("submitted", "open"),
        ("open", "closing"),
        ("closing", "open"),
        ("open", "open"),
        ("open", "closing"),
        ("closing", "closed"),
    ]


async def test_history_rows_carry_the_details_of_the_change(repo: TradeRepository) -> None:
    trade_id = await open_trade(repo)
    await repo.mark_closing(trade_id, details={"why": "manual_api"})
    await repo.reopen(trade_id, reason="requote")

    history = await repo.transitions(trade_id)

    opened, closing, reopened = history[2], history[3], history[4]
    assert opened.details["mt5_position"] == 5001
    assert opened.details["entry_price"] == "1.08515"
    assert closing.details == {"why": "manual_api"}
    assert reopened.details == {"reason": "requote"}
    assert [t.id for t in history] == sorted(t.id for t in history)


async def test_rejection_and_cancellation_are_recorded_in_the_history(
    repo: TradeRepository,
) -> None:
    rejected = await repo.create_intent(**intent(client_order_id="a"))
    cancelled = await repo.create_intent(**intent(client_order_id="b"))
    await repo.mark_submitted(rejected)
    await repo.mark_rejected(rejected, reject_code=10006, reject_message="no", execution_details={})
    await repo.mark_cancelled(cancelled, reason="never sent")

    assert await moves(repo, rejected) == [
        (None, "intent"),
        ("intent", "submitted"),
        ("submitted", "rejected"),
    ]
    assert await moves(repo, cancelled) == [(None, "intent"), ("intent", "cancelled")]


async def test_an_illegal_transition_writes_no_history_row(repo: TradeRepository) -> None:
    trade_id = await repo.create_intent(**intent())

    with pytest.raises(IllegalTransition):
        await close(repo, trade_id)
    with pytest.raises(IllegalTransition):
        await repo.mark_closing(trade_id)

    assert await moves(repo, trade_id) == [(None, "intent")]


async def test_a_final_trade_refuses_every_move_and_keeps_its_history(
    repo: TradeRepository,
) -> None:
    trade_id = await open_trade(repo)
    await close(repo, trade_id)
    before = await repo.transitions(trade_id)

    with pytest.raises(IllegalTransition):
        await repo.mark_closing(trade_id)
    with pytest.raises(IllegalTransition):
        await repo.reopen(trade_id, reason="x")
    with pytest.raises(IllegalTransition):
        await close(repo, trade_id)

    assert await repo.transitions(trade_id) == before


async def test_history_of_an_unknown_trade_is_empty(repo: TradeRepository) -> None:
    assert await repo.transitions(424242) == []


# --- mark_* return the updated record ---------------------------------------------------------


async def test_mark_submitted_returns_the_updated_record(repo: TradeRepository) -> None:
    trade_id = await repo.create_intent(**intent())

    record = await repo.mark_submitted(trade_id)

    assert record.status is TradeStatus.SUBMITTED
    assert record == await repo.get(trade_id)


async def test_mark_open_returns_the_record_with_the_fill(repo: TradeRepository) -> None:
    trade_id = await repo.create_intent(**intent())

    record = await repo.mark_open(
        trade_id,
        mt5_order=7,
        mt5_position=8,
        entry_price=1.08515,
        volume=0.1,
        open_time=OPEN_TIME,
        execution_details={"retcode": 10009},
    )

    assert record.status is TradeStatus.OPEN
    assert (record.mt5_order, record.mt5_position) == (7, 8)
    assert record.entry_price == Decimal("1.08515")
    assert record.open_time == OPEN_TIME
    assert record.execution_details == {"retcode": 10009}
    assert record == await repo.get(trade_id)


async def test_mark_closing_reopen_and_closed_return_the_updated_record(
    repo: TradeRepository,
) -> None:
    trade_id = await open_trade(repo)

    closing = await repo.mark_closing(trade_id)
    assert closing.status is TradeStatus.CLOSING
    reopened = await repo.reopen(trade_id, reason="refused")
    assert reopened.status is TradeStatus.OPEN
    await repo.mark_closing(trade_id)
    closed = await close(repo, trade_id)

    assert closed.status is TradeStatus.CLOSED
    assert closed.exit_price == Decimal("1.09")
    assert closed.profit == Decimal("38.5")
    assert closed.close_reason == "take_profit"
    assert closed == await repo.get(trade_id)


async def test_mark_rejected_and_mark_cancelled_return_the_updated_record(
    repo: TradeRepository,
) -> None:
    a = await repo.create_intent(**intent(client_order_id="a"))
    b = await repo.create_intent(**intent(client_order_id="b"))

    rejected = await repo.mark_rejected(
        a, reject_code=10030, reject_message="filling", execution_details={"retcode": 10030}
    )
    cancelled = await repo.mark_cancelled(b, reason="not executed", execution_details={"n": 1})

    assert (rejected.status, rejected.reject_code) == (TradeStatus.REJECTED, 10030)
    assert (cancelled.status, cancelled.close_reason) == (TradeStatus.CANCELLED, "not executed")
    assert cancelled.execution_details == {"n": 1}
    assert rejected == await repo.get(a)
    assert cancelled == await repo.get(b)


async def test_mark_open_of_an_open_trade_is_illegal(repo: TradeRepository) -> None:
    """open → open is a partial close only; a second fill must not overwrite the first."""
    trade_id = await open_trade(repo)

    with pytest.raises(IllegalTransition):
        await repo.mark_open(
            trade_id,
            mt5_order=9,
            mt5_position=9,
            entry_price=1.2,
            volume=0.1,
            open_time=OPEN_TIME,
            execution_details={},
        )

    record = await repo.get(trade_id)
    assert record is not None
    assert record.mt5_position == 5001


async def test_reopen_is_only_from_closing(repo: TradeRepository) -> None:
    trade_id = await open_trade(repo)

    with pytest.raises(IllegalTransition, match="cannot become 'open' from 'open'"):
        await repo.reopen(trade_id, reason="nothing to reopen")


# --- partial closes ---------------------------------------------------------------------------


async def partial(repo: TradeRepository, trade_id: int, closed_volume: Any) -> Any:
    return await repo.record_partial_close(
        trade_id,
        closed_volume=closed_volume,
        exit_price=1.0862,
        profit=4.2,
        swap=-0.05,
        commission=-0.28,
    )


async def test_a_partial_close_keeps_the_trade_open_with_its_closed_volume(
    repo: TradeRepository,
) -> None:
    trade_id = await open_trade(repo)

    record = await partial(repo, trade_id, 0.04)

    assert record is not None
    assert record.status is TradeStatus.OPEN
    assert record.closed_volume == Decimal("0.04")
    assert record.open_volume == Decimal("0.06")
    assert record.exit_price == Decimal("1.0862")
    assert (record.profit, record.swap, record.commission) == (
        Decimal("4.2"),
        Decimal("-0.05"),
        Decimal("-0.28"),
    )
    assert record == await repo.get(trade_id)
    last = (await repo.transitions(trade_id))[-1]
    assert (last.from_status, last.to_status) == (TradeStatus.OPEN, TradeStatus.OPEN)
    assert last.details["event"] == "partial_close"
    assert last.details["closed_volume"] == "0.04"


async def test_recording_the_same_closed_volume_again_returns_none_and_writes_nothing(
    repo: TradeRepository,
) -> None:
    trade_id = await open_trade(repo)
    first = await partial(repo, trade_id, 0.04)
    history = await repo.transitions(trade_id)

    assert await partial(repo, trade_id, Decimal("0.040")) is None
    assert await repo.get(trade_id) == first
    assert await repo.transitions(trade_id) == history


async def test_a_larger_partial_close_replaces_the_totals(repo: TradeRepository) -> None:
    trade_id = await open_trade(repo)
    await partial(repo, trade_id, 0.04)

    record = await partial(repo, trade_id, 0.07)

    assert record is not None
    assert record.closed_volume == Decimal("0.07")
    assert len(await repo.transitions(trade_id)) == 5


@pytest.mark.parametrize("closed_volume", [0.1, 0.2])
async def test_a_partial_close_must_leave_volume_open(
    repo: TradeRepository, closed_volume: float
) -> None:
    trade_id = await open_trade(repo)
    history = await repo.transitions(trade_id)

    with pytest.raises(ValueError, match="must leave volume open"):
        await partial(repo, trade_id, closed_volume)

    record = await repo.get(trade_id)
    assert record is not None
    assert record.closed_volume == 0
    assert await repo.transitions(trade_id) == history


async def test_a_partial_close_of_a_closing_trade_returns_it_to_open(
    repo: TradeRepository,
) -> None:
    trade_id = await open_trade(repo)
    await repo.mark_closing(trade_id)

    record = await partial(repo, trade_id, 0.04)

    assert record is not None
    assert record.status is TradeStatus.OPEN
    assert (await moves(repo, trade_id))[-1] == ("closing", "open")


async def test_a_partial_close_of_an_intent_is_illegal(repo: TradeRepository) -> None:
    trade_id = await repo.create_intent(**intent())

    with pytest.raises(IllegalTransition):
        await partial(repo, trade_id, 0.04)


async def test_a_partial_close_of_an_unknown_trade_is_not_found(repo: TradeRepository) -> None:
    with pytest.raises(NotFoundError, match="424242"):
        await partial(repo, 424242, 0.04)


async def test_closing_sets_the_closed_volume_to_the_whole_volume(repo: TradeRepository) -> None:
    trade_id = await open_trade(repo)
    await partial(repo, trade_id, 0.04)

    record = await close(repo, trade_id)

    assert record.closed_volume == record.volume == Decimal("0.1")
    assert record.open_volume == 0


async def test_closing_without_a_partial_sets_the_closed_volume_too(
    repo: TradeRepository,
) -> None:
    trade_id = await open_trade(repo)

    record = await close(repo, trade_id)

    assert record.closed_volume == Decimal("0.1")


# --- adopted positions ------------------------------------------------------------------------


async def test_adopting_a_position_creates_an_open_trade_without_a_signal(
    repo: TradeRepository,
) -> None:
    record = await repo.adopt_position(
        client_order_id="adopted-777",
        strategy="manual",
        symbol="GBPUSD",
        side=Side.SELL,
        volume=0.5,
        entry_price=1.27001,
        sl=1.28,
        tp=None,
        mt5_position=777,
        open_time=OPEN_TIME,
        details={"found": "reconciliation"},
    )

    assert record.status is TradeStatus.OPEN
    assert (record.strategy, record.symbol, record.side) == ("manual", "GBPUSD", Side.SELL)
    assert record.timeframe is None
    assert (record.signal_time, record.confidence) == (None, None)
    assert record.reason == "adopted by reconciliation"
    assert (record.volume, record.entry_price) == (Decimal("0.5"), Decimal("1.27001"))
    assert (record.sl, record.tp) == (Decimal("1.28"), None)
    assert (record.mt5_order, record.mt5_position) == (777, 777)
    assert record.open_time == OPEN_TIME
    assert record.execution_details == {"found": "reconciliation"}
    assert record == await repo.get(record.id)
    [created] = await repo.transitions(record.id)
    assert (created.from_status, created.to_status) == (None, TradeStatus.OPEN)
    assert created.details == {"found": "reconciliation"}


# --- stops, lookups, counts -------------------------------------------------------------------


async def test_update_stops_stores_the_new_sl_and_tp(repo: TradeRepository) -> None:
    trade_id = await open_trade(repo)

    await repo.update_stops(trade_id, sl=1.0855, tp=1.1)

    record = await repo.get(trade_id)
    assert record is not None
    assert (record.sl, record.tp) == (Decimal("1.0855"), Decimal("1.1"))
    assert record.status is TradeStatus.OPEN


@pytest.mark.parametrize("none", [0, 0.0, None])
async def test_update_stops_with_zero_or_none_removes_a_level(
    repo: TradeRepository, none: float | None
) -> None:
    trade_id = await open_trade(repo)

    await repo.update_stops(trade_id, sl=1.0855, tp=none)

    record = await repo.get(trade_id)
    assert record is not None
    assert (record.sl, record.tp) == (Decimal("1.0855"), None)


async def test_get_by_position_finds_the_trade_of_a_terminal_position(
    repo: TradeRepository,
) -> None:
    first = await open_trade(repo, "a", position=100)
    await open_trade(repo, "b", position=200)

    record = await repo.get_by_position(100)

    assert record is not None
    assert record.id == first
    assert await repo.get_by_position(300) is None


async def test_get_by_position_returns_the_newest_trade_of_the_position(
    repo: TradeRepository,
) -> None:
    await open_trade(repo, "a", position=100)
    newer = await open_trade(repo, "b", position=100)

    record = await repo.get_by_position(100)

    assert record is not None
    assert record.id == newer
