"""Helpers for the API tests: a running server's handle and the engine-side stand-ins.

The engine side is not part of these tests: :class:`FakeStatus`, :class:`FakePositions` and
:class:`FakeStrategies` are small in-test implementations of the Protocols the API asks the
engine through.
Users, trades and the audit log are the real repositories on ``db_engine`` (root conftest).
The wall clock is a :class:`ManualClock` starting at the real time, so tests can expire tokens.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import ipaddress
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from forexbot.api.app import BROADCASTER_KEY, TOKENS_KEY
from forexbot.api.passwords import hash_password
from forexbot.api.server import ApiServer
from forexbot.api.websockets import Broadcaster
from forexbot.clock import ManualClock
from forexbot.config.models import ApiSettings
from forexbot.database.records import UserRecord
from forexbot.database.system_logs import SystemLogRepository
from forexbot.database.tables import users as users_table
from forexbot.database.trades import TradeRepository
from forexbot.database.users import UserRepository
from forexbot.domain.trading import AccountState
from forexbot.errors import InvalidInputError, NotFoundError
from forexbot.events.bus import EventBus

JWT_SECRET = "test-secret-" + "x" * 40


class FakeStatus:
    """A :class:`~forexbot.api.ports.StatusProvider` whose answers the test sets."""

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
    """A :class:`~forexbot.api.ports.PositionQuery` returning what the test put in, and an
    :class:`~forexbot.api.ports.AccountView` (``account``, ``None`` until the test sets it)."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self.account: AccountState | None = None

    async def open_positions(self) -> list[dict[str, Any]]:
        return list(self.items)


def strategy_entry(strategy: str, symbol: str, timeframe: str, **changes: Any) -> dict[str, Any]:
    """A strategy as :class:`FakeStrategies` lists it (what a real manager would answer)."""
    entry: dict[str, Any] = {
        "id": f"{strategy}:{symbol}:{timeframe}",
        "strategy": strategy,
        "symbol": symbol,
        "timeframe": timeframe,
        "enabled": True,
        "params": {"fast": 20, "slow": 50, "rsi_period": 14},
        "risk_multiplier": 1.0,
        "signals": 3,
        "suppressed": 1,
        "errors": 0,
    }
    return entry | changes


class FakeStrategies:
    """A :class:`~forexbot.api.ports.StrategyPort` over a dict, validating like the engine.

    ``params`` may only name the strategy's existing parameters, each a positive integer, with
    ``fast < slow``; a bad change raises :class:`InvalidInputError` and changes nothing. ``calls``
    records the mutating calls with their actor.
    """

    def __init__(self) -> None:
        self.strategies: dict[str, dict[str, Any]] = {
            s["id"]: s
            for s in (
                strategy_entry("ma_rsi", "EURUSD", "M15"),
                strategy_entry("ma_rsi", "Volatility 75 Index", "M15", enabled=False),
            )
        }
        self.conditions: list[dict[str, Any]] = [
            {
                "symbol": "EURUSD",
                "timeframe": "M15",
                "trend": "bullish",
                "volatility": "normal",
                "favourable": True,
                "time": "2024-01-02T03:00:00Z",
            }
        ]
        self.analyses: dict[str, dict[str, Any]] = {
            "EURUSD": {
                "symbol": "EURUSD",
                "indicators": {"M15": {"adx": 27.5, "atr": 0.0012}},
                "levels": {"M15": [1.095, 1.1]},
                "conditions": self.conditions,
            }
        }
        self.calls: list[tuple[str, str, str]] = []

    def list_strategies(self) -> list[dict[str, Any]]:
        return [copy.deepcopy(s) for s in self.strategies.values()]

    def get_strategy(self, strategy_id: str) -> dict[str, Any] | None:
        strategy = self.strategies.get(strategy_id)
        return copy.deepcopy(strategy) if strategy is not None else None

    async def update_strategy(
        self,
        strategy_id: str,
        *,
        params: dict[str, Any] | None,
        risk_multiplier: float | None,
        enabled: bool | None,
        actor: str,
        management: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        current = self._get(strategy_id)
        new_params = dict(current["params"])
        for name, value in (params or {}).items():
            if name not in new_params:
                allowed = ", ".join(sorted(new_params))
                raise InvalidInputError(f"unknown parameter {name!r} (allowed: {allowed})")
            if type(value) is not int or value <= 0:
                raise InvalidInputError(
                    f"parameter {name!r} must be a positive integer, got {value!r}"
                )
            new_params[name] = value
        if new_params["fast"] >= new_params["slow"]:
            raise InvalidInputError("parameter 'fast' must be less than 'slow'")
        current["params"] = new_params
        if risk_multiplier is not None:
            current["risk_multiplier"] = risk_multiplier
        if enabled is not None:
            current["enabled"] = enabled
        self.calls.append(("update", strategy_id, actor))
        return copy.deepcopy(current)

    async def toggle_strategy(self, strategy_id: str, *, actor: str) -> dict[str, Any]:
        current = self._get(strategy_id)
        current["enabled"] = not current["enabled"]
        self.calls.append(("toggle", strategy_id, actor))
        return copy.deepcopy(current)

    def market_conditions(self) -> list[dict[str, Any]]:
        return copy.deepcopy(self.conditions)

    def market_analysis(self, symbol: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.analyses.get(symbol))

    def _get(self, strategy_id: str) -> dict[str, Any]:
        try:
            return self.strategies[strategy_id]
        except KeyError:
            raise NotFoundError(f"no strategy {strategy_id}") from None


@cache
def password_hash(password: str) -> str:
    """The Argon2id hash of ``password``, made once per password for the whole run: hashing
    costs a tenth of a second of CPU on purpose, and the tests that make users need a valid
    hash of their password, not a fresh salt each (``test_passwords`` covers hashing)."""
    return hash_password(password)


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
    strategies: FakeStrategies

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
        user = await self.users.create(username, password_hash(password), role)
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


@dataclass(frozen=True)
class RawAnswer:
    """An HTTP answer as read off the socket."""

    status_line: str
    headers: dict[str, str]
    body: bytes

    @property
    def status(self) -> int:
        return int(self.status_line.split()[1])

    def json(self) -> Any:
        return orjson.loads(self.body)


async def send_raw(api: Api, data: bytes, *, tls: ssl.SSLContext | None = None) -> RawAnswer:
    """Send ``data`` on a new connection; the answer, read until the server closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", api.server.bound_port, ssl=tls)
    try:
        writer.write(data)
        await writer.drain()
        async with asyncio.timeout(5):
            raw = await reader.read()
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return RawAnswer(status_line, headers, body)


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (P-256, a day long) and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path
