"""Value conversions at the repository boundary.

Rules enforced here, for every repository:

* **Money and prices are exact.** A ``float`` handed to a repository is converted through its
  shortest ``repr`` (``0.1`` becomes ``Decimal("0.1")``, not
  ``Decimal("0.1000000000000000055511151231257827…")``), so the ``NUMERIC`` column holds what
  the caller wrote. Non-finite values are refused: ``NUMERIC`` would store ``NaN`` happily and
  every later sum would be poisoned.
* **Times are tz-aware.** A naive ``datetime`` is refused rather than guessed: broker server
  time is not UTC (``docs/terminals.md``, "MetaTrader 5 facts") and a silent guess would shift
  a trade by hours. Times read back are normalised to UTC.
* **JSON columns accept what the trading path produces**: ``Decimal``, ``datetime``, enums and
  numpy scalars. ``NaN`` becomes ``null`` (PostgreSQL's ``jsonb`` rejects ``NaN`` and the
  order-intent write must not fail because an indicator was still warming up).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import orjson

_ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def to_decimal(value: float | Decimal, *, name: str) -> Decimal:
    """``value`` as an exact ``Decimal``; ``ValueError`` naming ``name`` if it is not finite."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a number, not a bool")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        result = Decimal(repr(value))
    else:
        raise TypeError(f"{name} must be a float or a Decimal, not {type(value).__name__}")
    if not result.is_finite():
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return result


def to_decimal_or_none(value: float | Decimal | None, *, name: str) -> Decimal | None:
    """Like :func:`to_decimal`, letting ``None`` (an unknown value, SQL ``NULL``) through."""
    return None if value is None else to_decimal(value, name=name)


def require_aware(value: datetime, *, name: str) -> datetime:
    """``value`` converted to UTC; ``ValueError`` if it is naive."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got naive {value!r}")
    return value.astimezone(UTC)


def utc(value: datetime) -> datetime:
    """A ``timestamptz`` read from PostgreSQL, normalised to UTC."""
    return value.astimezone(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """Like :func:`utc`, letting ``None`` through."""
    return None if value is None else value.astimezone(UTC)


def epoch_to_datetime(epoch: float) -> datetime:
    """UTC epoch seconds (the domain's time unit) → tz-aware UTC ``datetime``."""
    return datetime.fromtimestamp(epoch, UTC)


def to_datetime(value: datetime | int, *, name: str) -> datetime:
    """A domain time given as an aware ``datetime`` or as UTC epoch seconds."""
    if isinstance(value, datetime):
        return require_aware(value, name=name)
    return epoch_to_datetime(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value) if value.is_finite() else None
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    raise TypeError(f"cannot store a {type(value).__name__} in a JSON column: {value!r}")


def json_dumps(value: Any) -> str:
    """Serializer for ``jsonb`` columns (see the module docstring for what it accepts)."""
    try:
        return orjson.dumps(value, default=_json_default, option=_ORJSON_OPTIONS).decode()
    except orjson.JSONEncodeError as exc:
        raise TypeError(str(exc)) from exc


def json_loads(value: str | bytes) -> Any:
    """Deserializer for ``jsonb`` columns."""
    return orjson.loads(value)


def check_finite_float(value: float | None, *, name: str) -> float | None:
    """For ``double precision`` columns: refuse NaN/inf so aggregates stay meaningful."""
    if value is not None and not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return value
