"""Value conversions at the repository boundary (pure functions, no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from forexbot.clock import iso_datetime
from forexbot.database._convert import json_dumps, require_aware, to_decimal


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.1, Decimal("0.1")),
        (1.08512, Decimal("1.08512")),
        (0.1 + 0.2, Decimal("0.30000000000000004")),
        (3, Decimal(3)),
        (Decimal("1.50"), Decimal("1.50")),
    ],
)
def test_to_decimal_is_the_shortest_exact_form(value: float | Decimal, expected: Decimal) -> None:
    assert str(to_decimal(value, name="x")) == str(expected)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), Decimal("NaN")])
def test_to_decimal_refuses_non_finite(value: float | Decimal) -> None:
    with pytest.raises(ValueError, match="profit must be a finite number"):
        to_decimal(value, name="profit")


def test_to_decimal_refuses_bool() -> None:
    with pytest.raises(TypeError, match="bool"):
        to_decimal(True, name="x")


def test_require_aware_converts_to_utc_and_refuses_naive() -> None:
    tokyo = datetime(2024, 1, 1, 9, 0, tzinfo=timezone(timedelta(hours=9)))
    assert require_aware(tokyo, name="t") == datetime(2024, 1, 1, 0, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="t must be a timezone-aware"):
        require_aware(datetime(2024, 1, 1), name="t")


def test_api_times_are_utc_with_a_z() -> None:
    assert iso_datetime(datetime(2024, 1, 1, 12, 30, tzinfo=UTC)) == "2024-01-01T12:30:00Z"
    assert iso_datetime(None) is None


def test_json_dumps_turns_nan_into_null_and_refuses_unknown_objects() -> None:
    assert json_dumps({"a": float("nan"), "d": Decimal("1.5"), 1: "x"}) == (
        '{"a":null,"d":1.5,"1":"x"}'
    )
    with pytest.raises(TypeError, match="JSON"):
        json_dumps({"o": object()})
