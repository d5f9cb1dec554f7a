"""API keys: long-lived credentials for scripts, shown once, stored hashed, scoped, revocable.

Rules enforced:

* A key is ``fxb_<prefix>_<secret>``: 8 characters of prefix (stored in clear, to tell keys
  apart in a list) and 32 random bytes of secret. Only its SHA-256 is stored; the whole key is
  returned once, by :meth:`ApiKeyRepository.create`.
* A key's ``scope`` is the highest role it acts with; the role used is the lower of the scope
  and its user's current role (a demoted user's keys lose power at once).
* A key stops working when revoked, when it expires, and when its user is inactive.
  :meth:`ApiKeyRepository.revoke_for_user` revokes a user's keys at once (all of them, or
  those scoped above a role: what ``/api/users`` does on disabling or demoting a user).
* ``last_used_at`` is kept, at most once a minute per key (a busy script does not turn every
  request into a write).
"""

from __future__ import annotations

import builtins
import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from forexbot.clock import Clock, iso_utc
from forexbot.database._errors import database_errors
from forexbot.database.tables import api_keys, users
from forexbot.errors import NotFoundError

KEY_MARK = "fxb_"
ROLE_RANK = {"viewer": 0, "trader": 1, "admin": 2}
LAST_USED_EVERY = timedelta(minutes=1)


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def lower_role(a: str, b: str) -> str:
    return a if ROLE_RANK[a] <= ROLE_RANK[b] else b


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """A key as listed: never its secret."""

    id: int
    user_id: int
    name: str
    prefix: str
    scope: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "user_id": self.user_id,
            "name": self.name,
            "prefix": self.prefix,
            "scope": self.scope,
            "created_at": iso_utc(self.created_at.timestamp()),
            "expires_at": None if self.expires_at is None else iso_utc(self.expires_at.timestamp()),
            "last_used_at": (
                None if self.last_used_at is None else iso_utc(self.last_used_at.timestamp())
            ),
            "revoked": self.revoked_at is not None,
        }

    @classmethod
    def from_row(cls, row: Any) -> ApiKeyRecord:
        return cls(
            id=int(row["id"]),
            user_id=int(row["user_id"]),
            name=str(row["name"]),
            prefix=str(row["prefix"]),
            scope=str(row["scope"]),
            created_at=row["created_at"],
            expires_at=row["expires_at"],
            last_used_at=row["last_used_at"],
            revoked_at=row["revoked_at"],
        )


@dataclass(frozen=True, slots=True)
class KeyIdentity:
    """Who a valid key acts for, and with which role."""

    key_id: int
    user_id: int
    username: str
    role: str


class ApiKeyRepository:
    """Creates, verifies, lists and revokes API keys (see the module docstring)."""

    def __init__(self, engine: AsyncEngine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock.time(), tz=UTC)

    async def create(
        self, user_id: int, name: str, scope: str, expires_at: datetime | None = None
    ) -> tuple[str, ApiKeyRecord]:
        """A new key for ``user_id``: (the key, shown only now; its record)."""
        if scope not in ROLE_RANK:
            raise ValueError(f"scope must be one of {sorted(ROLE_RANK)}, got {scope!r}")
        if not name.strip():
            raise ValueError("an API key needs a name")
        prefix = secrets.token_hex(4)
        key = f"{KEY_MARK}{prefix}_{secrets.token_urlsafe(32)}"
        stmt = (
            insert(api_keys)
            .values(
                user_id=user_id,
                name=name.strip(),
                prefix=prefix,
                key_hash=key_hash(key),
                scope=scope,
                created_at=self._now(),
                expires_at=expires_at,
            )
            .returning(*api_keys.c)
        )
        with database_errors("creating an API key"):
            async with self._engine.begin() as conn:
                row = (await conn.execute(stmt)).mappings().one()
        return key, ApiKeyRecord.from_row(row)

    async def verify(self, key: str) -> KeyIdentity | None:
        """Who the key acts for, or None when it is unknown, revoked, expired, or its user
        inactive; records its use (at most once a minute)."""
        now = self._now()
        stmt = (
            select(api_keys, users.c.username, users.c.role.label("user_role"), users.c.is_active)
            .join(users, users.c.id == api_keys.c.user_id)
            .where(api_keys.c.key_hash == key_hash(key))
        )
        with database_errors("checking an API key"):
            async with self._engine.begin() as conn:
                row = (await conn.execute(stmt)).mappings().one_or_none()
                if row is None or row["revoked_at"] is not None or not row["is_active"]:
                    return None
                if row["expires_at"] is not None and row["expires_at"] <= now:
                    return None
                used = row["last_used_at"]
                if used is None or now - used >= LAST_USED_EVERY:
                    await conn.execute(
                        update(api_keys).where(api_keys.c.id == row["id"]).values(last_used_at=now)
                    )
        return KeyIdentity(
            key_id=int(row["id"]),
            user_id=int(row["user_id"]),
            username=str(row["username"]),
            role=lower_role(str(row["scope"]), str(row["user_role"])),
        )

    async def list(self, user_id: int | None = None) -> list[ApiKeyRecord]:
        """Keys, newest first (of one user, or everyone's)."""
        stmt = select(api_keys).order_by(api_keys.c.id.desc())
        if user_id is not None:
            stmt = stmt.where(api_keys.c.user_id == user_id)
        with database_errors("listing API keys"):
            async with self._engine.connect() as conn:
                rows = (await conn.execute(stmt)).mappings().all()
        return [ApiKeyRecord.from_row(r) for r in rows]

    async def get(self, key_id: int) -> ApiKeyRecord | None:
        with database_errors("reading an API key"):
            async with self._engine.connect() as conn:
                row = (
                    (await conn.execute(select(api_keys).where(api_keys.c.id == key_id)))
                    .mappings()
                    .one_or_none()
                )
        return None if row is None else ApiKeyRecord.from_row(row)

    async def revoke_for_user(
        self, user_id: int, *, above: str | None = None
    ) -> builtins.list[int]:
        """Revoke, in one statement, the user's live keys (only those whose scope ranks above
        the role ``above`` when given: what a demotion leaves too powerful); their ids."""
        condition = [api_keys.c.user_id == user_id, api_keys.c.revoked_at.is_(None)]
        if above is not None:
            higher = [s for s, rank in ROLE_RANK.items() if rank > ROLE_RANK[above]]
            condition.append(api_keys.c.scope.in_(higher))
        stmt = (
            update(api_keys)
            .where(*condition)
            .values(revoked_at=self._now())
            .returning(api_keys.c.id)
        )
        with database_errors("revoking API keys"):
            async with self._engine.begin() as conn:
                return sorted(int(i) for i in (await conn.execute(stmt)).scalars())

    async def revoke(self, key_id: int) -> ApiKeyRecord:
        """Revoke a key (a key revoked already stays as it was)."""
        stmt = (
            update(api_keys)
            .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=self._now())
        )
        with database_errors("revoking an API key"):
            async with self._engine.begin() as conn:
                await conn.execute(stmt)
        record = await self.get(key_id)
        if record is None:
            raise NotFoundError(f"API key {key_id} does not exist")
        return record
