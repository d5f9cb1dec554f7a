"""The trade store contract (:class:`forexbot.engine.trade_store.TradeStore`), run against both
stores: PostgreSQL (:class:`~forexbot.database.trades.TradeRepository`) and memory
(:class:`~forexbot.backtest.trade_store.MemoryTradeStore`).

Idempotent intents, checked transitions with a history, conserved volume, exact money: what
the engine relies on whichever store it writes to. What only one store does (SQL listing, the
backtest's virtual clock) is in ``tests/database/test_trade_repository.py`` and
``tests/backtest/test_trade_store.py``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from trade_records import OPEN_TIME, SIGNAL_TIME, adopted, fill, intent

from forexbot.backtest.trade_store import MemoryTradeStore
from forexbot.clock import ManualClock
from forexbot.database.trades import TradeRepository
from forexbot.domain.lifecycle import IllegalTransition
from forexbot.domain.trades import ClientOrderIdConflict, ExitTotals, TradeRecord
from forexbot.domain.trading import Side, TradeStatus
from forexbot.engine.trade_store import TradeStore
from forexbot.errors import InvalidInputError, NotFoundError

CLOSE_TIME = datetime(2024, 3, 4, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Subject:
    """A store under the contract, with what the contract needs beside the protocol: every
    trade (oldest first) and a way to let time pass (the memory store's clock)."""

    store: TradeStore
    trades: Callable[[], Awaitable[list[TradeRecord]]]
    pass_time: Callable[[float], object]


def memory_subject() -> Subject:
    clock = ManualClock(datetime(2024, 3, 4, 10, 0, 5, tzinfo=UTC).timestamp())
    store = MemoryTradeStore(clock)

    async def every() -> list[TradeRecord]:
        return store.all()

    return Subject(store, every, clock.advance)


def postgres_subject(request: pytest.FixtureRequest) -> Subject:
    store = TradeRepository(request.getfixturevalue("db_engine"))

    async def every() -> list[TradeRecord]:
        newest_first, _ = await store.list(limit=1_000, offset=0)
        return newest_first[::-1]

    return Subject(store, every, lambda _seconds: None)


@pytest.fixture(params=[pytest.param("postgres", marks=pytest.mark.db), "memory"])
def subject(request: pytest.FixtureRequest) -> Subject:
    return postgres_subject(request) if request.param == "postgres" else memory_subject()


@pytest.fixture
def store(subject: Subject) -> TradeStore:
    return subject.store


async def open_trade(
    store: TradeStore, client_order_id: str = "fx-0001", position: int = 5001
) -> int:
    trade_id = await store.create_intent(intent(client_order_id=client_order_id))
    await store.mark_submitted(trade_id)
    await store.mark_open(trade_id, fill(position))
    return trade_id


async def close(
    store: TradeStore, trade_id: int, *, close_reason: str = "take_profit", **money: Any
) -> TradeRecord:
    totals = {"exit_price": 1.09, "profit": 38.5, "swap": 0, "commission": -0.7, **money}
    return await store.mark_closed(
        trade_id, ExitTotals(**totals), close_time=CLOSE_TIME, close_reason=close_reason
    )


async def partial(store: TradeStore, trade_id: int, closed_volume: Any) -> TradeRecord | None:
    totals = ExitTotals(exit_price=1.0862, profit=4.2, swap=-0.05, commission=-0.28)
    return await store.record_partial_close(trade_id, totals, closed_volume=closed_volume)


async def moves(store: TradeStore, trade_id: int) -> list[tuple[str | None, str]]:
    return [
        (None if t.from_status is None else t.from_status.value, t.to_status.value)
        for t in await store.transitions(trade_id)
    ]


# --- order intents ----------------------------------------------------------------------------


async def test_create_intent_stores_the_intent(store: TradeStore) -> None:
    trade_id = await store.create_intent(intent())

    record = await store.get(trade_id)

    assert record is not None
    assert record.id == trade_id
    assert record.client_order_id == "fx-0001"
    assert record.status is TradeStatus.INTENT
    assert record.side is Side.BUY
    assert (record.strategy, record.symbol, record.timeframe) == ("ma_cross", "EURUSD", "M15")
    assert record.volume == Decimal("0.1")
    assert record.closed_volume == Decimal(0)
    assert record.requested_price == Decimal("1.08512")
    assert (record.sl, record.tp) == (Decimal("1.08012"), Decimal("1.09512"))
    assert record.signal_time == SIGNAL_TIME
    assert record.confidence == 0.75
    assert record.reason == "fast MA crossed above slow MA"
    assert record.market_condition == {"trend": "up", "atr": 0.0012}
    assert record.execution_details == {}
    assert (record.entry_price, record.exit_price, record.profit) == (None, None, None)
    assert (record.mt5_order, record.mt5_position) == (None, None)
    assert (record.open_time, record.close_time, record.close_reason) == (None, None, None)
    assert record.created_at.tzinfo is UTC


async def test_trade_ids_increase_in_creation_order(subject: Subject) -> None:
    ids = [await subject.store.create_intent(intent(client_order_id=f"fx-{n}")) for n in range(3)]

    assert ids == sorted(set(ids))
    assert [record.id for record in await subject.trades()] == ids


async def test_create_intent_is_idempotent_on_client_order_id(subject: Subject) -> None:
    first = await subject.store.create_intent(intent())
    second = await subject.store.create_intent(intent())

    assert second == first
    assert [record.id for record in await subject.trades()] == [first]


async def test_concurrent_identical_intents_create_one_trade(subject: Subject) -> None:
    ids = await asyncio.gather(*(subject.store.create_intent(intent()) for _ in range(5)))

    assert len(set(ids)) == 1
    assert len(await subject.trades()) == 1


async def test_the_same_order_with_its_volume_as_decimal_is_the_same_intent(
    subject: Subject,
) -> None:
    first = await subject.store.create_intent(intent(volume=0.1))
    second = await subject.store.create_intent(intent(volume=Decimal("0.10"), side=Side.BUY))

    assert second == first
    assert len(await subject.trades()) == 1


@pytest.mark.parametrize(
    "change",
    [{"strategy": "breakout"}, {"symbol": "GBPUSD"}, {"side": "sell"}, {"volume": 0.2}],
    ids=["strategy", "symbol", "side", "volume"],
)
async def test_reusing_a_client_order_id_for_another_order_is_refused(
    subject: Subject, change: dict[str, Any]
) -> None:
    first = await subject.store.create_intent(intent())
    before = await subject.trades()

    with pytest.raises(ClientOrderIdConflict, match=f"'fx-0001' already belongs to trade {first}"):
        await subject.store.create_intent(intent(**change))

    assert await subject.trades() == before


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("client_order_id", "", "client_order_id must not be empty"),
        ("confidence", -0.01, r"confidence must be within \[0, 1\]"),
        ("confidence", 1.01, r"confidence must be within \[0, 1\]"),
        ("confidence", float("nan"), r"confidence must be within \[0, 1\]"),
        ("volume", 0, "volume must be positive"),
        ("volume", 0.0, "volume must be positive"),
        ("volume", -0.1, "volume must be positive"),
        ("volume", Decimal("-1"), "volume must be positive"),
        ("side", "long", "side must be 'buy' or 'sell', got 'long'"),
        ("signal_time", datetime(2024, 1, 1), "signal_time must be a timezone-aware datetime"),
        ("requested_price", float("nan"), "requested_price must be a finite number"),
    ],
)
async def test_an_invalid_intent_is_refused_and_stores_nothing(
    subject: Subject, field: str, value: Any, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        await subject.store.create_intent(intent(**{field: value}))

    assert await subject.trades() == []


@pytest.mark.parametrize("confidence", [0.0, 1.0])
async def test_a_confidence_of_zero_or_one_is_accepted(
    store: TradeStore, confidence: float
) -> None:
    record = await store.get(await store.create_intent(intent(confidence=confidence)))

    assert record is not None
    assert record.confidence == confidence


async def test_a_side_is_read_case_insensitively(store: TradeStore) -> None:
    record = await store.get(await store.create_intent(intent(side="SELL")))

    assert record is not None
    assert record.side is Side.SELL


async def test_a_signal_time_is_stored_as_the_same_instant_in_utc(store: TradeStore) -> None:
    paris = timezone(timedelta(hours=1))
    trade_id = await store.create_intent(
        intent(signal_time=datetime(2024, 3, 4, 11, 0, tzinfo=paris))
    )

    record = await store.get(trade_id)

    assert record is not None
    assert record.signal_time == SIGNAL_TIME
    assert record.signal_time.tzinfo is UTC


async def test_a_float_is_stored_as_its_shortest_repr(store: TradeStore) -> None:
    record = await store.get(await store.create_intent(intent(volume=0.1 + 0.2)))

    assert record is not None
    # The float 0.1 + 0.2 as written, not its 52-digit binary expansion.
    assert record.volume == Decimal("0.30000000000000004")


async def test_a_decimal_is_stored_unchanged(store: TradeStore) -> None:
    price = Decimal("1.234567890123456789012345678901")
    trade_id = await store.create_intent(intent(requested_price=price, volume=Decimal("0.01")))

    record = await store.get(trade_id)

    assert record is not None
    assert record.requested_price == price
    assert str(record.volume) == "0.01"


async def test_market_condition_is_stored_as_json_values(store: TradeStore) -> None:
    condition = {
        "atr": np.float64(0.00123),
        "regime": TradeStatus.OPEN,
        "risk": Decimal("0.5"),
        "rsi": float("nan"),
        "at": SIGNAL_TIME,
    }

    record = await store.get(await store.create_intent(intent(market_condition=condition)))

    assert record is not None
    assert record.market_condition == {
        "atr": 0.00123,
        "regime": "open",
        "risk": 0.5,
        "rsi": None,
        "at": "2024-03-04T10:00:00+00:00",
    }


async def test_a_stored_record_is_json_ready_through_to_api(store: TradeStore) -> None:
    trade_id = await store.create_intent(intent())
    record = await store.get(trade_id)
    assert record is not None

    api = record.to_api()

    assert json.loads(json.dumps(api)) == api
    assert (api["id"], api["side"], api["status"]) == (trade_id, "buy", "intent")
    assert (api["volume"], api["requested_price"], api["entry_price"]) == (0.1, 1.08512, None)
    assert api["signal_time"] == "2024-03-04T10:00:00Z"
    assert api["created_at"].endswith("Z")
    assert api["market_condition"] == {"trend": "up", "atr": 0.0012}


# --- the lifecycle ----------------------------------------------------------------------------


async def test_full_lifecycle_records_fill_and_close(store: TradeStore) -> None:
    trade_id = await store.create_intent(intent())

    submitted = await store.mark_submitted(trade_id)
    opened = await store.mark_open(trade_id, fill(execution_details={"retcode": 10009}))
    closing = await store.mark_closing(trade_id)
    closed = await close(store, trade_id, exit_price=1.1, profit=99.7, swap=-0.35)

    assert [r.status for r in (submitted, opened, closing, closed)] == [
        TradeStatus.SUBMITTED,
        TradeStatus.OPEN,
        TradeStatus.CLOSING,
        TradeStatus.CLOSED,
    ]
    assert (closed.mt5_order, closed.mt5_position) == (5001, 5001)
    assert closed.entry_price == Decimal("1.08515")
    assert closed.open_time == OPEN_TIME
    assert closed.exit_price == Decimal("1.1")
    assert closed.close_time == CLOSE_TIME
    assert (closed.profit, closed.swap, closed.commission) == (
        Decimal("99.7"),
        Decimal("-0.35"),
        Decimal("-0.7"),
    )
    assert closed.close_reason == "take_profit"
    assert closed.execution_details == {"retcode": 10009}
    assert closed.updated_at >= closed.created_at
    assert closed == await store.get(trade_id)


async def test_mark_submitted_returns_the_stored_record(store: TradeStore) -> None:
    trade_id = await store.create_intent(intent())

    record = await store.mark_submitted(trade_id)

    assert record.status is TradeStatus.SUBMITTED
    assert record == await store.get(trade_id)


async def test_submit_intent_writes_what_create_intent_then_mark_submitted_write(
    subject: Subject,
) -> None:
    two_steps = await subject.store.mark_submitted(
        await subject.store.create_intent(intent(client_order_id="fx-two"))
    )
    one_step = await subject.store.submit_intent(intent(client_order_id="fx-one"))

    assert one_step.status is TradeStatus.SUBMITTED
    assert one_step == await subject.store.get(one_step.id)
    differ = {"id", "client_order_id", "created_at", "updated_at"}
    assert {k: v for k, v in one_step.to_api().items() if k not in differ} == {
        k: v for k, v in two_steps.to_api().items() if k not in differ
    }
    moves = [
        (t.from_status, t.to_status, t.details)
        for t in await subject.store.transitions(one_step.id)
    ]
    assert moves == [
        (None, TradeStatus.INTENT, {"volume": "0.1"}),
        (TradeStatus.INTENT, TradeStatus.SUBMITTED, {}),
    ]
    assert moves == [
        (t.from_status, t.to_status, t.details)
        for t in await subject.store.transitions(two_steps.id)
    ]


async def test_submit_intent_of_an_existing_intent_marks_that_trade_submitted(
    subject: Subject,
) -> None:
    first = await subject.store.create_intent(intent())

    record = await subject.store.submit_intent(intent())

    assert (record.id, record.status) == (first, TradeStatus.SUBMITTED)
    assert [r.id for r in await subject.trades()] == [first]


async def test_submit_intent_of_an_already_submitted_order_is_an_illegal_move(
    subject: Subject,
) -> None:
    first = await subject.store.submit_intent(intent())

    with pytest.raises(IllegalTransition):
        await subject.store.submit_intent(intent())

    assert await subject.trades() == [first]


async def test_submit_intent_reusing_a_client_order_id_for_another_order_is_refused(
    subject: Subject,
) -> None:
    first = await subject.store.create_intent(intent())
    before = await subject.trades()

    with pytest.raises(ClientOrderIdConflict, match=f"'fx-0001' already belongs to trade {first}"):
        await subject.store.submit_intent(intent(volume=0.2))

    assert await subject.trades() == before


async def test_submit_intents_writes_each_intent_as_submit_intent_does(
    subject: Subject,
) -> None:
    alone = await subject.store.submit_intent(intent(client_order_id="fx-alone"))

    batch = await subject.store.submit_intents(
        [intent(client_order_id="fx-b1"), intent(client_order_id="fx-b2", volume=0.3)]
    )

    assert [r.client_order_id for r in batch if isinstance(r, TradeRecord)] == ["fx-b1", "fx-b2"]
    assert [r.status for r in batch if isinstance(r, TradeRecord)] == [TradeStatus.SUBMITTED] * 2
    assert [r.id for r in await subject.trades()] == [alone.id] + [
        r.id for r in batch if isinstance(r, TradeRecord)
    ]
    for record in batch:
        assert isinstance(record, TradeRecord)
        assert record == await subject.store.get(record.id)
        moves = [(t.from_status, t.to_status) for t in await subject.store.transitions(record.id)]
        assert moves == [(None, TradeStatus.INTENT), (TradeStatus.INTENT, TradeStatus.SUBMITTED)]


async def test_submit_intents_refuses_an_intent_alone_and_writes_the_others(
    subject: Subject,
) -> None:
    taken = await subject.store.create_intent(intent(client_order_id="fx-taken"))
    existing = await subject.store.create_intent(intent(client_order_id="fx-existing"))

    outcomes = await subject.store.submit_intents(
        [
            intent(client_order_id="fx-new-1"),
            intent(client_order_id="fx-taken", volume=0.7),  # another order, same id
            intent(client_order_id="fx-existing"),  # this very intent, written before
            intent(client_order_id="fx-bad", confidence=1.5),
            intent(client_order_id="fx-new-2"),
        ]
    )

    new_1, conflict, resubmitted, invalid, new_2 = outcomes
    assert isinstance(conflict, ClientOrderIdConflict)
    assert f"'fx-taken' already belongs to trade {taken}" in str(conflict)
    assert isinstance(invalid, InvalidInputError)
    assert "confidence must be within [0, 1]" in str(invalid)
    assert isinstance(resubmitted, TradeRecord)
    assert (resubmitted.id, resubmitted.status) == (existing, TradeStatus.SUBMITTED)
    assert isinstance(new_1, TradeRecord)
    assert isinstance(new_2, TradeRecord)
    by_id = {r.client_order_id: r.status for r in await subject.trades()}
    assert by_id == {
        "fx-taken": TradeStatus.INTENT,
        "fx-existing": TradeStatus.SUBMITTED,
        "fx-new-1": TradeStatus.SUBMITTED,
        "fx-new-2": TradeStatus.SUBMITTED,
    }


async def test_submit_intents_refuses_a_copy_of_an_intent_in_the_same_batch(
    subject: Subject,
) -> None:
    first, copy, other = await subject.store.submit_intents(
        [
            intent(client_order_id="fx-twice"),
            intent(client_order_id="fx-twice"),
            intent(client_order_id="fx-twice", volume=0.4),
        ]
    )

    assert isinstance(first, TradeRecord)
    assert first.status is TradeStatus.SUBMITTED
    assert isinstance(copy, IllegalTransition)  # as if submitted again afterwards
    assert isinstance(other, ClientOrderIdConflict)
    assert [r.id for r in await subject.trades()] == [first.id]


async def test_submit_intents_of_nothing_writes_nothing(subject: Subject) -> None:
    assert await subject.store.submit_intents([]) == []
    assert await subject.trades() == []


async def test_mark_open_returns_the_record_with_the_fill(store: TradeStore) -> None:
    trade_id = await store.create_intent(intent())

    record = await store.mark_open(
        trade_id, fill(mt5_order=7, mt5_position=8, execution_details={"retcode": 10009})
    )

    assert record.status is TradeStatus.OPEN
    assert (record.mt5_order, record.mt5_position) == (7, 8)
    assert record.entry_price == Decimal("1.08515")
    assert record.open_time == OPEN_TIME
    assert record.execution_details == {"retcode": 10009}
    assert record == await store.get(trade_id)


async def test_mark_closing_reopen_and_closed_return_the_stored_record(store: TradeStore) -> None:
    trade_id = await open_trade(store)

    closing = await store.mark_closing(trade_id)
    assert closing.status is TradeStatus.CLOSING
    assert closing == await store.get(trade_id)
    reopened = await store.reopen(trade_id, reason="refused")
    assert reopened.status is TradeStatus.OPEN
    assert reopened == await store.get(trade_id)
    await store.mark_closing(trade_id)
    closed = await close(store, trade_id)

    assert closed.status is TradeStatus.CLOSED
    assert closed.exit_price == Decimal("1.09")
    assert closed.profit == Decimal("38.5")
    assert closed.close_reason == "take_profit"
    assert closed == await store.get(trade_id)


async def test_mark_open_stores_the_filled_volume(store: TradeStore) -> None:
    trade_id = await store.create_intent(intent(volume=0.1))

    record = await store.mark_open(trade_id, fill(volume=0.07))

    assert record.volume == Decimal("0.07")


async def test_mark_open_directly_from_intent_is_allowed(store: TradeStore) -> None:
    # A crash between order_send and mark_submitted: reconciliation finds the position.
    trade_id = await store.create_intent(intent())

    record = await store.mark_open(trade_id, fill())

    assert record.status is TradeStatus.OPEN
    assert await moves(store, trade_id) == [(None, "intent"), ("intent", "open")]


async def test_mark_open_of_an_open_trade_is_illegal_and_keeps_the_first_fill(
    store: TradeStore,
) -> None:
    """open → open is a partial close only; a second fill must not overwrite the first."""
    trade_id = await open_trade(store)

    with pytest.raises(IllegalTransition, match="cannot become 'open' from 'open'"):
        await store.mark_open(trade_id, fill(position=9, entry_price=1.2))

    record = await store.get(trade_id)
    assert record is not None
    assert (record.mt5_position, record.entry_price) == (5001, Decimal("1.08515"))


async def test_closing_sets_the_closed_volume_to_the_whole_volume(store: TradeStore) -> None:
    trade_id = await open_trade(store)

    record = await close(store, trade_id)

    assert record.closed_volume == record.volume == Decimal("0.1")
    assert record.open_volume == 0


async def test_closing_after_a_partial_close_sets_the_closed_volume_to_the_whole_volume(
    store: TradeStore,
) -> None:
    trade_id = await open_trade(store)
    await partial(store, trade_id, 0.04)

    record = await close(store, trade_id)

    assert record.closed_volume == record.volume == Decimal("0.1")
    assert record.open_volume == 0


async def test_an_open_trade_may_close_without_a_closing_step(store: TradeStore) -> None:
    trade_id = await open_trade(store)

    record = await close(store, trade_id, close_reason="sl")

    assert (record.status, record.close_reason) == (TradeStatus.CLOSED, "sl")
    assert (await moves(store, trade_id))[-1] == ("open", "closed")


async def test_reopen_returns_a_closing_trade_to_open(store: TradeStore) -> None:
    trade_id = await open_trade(store)
    await store.mark_closing(trade_id)

    record = await store.reopen(trade_id, reason="requote")

    assert record.status is TradeStatus.OPEN
    assert (await moves(store, trade_id))[-1] == ("closing", "open")


async def test_reopen_is_only_from_closing(store: TradeStore) -> None:
    trade_id = await open_trade(store)

    with pytest.raises(IllegalTransition, match="cannot become 'open' from 'open'"):
        await store.reopen(trade_id, reason="nothing to reopen")


async def test_a_rejection_records_the_code_message_and_details(store: TradeStore) -> None:
    trade_id = await store.create_intent(intent())
    await store.mark_submitted(trade_id)

    record = await store.mark_rejected(
        trade_id,
        code=10030,
        message="unsupported filling mode",
        execution_details={"retcode": 10030, "latency_ms": 12.5},
    )

    assert record.status is TradeStatus.REJECTED
    assert (record.reject_code, record.reject_message) == (10030, "unsupported filling mode")
    assert record.execution_details == {"retcode": 10030, "latency_ms": 12.5}
    assert record == await store.get(trade_id)


async def test_a_cancellation_records_the_reason_as_close_reason(store: TradeStore) -> None:
    trade_id = await store.create_intent(intent())

    record = await store.mark_cancelled(
        trade_id, reason="not executed", execution_details={"checked": 1}
    )

    assert (record.status, record.close_reason) == (TradeStatus.CANCELLED, "not executed")
    assert record.execution_details == {"checked": 1}
    assert record == await store.get(trade_id)


async def test_a_cancellation_without_details_leaves_execution_details_empty(
    store: TradeStore,
) -> None:
    trade_id = await store.create_intent(intent())

    record = await store.mark_cancelled(trade_id, reason="market closed")

    assert (record.status, record.close_reason) == (TradeStatus.CANCELLED, "market closed")
    assert record.execution_details == {}


# --- illegal moves ----------------------------------------------------------------------------

Move = Callable[[TradeStore, int], Awaitable[Any]]


async def to_closed(store: TradeStore, trade_id: int) -> Any:
    return await close(store, trade_id)


async def to_open(store: TradeStore, trade_id: int) -> Any:
    return await store.mark_open(trade_id, fill(position=77))


async def to_closing(store: TradeStore, trade_id: int) -> Any:
    return await store.mark_closing(trade_id)


async def to_submitted(store: TradeStore, trade_id: int) -> Any:
    return await store.mark_submitted(trade_id)


async def to_reopened(store: TradeStore, trade_id: int) -> Any:
    return await store.reopen(trade_id, reason="x")


async def to_rejected(store: TradeStore, trade_id: int) -> Any:
    return await store.mark_rejected(trade_id, code=10006, message="no", execution_details={"x": 1})


async def to_cancelled(store: TradeStore, trade_id: int) -> Any:
    return await store.mark_cancelled(trade_id, reason="x")


async def to_partly_closed(store: TradeStore, trade_id: int) -> Any:
    return await partial(store, trade_id, 0.04)


async def an_intent(store: TradeStore) -> int:
    return await store.create_intent(intent())


async def a_submitted(store: TradeStore) -> int:
    trade_id = await an_intent(store)
    await store.mark_submitted(trade_id)
    return trade_id


async def a_closed(store: TradeStore) -> int:
    trade_id = await open_trade(store)
    await close(store, trade_id)
    return trade_id


async def a_rejected(store: TradeStore) -> int:
    trade_id = await an_intent(store)
    await to_rejected(store, trade_id)
    return trade_id


async def a_cancelled(store: TradeStore) -> int:
    trade_id = await an_intent(store)
    await to_cancelled(store, trade_id)
    return trade_id


ILLEGAL_MOVES = [
    pytest.param(an_intent, to_closing, "intent", "closing", id="intent->closing"),
    pytest.param(an_intent, to_closed, "intent", "closed", id="intent->closed"),
    pytest.param(an_intent, to_reopened, "intent", "open", id="intent->reopen"),
    pytest.param(an_intent, to_partly_closed, "intent", "open", id="intent->partial"),
    pytest.param(a_submitted, to_submitted, "submitted", "submitted", id="submitted->submitted"),
    pytest.param(a_submitted, to_closing, "submitted", "closing", id="submitted->closing"),
    pytest.param(a_closed, to_open, "closed", "open", id="closed->open"),
    pytest.param(a_closed, to_reopened, "closed", "open", id="closed->reopen"),
    pytest.param(a_closed, to_closing, "closed", "closing", id="closed->closing"),
    pytest.param(a_closed, to_closed, "closed", "closed", id="closed->closed"),
    pytest.param(a_rejected, to_open, "rejected", "open", id="rejected->open"),
    pytest.param(a_rejected, to_cancelled, "rejected", "cancelled", id="rejected->cancelled"),
    pytest.param(a_cancelled, to_open, "cancelled", "open", id="cancelled->open"),
    pytest.param(a_cancelled, to_rejected, "cancelled", "rejected", id="cancelled->rejected"),
]


@pytest.mark.parametrize(("make", "move", "current", "target"), ILLEGAL_MOVES)
async def test_an_illegal_move_raises_illegal_transition(
    store: TradeStore,
    make: Callable[[TradeStore], Awaitable[int]],
    move: Move,
    current: str,
    target: str,
) -> None:
    trade_id = await make(store)

    with pytest.raises(
        IllegalTransition, match=f"trade {trade_id} cannot become '{target}' from '{current}'"
    ) as caught:
        await move(store, trade_id)

    assert caught.value.trade_id == trade_id
    assert caught.value.current is TradeStatus(current)
    assert caught.value.target is TradeStatus(target)


@pytest.mark.parametrize(("make", "move", "current", "target"), ILLEGAL_MOVES)
async def test_an_illegal_move_changes_neither_the_trade_nor_its_history(
    subject: Subject,
    make: Callable[[TradeStore], Awaitable[int]],
    move: Move,
    current: str,
    target: str,
) -> None:
    store = subject.store
    trade_id = await make(store)
    before, history = await store.get(trade_id), await store.transitions(trade_id)
    subject.pass_time(30)

    with pytest.raises(IllegalTransition):
        await move(store, trade_id)

    assert await store.get(trade_id) == before
    assert await store.transitions(trade_id) == history
    assert [r.id for r in await store.open_trades()] == (
        [trade_id] if current in {"intent", "submitted"} else []
    )


# --- unknown trades ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "move",
    [
        to_submitted,
        to_open,
        to_rejected,
        to_cancelled,
        to_closing,
        to_reopened,
        to_closed,
        to_partly_closed,
    ],
    ids=["submitted", "open", "rejected", "cancelled", "closing", "reopen", "closed", "partial"],
)
async def test_a_move_of_an_unknown_trade_is_not_found(subject: Subject, move: Move) -> None:
    with pytest.raises(NotFoundError, match="trade 424242 does not exist"):
        await move(subject.store, 424242)

    assert await subject.trades() == []


