"""Fixtures for the API tests: a real server on 127.0.0.1:0 over a real PostgreSQL.

``make_api`` starts a server with settings overrides (and extra routes, for tests of the
middleware rules; ``with_strategies=False`` leaves the optional strategy control out;
``backtests=`` plugs in a backtest service, ``market=`` a market query, ``notifications=`` a
notifier; ``refresh_tokens=True`` sessions with refresh tokens, on the test's wall clock); ``api``
is one with the default test settings. Everything is stopped at teardown, in the test's own
event loop (the database engine belongs to it).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest_asyncio
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from forexbot.api.app import create_app
from forexbot.api.login_failures import LoginFailures
from forexbot.api.mfa import Mfa
from forexbot.api.ports import ApiServices
from forexbot.api.server import ApiServer
from forexbot.api.tokens import JwtKeys
from forexbot.clock import ManualClock
from forexbot.config.models import ApiSettings
from forexbot.database.api_keys import ApiKeyRepository
from forexbot.database.encryption import Sealer
from forexbot.database.refresh_tokens import RefreshTokenRepository
from forexbot.database.system_logs import SystemLogRepository
from forexbot.database.trades import TradeRepository
from forexbot.database.users import UserRepository
from forexbot.events.bus import EventBus

from ._support import JWT_SECRET, Api, FakePositions, FakeStatus, FakeStrategies, MakeApi

#: The data key the test servers seal TOTP secrets with.
MFA_DATA_KEY = "y7lMv7b3gG2iQj1c8wq1dq8H2v7e9u5S3ZkJXl4QyU0="


@pytest_asyncio.fixture(loop_scope="function")
async def make_api(db_engine: AsyncEngine) -> AsyncIterator[MakeApi]:
    """Start servers with settings overrides and optional extra routes; stopped at teardown."""
    started: list[Api] = []

    async def make(
        routes: list[web.RouteDef] | None = None,
        *,
        with_strategies: bool = True,
        backtests: Any = None,
        refresh_tokens: bool = False,
        api_keys: bool = False,
        mfa: bool = False,
        performance: Any = None,
        backups: Any = None,
        system_settings: Any = None,
        restart: Any = None,
        market: Any = None,
        login_failures: LoginFailures | None = None,
        notifications: Any = None,
        jwt_secret: str = JWT_SECRET,
        **overrides: Any,
    ) -> Api:
        bus = EventBus()
        bus.start()
        status, positions, strategies = FakeStatus(), FakePositions(), FakeStrategies()
        wall_clock = ManualClock(time.time())
        users = UserRepository(db_engine)
        trades = TradeRepository(db_engine)
        system_logs = SystemLogRepository(db_engine)
        services = ApiServices(
            login_failures=login_failures or LoginFailures(),
            users=users,
            trades=trades,
            system_logs=system_logs,
            positions=positions,
            status=status,
            bus=bus,
            clock=ManualClock(1_700_000_000.0),
            wall_clock=wall_clock,
            strategies=strategies if with_strategies else None,
            backtests=backtests,
            refresh_tokens=(
                RefreshTokenRepository(db_engine, wall_clock, 30 * 86_400)
                if refresh_tokens
                else None
            ),
            api_keys=ApiKeyRepository(db_engine, wall_clock) if api_keys else None,
            mfa=Mfa(users, Sealer(MFA_DATA_KEY), wall_clock) if mfa else None,
            performance=performance,
            backups=backups,
            system_settings=system_settings,
            restart=restart,
            market=market,
            account=positions,
            notifications=notifications,
        )
        options: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": 0,
            "max_body_bytes": 4096,
            "shutdown_timeout_seconds": 2.0,
            "ws_close_timeout_seconds": 1.0,
        }
        # Tests tune the API below the product's floors (snapshots every 50 ms, buckets of
        # two): model_copy takes the values as given, without the file's validation — and
        # without its check of the names, so a misspelt override is refused here.
        unknown = set(overrides) - set(ApiSettings.model_fields)
        assert not unknown, f"not API settings: {sorted(unknown)}"
        settings = ApiSettings().model_copy(update=options | overrides)
        app = create_app(services, settings, JwtKeys(jwt_secret))
        app.add_routes(routes or [])
        server = ApiServer(app, settings)
        await server.start()
        api = Api(
            server=server,
            session=aiohttp.ClientSession(),
            bus=bus,
            status=status,
            positions=positions,
            wall_clock=wall_clock,
            users=users,
            trades=trades,
            system_logs=system_logs,
            engine=db_engine,
            settings=settings,
            strategies=strategies,
        )
        started.append(api)
        return api

    yield make
    for api in started:
        await api.session.close()
        await api.server.stop()
        await api.bus.close(timeout=1.0)


@pytest_asyncio.fixture(loop_scope="function")
async def api(make_api: MakeApi) -> Api:
    """A server with the default test settings."""
    return await make_api()
