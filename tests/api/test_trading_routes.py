"""GET /api/trades and /api/trades/{id} over real trades in PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from forexbot.database.trades import TradeRepository
from forexbot.domain.trades import Fill, NewTrade

from ._support import Api

pytestmark = pytest.mark.db

SIGNAL_TIME = datetime(2024, 1, 2, 3, 0, tzinfo=UTC)


async def add_trade(
    trades: TradeRepository,
    n: int,
    *,
    symbol: str = "EURUSD",
    strategy: str = "trend_following",
    fill: bool = False,
    open_time: datetime = SIGNAL_TIME,
) -> int:
    trade_id = await trades.create_intent(
        NewTrade(
            client_order_id=f"fx-{n:04d}",
            strategy=strategy,
            symbol=symbol,
            timeframe="H1",
            side="buy",
            volume=0.1,
            requested_price=1.1,
            sl=1.09,
            tp=1.12,
            signal_time=SIGNAL_TIME,
            confidence=0.7,
            reason="ema cross",
            market_condition={"trend": "up"},
        )
    )
    if fill:
        await trades.mark_open(
            trade_id,
            Fill(
                mt5_order=1000 + n,
                mt5_position=2000 + n,
                entry_price=1.10012,
                volume=0.1,
                open_time=open_time,
                execution_details={"retcode": 10009},
            ),
        )
    return trade_id


async def get(api: Api, path: str) -> tuple[int, Any]:
    async with api.session.get(api.url(path), headers=api.auth()) as resp:
        return resp.status, await resp.json()


async def test_trades_are_listed_newest_first_with_the_total(api: Api) -> None:
    ids = [await add_trade(api.trades, n) for n in range(3)]
    status, body = await get(api, "/api/trades")
    assert status == 200
    assert [item["id"] for item in body["items"]] == ids[::-1]
    assert (body["total"], body["limit"], body["offset"]) == (3, 50, 0)


async def test_trade_items_are_the_records_api_representation(api: Api) -> None:
    trade_id = await add_trade(api.trades, 1, fill=True)
    record = await api.trades.get(trade_id)
    assert record is not None
    _, body = await get(api, "/api/trades")
    assert body["items"] == [record.to_api()]
    assert body["items"][0]["entry_price"] == 1.10012
    assert body["items"][0]["status"] == "open"


async def test_trades_are_paginated_with_limit_and_offset(api: Api) -> None:
    ids = [await add_trade(api.trades, n) for n in range(5)]
    _, body = await get(api, "/api/trades?limit=2&offset=1")
    assert [item["id"] for item in body["items"]] == [ids[3], ids[2]]
    assert (body["total"], body["limit"], body["offset"]) == (5, 2, 1)


async def test_trades_past_the_last_page_is_an_empty_page_with_the_total(api: Api) -> None:
    await add_trade(api.trades, 1)
    _, body = await get(api, "/api/trades?offset=10")
    assert (body["items"], body["total"]) == ([], 1)


async def test_trades_are_filtered_by_symbol_status_and_strategy(api: Api) -> None:
    eur = await add_trade(api.trades, 1, symbol="EURUSD", fill=True)
    await add_trade(api.trades, 2, symbol="GBPUSD", fill=True)
    await add_trade(api.trades, 3, symbol="EURUSD")
    await add_trade(api.trades, 4, symbol="EURUSD", strategy="mean_reversion", fill=True)
    _, body = await get(api, "/api/trades?symbol=EURUSD&status=open&strategy=trend_following")
    assert [item["id"] for item in body["items"]] == [eur]
    assert body["total"] == 1


async def test_trades_are_filtered_by_open_time_from_inclusive_to_exclusive(api: Api) -> None:
    hours = {
        hour: await add_trade(api.trades, hour, fill=True, open_time=SIGNAL_TIME.replace(hour=hour))
        for hour in (1, 2, 3)
    }
    _, body = await get(api, "/api/trades?from=2024-01-02T02:00:00Z&to=2024-01-02T03:00:00Z")
    assert [item["id"] for item in body["items"]] == [hours[2]]
    _, body = await get(api, "/api/trades?from=2024-01-02T02:00:00Z")
    assert [item["id"] for item in body["items"]] == [hours[3], hours[2]]
    assert body["total"] == 2


async def test_a_time_without_a_zone_is_utc(api: Api) -> None:
    trade = await add_trade(api.trades, 1, fill=True, open_time=SIGNAL_TIME)
    _, body = await get(api, "/api/trades?from=2024-01-02T03:00:00&to=2024-01-02T03:00:01")
    assert [item["id"] for item in body["items"]] == [trade]


async def test_a_trade_that_never_opened_is_placed_by_when_its_order_was_written(
    api: Api,
) -> None:
    intent = await add_trade(api.trades, 1)  # created now, never filled
    _, body = await get(api, "/api/trades?from=2025-01-01T00:00:00Z")
    assert [item["id"] for item in body["items"]] == [intent]
    _, body = await get(api, "/api/trades?to=2025-01-01T00:00:00Z")
    assert body["items"] == []


async def test_from_not_before_to_is_400(api: Api) -> None:
    status, body = await get(api, "/api/trades?from=2024-01-02T00:00:00Z&to=2024-01-02T00:00:00Z")
    assert status == 400
    assert body["error"]["code"] == "invalid_parameter"
    assert "from must be before to" in body["error"]["message"]


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=ten", "limit"),
        ("offset=-1", "offset"),
        ("status=lost", "status"),
        ("symbol=", "symbol"),
        ("colour=red", "colour"),
        ("limit=5&limit=6", "limit"),
        ("from=yesterday", "from"),
        ("to=0.5", "to"),  # a number is not taken as a Unix time
        ("to=9999-12-31T23:59:59-01:00", "to"),  # past the range of times once in UTC
        ("opened_from=2024-01-01", "opened_from"),
    ],
)
async def test_invalid_query_parameters_are_400_naming_the_parameter(
    api: Api, query: str, parameter: str
) -> None:
    status, body = await get(api, f"/api/trades?{query}")
    assert status == 400
    assert body["error"]["code"] == "invalid_parameter"
    assert f"'{parameter}'" in body["error"]["message"]
    assert body["error"]["details"][0]["field"] == parameter


async def test_limit_500_is_allowed(api: Api) -> None:
    status, body = await get(api, "/api/trades?limit=500")
    assert (status, body["limit"]) == (200, 500)


async def test_trade_by_id_is_the_records_api_representation(api: Api) -> None:
    trade_id = await add_trade(api.trades, 1, fill=True)
    record = await api.trades.get(trade_id)
    assert record is not None
    assert await get(api, f"/api/trades/{trade_id}") == (200, record.to_api())


@pytest.mark.parametrize("trade_id", ["999", "0", "99999999999999999999", "abc"])
async def test_unknown_or_impossible_trade_id_is_404(api: Api, trade_id: str) -> None:
    status, body = await get(api, f"/api/trades/{trade_id}")
    assert status == 404
    assert body["error"]["code"] == "not_found"