async def test_lookups_of_unknown_trades_return_none(store: TradeStore) -> None:
    assert await store.get(99) is None
    assert await store.get_by_client_order_id("nope") is None
    assert await store.get_by_position(99) is None


async def test_history_of_an_unknown_trade_is_empty(store: TradeStore) -> None:
    assert await store.transitions(424242) == []


# --- partial closes ---------------------------------------------------------------------------


async def test_a_partial_close_keeps_the_trade_open_with_its_totals(store: TradeStore) -> None:
    trade_id = await open_trade(store)

    record = await partial(store, trade_id, 0.04)

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
    assert record == await store.get(trade_id)


async def test_a_partial_close_is_an_open_to_open_move_in_the_history(store: TradeStore) -> None:
    trade_id = await open_trade(store)

    await partial(store, trade_id, 0.04)

    last = (await store.transitions(trade_id))[-1]
    assert (last.from_status, last.to_status) == (TradeStatus.OPEN, TradeStatus.OPEN)
    assert last.details["event"] == "partial_close"
    assert last.details["closed_volume"] == "0.04"


async def test_recording_the_same_closed_volume_again_returns_none_and_changes_nothing(
    subject: Subject,
) -> None:
    store = subject.store
    trade_id = await open_trade(store)
    first = await partial(store, trade_id, 0.04)
    history = await store.transitions(trade_id)
    subject.pass_time(30)

    assert await partial(store, trade_id, Decimal("0.040")) is None
    assert await store.get(trade_id) == first
    assert await store.transitions(trade_id) == history


