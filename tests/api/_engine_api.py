"""The API in front of the real trading engine, for the trade-action and risk route tests.

``engine_api()`` starts a :func:`~trading_rig.trading_rig` (simulated terminal on a manual
clock, the engine wired as the daemon wires it, the real PostgreSQL) and an
:class:`~forexbot.api.server.ApiServer` on 127.0.0.1:0 whose ``trading`` service is the
engine's own :class:`~forexbot.engine.control.TradingControl`. Tests talk to it with a real
``aiohttp.ClientSession``; nothing of ours is replaced.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
from sqlalchemy.ext.asyncio import AsyncEngine
from trading_rig import OPEN_LIMITS, TradingRig, trading_rig

from forexbot.api.app import TOKENS_KEY, create_app
from forexbot.api.ports import ApiServices
from forexbot.api.server import ApiServer
from forexbot.api.tokens import JwtKeys
from forexbot.config.models import ApiSettings, RiskSettings
from forexbot.database.records import SystemLogRecord
from forexbot.database.users import UserRepository

from ._support import JWT_SECRET, FakeStatus

# The user behind each role's token (the audit trail names them).
USERS = {"viewer": "vera", "trader": "tom", "admin": "ada"}


@dataclass(frozen=True)
class _Subject:
    id: int
    username: str
    role: str


@dataclass
class Reply:
    """An HTTP answer: status and decoded JSON body (``None`` when there is none)."""

    status: int
    body: Any

    @property
    def error(self) -> dict[str, Any]:
        """The ``error`` object of an error body."""
        assert isinstance(self.body, dict), self.body
        assert "error" in self.body, self.body
        error: dict[str, Any] = self.body["error"]
        return error

    @property
    def reason(self) -> str | None:
        """``details.reason`` of a ``risk_rejected`` error."""
        details = self.error.get("details") or {}
        return details.get("reason")


@dataclass
class EngineApi:
    """A running API server over a running engine."""

    rig: TradingRig
    server: ApiServer
    session: aiohttp.ClientSession

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.bound_port}{path}"

    def auth(self, role: str) -> dict[str, str]:
        ids = {"viewer": 1, "trader": 2, "admin": 3}
        subject = _Subject(ids.get(role, 9), USERS.get(role, "someone"), role)
        token, _ = self.server.app[TOKENS_KEY].issue(subject)
        return {"Authorization": f"Bearer {token}"}

    async def call(
        self,
        method: str,
        path: str,
        *,
        role: str | None = "trader",
        json: Any = None,
        data: str | bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """``method path`` as ``role`` (``None``: no token); the status and the JSON body."""
        all_headers = dict(headers or {})
        if role is not None:
            all_headers |= self.auth(role)
        async with self.session.request(
            method, self.url(path), json=json, data=data, headers=all_headers
        ) as resp:
            body = await resp.json() if resp.content_type == "application/json" else None
            return Reply(resp.status, body)

    # -- the market ------------------------------------------------------------------------

    def quote(self, symbol: str = "EURUSD") -> tuple[float, float]:
        """(bid, ask) of the connector's last tick."""
        tick = self.rig.connector.last_tick(symbol)
        assert tick is not None, f"no tick for {symbol}"
        return tick.bid, tick.ask

    def point(self, symbol: str = "EURUSD") -> float:
        return self.rig.connector.spec(symbol).point

    def stops(
        self, side: str, sl_points: float, tp_points: float = 0.0, symbol: str = "EURUSD"
    ) -> dict[str, float]:
        """An SL ``sl_points`` (and a TP ``tp_points``) away from the price a ``side`` opens at,
        on the losing (winning) side, rounded to the symbol's digits."""
        spec = self.rig.connector.spec(symbol)
        bid, ask = self.quote(symbol)
        entry, sign = (ask, 1) if side == "buy" else (bid, -1)
        levels = {"sl": round(entry - sign * sl_points * spec.point, spec.digits)}
        if tp_points:
            levels["tp"] = round(entry + sign * tp_points * spec.point, spec.digits)
        return levels

    def order(
        self,
        side: str = "buy",
        *,
        sl_points: float = 300,
        tp_points: float = 600,
        symbol: str = "EURUSD",
        **extra: Any,
    ) -> dict[str, Any]:
        """A ``POST /api/trades`` body with SL/TP that many points from the current price."""
        stops = self.stops(side, sl_points, tp_points, symbol)
        return {"symbol": symbol, "side": side, **stops, **extra}

    async def open(self, side: str = "buy", *, volume: float = 0.1, **extra: Any) -> dict[str, Any]:
        """Open a manual trade through the API (it must open); the trade."""
        reply = await self.call(
            "POST", "/api/trades", json=self.order(side, volume=volume, **extra)
        )
        assert reply.status == 201, reply.body
        await self.rig.settle()
        trade: dict[str, Any] = reply.body
        return trade

    def foreign_position(self, symbol: str = "EURUSD", volume: float = 0.1) -> int:
        """Open a buy at the terminal that is not the bot's (another magic); its ticket."""
        result = self.rig.terminal.order_send(
            {"action": 1, "symbol": symbol, "volume": volume, "type": 0, "magic": 4242}
        )
        assert result is not None
        assert result.retcode == 10009, result
        return int(result.order)

    def position(self, ticket: int) -> Any:
        """The terminal's position ``ticket`` (``None`` when it is gone)."""
        found = self.rig.terminal.positions_get(ticket=ticket) or ()
        return found[0] if found else None

    def exit_deals(self, ticket: int) -> list[Any]:
        """The terminal's exit deals (entry OUT) of position ``ticket``."""
        return [d for d in self.rig.terminal.history_deals_get(position=ticket) or () if d.entry]

    async def audit(self, event: str) -> list[SystemLogRecord]:
        """The ``system_logs`` rows of ``event``, newest first."""
        return [row for row in await self.rig.logs.recent(200) if row.event == event]


@contextlib.asynccontextmanager
async def engine_api(
    db_engine: AsyncEngine,
    *,
    risk: RiskSettings = OPEN_LIMITS,
    symbols: tuple[str, ...] = ("EURUSD",),
) -> AsyncIterator[EngineApi]:
    """A rig with these limits and symbols, and the API server in front of its engine."""
    async with (
        trading_rig(db_engine, symbols=symbols, risk=risk) as rig,
        serve_rig(db_engine, rig, trading=rig.engine.control) as api,
    ):
        yield api


@contextlib.asynccontextmanager
async def serve_rig(
    db_engine: AsyncEngine, rig: TradingRig, **services: Any
) -> AsyncIterator[EngineApi]:
    """A real API server over ``rig`` (its trades, logs, positions, bus and clock), with
    ``services`` (``trading=``, ``strategies=``...) for the routes a test needs."""
    api_services = ApiServices(
        users=UserRepository(db_engine),
        trades=rig.trades,
        system_logs=rig.logs,
        positions=rig.positions,
        status=FakeStatus(),
        bus=rig.bus,
        clock=rig.clock,
        **services,
    )
    settings = ApiSettings(
        host="127.0.0.1",
        port=0,
        shutdown_timeout_seconds=2.0,
        ws_close_timeout_seconds=1.0,
    )
    server = ApiServer(create_app(api_services, settings, JwtKeys(JWT_SECRET)), settings)
    await server.start()
    session = aiohttp.ClientSession()
    try:
        yield EngineApi(rig, server, session)
    finally:
        await session.close()
        await server.stop()
