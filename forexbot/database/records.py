"""Typed rows returned by the user and system-log repositories: frozen, slotted values.

Records are values: a repository builds them from a row and nobody mutates them; times are
tz-aware UTC. ``to_api()`` is the one place that turns them into JSON-ready dicts (ISO 8601
``…Z`` strings) for the REST API. A trade's record is a domain value
(:class:`~forexbot.domain.trades.TradeRecord`), built from its row in
:mod:`forexbot.database.trades`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from forexbot.clock import iso_datetime
from forexbot.database._convert import as_utc, utc


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
            "created_at": iso_datetime(self.created_at),
            "last_login_at": iso_datetime(self.last_login_at),
            "failed_logins": self.failed_logins,
            "locked_until": iso_datetime(self.locked_until),
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
            "time": iso_datetime(self.time),
            "level": self.level,
            "component": self.component,
            "event": self.event,
            "message": self.message,
            "context": self.context,
            "actor": self.actor,
            "source_ip": self.source_ip,
        }