async def test_a_larger_partial_close_replaces_the_totals(store: TradeStore) -> None:
    trade_id = await open_trade(store)
    await partial(store, trade_id, 0.04)

    record = await store.record_partial_close(
        trade_id,
        ExitTotals(exit_price=1.087, profit=9.1, swap=-0.1, commission=-0.49),
        closed_volume=0.07,
    )

    assert record is not None
    assert record.closed_volume == Decimal("0.07")
    assert record.exit_price == Decimal("1.087")
    assert (record.profit, record.swap, record.commission) == (
        Decimal("9.1"),
        Decimal("-0.1"),
        Decimal("-0.49"),
    )
    assert len(await store.transitions(trade_id)) == 5


@pytest.mark.parametrize("closed_volume", [0.1, 0.2])
async def test_a_partial_close_must_leave_volume_open(
    store: TradeStore, closed_volume: float
) -> None:
    trade_id = await open_trade(store)
    before, history = await store.get(trade_id), await store.transitions(trade_id)

    with pytest.raises(ValueError, match="must leave volume open"):
        await partial(store, trade_id, closed_volume)

    assert await store.get(trade_id) == before
    assert await store.transitions(trade_id) == history


async def test_a_partial_close_of_a_closing_trade_returns_it_to_open(store: TradeStore) -> None:
    trade_id = await open_trade(store)
    await store.mark_closing(trade_id)

    record = await partial(store, trade_id, 0.04)

    assert record is not None
    assert record.status is TradeStatus.OPEN
    assert (await moves(store, trade_id))[-1] == ("closing", "open")


