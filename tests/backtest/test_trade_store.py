"""MemoryTradeStore: the backtest's trades, held to the rules of the database's TradeRepository
(idempotent intents, checked transitions with a history, conserved volume, exact money), with
every time read from the backtest's virtual clock."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import numpy as np
import pytest

from forexbot.backtest.trade_store import MemoryTradeStore
from forexbot.clock import ManualClock
from forexbot.database.trades import ClientOrderIdConflict, IllegalTransition
from forexbot.domain.trading import Side, TradeStatus
from forexbot.errors import NotFoundError

SIGNAL_TIME = datetime(2024, 3, 4, 10, 0, tzinfo=UTC)
OPEN_TIME = datetime(2024, 3, 4, 10, 0, 1, tzinfo=UTC)
CLOSE_TIME = datetime(2024, 3, 4, 12, 0, tzinfo=UTC)
CLOCK_START = datetime(2024, 3, 4, 10, 0, 5, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(CLOCK_START.timestamp())


@pytest.fixture
def store(clock: ManualClock) -> MemoryTradeStore:
    return MemoryTradeStore(clock)


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


async def fill(
    store: MemoryTradeStore, trade_id: int, position: int = 5001, **overrides: Any
) -> Any:
    fields: dict[str, Any] = {
        "mt5_order": position,
        "mt5_position": position,
        "entry_price": 1.08515,
        "volume": 0.1,
        "open_time": OPEN_TIME,
        "execution_details": {},
    }
    fields.update(overrides)
    return await store.mark_open(trade_id, **fields)


async def open_trade(
    store: MemoryTradeStore, client_order_id: str = "fx-0001", position: int = 5001
) -> int:
    trade_id = await store.create_intent(**intent(client_order_id=client_order_id))
    await store.mark_submitted(trade_id)
    await fill(store, trade_id, position)
    return trade_id


async def close(store: MemoryTradeStore, trade_id: int, **overrides: Any) -> Any:
    fields: dict[str, Any] = {
        "exit_price": 1.09,
        "close_time": CLOSE_TIME,
        "profit": 38.5,
        "swap": 0,
        "commission": -0.7,
        "close_reason": "take_profit",
    }
    fields.update(overrides)
    return await store.mark_closed(trade_id, **fields)


async def partial(store: MemoryTradeStore, trade_id: int, closed_volume: Any) -> Any:
    return await store.record_partial_close(
        trade_id,
        closed_volume=closed_volume,
        exit_price=1.0862,
        profit=4.2,
        swap=-0.05,
        commission=-0.28,
    )


async def moves(store: MemoryTradeStore, trade_id: int) -> list[tuple[str | None, str]]:
    return [
        (None if t.from_status is None else t.from_status.value, t.to_status.value)
        for t in await store.transitions(trade_id)
    ]


# --- order intents ----------------------------------------------------------------------------


async def test_create_intent_stores_the_intent(store: MemoryTradeStore) -> None:
    trade_id = await store.create_intent(**intent())

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


async def test_create_intent_times_come_from_the_clock(
    store: MemoryTradeStore, clock: ManualClock
) -> None:
    clock.advance(60)

    record = await store.get(await store.create_intent(**intent()))

    assert record is not None
    assert record.created_at == CLOCK_START + timedelta(seconds=60)
    assert record.updated_at == CLOCK_START + timedelta(seconds=60)
    assert record.created_at.tzinfo is UTC


async def test_create_intent_returns_ids_one_two_three_in_creation_order(
    store: MemoryTradeStore,
) -> None:
    ids = [await store.create_intent(**intent(client_order_id=f"fx-{n}")) for n in range(3)]

    assert ids == [1, 2, 3]
    assert [record.id for record in store.all()] == [1, 2, 3]


async def test_create_intent_is_idempotent_on_client_order_id(store: MemoryTradeStore) -> None:
    first = await store.create_intent(**intent())
    second = await store.create_intent(**intent())

    assert second == first == 1
    assert len(store.all()) == 1


async def test_the_same_order_with_its_volume_as_decimal_is_the_same_intent(
    store: MemoryTradeStore,
) -> None:
    first = await store.create_intent(**intent(volume=0.1))
    second = await store.create_intent(**intent(volume=Decimal("0.10"), side=Side.BUY))

    assert second == first
    assert len(store.all()) == 1


@pytest.mark.parametrize(
    "change",
    [
        {"strategy": "breakout"},
        {"symbol": "GBPUSD"},
        {"side": "sell"},
        {"volume": 0.2},
    ],
    ids=["strategy", "symbol", "side", "volume"],
)
async def test_reusing_a_client_order_id_for_another_order_is_refused(
    store: MemoryTradeStore, change: dict[str, Any]
) -> None:
    await store.create_intent(**intent())
    before = store.all()

    with pytest.raises(ClientOrderIdConflict, match="'fx-0001' already belongs to trade 1"):
        await store.create_intent(**intent(**change))

    assert store.all() == before


async def test_an_empty_client_order_id_is_refused(store: MemoryTradeStore) -> None:
    with pytest.raises(ValueError, match="client_order_id must not be empty"):
        await store.create_intent(**intent(client_order_id=""))

    assert store.all() == []


@pytest.mark.parametrize("confidence", [-0.01, 1.01, float("nan")])
async def test_a_confidence_outside_zero_to_one_is_refused(
    store: MemoryTradeStore, confidence: float
) -> None:
    with pytest.raises(ValueError, match=r"confidence must be within \[0, 1\]"):
        await store.create_intent(**intent(confidence=confidence))

    assert store.all() == []


@pytest.mark.parametrize("confidence", [0.0, 1.0])
async def test_a_confidence_of_zero_or_one_is_accepted(
    store: MemoryTradeStore, confidence: float
) -> None:
    record = await store.get(await store.create_intent(**intent(confidence=confidence)))

    assert record is not None
    assert record.confidence == confidence


@pytest.mark.parametrize("volume", [0, 0.0, -0.1, Decimal("-1")])
async def test_a_non_positive_volume_is_refused(store: MemoryTradeStore, volume: Any) -> None:
    with pytest.raises(ValueError, match="volume must be positive"):
        await store.create_intent(**intent(volume=volume))

    assert store.all() == []


async def test_an_unknown_side_is_refused(store: MemoryTradeStore) -> None:
    with pytest.raises(ValueError, match="side must be 'buy' or 'sell', got 'long'"):
        await store.create_intent(**intent(side="long"))


async def test_a_side_is_read_case_insensitively(store: MemoryTradeStore) -> None:
    record = await store.get(await store.create_intent(**intent(side="SELL")))

    assert record is not None
    assert record.side is Side.SELL


async def test_a_naive_signal_time_is_refused(store: MemoryTradeStore) -> None:
    with pytest.raises(ValueError, match="signal_time must be a timezone-aware datetime"):
        await store.create_intent(**intent(signal_time=datetime(2024, 1, 1)))


async def test_a_non_finite_price_is_refused(store: MemoryTradeStore) -> None:
    with pytest.raises(ValueError, match="requested_price must be a finite number"):
        await store.create_intent(**intent(requested_price=float("nan")))


async def test_a_signal_time_is_stored_as_the_same_instant_in_utc(
    store: MemoryTradeStore,
) -> None:
    paris = timezone(timedelta(hours=1))
    trade_id = await store.create_intent(
        **intent(signal_time=datetime(2024, 3, 4, 11, 0, tzinfo=paris))
    )

    record = await store.get(trade_id)

    assert record is not None
    assert record.signal_time == SIGNAL_TIME
    assert record.signal_time.tzinfo is UTC


async def test_a_float_is_stored_as_its_shortest_repr(store: MemoryTradeStore) -> None:
    record = await store.get(await store.create_intent(**intent(volume=0.1 + 0.2)))

    assert record is not None
    assert record.volume == Decimal("0.30000000000000004")


async def test_a_decimal_is_stored_unchanged(store: MemoryTradeStore) -> None:
    price = Decimal("1.234567890123456789012345678901")
    trade_id = await store.create_intent(**intent(requested_price=price, volume=Decimal("0.01")))

    record = await store.get(trade_id)

    assert record is not None
    assert record.requested_price == price
    assert str(record.volume) == "0.01"


async def test_market_condition_is_stored_as_json_values(store: MemoryTradeStore) -> None:
    condition = {
        "atr": np.float64(0.00123),
        "regime": TradeStatus.OPEN,
        "risk": Decimal("0.5"),
        "rsi": float("nan"),
        "at": SIGNAL_TIME,
    }

    record = await store.get(await store.create_intent(**intent(market_condition=condition)))

    assert record is not None
    assert record.market_condition == {
        "atr": 0.00123,
        "regime": "open",
        "risk": 0.5,
        "rsi": None,
        "at": "2024-03-04T10:00:00+00:00",
    }


# --- the lifecycle ----------------------------------------------------------------------------


async def test_full_lifecycle_records_fill_and_close(store: MemoryTradeStore) -> None:
    trade_id = await store.create_intent(**intent())

    submitted = await store.mark_submitted(trade_id)
    opened = await fill(store, trade_id, execution_details={"retcode": 10009})
    closing = await store.mark_closing(trade_id)
    closed = await close(store, trade_id, exit_price=1.1, profit=99.7, swap=-0.35, commission=-0.7)

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
    assert closed == await store.get(trade_id)


async def test_every_mark_returns_the_record_it_stored(store: MemoryTradeStore) -> None:
    trade_id = await store.create_intent(**intent())

    submitted = await store.mark_submitted(trade_id)
    assert submitted == await store.get(trade_id)
    opened = await fill(store, trade_id)
    assert opened == await store.get(trade_id)
    closing = await store.mark_closing(trade_id)
    assert closing == await store.get(trade_id)
    reopened = await store.reopen(trade_id, reason="requote")
    assert reopened == await store.get(trade_id)


async def test_mark_open_stores_the_filled_volume(store: MemoryTradeStore) -> None:
    trade_id = await store.create_intent(**intent(volume=0.1))

    record = await fill(store, trade_id, volume=0.07)

    assert record.volume == Decimal("0.07")


async def test_mark_open_directly_from_intent_is_allowed(store: MemoryTradeStore) -> None:
    trade_id = await store.create_intent(**intent())

    record = await fill(store, trade_id)

    assert record.status is TradeStatus.OPEN
    assert await moves(store, trade_id) == [(None, "intent"), ("intent", "open")]


async def test_mark_open_of_an_open_trade_is_illegal_and_keeps_the_first_fill(
    store: MemoryTradeStore,
) -> None:
    trade_id = await open_trade(store)

    with pytest.raises(IllegalTransition, match="cannot become 'open' from 'open'"):
        await fill(store, trade_id, position=9, entry_price=1.2)

    record = await store.get(trade_id)
    assert record is not None
    assert (record.mt5_position, record.entry_price) == (5001, Decimal("1.08515"))


async def test_closing_sets_the_closed_volume_to_the_whole_volume(
    store: MemoryTradeStore,
) -> None:
    trade_id = await open_trade(store)

    record = await close(store, trade_id)

    assert record.closed_volume == record.volume == Decimal("0.1")
    assert record.open_volume == 0


async def test_closing_after_a_partial_close_sets_the_closed_volume_to_the_whole_volume(
    store: MemoryTradeStore,
) -> None:
    trade_id = await open_trade(store)
    await partial(store, trade_id, 0.04)

    record = await close(store, trade_id)

    assert record.closed_volume == Decimal("0.1")


async def test_an_open_trade_may_close_without_a_closing_step(store: MemoryTradeStore) -> None:
    trade_id = await open_trade(store)

    record = await close(store, trade_id, close_reason="sl")

    assert (record.status, record.close_reason) == (TradeStatus.CLOSED, "sl")
    assert (await moves(store, trade_id))[-1] == ("open", "closed")


async def test_reopen_returns_a_closing_trade_to_open(store: MemoryTradeStore) -> None:
    trade_id = await open_trade(store)
    await store.mark_closing(trade_id)

    record = await store.reopen(trade_id, reason="requote")

    assert record.status is TradeStatus.OPEN
    assert (await moves(store, trade_id))[-1] == ("closing", "open")


async def test_reopen_is_only_from_closing(store: MemoryTradeStore) -> None:
    trade_id = await open_trade(store)

    with pytest.raises(IllegalTransition, match="cannot become 'open' from 'open'"):
        await store.reopen(trade_id, reason="nothing to reopen")


async def test_a_rejection_records_the_code_message_and_details(
    store: MemoryTradeStore,
) -> None:
    trade_id = await store.create_intent(**intent())
    await store.mark_submitted(trade_id)

    record = await store.mark_rejected(
        trade_id,
        reject_code=10030,
        reject_message="unsupported filling mode",
        execution_details={"retcode": 10030, "latency_ms": 12.5},
    )

    assert record.status is TradeStatus.REJECTED
    assert (record.reject_code, record.reject_message) == (10030, "unsupported filling mode")
    assert record.execution_details == {"retcode": 10030, "latency_ms": 12.5}
    assert record == await store.get(trade_id)


async def test_a_cancellation_records_the_reason_as_close_reason(
    store: MemoryTradeStore,
) -> None:
    trade_id = await store.create_intent(**intent())

    record = await store.mark_cancelled(
        trade_id, reason="not executed", execution_details={"checked": 1}
    )

    assert (record.status, record.close_reason) == (TradeStatus.CANCELLED, "not executed")
    assert record.execution_details == {"checked": 1}


async def test_a_cancellation_without_details_leaves_execution_details_empty(
    store: MemoryTradeStore,
) -> None:
    trade_id = await store.create_intent(**intent())

    record = await store.mark_cancelled(trade_id, reason="market closed")

    assert record.execution_details == {}


# --- illegal moves ----------------------------------------------------------------------------

Move = Callable[[MemoryTradeStore, int], Awaitable[Any]]


async def to_closed(store: MemoryTradeStore, trade_id: int) -> Any:
    return await close(store, trade_id)


async def to_open(store: MemoryTradeStore, trade_id: int) -> Any:
    return await fill(store, trade_id, position=77)


async def to_closing(store: MemoryTradeStore, trade_id: int) -> Any:
    return await store.mark_closing(trade_id)


async def to_submitted(store: MemoryTradeStore, trade_id: int) -> Any:
    return await store.mark_submitted(trade_id)


async def to_reopened(store: MemoryTradeStore, trade_id: int) -> Any:
    return await store.reopen(trade_id, reason="x")


async def to_rejected(store: MemoryTradeStore, trade_id: int) -> Any:
    return await store.mark_rejected(
        trade_id, reject_code=10006, reject_message="no", execution_details={"x": 1}
    )


async def to_cancelled(store: MemoryTradeStore, trade_id: int) -> Any:
    return await store.mark_cancelled(trade_id, reason="x")


async def an_intent(store: MemoryTradeStore) -> int:
    return await store.create_intent(**intent())


async def a_submitted(store: MemoryTradeStore) -> int:
    trade_id = await an_intent(store)
    await store.mark_submitted(trade_id)
    return trade_id


async def a_closed(store: MemoryTradeStore) -> int:
    trade_id = await open_trade(store)
    await close(store, trade_id)
    return trade_id


async def a_rejected(store: MemoryTradeStore) -> int:
    trade_id = await an_intent(store)
    await to_rejected(store, trade_id)
    return trade_id


async def a_cancelled(store: MemoryTradeStore) -> int:
    trade_id = await an_intent(store)
    await to_cancelled(store, trade_id)
    return trade_id


ILLEGAL_MOVES = [
    pytest.param(an_intent, to_closing, "intent", "closing", id="intent->closing"),
    pytest.param(an_intent, to_closed, "intent", "closed", id="intent->closed"),
    pytest.param(an_intent, to_reopened, "intent", "open", id="intent->reopen"),
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
    store: MemoryTradeStore,
    make: Callable[[MemoryTradeStore], Awaitable[int]],
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
    store: MemoryTradeStore,
    clock: ManualClock,
    make: Callable[[MemoryTradeStore], Awaitable[int]],
    move: Move,
    current: str,
    target: str,
) -> None:
    trade_id = await make(store)
    before, history = await store.get(trade_id), await store.transitions(trade_id)
    clock.advance(30)

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
        lambda store, trade_id: partial(store, trade_id, 0.04),
    ],
    ids=["submitted", "open", "rejected", "cancelled", "closing", "reopen", "closed", "partial"],
)
async def test_a_move_of_an_unknown_trade_is_not_found(store: MemoryTradeStore, move: Move) -> None:
    with pytest.raises(NotFoundError, match="trade 424242 does not exist"):
        await move(store, 424242)

    assert store.all() == []


async def test_lookups_of_unknown_trades_return_none(store: MemoryTradeStore) -> None:
    assert await store.get(99) is None
    assert await store.get_by_client_order_id("nope") is None
    assert await store.get_by_position(99) is None


async def test_history_of_an_unknown_trade_is_empty(store: MemoryTradeStore) -> None:
    assert await store.transitions(424242) == []


# --- partial closes ---------------------------------------------------------------------------


async def test_a_partial_close_keeps_the_trade_open_with_its_totals(
    store: MemoryTradeStore,
) -> None:
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


async def test_a_partial_close_is_an_open_to_open_move_in_the_history(
    store: MemoryTradeStore,
) -> None:
    trade_id = await open_trade(store)

    await partial(store, trade_id, 0.04)

    last = (await store.transitions(trade_id))[-1]
    assert (last.from_status, last.to_status) == (TradeStatus.OPEN, TradeStatus.OPEN)
    assert last.details["event"] == "partial_close"
    assert last.details["closed_volume"] == "0.04"


async def test_recording_the_same_closed_volume_again_returns_none_and_changes_nothing(
    store: MemoryTradeStore, clock: ManualClock
) -> None:
    trade_id = await open_trade(store)
    first = await partial(store, trade_id, 0.04)
    history = await store.transitions(trade_id)
    clock.advance(30)

    assert await partial(store, trade_id, Decimal("0.040")) is None
    assert await store.get(trade_id) == first
    assert await store.transitions(trade_id) == history


async def test_a_larger_partial_close_replaces_the_totals(store: MemoryTradeStore) -> None:
    trade_id = await open_trade(store)
    await partial(store, trade_id, 0.04)

    record = await store.record_partial_close(
        trade_id, closed_volume=0.07, exit_price=1.087, profit=9.1, swap=-0.1, commission=-0.49
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
    store: MemoryTradeStore, closed_volume: float
) -> None:
    trade_id = await open_trade(store)
    before, history = await store.get(trade_id), await store.transitions(trade_id)

    with pytest.raises(ValueError, match="must leave volume open"):
        await partial(store, trade_id, closed_volume)

    assert await store.get(trade_id) == before
    assert await store.transitions(trade_id) == history


async def test_a_partial_close_of_a_closing_trade_returns_it_to_open(
    store: MemoryTradeStore,
) -> None:
    trade_id = await open_trade(store)
    await store.mark_closing(trade_id)

    record = await partial(store, trade_id, 0.04)

    assert record is not None
    assert record.status is TradeStatus.OPEN
    assert (await moves(store, trade_id))[-1] == ("closing", "open")


async def test_a_partial_close_of_an_intent_is_illegal(store: MemoryTradeStore) -> None:
    trade_id = await store.create_intent(**intent())

    with pytest.raises(IllegalTransition, match="cannot become 'open' from 'intent'"):
        await partial(store, trade_id, 0.04)


# --- execution details ------------------------------------------------------------------------


async def test_execution_details_of_the_fill_are_kept_through_the_close(
    store: MemoryTradeStore,
) -> None:
    trade_id = await store.create_intent(**intent())
    await fill(store, trade_id, execution_details={"retcode": 10009, "slippage_points": 0.3})
    await store.mark_closing(trade_id, details={"why": "manual_api"})
    await partial(store, trade_id, 0.04)

    record = await close(store, trade_id)

    # mark_closed takes no execution details; mark_closing's details go to the history only.
    assert record.execution_details == {"retcode": 10009, "slippage_points": 0.3}


async def test_execution_details_are_stored_as_json_values(store: MemoryTradeStore) -> None:
    trade_id = await store.create_intent(**intent())

    record = await fill(
        store,
        trade_id,
        execution_details={"filled": Decimal("1.08515"), "ms": np.float64(2.5), "at": OPEN_TIME},
    )

    assert record.execution_details == {
        "filled": 1.08515,
        "ms": 2.5,
        "at": "2024-03-04T10:00:01+00:00",
    }


# --- the history ------------------------------------------------------------------------------


async def test_creating_an_intent_records_a_move_from_nothing(
    store: MemoryTradeStore,
) -> None:
    trade_id = await store.create_intent(**intent())

    [created] = await store.transitions(trade_id)

    assert (created.trade_id, created.from_status, created.to_status) == (
        trade_id,
        None,
        TradeStatus.INTENT,
    )
    assert created.details == {"volume": "0.1"}
    assert created.time == CLOCK_START


async def test_a_repeated_intent_records_no_second_creation(store: MemoryTradeStore) -> None:
    trade_id = await store.create_intent(**intent())
    await store.create_intent(**intent())

    assert await moves(store, trade_id) == [(None, "intent")]


async def test_every_transition_appends_a_history_row_in_order(
    store: MemoryTradeStore,
) -> None:
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


async def test_transition_times_come_from_the_clock(
    store: MemoryTradeStore, clock: ManualClock
) -> None:
    trade_id = await store.create_intent(**intent())
    clock.advance(1)
    await store.mark_submitted(trade_id)
    clock.advance(2)
    await fill(store, trade_id)
    clock.advance(3600)
    await close(store, trade_id)

    assert [t.time for t in await store.transitions(trade_id)] == [
        CLOCK_START,
        CLOCK_START + timedelta(seconds=1),
        CLOCK_START + timedelta(seconds=3),
        CLOCK_START + timedelta(seconds=3603),
    ]


async def test_updated_at_follows_the_clock_and_created_at_stays(
    store: MemoryTradeStore, clock: ManualClock
) -> None:
    trade_id = await store.create_intent(**intent())
    clock.advance(90)

    record = await store.mark_submitted(trade_id)

    assert record.created_at == CLOCK_START
    assert record.updated_at == CLOCK_START + timedelta(seconds=90)


async def test_history_rows_carry_the_details_of_the_change(store: MemoryTradeStore) -> None:
    trade_id = await open_trade(store)
    await store.mark_closing(trade_id, details={"why": "manual_api"})
    await store.reopen(trade_id, reason="requote")

    history = await store.transitions(trade_id)

    opened, closing, reopened = history[2], history[3], history[4]
    assert opened.details["mt5_position"] == 5001
    assert opened.details["open_time"] == "2024-03-04T10:00:01+00:00"
    assert closing.details == {"why": "manual_api"}
    assert reopened.details == {"reason": "requote"}


async def test_history_rows_carry_money_and_prices_as_text_like_the_repository(
    store: MemoryTradeStore,
) -> None:
    trade_id = await open_trade(store)
    await close(store, trade_id)

    history = await store.transitions(trade_id)

    opened, closed = history[2], history[3]
    assert opened.details["entry_price"] == "1.08515"
    assert opened.details["volume"] == "0.1"
    assert closed.details["exit_price"] == "1.09"
    assert closed.details["profit"] == "38.5"


async def test_history_ids_increase_across_trades(store: MemoryTradeStore) -> None:
    first = await store.create_intent(**intent(client_order_id="a"))
    second = await store.create_intent(**intent(client_order_id="b"))
    await store.mark_submitted(first)

    first_ids = [t.id for t in await store.transitions(first)]
    second_ids = [t.id for t in await store.transitions(second)]

    assert (first_ids, second_ids) == ([1, 3], [2])


async def test_rejection_and_cancellation_are_recorded_in_the_history(
    store: MemoryTradeStore,
) -> None:
    rejected = await store.create_intent(**intent(client_order_id="a"))
    cancelled = await store.create_intent(**intent(client_order_id="b"))
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


async def test_get_by_client_order_id_finds_the_trade(store: MemoryTradeStore) -> None:
    trade_id = await store.create_intent(**intent(client_order_id="fx-42"))

    record = await store.get_by_client_order_id("fx-42")

    assert record is not None
    assert record.id == trade_id


async def test_get_by_position_finds_the_trade_of_a_terminal_position(
    store: MemoryTradeStore,
) -> None:
    first = await open_trade(store, "a", position=100)
    await open_trade(store, "b", position=200)

    record = await store.get_by_position(100)

    assert record is not None
    assert record.id == first
    assert await store.get_by_position(300) is None


async def test_get_by_position_returns_the_newest_trade_of_the_position(
    store: MemoryTradeStore,
) -> None:
    await open_trade(store, "a", position=100)
    newer = await open_trade(store, "b", position=100)

    record = await store.get_by_position(100)

    assert record is not None
    assert record.id == newer


async def test_get_by_position_returns_the_newest_trade_after_an_older_one_moves(
    store: MemoryTradeStore,
) -> None:
    older = await open_trade(store, "a", position=100)
    newer = await open_trade(store, "b", position=100)
    await close(store, older)

    record = await store.get_by_position(100)

    assert record is not None
    assert record.id == newer


async def test_get_by_position_still_finds_a_closed_trade(store: MemoryTradeStore) -> None:
    trade_id = await open_trade(store, position=100)
    await close(store, trade_id)

    record = await store.get_by_position(100)

    assert record is not None
    assert (record.id, record.status) == (trade_id, TradeStatus.CLOSED)


# --- open trades ------------------------------------------------------------------------------


async def test_open_trades_are_the_live_ones_oldest_first(store: MemoryTradeStore) -> None:
    ids = [await store.create_intent(**intent(client_order_id=f"fx-{n}")) for n in range(5)]
    await store.mark_submitted(ids[0])
    await fill(store, ids[1], position=1)
    await fill(store, ids[2], position=2)
    await store.mark_closing(ids[2])
    await to_rejected(store, ids[3])
    # ids[4] is still an intent: it may be about to be sent, so it is live too.

    assert [r.id for r in await store.open_trades()] == [ids[0], ids[1], ids[2], ids[4]]


async def test_open_trades_drop_closed_rejected_and_cancelled_trades(
    store: MemoryTradeStore,
) -> None:
    closed = await open_trade(store, "a", position=1)
    rejected = await store.create_intent(**intent(client_order_id="b"))
    cancelled = await store.create_intent(**intent(client_order_id="c"))
    still_open = await open_trade(store, "d", position=2)
    await close(store, closed)
    await to_rejected(store, rejected)
    await store.mark_cancelled(cancelled, reason="never sent")

    assert [r.id for r in await store.open_trades()] == [still_open]


async def test_open_trades_keep_creation_order_when_an_older_trade_moves_later(
    store: MemoryTradeStore,
) -> None:
    first = await open_trade(store, "a", position=1)
    second = await open_trade(store, "b", position=2)
    await store.mark_closing(first)
    await store.reopen(first, reason="requote")

    assert [r.id for r in await store.open_trades()] == [first, second]


async def test_open_trades_return_the_current_records(store: MemoryTradeStore) -> None:
    trade_id = await open_trade(store)
    closing = await store.mark_closing(trade_id)

    assert await store.open_trades() == [closing]


async def test_open_trades_of_an_empty_store_are_none(store: MemoryTradeStore) -> None:
    assert await store.open_trades() == []


# --- stops ------------------------------------------------------------------------------------


async def test_update_stops_stores_the_new_sl_and_tp(
    store: MemoryTradeStore, clock: ManualClock
) -> None:
    trade_id = await open_trade(store)
    history = await store.transitions(trade_id)
    clock.advance(10)

    await store.update_stops(trade_id, sl=1.0855, tp=1.1)

    record = await store.get(trade_id)
    assert record is not None
    assert (record.sl, record.tp) == (Decimal("1.0855"), Decimal("1.1"))
    assert record.status is TradeStatus.OPEN
    assert record.updated_at == CLOCK_START + timedelta(seconds=10)
    assert await store.transitions(trade_id) == history


@pytest.mark.parametrize("none", [0, 0.0, Decimal(0), None])
async def test_update_stops_with_zero_or_none_removes_a_level(
    store: MemoryTradeStore, none: Any
) -> None:
    trade_id = await open_trade(store)

    await store.update_stops(trade_id, sl=none, tp=1.1)

    record = await store.get(trade_id)
    assert record is not None
    assert (record.sl, record.tp) == (None, Decimal("1.1"))


async def test_update_stops_of_an_unknown_trade_changes_nothing(
    store: MemoryTradeStore,
) -> None:
    await store.update_stops(424242, sl=1.0855, tp=1.1)

    assert store.all() == []
    assert await store.get(424242) is None


# --- adopted positions ------------------------------------------------------------------------


async def adopt(store: MemoryTradeStore, **overrides: Any) -> Any:
    fields: dict[str, Any] = {
        "client_order_id": "adopted-777",
        "strategy": "manual",
        "symbol": "GBPUSD",
        "side": Side.SELL,
        "volume": 0.5,
        "entry_price": 1.27001,
        "sl": 1.28,
        "tp": None,
        "mt5_position": 777,
        "open_time": OPEN_TIME,
        "details": {"found": "reconciliation"},
    }
    fields.update(overrides)
    return await store.adopt_position(**fields)


async def test_adopting_a_position_creates_an_open_trade_without_a_signal(
    store: MemoryTradeStore,
) -> None:
    record = await adopt(store)

    assert record.id == 1
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
    assert record.created_at == CLOCK_START
    assert record == await store.get(record.id)


async def test_adopting_a_position_records_a_move_from_nothing_to_open(
    store: MemoryTradeStore,
) -> None:
    record = await adopt(store)

    [created] = await store.transitions(record.id)

    assert (created.from_status, created.to_status) == (None, TradeStatus.OPEN)
    assert created.details == {"found": "reconciliation"}
    assert created.time == CLOCK_START


async def test_an_adopted_trade_is_live_and_found_by_its_position(
    store: MemoryTradeStore,
) -> None:
    record = await adopt(store)

    assert await store.open_trades() == [record]
    assert await store.get_by_position(777) == record
    assert await store.get_by_client_order_id("adopted-777") == record


async def test_an_adopted_trade_follows_the_lifecycle_from_open(
    store: MemoryTradeStore,
) -> None:
    record = await adopt(store)
    await store.mark_closing(record.id)

    closed = await close(store, record.id)

    assert (closed.status, closed.closed_volume) == (TradeStatus.CLOSED, Decimal("0.5"))


async def test_adopting_with_a_client_order_id_in_use_is_refused(
    store: MemoryTradeStore,
) -> None:
    await store.create_intent(**intent(client_order_id="adopted-777"))
    before = store.all()

    with pytest.raises(ClientOrderIdConflict, match="'adopted-777' exists"):
        await adopt(store)

    assert store.all() == before
