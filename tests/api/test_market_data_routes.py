"""``/api/market/symbols``, ``/api/market/quote/{symbol}`` and ``/api/market/data/{symbol}``.

The specification is the docstring of ``forexbot/api/routes/market.py`` (and of
``forexbot/connectors/market_query.py``). A real server answers a real HTTP client; behind it
the real :class:`MarketQuery` reads a connector polling the simulated terminal (manual clock,
Tuesday 10:00 UTC) and the real ``market_data`` table, so answers are checked against what
the terminal and the database hold.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine
from trading_rig import START

from forexbot.api.routes.market import BarItem, BarPage, Quote, WatchedSymbol, WatchedSymbolList
from forexbot.clock import ManualClock, iso_utc
from forexbot.connectors.connector import MT5Connector
from forexbot.connectors.market_query import MarketQuery
from forexbot.connectors.mt5sim.terminal import SimulatedTerminal
from forexbot.connectors.worker import TerminalWorker
from forexbot.database.market_data import MarketDataRepository
from forexbot.domain.market import Bar, Timeframe
from forexbot.events.bus import EventBus
from forexbot.events.types import ConnectionState

from ._support import Api, MakeApi

pytestmark = pytest.mark.db

V75 = "Volatility 75 Index"
V75_PATH = "Volatility%2075%20Index"
M15 = Timeframe.M15.seconds
# The stored bars: ten M15 bars, the last closing at START.
FIRST = int(START) - 10 * M15


@dataclass
class Market:
    """The API in front of a MarketQuery over a live connector and the database."""

    api: Api
    clock: ManualClock
    terminal: SimulatedTerminal
    connector: MT5Connector
    bars: MarketDataRepository

    async def get(self, path: str, role: str | None = "viewer") -> tuple[int, Any]:
        headers = self.api.auth(role) if role is not None else {}
        async with self.api.session.get(self.api.url(path), headers=headers) as resp:
            return resp.status, await resp.json()


@contextlib.asynccontextmanager
async def running_connector(
    clock: ManualClock, terminal: SimulatedTerminal
) -> AsyncIterator[tuple[MT5Connector, TerminalWorker]]:
    bus = EventBus()
    worker = TerminalWorker(default_timeout=10.0)
    worker.start()
    connector = MT5Connector(
        terminal,
        worker,
        bus,
        clock,
        ["EURUSD", V75],
        [Timeframe.M1, Timeframe.M15],
        poll_interval=3600.0,
        reconnect_max_delay=0.5,
    )
    bus.start()
    await connector.start()
    try:
        yield connector, worker
    finally:
        await connector.close()
        await bus.close(timeout=1.0)
        await worker.stop()


@pytest_asyncio.fixture(loop_scope="function")
async def market(make_api: MakeApi, db_engine: AsyncEngine) -> AsyncIterator[Market]:
    clock = ManualClock(START)
    terminal = SimulatedTerminal(seed=7, clock=clock)
    async with running_connector(clock, terminal) as (connector, worker):
        bars = MarketDataRepository(db_engine)
        query = MarketQuery(connector, worker, terminal, bars, clock, [Timeframe.M15, Timeframe.M1])
        api = await make_api(market=query)
        yield Market(api, clock, terminal, connector, bars)


def stored_bar(i: int, symbol: str = "EURUSD", timeframe: Timeframe = Timeframe.M15) -> Bar:
    """The ``i``-th stored bar (0 opens at FIRST), with values that tell bars apart."""
    base = 1.1 + i / 1000
    return Bar(
        symbol=symbol,
        timeframe=timeframe,
        time=FIRST + i * timeframe.seconds,
        open=base,
        high=base + 0.0005,
        low=base - 0.0004,
        close=base + 0.0001,
        tick_volume=100 + i,
        spread=10 + i,
        real_volume=i,
    )


def bar_json(bar: Bar) -> dict[str, Any]:
    return {
        "time": iso_utc(bar.time),
        "open": bar.open,
        "high": bar.high,
        "low": bar.low,
        "close": bar.close,
        "tick_volume": bar.tick_volume,
        "spread": bar.spread,
        "real_volume": bar.real_volume,
    }


def terminal_bars(market: Market, symbol: str, lo: int, hi: int) -> list[dict[str, Any]]:
    """What the terminal holds for M15 bars opening in [lo, hi), in UTC."""
    offset = market.connector.server_offset
    rates = market.terminal.copy_rates_range(symbol, 15, lo + offset, hi + offset - 1)
    assert rates is not None
    return [
        {
            "time": iso_utc(int(row["time"]) - offset),
            "open": float(row["open"]),
            "high": float(row["high"]),
            "low": float(row["low"]),
            "close": float(row["close"]),
            "tick_volume": int(row["tick_volume"]),
            "spread": int(row["spread"]),
            "real_volume": int(row["real_volume"]),
        }
        for row in rates
        if lo <= int(row["time"]) - offset < hi
    ]


def error(status: int, code: str, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"error": {"code": code, "message": message, "details": None}}


# -- /api/market/symbols ------------------------------------------------------------------------


async def test_symbols_are_the_watchlist_with_the_terminals_specification(market: Market) -> None:
    status, body = await market.get("/api/market/symbols")
    assert status == 200
    assert [item["name"] for item in body["items"]] == ["EURUSD", V75]
    info = market.terminal.symbol_info("EURUSD")
    tick = market.connector.last_tick("EURUSD")
    assert tick is not None
    assert body["items"][0] == {
        "name": "EURUSD",
        "description": info.description,
        "digits": 5,
        "point": 0.00001,
        "tick_size": info.trade_tick_size,
        "tick_value": info.trade_tick_value_loss,
        "contract_size": 100000.0,
        "volume_min": info.volume_min,
        "volume_max": info.volume_max,
        "volume_step": info.volume_step,
        "stops_level": info.trade_stops_level,
        "freeze_level": info.trade_freeze_level,
        "trade_mode": "full",
        "currency_base": "EUR",
        "currency_profit": "USD",
        "currency_margin": "EUR",
        "spread": round((tick.ask - tick.bid) / 0.00001),
        "timeframes": ["M1", "M15"],
    }


async def test_symbols_describe_a_synthetic_index(market: Market) -> None:
    _, body = await market.get("/api/market/symbols")
    v75 = body["items"][1]
    assert (v75["name"], v75["description"], v75["digits"], v75["volume_min"]) == (
        V75,
        V75,
        2,
        0.001,
    )


async def test_symbols_show_the_last_known_details_while_the_terminal_is_down(
    market: Market,
) -> None:
    _, before = await market.get("/api/market/symbols")
    market.terminal.faults.disconnect()
    status, during = await market.get("/api/market/symbols")
    assert status == 200
    assert during == before


async def test_symbol_details_are_null_until_the_terminal_has_told_them(market: Market) -> None:
    market.terminal.faults.disconnect()
    status, body = await market.get("/api/market/symbols")
    assert status == 200
    eurusd = body["items"][0]
    assert (eurusd["description"], eurusd["trade_mode"], eurusd["digits"]) == (None, None, 5)


async def test_symbols_need_a_token(market: Market) -> None:
    status, body = await market.get("/api/market/symbols", role=None)
    assert (status, body["error"]["code"]) == (401, "unauthenticated")


# -- /api/market/quote/{symbol} -----------------------------------------------------------------


async def test_quote_is_the_connectors_last_tick(market: Market) -> None:
    tick = market.connector.last_tick("EURUSD")
    assert tick is not None
    assert await market.get("/api/market/quote/EURUSD") == (
        200,
        {
            "symbol": "EURUSD",
            "bid": tick.bid,
            "ask": tick.ask,
            "spread": round((tick.ask - tick.bid) / 0.00001),
            "time": iso_utc(tick.time, "milliseconds"),
        },
    )


async def test_quote_follows_the_market(market: Market) -> None:
    market.clock.advance(120)
    await market.connector.poll_once()
    tick = market.connector.last_tick("EURUSD")
    assert tick is not None
    assert tick.time > START
    _, body = await market.get("/api/market/quote/EURUSD")
    assert (body["bid"], body["time"]) == (tick.bid, iso_utc(tick.time, "milliseconds"))


async def test_quote_of_a_symbol_with_spaces_is_found_percent_encoded(market: Market) -> None:
    tick = market.connector.last_tick(V75)
    assert tick is not None
    status, body = await market.get(f"/api/market/quote/{V75_PATH}")
    assert (status, body["symbol"], body["bid"], body["ask"]) == (200, V75, tick.bid, tick.ask)


async def test_quote_of_an_unwatched_symbol_is_404(market: Market) -> None:
    assert await market.get("/api/market/quote/GBPUSD") == error(
        404, "not_found", "symbol 'GBPUSD' is not watched"
    )


async def test_quote_while_the_terminal_is_disconnected_is_503(market: Market) -> None:
    market.connector.state = ConnectionState.DISCONNECTED  # what the poller sets on a failure
    status, body = await market.get("/api/market/quote/EURUSD")
    assert (status, body["error"]["code"]) == (503, "terminal_unavailable")


class _NoTickYet:
    """A market that watches EURUSD but has had no tick of it (the route's 503)."""

    def watches(self, symbol: str) -> bool:
        return symbol == "EURUSD"

    def quote(self, symbol: str) -> dict[str, Any] | None:
        return None


async def test_quote_before_the_first_tick_is_503(make_api: MakeApi) -> None:
    api = await make_api(market=_NoTickYet())
    async with api.session.get(api.url("/api/market/quote/EURUSD"), headers=api.auth()) as resp:
        assert (resp.status, await resp.json()) == error(
            503, "quote_unavailable", "no quote of 'EURUSD' has come yet"
        )


# -- /api/market/data/{symbol}: from the database --------------------------------------------


def data_path(symbol: str = "EURUSD", **params: Any) -> str:
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return f"/api/market/data/{symbol}?{query}"


async def test_stored_bars_of_a_range_are_returned_oldest_first(market: Market) -> None:
    bars = [stored_bar(i) for i in range(10)]
    await market.bars.upsert_bars(list(reversed(bars)))
    assert await market.get(
        data_path(timeframe="M15", **{"from": iso_utc(FIRST), "to": iso_utc(FIRST + 10 * M15)})
    ) == (
        200,
        {
            "symbol": "EURUSD",
            "timeframe": "M15",
            "source": "db",
            "from": iso_utc(FIRST),
            "to": iso_utc(FIRST + 10 * M15),
            "limit": 500,
            "truncated": False,
            "items": [bar_json(bar) for bar in bars],
        },
    )


async def test_stored_bars_are_those_opening_in_the_half_open_range(market: Market) -> None:
    await market.bars.upsert_bars([stored_bar(i) for i in range(10)])
    _, body = await market.get(
        data_path(
            timeframe="M15", **{"from": iso_utc(FIRST + 2 * M15), "to": iso_utc(FIRST + 5 * M15)}
        )
    )
    assert body["items"] == [bar_json(stored_bar(i)) for i in (2, 3, 4)]


async def test_stored_bars_are_only_those_of_the_symbol_and_timeframe(market: Market) -> None:
    await market.bars.upsert_bars(
        [stored_bar(0), stored_bar(1, symbol=V75), stored_bar(2, timeframe=Timeframe.M1)]
    )
    _, body = await market.get(data_path(timeframe="M15", to=iso_utc(START)))
    assert body["items"] == [bar_json(stored_bar(0))]


async def test_limit_keeps_the_newest_bars_of_the_range_oldest_first(market: Market) -> None:
    await market.bars.upsert_bars([stored_bar(i) for i in range(10)])
    _, body = await market.get(data_path(timeframe="M15", limit=3, to=iso_utc(START)))
    assert (body["truncated"], body["items"]) == (
        True,
        [bar_json(stored_bar(i)) for i in (7, 8, 9)],
    )


async def test_the_page_before_is_asked_with_to_set_to_the_first_bar(market: Market) -> None:
    await market.bars.upsert_bars([stored_bar(i) for i in range(10)])
    _, first = await market.get(data_path(timeframe="M15", limit=4, to=iso_utc(START)))
    _, before = await market.get(data_path(timeframe="M15", limit=4, to=first["items"][0]["time"]))
    assert [bar["time"] for bar in before["items"]] == [
        iso_utc(stored_bar(i).time) for i in (2, 3, 4, 5)
    ]


async def test_a_range_holding_exactly_limit_bars_is_not_truncated(market: Market) -> None:
    await market.bars.upsert_bars([stored_bar(i) for i in range(10)])
    _, body = await market.get(
        data_path(timeframe="M15", limit=10, **{"from": iso_utc(FIRST), "to": iso_utc(START)})
    )
    assert (body["truncated"], len(body["items"])) == (False, 10)


async def test_limit_reaches_back_over_a_gap_in_the_bars(market: Market) -> None:
    old = [stored_bar(i) for i in (-300, -299)]  # 75 hours before the others: a weekend
    await market.bars.upsert_bars([*old, stored_bar(9)])
    _, body = await market.get(
        data_path(
            timeframe="M15", limit=3, **{"from": iso_utc(FIRST - 400 * M15), "to": iso_utc(START)}
        )
    )
    assert body["items"] == [bar_json(bar) for bar in (*old, stored_bar(9))]


async def test_without_from_the_range_starts_four_limit_periods_before_to(market: Market) -> None:
    _, body = await market.get(data_path(timeframe="M15", limit=5, to=iso_utc(START)))
    assert (body["from"], body["to"]) == (iso_utc(int(START) - 4 * 5 * M15), iso_utc(START))


async def test_to_defaults_to_now_on_the_trading_clock(market: Market) -> None:
    # Bar 10 opens now, bar 11 a period later: only the first has begun.
    await market.bars.upsert_bars([stored_bar(i) for i in range(12)])
    _, body = await market.get(data_path(timeframe="M15", limit=2))
    assert [bar["time"] for bar in body["items"]] == [iso_utc(stored_bar(i).time) for i in (9, 10)]


async def test_a_naive_datetime_is_utc(market: Market) -> None:
    await market.bars.upsert_bars([stored_bar(i) for i in range(3)])
    naive = iso_utc(FIRST + M15).removesuffix("Z")
    _, body = await market.get(data_path(timeframe="M15", **{"from": naive, "to": iso_utc(START)}))
    assert body["items"] == [bar_json(stored_bar(i)) for i in (1, 2)]


async def test_no_stored_bars_is_an_empty_list(market: Market) -> None:
    status, body = await market.get(data_path(timeframe="H1"))
    assert (status, body["items"], body["truncated"]) == (200, [], False)


# -- /api/market/data/{symbol}: from the terminal --------------------------------------------


async def test_terminal_bars_are_the_terminals_own_in_utc(market: Market) -> None:
    lo, hi = FIRST, int(START)
    status, body = await market.get(
        data_path(timeframe="M15", source="terminal", **{"from": iso_utc(lo), "to": iso_utc(hi)})
    )
    assert status == 200
    expected = terminal_bars(market, "EURUSD", lo, hi)
    assert len(expected) == 10
    assert (body["source"], body["items"]) == ("terminal", expected)
    assert body["items"][0]["time"] == iso_utc(FIRST)


async def test_terminal_bars_keep_the_newest_limit(market: Market) -> None:
    lo, hi = FIRST, int(START)
    _, body = await market.get(
        data_path(
            timeframe="M15", source="terminal", limit=4, **{"from": iso_utc(lo), "to": iso_utc(hi)}
        )
    )
    assert (body["truncated"], body["items"]) == (
        True,
        terminal_bars(market, "EURUSD", lo, hi)[-4:],
    )


async def test_terminal_bars_of_a_symbol_with_spaces(market: Market) -> None:
    lo, hi = FIRST, int(START)
    status, body = await market.get(
        data_path(
            V75_PATH, timeframe="M15", source="terminal", **{"from": iso_utc(lo), "to": iso_utc(hi)}
        )
    )
    assert (status, body["symbol"]) == (200, V75)
    assert body["items"] == terminal_bars(market, V75, lo, hi)


async def test_terminal_bars_while_the_terminal_is_down_are_503(market: Market) -> None:
    market.terminal.faults.disconnect()
    status, body = await market.get(data_path(timeframe="M15", source="terminal"))
    assert (status, body["error"]["code"]) == (503, "terminal_unavailable")


# -- /api/market/data/{symbol}: refusals -----------------------------------------------------


async def test_data_of_an_unwatched_symbol_is_404(market: Market) -> None:
    assert await market.get(data_path("GBPUSD", timeframe="M15")) == error(
        404, "not_found", "symbol 'GBPUSD' is not watched"
    )


async def invalid(market: Market, path: str) -> tuple[str, str | None]:
    status, body = await market.get(path)
    assert status == 400, body
    assert body["error"]["code"] == "invalid_parameter"
    return body["error"]["message"], body["error"]["details"][0]["field"]


async def test_an_unknown_timeframe_is_400(market: Market) -> None:
    message, field = await invalid(market, data_path(timeframe="M2"))
    assert field == "timeframe"
    assert message.startswith("invalid query parameter 'timeframe': Input should be 'M1', 'M5'")


async def test_a_missing_timeframe_is_400(market: Market) -> None:
    assert await invalid(market, data_path(limit=5)) == (
        "invalid query parameter 'timeframe': Field required",
        "timeframe",
    )


async def test_from_not_before_to_is_400(market: Market) -> None:
    same = iso_utc(START)
    assert await invalid(market, data_path(timeframe="M15", **{"from": same, "to": same})) == (
        "invalid query parameter 'to': Value error, must be after 'from'",
        "to",
    )


async def test_a_datetime_that_is_not_iso_8601_is_400(market: Market) -> None:
    _, field = await invalid(market, data_path(timeframe="M15", **{"from": "yesterday"}))
    assert field == "from"


@pytest.mark.parametrize("limit", ["0", "10001", "many"])
async def test_a_limit_outside_1_to_10000_is_400(market: Market, limit: str) -> None:
    _, field = await invalid(market, data_path(timeframe="M15", limit=limit))
    assert field == "limit"


async def test_an_unknown_source_is_400(market: Market) -> None:
    _, field = await invalid(market, data_path(timeframe="M15", source="cache"))
    assert field == "source"


async def test_an_unknown_parameter_is_400(market: Market) -> None:
    assert await invalid(market, data_path(timeframe="M15", count=5)) == (
        "invalid query parameter 'count': Extra inputs are not permitted",
        "count",
    )


# -- the documented models -------------------------------------------------------------------


def keys_of(model: type[BaseModel]) -> set[str]:
    return {field.alias or name for name, field in model.model_fields.items()}


async def test_answers_are_exactly_their_documented_models(market: Market) -> None:
    await market.bars.upsert_bars([stored_bar(0)])
    _, symbols = await market.get("/api/market/symbols")
    _, quote = await market.get("/api/market/quote/EURUSD")
    _, page = await market.get(data_path(timeframe="M15"))
    for model, body in ((WatchedSymbolList, symbols), (Quote, quote), (BarPage, page)):
        model.model_validate(body)
        assert set(body) == keys_of(model)
    assert set(symbols["items"][0]) == keys_of(WatchedSymbol)
    assert set(page["items"][0]) == keys_of(BarItem)


async def test_bounds_are_clamped_to_the_years_1970_to_3000(market: Market) -> None:
    status, body = await market.get(
        data_path(timeframe="D1", **{"from": "1900-01-01T00:00:00Z", "to": "9999-01-01T00:00:00Z"})
    )
    assert (status, body["from"], body["to"]) == (
        200,
        "1970-01-01T00:00:00Z",
        "3000-01-01T00:00:00Z",
    )