# --- execution details ------------------------------------------------------------------------


async def test_execution_details_of_the_fill_are_kept_through_the_close(
    store: TradeStore,
) -> None:
    trade_id = await store.create_intent(intent())
    await store.mark_open(trade_id, fill(execution_details={"retcode": 10009, "slip": 0.3}))
    await store.mark_closing(trade_id, details={"why": "manual_api"})
    await partial(store, trade_id, 0.04)

    record = await close(store, trade_id)

    # mark_closed takes no execution details; mark_closing's details go to the history only.
    assert record.execution_details == {"retcode": 10009, "slip": 0.3}


async def test_execution_details_are_stored_as_json_values(store: TradeStore) -> None:
    trade_id = await store.create_intent(intent())

    record = await store.mark_open(
        trade_id,
        fill(
            execution_details={"filled": Decimal("1.08515"), "ms": np.float64(2.5), "at": OPEN_TIME}
        ),
    )

    assert record.execution_details == {
        "filled": 1.08515,
        "ms": 2.5,
        "at": "2024-03-04T10:00:01+00:00",
    }


# --- the history ------------------------------------------------------------------------------


async def test_creating_an_intent_records_a_move_from_nothing(store: TradeStore) -> None:
    trade_id = await store.create_intent(intent())

    [created] = await store.transitions(trade_id)

    assert (created.trade_id, created.from_status, created.to_status) == (
        trade_id,
        None,
        TradeStatus.INTENT,
    )
    assert created.details == {"volume": "0.1"}
    assert created.time.tzinfo is UTC


