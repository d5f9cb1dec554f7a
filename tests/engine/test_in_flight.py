"""Specification of :class:`forexbot.engine.in_flight.OrdersInFlight` (rules in the module
docstring): when an order enters, what it reserves, and when it leaves."""

from __future__ import annotations

import asyncio

import pytest

from forexbot.domain.trading import Side
from forexbot.engine.exposure import Holding
from forexbot.engine.in_flight import OrdersInFlight

EURUSD_BUY = Holding("EURUSD", Side.BUY, 0.2, 1.1)
GBPUSD_SELL = Holding("GBPUSD", Side.SELL, 0.1, 1.3)


def book_with(*orders: tuple[str, Holding, float]) -> OrdersInFlight:
    book = OrdersInFlight()
    for client_order_id, holding, margin in orders:
        book.reserve(client_order_id, holding, margin)
    return book


def test_an_empty_book_holds_and_reserves_nothing() -> None:
    book = OrdersInFlight()

    assert (book.count(), book.holdings(), book.reserved_margin()) == (0, [], 0.0)
    assert book.being_sent() == frozenset()


def test_an_approved_order_counts_as_a_position_on_its_symbol() -> None:
    book = book_with(("a", EURUSD_BUY, 220.0), ("b", GBPUSD_SELL, 130.0))

    assert (book.count(), book.count("EURUSD"), book.count("USDJPY")) == (2, 1, 0)


def test_an_approved_order_holds_what_it_will_open() -> None:
    book = book_with(("a", EURUSD_BUY, 220.0), ("b", GBPUSD_SELL, 130.0))

    assert book.holdings() == [EURUSD_BUY, GBPUSD_SELL]


def test_approved_orders_reserve_their_margin_together() -> None:
    book = book_with(("a", EURUSD_BUY, 220.0), ("b", GBPUSD_SELL, 130.0))

    assert book.reserved_margin() == 350.0


def test_a_settled_order_leaves_with_its_margin() -> None:
    book = book_with(("a", EURUSD_BUY, 220.0), ("b", GBPUSD_SELL, 130.0))

    book.settle("a")

    assert (book.count(), book.holdings(), book.reserved_margin()) == (1, [GBPUSD_SELL], 130.0)


def test_an_answered_order_reserves_no_margin_but_still_counts_until_it_settles() -> None:
    book = book_with(("a", EURUSD_BUY, 44.0), ("b", GBPUSD_SELL, 26.0))

    book.answered("a")

    assert book.reserved_margin() == 26.0  # a's margin is in the account from now on
    assert book.count() == 2
    assert book.holdings() == [EURUSD_BUY, GBPUSD_SELL]
    book.settle("a")
    assert (book.count(), book.reserved_margin()) == (1, 26.0)


def test_settling_an_order_not_in_the_book_changes_nothing() -> None:
    book = book_with(("a", EURUSD_BUY, 220.0))

    book.settle("from-before-a-restart")

    assert book.count() == 1


def test_an_order_being_sent_is_left_alone_by_reconciliation() -> None:
    book = book_with(("a", EURUSD_BUY, 220.0))

    with book.sending("a"):
        assert book.being_sent() == frozenset({"a"})
    assert book.being_sent() == frozenset()


def test_a_sent_order_stays_in_flight_until_its_trade_settles() -> None:
    book = book_with(("a", EURUSD_BUY, 220.0))

    with book.sending("a"):
        book.written("a")

    assert (book.count(), book.reserved_margin()) == (1, 220.0)  # e.g. outcome unknown


def test_a_failure_before_the_row_is_written_takes_the_order_out() -> None:
    book = book_with(("a", EURUSD_BUY, 220.0))

    with pytest.raises(KeyError), book.sending("a"):
        raise KeyError("EURUSD")

    assert (book.count(), book.reserved_margin()) == (0, 0.0)


def test_a_cancellation_before_the_row_is_written_takes_the_order_out() -> None:
    book = book_with(("a", EURUSD_BUY, 220.0))

    with pytest.raises(asyncio.CancelledError), book.sending("a"):
        raise asyncio.CancelledError

    assert book.count() == 0


def test_a_failure_after_the_row_is_written_keeps_the_order_for_its_settlement() -> None:
    book = book_with(("a", EURUSD_BUY, 220.0))

    def send_then_fail() -> None:
        with book.sending("a"):
            book.written("a")
            raise ConnectionError("database gone")

    with pytest.raises(ConnectionError):
        send_then_fail()

    assert (book.count(), book.being_sent()) == (1, frozenset())


def test_an_order_sent_without_an_approval_reserves_nothing_and_leaves_when_sent() -> None:
    book = OrdersInFlight()

    with book.sending("tool"):
        book.written("tool")
        assert book.being_sent() == frozenset({"tool"})
        assert (book.count(), book.reserved_margin()) == (0, 0.0)

    assert book.being_sent() == frozenset()


def test_an_order_settled_while_being_sent_stays_out() -> None:
    book = book_with(("a", EURUSD_BUY, 220.0))

    with book.sending("a"):
        book.written("a")
        book.settle("a")

    assert (book.count(), book.being_sent()) == (0, frozenset())
