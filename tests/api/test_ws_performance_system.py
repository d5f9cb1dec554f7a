"""/ws/performance and /ws/system end to end: a real server, real PostgreSQL, real sockets.

Performance figures come from the real :class:`PerformanceBook` over trades stored in the
database, except where a test counts computations or needs large snapshots.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import aiohttp
import pytest
from aiohttp import web
from polling import eventually
from sqlalchemy.ext.asyncio import AsyncEngine
from trade_records import trade_record

from forexbot.api.websockets import Channel, WsClient
from forexbot.clock import ManualClock
from forexbot.config.loader import load_settings
from forexbot.config.models import ApiSettings
from forexbot.database.performance import PerformanceRepository
from forexbot.database.trades import TradeRepository
from forexbot.domain.trades import ExitTotals, Fill, NewTrade, TradeRecord
from forexbot.domain.trading import AccountState, Side, Signal, TradeStatus
from forexbot.errors import ConfigError
from forexbot.events.types import (
    ConnectionState,
    ConnectionStateEvent,
    KillSwitchEvent,
    ReconciliationEvent,
    RiskLimitEvent,
    RiskRejectedEvent,
    StrategyToggledEvent,
    TradeEvent,
)
from forexbot.monitoring.performance import PerformanceBook

from ._support import Api, MakeApi
from .test_ws_client_queue import HeldSocket
from .test_ws_streams import slow_session

pytestmark = pytest.mark.db

MONDAY = datetime(2026, 11, 30, tzinfo=UTC)
ACCOUNT = AccountState(
    currency="USD",
    balance=10_080.0,
    equity=10_100.0,
    margin=200.0,
    margin_free=9_900.0,
    leverage=100,
    profit=20.0,
)
ACCOUNT_DATA = {
    "currency": "USD",
    "balance": 10_080.0,
    "equity": 10_100.0,
    "margin": 200.0,
    "margin_free": 9_900.0,
    "margin_level": 5050.0,
    "floating_profit": 20.0,
    "leverage": 100,
}
#: The API's trading clock in the test servers (conftest): 2023-11-14T22:13:20Z.
API_TIME = "2023-11-14T22:13:20.000Z"
QUIET = 3600.0  # an interval no test waits for


async def store_closed_trade(
    trades: TradeRepository, n: int, profit: float, hour: int
) -> TradeRecord:
    at = MONDAY + timedelta(hours=hour)
    trade_id = await trades.create_intent(
        NewTrade(
            client_order_id=f"w{n}", strategy="ma_rsi", symbol="EURUSD", timeframe="H1",
            side="buy", volume=0.1, requested_price=1.1, sl=1.09, tp=1.12, signal_time=at,
            confidence=0.5, reason="t", market_condition={},
        )
    )  # fmt: skip
    fill = Fill(
        mt5_order=n, mt5_position=n, entry_price=1.1, volume=0.1, open_time=at, execution_details={}
    )
    await trades.mark_open(trade_id, fill)
    return await trades.mark_closed(
        trade_id,
        ExitTotals(exit_price=1.1, profit=profit, swap=0.0, commission=0.0),
        close_time=at + timedelta(minutes=30),
        close_reason="take_profit",
    )


async def book_with_trades(db_engine: AsyncEngine) -> PerformanceBook:
    trades = TradeRepository(db_engine)
    await store_closed_trade(trades, 1, 100.0, 1)
    await store_closed_trade(trades, 2, -50.0, 2)
    clock = ManualClock((MONDAY + timedelta(hours=10)).timestamp())
    repo = PerformanceRepository(db_engine)
    return PerformanceBook(trades, repo, lambda: 10_080.0, clock, lambda: 0.0)  # a UTC broker


class CountingPerformance:
    """A performance source counting its computations; ``padding`` makes snapshots large."""

    def __init__(self, padding: int = 0) -> None:
        self.calls = 0
        self._padding = "x" * padding
        self.day = "2026-11-30"  # the broker's day, whatever the clock says

    async def compute(self, period: str) -> dict[str, Any]:
        self.calls += 1
        return {"period": period, "calls": self.calls, "padding": self._padding}

    def trading_day(self, at: float) -> str:
        return self.day


async def connect(
    api: Api,
    channel: str,
    *,
    role: str = "viewer",
    session: aiohttp.ClientSession | None = None,
) -> aiohttp.ClientWebSocketResponse:
    """A client of ``channel``, registered with the broadcaster before this returns."""
    before = api.broadcaster.client_count
    url = api.url(f"/ws/{channel}?token={api.token(role)}")
    ws = await (session or api.session).ws_connect(url)
    await eventually(
        lambda: api.broadcaster.client_count == before + 1,
        timeout=5.0,
        what="the socket's registration",
    )
    return ws


async def receive(ws: aiohttp.ClientWebSocketResponse) -> Any:
    async with asyncio.timeout(5.0):
        return await ws.receive_json()


async def receive_until(
    ws: aiohttp.ClientWebSocketResponse, predicate: Callable[[Any], bool]
) -> Any:
    """The first message ``predicate`` accepts (earlier ones are skipped), within 5 s."""
    async with asyncio.timeout(5.0):
        while not predicate(message := await ws.receive_json()):
            pass
        return message


def overall(snapshot: Any, period: str) -> dict[str, Any]:
    items = snapshot["data"]["performance"][period]["items"]
    [row] = [i for i in items if i["strategy"] is None and i["symbol"] is None]
    return cast(dict[str, Any], row)


# -- /ws/performance ------------------------------------------------------------------------


async def test_performance_snapshot_on_connect_holds_the_figures_and_the_account(
    make_api: MakeApi, db_engine: AsyncEngine
) -> None:
    api = await make_api(
        performance=await book_with_trades(db_engine), ws_performance_interval_seconds=QUIET
    )
    api.positions.account = ACCOUNT
    ws = await connect(api, "performance")
    snapshot = await receive(ws)
    assert snapshot["channel"] == "performance"
    assert snapshot["data"]["time"] == API_TIME
    assert snapshot["data"]["account"] == ACCOUNT_DATA
    assert sorted(snapshot["data"]["performance"]) == ["all", "daily", "monthly", "weekly"]
    daily = snapshot["data"]["performance"]["daily"]
    assert (daily["period"], daily["start"]) == ("daily", "2026-11-30T00:00:00Z")
    row = overall(snapshot, "daily")
    assert (row["trades_count"], row["wins"], row["losses"]) == (2, 1, 1)
    assert row["net_profit"] == pytest.approx(50.0)


async def test_performance_snapshot_before_the_account_is_read_has_nulls(
    make_api: MakeApi, db_engine: AsyncEngine
) -> None:
    trades = TradeRepository(db_engine)
    clock = ManualClock(MONDAY.timestamp())
    book = PerformanceBook(trades, PerformanceRepository(db_engine), lambda: None, clock, lambda: 0)
    api = await make_api(performance=book, ws_performance_interval_seconds=QUIET)
    ws = await connect(api, "performance")
    assert await receive(ws) == {
        "channel": "performance",
        "data": {"time": API_TIME, "account": None, "performance": None},
    }


async def test_performance_update_after_a_trade_closes(
    make_api: MakeApi, db_engine: AsyncEngine
) -> None:
    api = await make_api(
        performance=await book_with_trades(db_engine), ws_performance_interval_seconds=QUIET
    )
    api.positions.account = ACCOUNT
    ws = await connect(api, "performance")
    assert overall(await receive(ws), "daily")["trades_count"] == 2

    closed = await store_closed_trade(TradeRepository(db_engine), 3, 30.0, 3)
    api.bus.publish(TradeEvent(closed))
    update = await receive(ws)
    row = overall(update, "daily")
    assert (row["trades_count"], row["wins"], row["losses"]) == (3, 2, 1)
    assert row["net_profit"] == pytest.approx(80.0)


async def test_a_trade_that_opens_does_not_recompute_the_figures(make_api: MakeApi) -> None:
    source = CountingPerformance()
    api = await make_api(performance=source, ws_performance_interval_seconds=QUIET)
    ws = await connect(api, "performance")
    await receive(ws)
    assert source.calls == 4  # one computation per period
    api.bus.publish(TradeEvent(trade_record(7, TradeStatus.OPEN)))
    api.bus.publish(TradeEvent(trade_record(7, TradeStatus.CLOSED)))
    update = await receive(ws)
    assert update["data"]["performance"]["all"]["calls"] == 8
    assert source.calls == 8


async def test_performance_is_sent_periodically_with_fresh_account_figures(
    make_api: MakeApi, db_engine: AsyncEngine
) -> None:
    api = await make_api(
        performance=await book_with_trades(db_engine), ws_performance_interval_seconds=0.05
    )
    api.positions.account = ACCOUNT
    ws = await connect(api, "performance")
    assert (await receive(ws))["data"]["account"]["equity"] == 10_100.0

    api.positions.account = AccountState(
        currency="USD", balance=10_080.0, equity=9_950.0, margin=400.0, margin_free=9_550.0,
        leverage=100, profit=-130.0,
    )  # fmt: skip
    update = await receive_until(ws, lambda m: m["data"]["account"]["equity"] == 9_950.0)
    assert update["data"]["account"] == {
        "currency": "USD",
        "balance": 10_080.0,
        "equity": 9_950.0,
        "margin": 400.0,
        "margin_free": 9_550.0,
        "margin_level": 2487.5,
        "floating_profit": -130.0,
        "leverage": 100,
    }
    assert overall(update, "daily")["trades_count"] == 2


async def test_figures_are_computed_once_per_change_not_per_client_or_tick(
    make_api: MakeApi,
) -> None:
    source = CountingPerformance()
    api = await make_api(
        performance=source,
        ws_performance_interval_seconds=0.02,
        ws_performance_periods=("daily",),
    )
    clients = [await connect(api, "performance") for _ in range(3)]
    for ws in clients:
        await receive(ws)
    stats = api.broadcaster.client_stats()
    await eventually(
        lambda: all(s.sent >= 5 for s in stats), timeout=5.0, what="five snapshots per client"
    )
    assert source.calls == 1

    api.bus.publish(TradeEvent(trade_record(1, TradeStatus.CLOSED)))
    for ws in clients:
        await receive_until(ws, lambda m: m["data"]["performance"]["daily"]["calls"] == 2)
    assert source.calls == 2


async def test_figures_are_computed_again_when_the_brokers_day_changes(
    make_api: MakeApi,
) -> None:
    source = CountingPerformance()
    api = await make_api(
        performance=source,
        ws_performance_interval_seconds=0.02,
        ws_performance_periods=("daily",),
    )
    ws = await connect(api, "performance")
    await receive(ws)
    [stats] = api.broadcaster.client_stats()
    await eventually(lambda: stats.sent >= 5, timeout=5.0, what="five snapshots")
    assert source.calls == 1  # the same day: the same figures
    source.day = "2026-12-01"  # the broker's midnight has passed
    await receive_until(ws, lambda m: m["data"]["performance"]["daily"]["calls"] == 2)
    assert source.calls == 2


async def test_slow_performance_client_gets_only_the_latest_snapshot(make_api: MakeApi) -> None:
    source = CountingPerformance(padding=16_384)  # fills the socket buffers in few snapshots
    api = await make_api(
        performance=source, ws_performance_interval_seconds=QUIET, ws_performance_periods=("all",)
    )
    async with slow_session() as session:
        slow = await connect(api, "performance", session=session)  # reads nothing until later
        [slow_stats] = api.broadcaster.client_stats()
        fast = await connect(api, "performance")
        calls = (await receive(fast))["data"]["performance"]["all"]["calls"]
        while slow_stats.coalesced < 3 and calls < 2_000:
            api.bus.publish(TradeEvent(trade_record(calls, TradeStatus.CLOSED)))
            latest = calls
            while latest == calls:  # the snapshot made after this trade closed
                latest = (await receive(fast))["data"]["performance"]["all"]["calls"]
            calls = latest
        assert slow_stats.coalesced >= 3
        assert slow_stats.max_pending == 1  # never a backlog, only the latest

        seen: list[int] = []
        while not seen or seen[-1] != calls:
            seen.append((await receive(slow))["data"]["performance"]["all"]["calls"])
        assert seen == sorted(set(seen))  # never an older snapshot after a newer one
        assert len(seen) < calls


# -- /ws/system -----------------------------------------------------------------------------


async def test_system_snapshot_on_connect_is_the_status(make_api: MakeApi) -> None:
    api = await make_api(ws_status_interval_seconds=QUIET)
    ws = await connect(api, "system")
    assert await receive(ws) == {
        "channel": "system",
        "data": {"type": "status", "time": API_TIME, "status": api.status.payload},
    }


async def test_kill_switch_trip_and_resume_are_system_events(make_api: MakeApi) -> None:
    api = await make_api(ws_status_interval_seconds=QUIET)
    ws = await connect(api, "system")
    await receive(ws)
    api.bus.publish(KillSwitchEvent(True, "max_drawdown", "drawdown 21% ≥ 20%", 1_704_164_645.5))
    api.bus.publish(
        KillSwitchEvent(False, "resumed", "resumed by alice", 1_704_168_000.0, actor="alice")
    )
    assert await receive(ws) == {
        "channel": "system",
        "data": {
            "type": "kill_switch",
            "active": True,
            "code": "max_drawdown",
            "reason": "drawdown 21% ≥ 20%",
            "actor": None,
            "time": "2024-01-02T03:04:05.500Z",
        },
    }
    assert (await receive(ws))["data"] == {
        "type": "kill_switch",
        "active": False,
        "code": "resumed",
        "reason": "resumed by alice",
        "actor": "alice",
        "time": "2024-01-02T04:00:00.000Z",
    }


async def test_terminal_connection_lost_and_restored_are_system_events(
    make_api: MakeApi,
) -> None:
    api = await make_api(ws_status_interval_seconds=QUIET)
    ws = await connect(api, "system")
    await receive(ws)
    api.bus.publish(
        ConnectionStateEvent(ConnectionState.DISCONNECTED, "IPC timeout (-10005)", 1_704_164_645.0)
    )
    api.bus.publish(ConnectionStateEvent(ConnectionState.CONNECTED, "", 1_704_164_650.0))
    assert (await receive(ws))["data"] == {
        "type": "connection",
        "state": "disconnected",
        "detail": "IPC timeout (-10005)",
        "time": "2024-01-02T03:04:05.000Z",
    }
    assert (await receive(ws))["data"] == {
        "type": "connection",
        "state": "connected",
        "detail": "",
        "time": "2024-01-02T03:04:10.000Z",
    }


def signal() -> Signal:
    return Signal(
        strategy="ma_rsi", symbol="EURUSD", timeframe="M15", side=Side.SELL, entry=1.10012,
        sl=1.1035, tp=1.0985, confidence=0.75, reason="r", bar_time=1_704_164_400,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("event", "data"),
    [
        (
            RiskLimitEvent("daily_loss_limit", "halted until midnight UTC", 1_704_164_645.0),
            {
                "type": "risk_limit",
                "code": "daily_loss_limit",
                "message": "halted until midnight UTC",
                "time": "2024-01-02T03:04:05.000Z",
            },
        ),
        (
            RiskRejectedEvent(signal(), "max_open_positions", "5 open", 1_704_164_645.0),
            {
                "type": "risk_rejected",
                "code": "max_open_positions",
                "message": "5 open",
                "time": "2024-01-02T03:04:05.000Z",
                "signal": {
                    "strategy": "ma_rsi",
                    "symbol": "EURUSD",
                    "timeframe": "M15",
                    "side": "sell",
                    "entry": 1.10012,
                    "bar_time": "2024-01-02T03:00:00.000Z",
                },
            },
        ),
        (
            ReconciliationEvent(
                "closed_from_history", 12, "closed by the broker", {"deal": 99}, 1_704_164_645.0
            ),
            {
                "type": "reconciliation",
                "kind": "closed_from_history",
                "trade_id": 12,
                "message": "closed by the broker",
                "details": {"deal": 99},
                "time": "2024-01-02T03:04:05.000Z",
            },
        ),
    ],
    ids=["daily_halt", "risk_rejected", "reconciliation"],
)
async def test_risk_and_reconciliation_events_are_system_events(
    make_api: MakeApi, event: Any, data: dict[str, Any]
) -> None:
    api = await make_api(ws_status_interval_seconds=QUIET)
    ws = await connect(api, "system")
    await receive(ws)
    api.bus.publish(event)
    assert await receive(ws) == {"channel": "system", "data": data}


async def test_a_strategy_toggled_is_a_system_event(make_api: MakeApi) -> None:
    api = await make_api(ws_status_interval_seconds=QUIET)
    ws = await connect(api, "system")
    await receive(ws)
    api.bus.publish(StrategyToggledEvent("ma_rsi:EURUSD:M15", False, 1_704_164_645.0, "tom"))
    assert (await receive(ws))["data"] == {
        "type": "strategy_toggled",
        "id": "ma_rsi:EURUSD:M15",
        "enabled": False,
        "actor": "tom",
        "time": "2024-01-02T03:04:05.000Z",
    }


async def test_system_status_is_sent_periodically(make_api: MakeApi) -> None:
    api = await make_api(ws_status_interval_seconds=0.05)
    ws = await connect(api, "system")
    assert (await receive(ws))["data"]["status"]["connection"] == "connected"
    api.status.payload = {**api.status.payload, "connection": "disconnected"}
    update = await receive_until(ws, lambda m: m["data"]["status"]["connection"] != "connected")
    assert update["data"] == {"type": "status", "time": API_TIME, "status": api.status.payload}


async def test_system_events_are_never_coalesced(make_api: MakeApi) -> None:
    api = await make_api(ws_status_interval_seconds=QUIET)
    ws = await connect(api, "system")
    await receive(ws)
    for n in range(300):
        api.bus.publish(ReconciliationEvent("adopted", n, "adopted", {}, 1_704_164_645.0))
    ids = [(await receive(ws))["data"]["trade_id"] for _ in range(300)]
    assert ids == list(range(300))


async def test_events_published_while_the_status_is_read_follow_the_snapshot(
    make_api: MakeApi,
) -> None:
    api = await make_api(ws_status_interval_seconds=QUIET)
    reading, release = asyncio.Event(), asyncio.Event()
    payload = api.status.payload

    async def slow_status() -> dict[str, Any]:
        reading.set()
        await release.wait()
        return payload

    api.status.status = slow_status  # type: ignore[method-assign]
    ws = await api.session.ws_connect(api.url(f"/ws/system?token={api.token()}"))
    async with asyncio.timeout(5.0):
        await reading.wait()
    api.bus.publish(KillSwitchEvent(True, "manual", "stop", 1_704_164_645.0, "alice"))
    await eventually(api.bus.idle, timeout=5.0, what="the bus to deliver the event")
    release.set()
    assert (await receive(ws))["data"]["type"] == "status"
    assert (await receive(ws))["data"]["type"] == "kill_switch"


async def test_a_pending_snapshot_is_replaced_and_queued_behind_later_events() -> None:
    ws = HeldSocket()
    client = WsClient(
        cast(web.WebSocketResponse, ws),
        Channel.SYSTEM,
        queue_size=2,
        trade_backlog=100,
        close_timeout=1.0,
    )
    client.start()
    client.offer_snapshot("status", '"status-1"')
    client.offer('"event-1"')
    client.offer_snapshot("status", '"status-2"')
    client.offer('"event-2"')
    assert client.stats.coalesced == 1
    ws.released.set()
    await ws.wait_sent(3)
    assert ws.sent == ["event-1", "status-2", "event-2"]
    await client.close(1000, "")


# -- both channels --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("ws_performance_interval_seconds", 0, "api.ws_performance_interval_seconds = 0 is not"),
        ("ws_status_interval_seconds", -1.0, "api.ws_status_interval_seconds = -1.0 is not"),
        ("ws_performance_periods", [], "list distinct periods among daily, weekly, monthly, all"),
        ("ws_performance_periods", ["daily", "yearly"], "must be one of 'daily', 'weekly'"),
        ("ws_performance_periods", ["all", "all"], "= ['all', 'all'] is not allowed"),
    ],
)
def test_settings_refuse_bad_snapshot_intervals_and_periods(
    key: str, value: Any, message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(environ={}, overrides={f"api.{key}": value})
    assert message in str(raised.value)


def test_snapshot_settings_have_sane_defaults() -> None:
    settings = ApiSettings()
    assert settings.ws_performance_interval_seconds == 5.0
    assert settings.ws_status_interval_seconds == 15.0
    assert settings.ws_performance_periods == ("daily", "weekly", "monthly", "all")


@pytest.mark.parametrize("role", ["viewer", "trader", "admin"])
@pytest.mark.parametrize("channel", ["performance", "system"])
async def test_every_role_may_use_the_channel(make_api: MakeApi, role: str, channel: str) -> None:
    api = await make_api(performance=CountingPerformance(), ws_status_interval_seconds=QUIET)
    ws = await connect(api, channel, role=role)
    assert (await receive(ws))["channel"] == channel


@pytest.mark.parametrize("channel", ["performance", "system"])
async def test_channel_without_a_token_is_401(api: Api, channel: str) -> None:
    async with api.session.get(api.url(f"/ws/{channel}")) as resp:
        assert resp.status == 401
        assert (await resp.json())["error"]["code"] == "unauthenticated"
    with pytest.raises(aiohttp.WSServerHandshakeError) as raised:
        await api.session.ws_connect(api.url(f"/ws/{channel}"))
    assert raised.value.status == 401
    assert api.broadcaster.client_count == 0


async def test_shutdown_closes_both_channels_with_1001(make_api: MakeApi) -> None:
    api = await make_api(
        performance=CountingPerformance(),
        ws_performance_interval_seconds=0.05,
        ws_status_interval_seconds=0.05,
    )
    performance = await connect(api, "performance")
    system = await connect(api, "system")
    started = time.monotonic()
    await api.server.stop()
    assert time.monotonic() - started < 1.0
    for ws in (performance, system):
        async with asyncio.timeout(5.0):
            while (message := await ws.receive()).type is aiohttp.WSMsgType.TEXT:
                pass
        assert message.type is aiohttp.WSMsgType.CLOSE
        assert (message.data, message.extra) == (1001, "server shutting down")