async def test_a_repeated_intent_records_no_second_creation(store: TradeStore) -> None:
    trade_id = await store.create_intent(intent())
    await store.create_intent(intent())

    assert await moves(store, trade_id) == [(None, "intent")]


async def test_every_transition_appends_a_history_row_in_order(store: TradeStore) -> None:
    trade_id = await open_trade(store)
    await store.mark_closing(trade_id, details={"why": "manual_api"})
    await store.reopen(trade_id, reason="requote")
    await partial(store, trade_id, 0.04)
    await store.mark_closing(trade_id)
    await close(store, trade_id)

    assert await moves(store, trade_id) == [
        (None, "intent"),
        ("intent", "submitted"),
        ("submitted", "open"),
        ("open", "closing"),
        ("closing", "open"),
        ("open", "open"),
        ("open", "closing"),
        ("closing", "closed"),
    ]


async def test_history_rows_carry_the_details_of_the_change(store: TradeStore) -> None:
    trade_id = await open_trade(store)
    await store.mark_closing(trade_id, details={"why": "manual_api"})
    await store.reopen(trade_id, reason="requote")

    history = await store.transitions(trade_id)

    opened, closing, reopened = history[2], history[3], history[4]
    assert opened.details["mt5_position"] == 5001
    assert opened.details["open_time"] == "2024-03-04T10:00:01+00:00"
    assert closing.details == {"why": "manual_api"}
    assert reopened.details == {"reason": "requote"}
    assert [t.id for t in history] == sorted(t.id for t in history)


