"""Response schemas shared by several routes: trades, positions, transitions.

These pydantic models document what the API answers (``/api/openapi.json``); handlers build
their JSON from the records directly (``TradeRecord.to_api()``), and the schemathesis run in
the test suite checks that every answer fits these models. Times are ISO-8601 UTC strings
(``…Z``); prices, volumes and money are numbers, ``null`` until known.

Rules: a field that is present in every answer is required; one that may be ``null`` says
so. Models do not forbid extra keys, so adding a field to an answer never breaks a client.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from forexbot.domain.trading import TradeStatus

Side = Literal["buy", "sell"]
#: A database id or terminal ticket in a path: a positive 63-bit integer.
Id = Annotated[int, Field(ge=1, le=2**63 - 1)]

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_text(value: object) -> object:
    """Only ISO-8601 text is a time here: pydantic would also take ``0.5`` as a Unix time."""
    if isinstance(value, str) and _ISO_DATE.match(value):
        return value
    if isinstance(value, datetime):
        return value
    raise ValueError("must be an ISO-8601 time such as 2024-01-02T03:04:05Z")


def _as_utc(value: datetime) -> datetime:
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:59:59-01:00: past datetime's range in UTC
        raise ValueError("is out of range once converted to UTC") from None


#: A time given by a client: ISO-8601 text (a date alone is its midnight), without a zone
#: taken as UTC, always returned in UTC.
UtcDatetime = Annotated[datetime, BeforeValidator(_iso_text), AfterValidator(_as_utc)]


class _Schema(BaseModel):
    model_config = ConfigDict(frozen=True)


class Trade(_Schema):
    """A trade, from its order intent to its close."""

    id: int
    client_order_id: str
    strategy: str
    symbol: str
    timeframe: str | None
    side: Side
    status: TradeStatus
    volume: float
    closed_volume: float
    open_volume: float
    requested_price: float | None
    entry_price: float | None
    sl: float | None
    tp: float | None
    exit_price: float | None
    profit: float | None
    swap: float | None
    commission: float | None
    mt5_order: int | None
    mt5_position: int | None
    signal_time: datetime | None
    open_time: datetime | None
    close_time: datetime | None
    close_reason: str | None
    confidence: float | None
    reason: str | None
    market_condition: dict[str, Any]
    execution_details: dict[str, Any]
    reject_code: int | None
    reject_message: str | None
    created_at: datetime
    updated_at: datetime


class TradePage(_Schema):
    """One page of trades, newest first, with the total matching the filter."""

    items: list[Trade]
    total: int = Field(ge=0)
    limit: int
    offset: int


class Transition(_Schema):
    """One move of a trade's lifecycle (``from`` is null for its creation)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    from_: TradeStatus | None = Field(alias="from")
    to: TradeStatus
    time: datetime
    details: dict[str, Any]


class TransitionList(_Schema):
    """A trade's transitions, oldest first."""

    items: list[Transition]


class Position(_Schema):
    """An open position of the account, as of the last sync with the terminal."""

    ticket: int
    trade_id: int | None
    symbol: str
    side: Side
    volume: float
    price_open: float
    price_current: float
    sl: float | None
    tp: float | None
    profit: float
    swap: float
    time: datetime | None
    comment: str


class PositionList(_Schema):
    """The open positions."""

    items: list[Position]
