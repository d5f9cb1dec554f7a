"""Specification of :mod:`forexbot.engine.settlement` (rules in the module docstring).

``totals`` is pure; ``settle`` runs against a real :class:`TradeRepository`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from forexbot.database.trades import TradeRepository
from forexbot.domain.trades import Fill, NewTrade, TradeRecord
from forexbot.domain.trading import Deal, TradeStatus
from forexbot.engine.settlement import settle, totals

POSITION = 5001
OPENED = 1_767_225_600.0
IN, OUT, INOUT, OUT_BY = 0, 1, 2, 3
EXPERT, STOP_LOSS, TAKE_PROFIT = 3, 4, 5


def deal(
    ticket: int,
    entry: int,
    volume: float,
    price: float,
    *,
    profit: float = 0.0,
    swap: float = 0.0,
    commission: float = 0.0,
    reason: int = EXPERT,
    time: float | None = None,
) -> Deal:
    return Deal(
        ticket=ticket,
        order=ticket,
        position_id=POSITION,
        symbol="EURUSD",
        time=OPENED + ticket if time is None else time,
        type=0 if entry == IN else 1,
        entry=entry,
        volume=volume,
        price=price,
        profit=profit,
        swap=swap,
        commission=commission,
        reason=reason,
        magic=2_026_001,
        comment="",
    )


ENTRY = deal(1, IN, 0.3, 1.10000, commission=-0.9)


# --- totals -----------------------------------------------------------------------------------


def test_no_deals_add_up_to_nothing() -> None:
    t = totals([])

    assert (t.closed_volume, t.exit_price, t.profit, t.swap, t.commission) == (
        Decimal("0"),
        None,
        Decimal("0"),
        Decimal("0"),
        Decimal("0"),
    )
    assert t.last_exit is None
    assert t.close_reason == "unknown"


def test_an_entry_alone_closes_nothing_but_its_commission_counts() -> None:
    t = totals([ENTRY])

    assert t.closed_volume == 0
    assert t.exit_price is None
    assert t.profit == 0
    assert t.commission == Decimal("-0.9")
    assert t.last_exit is None


def test_the_closed_volume_is_the_sum_of_the_exit_volumes() -> None:
    t = totals([ENTRY, deal(2, OUT, 0.1, 1.101), deal(3, OUT, 0.15, 1.102)])

    assert t.closed_volume == Decimal("0.25")


def test_point_one_plus_point_two_closes_exactly_point_three() -> None:
    t = totals([ENTRY, deal(2, OUT, 0.1, 1.101), deal(3, OUT, 0.2, 1.102)])

    assert 0.1 + 0.2 != 0.3
    assert t.closed_volume == Decimal("0.3")
    assert str(t.closed_volume) == "0.3"


def test_the_exit_price_is_the_volume_weighted_average_of_the_exits() -> None:
    t = totals([ENTRY, deal(2, OUT, 0.1, 1.10100), deal(3, OUT, 0.3, 1.10300)])

    assert t.exit_price == 1.1025


def test_the_exit_price_is_rounded_to_eight_decimals() -> None:
    t = totals([deal(2, OUT, 0.3, 1.0), deal(3, OUT, 0.3, 1.0), deal(4, OUT, 0.3, 1.00000001)])

    assert t.exit_price == 1.0


def test_the_profit_is_the_sum_of_the_exits_profits_only() -> None:
    entry_with_profit = deal(1, IN, 0.3, 1.1, profit=7.0)

    t = totals(
        [
            entry_with_profit,
            deal(2, OUT, 0.1, 1.1, profit=10.0),
            deal(3, OUT, 0.2, 1.1, profit=-4.5),
        ]
    )

    assert t.profit == Decimal("5.5")


def test_swap_and_commission_are_summed_over_every_deal_entry_included() -> None:
    t = totals(
        [
            deal(1, IN, 0.3, 1.1, commission=-0.9, swap=0.0),
            deal(2, OUT, 0.1, 1.1, commission=-0.3, swap=-0.25),
            deal(3, OUT, 0.2, 1.1, commission=-0.6, swap=-0.5),
        ]
    )

    assert t.commission == Decimal("-1.8")
    assert t.swap == Decimal("-0.75")


def test_money_is_rounded_to_cents() -> None:
    t = totals(
        [
            deal(1, IN, 0.3, 1.1, commission=-0.123),
            deal(2, OUT, 0.1, 1.1, profit=3.333, swap=-0.006),
            deal(3, OUT, 0.2, 1.1, profit=3.333, commission=-0.124),
        ]
    )

    assert (t.profit, t.swap, t.commission) == (Decimal("6.67"), Decimal("-0.01"), Decimal("-0.25"))
    assert t.profit.as_tuple().exponent == -2


@pytest.mark.parametrize("entry", [OUT, INOUT, OUT_BY])
def test_out_inout_and_out_by_deals_are_exits(entry: int) -> None:
    t = totals([ENTRY, deal(2, entry, 0.3, 1.102, profit=60.0)])

    assert t.closed_volume == Decimal("0.3")
    assert t.profit == Decimal("60.0")
    assert t.last_exit is not None
    assert t.last_exit.ticket == 2


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        (0, "manual"),
        (1, "manual"),
        (2, "manual"),
        (3, "expert"),
        (4, "stop_loss"),
        (5, "take_profit"),
        (6, "stop_out"),
        (9, "reason_9"),
    ],
)
def test_the_close_reason_maps_the_deal_reason(reason: int, expected: str) -> None:
    assert totals([ENTRY, deal(2, OUT, 0.3, 1.1, reason=reason)]).close_reason == expected


def test_the_close_reason_is_the_last_exits() -> None:
    t = totals(
        [
            ENTRY,
            deal(2, OUT, 0.1, 1.1, reason=TAKE_PROFIT),
            deal(3, OUT, 0.2, 1.1, reason=STOP_LOSS),
        ]
    )

    assert t.close_reason == "stop_loss"


# --- settle -----------------------------------------------------------------------------------


def intent(**overrides: Any) -> NewTrade:
    fields: dict[str, Any] = {
        "client_order_id": "fxb-settle-0001",
        "strategy": "ma_rsi",
        "symbol": "EURUSD",
        "timeframe": "M15",
        "side": "buy",
        "volume": 0.3,
        "requested_price": 1.1,
        "sl": 1.095,
        "tp": 1.11,
        "signal_time": datetime(2026, 1, 1, tzinfo=UTC),
        "confidence": 0.5,
        "reason": "test",
        "market_condition": {},
    }
    fields.update(overrides)
    return NewTrade(**fields)


@pytest.fixture
def repo(db_engine: AsyncEngine) -> TradeRepository:
    return TradeRepository(db_engine)


async def open_trade(repo: TradeRepository, volume: float = 0.3) -> TradeRecord:
    trade_id = await repo.create_intent(intent(volume=volume))
    await repo.mark_submitted(trade_id)
    return await repo.mark_open(
        trade_id,
        Fill(
            mt5_order=POSITION,
            mt5_position=POSITION,
            entry_price=1.1,
            volume=volume,
            open_time=datetime.fromtimestamp(OPENED, tz=UTC),
            execution_details={},
        ),
    )


async def current(repo: TradeRepository, trade: TradeRecord) -> TradeRecord:
    record = await repo.get(trade.id)
    assert record is not None
    return record


PARTIAL = [ENTRY, deal(2, OUT, 0.1, 1.101, profit=10.0, swap=-0.1, commission=-0.3)]
FULL = [*PARTIAL, deal(3, OUT, 0.2, 1.104, profit=80.0, commission=-0.6, reason=TAKE_PROFIT)]


@pytest.mark.db
async def test_a_partial_exit_records_a_partial_close_and_the_trade_stays_open(
    repo: TradeRepository,
) -> None:
    trade = await open_trade(repo)

    settled = await settle(repo, trade, PARTIAL)

    assert settled is not None
    assert settled.status is TradeStatus.OPEN
    assert settled.closed_volume == Decimal("0.1")
    assert settled.open_volume == Decimal("0.2")
    assert settled.exit_price == Decimal("1.101")
    assert (settled.profit, settled.swap, settled.commission) == (
        Decimal("10.0"),
        Decimal("-0.1"),
        Decimal("-1.2"),
    )
    assert settled.close_time is None
    assert settled == await current(repo, trade)
    last = (await repo.transitions(trade.id))[-1]
    assert (last.from_status, last.to_status) == (TradeStatus.OPEN, TradeStatus.OPEN)


@pytest.mark.db
async def test_the_full_exit_closes_the_trade_with_the_profit_of_its_exit_deals(
    repo: TradeRepository,
) -> None:
    trade = await open_trade(repo)
    partly = await settle(repo, trade, PARTIAL)
    assert partly is not None

    closed = await settle(repo, partly, FULL)

    assert closed is not None
    assert closed.status is TradeStatus.CLOSED
    assert closed.closed_volume == closed.volume == Decimal("0.3")
    assert closed.profit == Decimal("90.0")
    assert closed.swap == Decimal("-0.1")
    assert closed.commission == Decimal("-1.8")
    assert closed.exit_price == Decimal("1.103")  # (0.1 × 1.101 + 0.2 × 1.104) / 0.3
    assert closed.close_time == datetime.fromtimestamp(OPENED + 3, tz=UTC)
    assert closed.close_reason == "take_profit"
    assert closed == await current(repo, trade)


@pytest.mark.db
async def test_exits_of_point_one_and_point_two_close_a_point_three_trade(
    repo: TradeRepository,
) -> None:
    trade = await open_trade(repo, volume=0.3)

    closed = await settle(repo, trade, [ENTRY, deal(2, OUT, 0.1, 1.1), deal(3, OUT, 0.2, 1.1)])

    assert closed is not None
    assert closed.status is TradeStatus.CLOSED
    assert closed.closed_volume == Decimal("0.3")


@pytest.mark.db
async def test_settling_the_same_partial_deals_twice_returns_none_and_changes_nothing(
    repo: TradeRepository,
) -> None:
    trade = await open_trade(repo)
    first = await settle(repo, trade, PARTIAL)
    assert first is not None
    history = await repo.transitions(trade.id)

    again = await settle(repo, first, PARTIAL)

    assert again is None
    assert await current(repo, trade) == first
    assert await repo.transitions(trade.id) == history


@pytest.mark.db
async def test_settling_the_same_closing_deals_twice_returns_none_and_changes_nothing(
    repo: TradeRepository,
) -> None:
    trade = await open_trade(repo)
    closed = await settle(repo, trade, FULL)
    assert closed is not None
    history = await repo.transitions(trade.id)

    again = await settle(repo, closed, FULL)

    assert again is None
    assert await current(repo, trade) == closed
    assert await repo.transitions(trade.id) == history


@pytest.mark.db
async def test_deals_without_an_exit_settle_nothing(repo: TradeRepository) -> None:
    trade = await open_trade(repo)
    history = await repo.transitions(trade.id)

    assert await settle(repo, trade, [ENTRY]) is None
    assert await settle(repo, trade, []) is None
    assert await current(repo, trade) == trade
    assert await repo.transitions(trade.id) == history


@pytest.mark.db
async def test_the_bots_reason_overrides_the_deals_reason(repo: TradeRepository) -> None:
    trade = await open_trade(repo)

    closed = await settle(repo, trade, FULL, reason="kill_switch")

    assert closed is not None
    assert closed.close_reason == "kill_switch"


@pytest.mark.db
async def test_without_a_bot_reason_a_close_by_hand_in_the_terminal_is_manual(
    repo: TradeRepository,
) -> None:
    trade = await open_trade(repo)

    closed = await settle(repo, trade, [ENTRY, deal(2, OUT, 0.3, 1.1, reason=1)])

    assert closed is not None
    assert closed.close_reason == "manual"


@pytest.mark.db
async def test_a_closing_trade_is_settled_partially_back_to_open(repo: TradeRepository) -> None:
    trade = await open_trade(repo)
    closing = await repo.mark_closing(trade.id)

    settled = await settle(repo, closing, PARTIAL)

    assert settled is not None
    assert settled.status is TradeStatus.OPEN
    assert settled.closed_volume == Decimal("0.1")
