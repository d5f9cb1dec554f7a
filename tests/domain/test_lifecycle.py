"""Specification of :mod:`forexbot.domain.lifecycle` (the table is in the module docstring)."""

from __future__ import annotations

import itertools

import pytest

from forexbot.domain.lifecycle import (
    FINAL_STATUSES,
    LIVE_STATUSES,
    TRANSITIONS,
    allowed_from,
    can_move,
)
from forexbot.domain.trading import TradeStatus

S = TradeStatus

#: The moves the module docstring draws, written out independently of TRANSITIONS.
DOCUMENTED_MOVES = {
    (S.INTENT, S.SUBMITTED),
    (S.INTENT, S.OPEN),
    (S.INTENT, S.REJECTED),
    (S.INTENT, S.CANCELLED),
    (S.SUBMITTED, S.OPEN),
    (S.SUBMITTED, S.REJECTED),
    (S.SUBMITTED, S.CANCELLED),
    (S.OPEN, S.OPEN),
    (S.OPEN, S.CLOSING),
    (S.OPEN, S.CLOSED),
    (S.CLOSING, S.OPEN),
    (S.CLOSING, S.CLOSED),
}
ALL_PAIRS = list(itertools.product(TradeStatus, repeat=2))


def test_every_status_has_an_entry_in_the_table() -> None:
    assert set(TRANSITIONS) == set(TradeStatus)


def test_the_table_is_exactly_the_documented_diagram() -> None:
    table = {(current, target) for current, targets in TRANSITIONS.items() for target in targets}

    assert table == DOCUMENTED_MOVES


@pytest.mark.parametrize(("current", "target"), sorted(DOCUMENTED_MOVES))
def test_documented_move_is_allowed(current: TradeStatus, target: TradeStatus) -> None:
    assert can_move(current, target) is True


@pytest.mark.parametrize(
    ("current", "target"), [pair for pair in ALL_PAIRS if pair not in DOCUMENTED_MOVES]
)
def test_undocumented_move_is_refused(current: TradeStatus, target: TradeStatus) -> None:
    assert can_move(current, target) is False


@pytest.mark.parametrize("final", [S.CLOSED, S.REJECTED, S.CANCELLED])
def test_final_status_has_no_exit(final: TradeStatus) -> None:
    assert TRANSITIONS[final] == frozenset()
    assert not any(can_move(final, target) for target in TradeStatus)


def test_final_statuses_are_closed_rejected_and_cancelled() -> None:
    assert set(FINAL_STATUSES) == {S.CLOSED, S.REJECTED, S.CANCELLED}


def test_live_statuses_are_those_that_hold_or_may_hold_a_position() -> None:
    assert LIVE_STATUSES == (S.INTENT, S.SUBMITTED, S.OPEN, S.CLOSING)


def test_live_and_final_statuses_partition_the_statuses() -> None:
    assert set(LIVE_STATUSES) | set(FINAL_STATUSES) == set(TradeStatus)
    assert set(LIVE_STATUSES) & set(FINAL_STATUSES) == set()


def test_every_live_status_has_an_exit() -> None:
    assert all(TRANSITIONS[status] for status in LIVE_STATUSES)


def test_a_partial_close_keeps_an_open_trade_open() -> None:
    assert can_move(S.OPEN, S.OPEN) is True


def test_a_refused_close_returns_a_closing_trade_to_open() -> None:
    assert can_move(S.CLOSING, S.OPEN) is True


def test_nothing_leads_back_to_intent() -> None:
    assert allowed_from(S.INTENT) == ()


@pytest.mark.parametrize("target", list(TradeStatus))
def test_allowed_from_lists_exactly_the_statuses_whose_table_entry_has_the_target(
    target: TradeStatus,
) -> None:
    expected = tuple(status for status in TradeStatus if target in TRANSITIONS[status])

    assert allowed_from(target) == expected


@pytest.mark.parametrize("target", list(TradeStatus))
def test_allowed_from_agrees_with_can_move(target: TradeStatus) -> None:
    assert set(allowed_from(target)) == {s for s in TradeStatus if can_move(s, target)}


def test_allowed_from_is_in_enum_order() -> None:
    assert allowed_from(S.OPEN) == (S.INTENT, S.SUBMITTED, S.OPEN, S.CLOSING)
    assert allowed_from(S.CLOSED) == (S.OPEN, S.CLOSING)
    assert allowed_from(S.REJECTED) == (S.INTENT, S.SUBMITTED)
    assert allowed_from(S.CANCELLED) == (S.INTENT, S.SUBMITTED)
    assert allowed_from(S.SUBMITTED) == (S.INTENT,)
    assert allowed_from(S.CLOSING) == (S.OPEN,)
