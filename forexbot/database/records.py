"""Typed rows returned by the repositories: frozen, slotted, with exact ``Decimal`` money.

Records are values: a repository builds them from a row and nobody mutates them. Money and
prices are ``Decimal`` exactly as stored; times are tz-aware UTC. ``to_api()`` is the one place
that turns them into JSON-ready dicts (floats and ISO 8601 ``…Z`` strings) for the REST API,
the WebSocket feed and :class:`~forexbot.events.types.TradeEvent`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from forexbot.database._convert import as_utc, decimal_to_float, iso_utc, utc
from forexbot.domain.trading import Side, TradeStatus

_SIDES = {"buy": Side.BUY, "sell": Side.SELL}


@dataclass(frozen=True, slots=True)
class TradeRecord:
    """One row of ``trades``: a trade from its order intent to its close.

    ``timeframe``, ``signal_time``, ``confidence`` and ``reason`` are ``None`` for positions
    adopted by reconciliation (they had no signal). Prices, volume and money are ``None`` until
    known (``entry_price`` once filled, ``exit_price``/``profit`` once closed).
    """

    id: int
    client_order_id: str
    strategy: str
    symbol: str
    timeframe: str | None
    side: Side
    status: TradeStatus
    volume: Decimal
    closed_volume: Decimal
    requested_price: Decimal | None
    entry_price: Decimal | None
    sl: Decimal | None
    tp: Decimal | None
    exit_price: Decimal | None
    profit: Decimal | None
    swap: Decimal | None
    commission: Decimal | None
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

    @property
    def open_volume(self) -> Decimal:
        """The volume still open: ``volume`` less what partial closes took."""
        return self.volume - self.closed_volume

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> TradeRecord:
        return cls(
            id=row["id"],
            client_order_id=row["client_order_id"],
            strategy=row["strategy"],
            symbol=row["symbol"],
            timeframe=row["timeframe"],
            side=_SIDES[row["side"]],
            status=TradeStatus(row["status"]),
            volume=row["volume"],
            closed_volume=row["closed_volume"],
            requested_price=row["requested_price"],
            entry_price=row["entry_price"],
            sl=row["sl"],
            tp=row["tp"],
            exit_price=row["exit_price"],
            profit=row["profit"],
            swap=row["swap"],
            commission=row["commission"],
            mt5_order=row["mt5_order"],
            mt5_position=row["mt5_position"],
            signal_time=as_utc(row["signal_time"]),
            open_time=as_utc(row["open_time"]),
            close_time=as_utc(row["close_time"]),
            close_reason=row["close_reason"],
            confidence=row["confidence"],
            reason=row["reason"],
            market_condition=dict(row["market_condition"]),
            execution_details=dict(row["execution_details"]),
            reject_code=row["reject_code"],
            reject_message=row["reject_message"],
            created_at=utc(row["created_at"]),
            updated_at=utc(row["updated_at"]),
        )

    def to_api(self) -> dict[str, Any]:
        """A JSON-ready dict: Decimals as floats, times as ISO 8601 UTC (``…Z``), enums as text."""
        return {
            "id": self.id,
            "client_order_id": self.client_order_id,
            "strategy": self.strategy,
            "symbol": self.symbol,
            "timeframe": self.timeframe,
            "side": self.side.label,
            "status": self.status.value,
            "volume": decimal_to_float(self.volume),
            "closed_volume": decimal_to_float(self.closed_volume),
            "open_volume": decimal_to_float(self.open_volume),
            "requested_price": decimal_to_float(self.requested_price),
            "entry_price": decimal_to_float(self.entry_price),
            "sl": decimal_to_float(self.sl),
            "tp": decimal_to_float(self.tp),
            "exit_price": decimal_to_float(self.exit_price),
            "profit": decimal_to_float(self.profit),
            "swap": decimal_to_float(self.swap),
            "commission": decimal_to_float(self.commission),
            "mt5_order": self.mt5_order,
            "mt5_position": self.mt5_position,
            "signal_time": iso_utc(self.signal_time),
            "open_time": iso_utc(self.open_time),
            "close_time": iso_utc(self.close_time),
            "close_reason": self.close_reason,
            "confidence": self.confidence,
            "reason": self.reason,
            "market_condition": self.market_condition,
            "execution_details": self.execution_details,
            "reject_code": self.reject_code,
            "reject_message": self.reject_message,
            "created_at": iso_utc(self.created_at),
            "updated_at": iso_utc(self.updated_at),
        }


@dataclass(frozen=True, slots=True)
class UserRecord:
    """One row of ``users``. The password hash is kept out of ``repr`` (and so out of logs)."""

    id: int
    username: str
    password_hash: str = field(repr=False)
    role: str
    is_active: bool
    created_at: datetime
    last_login_at: datetime | None
    failed_logins: int
    locked_until: datetime | None
    totp_secret: str | None = field(default=None, repr=False)  # sealed
    totp_last_step: int | None = None

    @property
    def mfa_enrolled(self) -> bool:
        return self.totp_secret is not None

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> UserRecord:
        return cls(
            id=row["id"],
            username=row["username"],
            password_hash=row["password_hash"],
            role=row["role"],
            is_active=row["is_active"],
            created_at=utc(row["created_at"]),
            last_login_at=as_utc(row["last_login_at"]),
            failed_logins=row["failed_logins"],
            locked_until=as_utc(row["locked_until"]),
            totp_secret=row.get("totp_secret"),
            totp_last_step=row.get("totp_last_step"),
        )

    def is_locked(self, now: datetime) -> bool:
        """Whether a lock-out is in force at ``now`` (tz-aware)."""
        return self.locked_until is not None and self.locked_until > now

    def to_api(self) -> dict[str, Any]:
        """A JSON-ready dict without the password hash or the TOTP secret (only whether
        there is one)."""
        return {
            "id": self.id,
            "username": self.username,
            "role": self.role,
            "is_active": self.is_active,
            "created_at": iso_utc(self.created_at),
            "last_login_at": iso_utc(self.last_login_at),
            "failed_logins": self.failed_logins,
            "locked_until": iso_utc(self.locked_until),
            "mfa_enrolled": self.mfa_enrolled,
        }


@dataclass(frozen=True, slots=True)
class SystemLogRecord:
    """One row of ``system_logs``: an audit or operational event worth keeping."""

    id: int
    time: datetime
    level: str
    component: str
    event: str
    message: str
    context: dict[str, Any]
    actor: str | None
    source_ip: str | None

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> SystemLogRecord:
        return cls(
            id=row["id"],
            time=utc(row["time"]),
            level=row["level"],
            component=row["component"],
            event=row["event"],
            message=row["message"],
            context=dict(row["context"]),
            actor=row["actor"],
            source_ip=row["source_ip"],
        )

    def to_api(self) -> dict[str, Any]:
        """A JSON-ready dict (time as ISO 8601 UTC)."""
        return {
            "id": self.id,
            "time": iso_utc(self.time),
            "level": self.level,
            "component": self.component,
            "event": self.event,
            "message": self.message,
            "context": self.context,
            "actor": self.actor,
            "source_ip": self.source_ip,
        }
