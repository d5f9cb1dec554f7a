"""Helpers for the API tests: a running server's handle and the engine-side stand-ins.

The engine side is not part of these tests: :class:`FakeStatus` and :class:`FakePositions`
are small in-test implementations of the two Protocols the API asks the engine through.
Users, trades and the audit log are the real repositories on ``db_engine`` (root conftest).
The wall clock is a :class:`ManualClock` starting at the real time, so tests can expire tokens.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from forexbot.api.app import BROADCASTER_KEY, TOKENS_KEY
from forexbot.api.passwords import hash_password
from forexbot.api.server import ApiServer
from forexbot.api.services import ApiSettings
from forexbot.api.websockets import Broadcaster
from forexbot.clock import ManualClock
from forexbot.database.records import UserRecord
from forexbot.database.system_logs import SystemLogRepository
from forexbot.database.tables import users as users_table
from forexbot.database.trades import TradeRepository
from forexbot.database.users import UserRepository
from forexbot.events.bus import EventBus

JWT_SECRET = "test-secret-" + "x" * 40


class FakeStatus:
    """A :class:`~forexbot.api.services.StatusProvider` whose answers the test sets."""

    def __init__(self) -> None:
        self.healthy = True
        self.details: dict[str, Any] = {"connection": "connected"}
        self.payload: dict[str, Any] = {
            "mode": "paper",
            "connection": "connected",
            "account": {"balance": 10_000.0, "equity": 10_012.5},
            "uptime_seconds": 42.0,
            "strategies": ["trend_following"],
        }

    async def status(self) -> dict[str, Any]:
        return self.payload

    def is_healthy(self) -> tuple[bool, dict[str, Any]]:
        return self.healthy, dict(self.details)


class FakePositions:
    """A :class:`~forexbot.api.services.PositionQuery` returning what the test put in."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    async def open_positions(self) -> list[dict[str, Any]]:
        return list(self.items)


@dataclass
class Api:
    """A running API server and what a test needs to talk to it."""

    server: ApiServer
    session: aiohttp.ClientSession
    bus: EventBus
    status: FakeStatus
    positions: FakePositions
    wall_clock: ManualClock
    users: UserRepository
    trades: TradeRepository
    system_logs: SystemLogRepository
    engine: AsyncEngine
    settings: ApiSettings

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.bound_port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    @property
    def broadcaster(self) -> Broadcaster:
        return self.server.app[BROADCASTER_KEY]

    def token(self, role: str = "viewer", *, user_id: int = 1, username: str = "tester") -> str:
        """A valid access token, issued by the server's own token service."""
        token, _ = self.server.app[TOKENS_KEY].issue(_Subject(user_id, username, role))
        return token

    def auth(self, role: str = "viewer") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role)}"}

    async def create_user(
        self, username: str, password: str, role: str = "trader", *, active: bool = True
    ) -> UserRecord:
        user = await self.users.create(username, hash_password(password), role)
        if not active:
            async with self.engine.begin() as conn:
                await conn.execute(
                    update(users_table).where(users_table.c.id == user.id).values(is_active=False)
                )
        return user

    async def lock_user(self, user_id: int, until: datetime) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                update(users_table).where(users_table.c.id == user_id).values(locked_until=until)
            )


@dataclass(frozen=True)
class _Subject:
    id: int
    username: str
    role: str


MakeApi = Callable[..., Awaitable[Api]]


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until ``predicate()`` holds (state owned by the server, with no event to await)."""
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110 - polling server state from outside
            await asyncio.sleep(0.002)
