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