async def test_history_rows_carry_money_and_prices_as_exact_text(store: TradeStore) -> None:
    trade_id = await open_trade(store)
    await close(store, trade_id)

    history = await store.transitions(trade_id)

    opened, closed = history[2], history[3]
    assert opened.details["entry_price"] == "1.08515"
    assert opened.details["volume"] == "0.1"
    assert closed.details["exit_price"] == "1.09"
    assert closed.details["profit"] == "38.5"


async def test_history_ids_increase_across_trades(store: TradeStore) -> None:
    first = await store.create_intent(intent(client_order_id="a"))
    second = await store.create_intent(intent(client_order_id="b"))
    await store.mark_submitted(first)

    [created_first, submitted] = await store.transitions(first)
    [created_second] = await store.transitions(second)

    assert created_first.id < created_second.id < submitted.id


async def test_rejection_and_cancellation_are_recorded_in_the_history(store: TradeStore) -> None:
    rejected = await store.create_intent(intent(client_order_id="a"))
    cancelled = await store.create_intent(intent(client_order_id="b"))
    await store.mark_submitted(rejected)
    await to_rejected(store, rejected)
    await store.mark_cancelled(cancelled, reason="never sent")

    assert await moves(store, rejected) == [
        (None, "intent"),
        ("intent", "submitted"),
        ("submitted", "rejected"),
    ]
    assert await moves(store, cancelled) == [(None, "intent"), ("intent", "cancelled")]


# --- lookups ----------------------------------------------------------------------------------


async def test_get_by_client_order_id_finds_the_trade(store: TradeStore) -> None:
    trade_id = await store.create_intent(intent(client_order_id="fx-42"))

    record = await store.get_by_client_order_id("fx-42")

    assert record is not None
    assert record.id == trade_id


async def test_get_by_position_finds_the_trade_of_a_terminal_position(store: TradeStore) -> None:
    first = await open_trade(store, "a", position=100)
    await open_trade(store, "b", position=200)

    record = await store.get_by_position(100)

    assert record is not None
    assert record.id == first
    assert await store.get_by_position(300) is None


async def test_get_by_position_returns_the_newest_trade_of_the_position(store: TradeStore) -> None:
    await open_trade(store, "a", position=100)
    newer = await open_trade(store, "b", position=100)

    record = await store.get_by_position(100)

    assert record is not None
    assert record.id == newer


async def test_get_by_position_returns_the_newest_trade_after_an_older_one_moves(
    store: TradeStore,
) -> None:
    older = await open_trade(store, "a", position=100)
    newer = await open_trade(store, "b", position=100)
    await close(store, older)

    record = await store.get_by_position(100)

    assert record is not None
    assert record.id == newer


async def test_get_by_position_still_finds_a_closed_trade(store: TradeStore) -> None:
    trade_id = await open_trade(store, position=100)
    await close(store, trade_id)

    record = await store.get_by_position(100)

    assert record is not None
    assert (record.id, record.status) == (trade_id, TradeStatus.CLOSED)


# --- open trades ------------------------------------------------------------------------------


async def test_open_trades_are_the_live_ones_oldest_first(store: TradeStore) -> None:
    ids = [await store.create_intent(intent(client_order_id=f"fx-{n}")) for n in range(5)]
    await store.mark_submitted(ids[0])
    await store.mark_open(ids[1], fill(position=1))
    await store.mark_open(ids[2], fill(position=2))
    await store.mark_closing(ids[2])
    await to_rejected(store, ids[3])
    # ids[4] is still an intent: it may be about to be sent, so it is live too.

    assert [r.id for r in await store.open_trades()] == [ids[0], ids[1], ids[2], ids[4]]


async def test_open_trades_drop_closed_rejected_and_cancelled_trades(store: TradeStore) -> None:
    closed = await open_trade(store, "a", position=1)
    rejected = await store.create_intent(intent(client_order_id="b"))
    cancelled = await store.create_intent(intent(client_order_id="c"))
    still_open = await open_trade(store, "d", position=2)
    await close(store, closed)
    await to_rejected(store, rejected)
    await store.mark_cancelled(cancelled, reason="never sent")

    assert [r.id for r in await store.open_trades()] == [still_open]


async def test_open_trades_keep_creation_order_when_an_older_trade_moves_later(
    store: TradeStore,
) -> None:
    first = await open_trade(store, "a", position=1)
    second = await open_trade(store, "b", position=2)
    await store.mark_closing(first)
    await store.reopen(first, reason="requote")

    assert [r.id for r in await store.open_trades()] == [first, second]


async def test_open_trades_return_the_current_records(store: TradeStore) -> None:
    trade_id = await open_trade(store)
    closing = await store.mark_closing(trade_id)

    assert await store.open_trades() == [closing]


async def test_open_trades_of_an_empty_store_are_none(store: TradeStore) -> None:
    assert await store.open_trades() == []


# --- stops ------------------------------------------------------------------------------------


async def test_update_stops_stores_the_new_sl_and_tp(store: TradeStore) -> None:
    trade_id = await open_trade(store)
    history = await store.transitions(trade_id)

    await store.update_stops(trade_id, sl=1.0855, tp=1.1)

    record = await store.get(trade_id)
    assert record is not None
    assert (record.sl, record.tp) == (Decimal("1.0855"), Decimal("1.1"))
    assert record.status is TradeStatus.OPEN
    assert await store.transitions(trade_id) == history


@pytest.mark.parametrize("none", [0, 0.0, Decimal(0), None])
@pytest.mark.parametrize("level", ["sl", "tp"])
async def test_update_stops_with_zero_or_none_removes_a_level(
    store: TradeStore, level: str, none: Any
) -> None:
    trade_id = await open_trade(store)
    levels: dict[str, Any] = {"sl": 1.0855, "tp": 1.1}

    await store.update_stops(trade_id, **{**levels, level: none})

    record = await store.get(trade_id)
    assert record is not None
    kept = "tp" if level == "sl" else "sl"
    assert getattr(record, level) is None
    assert getattr(record, kept) == Decimal(repr(levels[kept]))


async def test_update_stops_of_an_unknown_trade_changes_nothing(subject: Subject) -> None:
    await subject.store.update_stops(424242, sl=1.0855, tp=1.1)

    assert await subject.trades() == []
    assert await subject.store.get(424242) is None


# --- adopted positions ------------------------------------------------------------------------


async def test_adopting_a_position_creates_an_open_trade_without_a_signal(
    store: TradeStore,
) -> None:
    record = await store.adopt_position(adopted())

    assert record.client_order_id == "adopted-777"
    assert record.status is TradeStatus.OPEN
    assert (record.strategy, record.symbol, record.side) == ("manual", "GBPUSD", Side.SELL)
    assert record.timeframe is None
    assert (record.signal_time, record.confidence) == (None, None)
    assert record.reason == "adopted by reconciliation"
    assert (record.volume, record.closed_volume) == (Decimal("0.5"), Decimal(0))
    assert record.entry_price == Decimal("1.27001")
    assert (record.sl, record.tp) == (Decimal("1.28"), None)
    assert (record.mt5_order, record.mt5_position) == (777, 777)
    assert record.open_time == OPEN_TIME
    assert record.execution_details == {"found": "reconciliation"}
    assert record == await store.get(record.id)


async def test_adopting_a_position_records_a_move_from_nothing_to_open(store: TradeStore) -> None:
    record = await store.adopt_position(adopted())

    [created] = await store.transitions(record.id)

    assert (created.from_status, created.to_status) == (None, TradeStatus.OPEN)
    assert created.details == {"found": "reconciliation"}


async def test_an_adopted_trade_is_live_and_found_by_its_position(store: TradeStore) -> None:
    record = await store.adopt_position(adopted())

    assert await store.open_trades() == [record]
    assert await store.get_by_position(777) == record
    assert await store.get_by_client_order_id("adopted-777") == record


async def test_an_adopted_trade_follows_the_lifecycle_from_open(store: TradeStore) -> None:
    record = await store.adopt_position(adopted())
    await store.mark_closing(record.id)

    closed = await close(store, record.id)

    assert (closed.status, closed.closed_volume) == (TradeStatus.CLOSED, Decimal("0.5"))
