"""Refresh tokens: long-lived, single-use, rotated, and revoked as a family when reused.

Rules enforced:

* A refresh token is 32 random bytes (URL-safe text) shown once; only its SHA-256 is stored,
  so a copy of the database lets nobody in.
* A login starts a **family**. Each refresh (:meth:`RefreshTokenRepository.rotate`) marks the
  presented token used and issues the next one in the same family, in one transaction that
  locks the row: two concurrent refreshes with one token cannot both succeed.
* **Reuse detection**: a token presented after it was used means two parties hold it (a thief
  and the user); the whole family is revoked at once (:class:`RefreshTokenReused`), so both
  must log in again. The revocation is committed before the error is raised.
* Unknown, expired and revoked tokens are :class:`RefreshTokenInvalid`; logout and a password
  change revoke families (:meth:`revoke_family`, :meth:`revoke_user`).
* Times come from the injected **wall clock** (tests move a manual one), never the trading
  clock, which may run hundreds of times faster in paper trading.
* The JWT signing secret plays no part here: rotating it leaves every refresh token valid.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, Insert, Update, and_, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from forexbot.clock import Clock
from forexbot.database._errors import database_errors
from forexbot.database.tables import refresh_tokens
from forexbot.errors import AuthError


class RefreshTokenInvalid(AuthError):
    """Unknown, expired or revoked refresh token."""


class RefreshTokenReused(AuthError):
    """A used refresh token was presented again; its family is now revoked."""

    def __init__(self, message: str, *, user_id: int, family: str) -> None:
        super().__init__(message)
        self.user_id = user_id
        self.family = family


@dataclass(frozen=True, slots=True)
class IssuedRefreshToken:
    """A new refresh token: the secret text (shown once), its family and expiry."""

    token: str
    user_id: int
    family: str
    expires_at: datetime


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class RefreshTokenRepository:
    """Issues, rotates and revokes refresh tokens (see the module docstring)."""

    def __init__(self, engine: AsyncEngine, clock: Clock, ttl_seconds: int) -> None:
        if ttl_seconds <= 0:
            raise ValueError(f"ttl_seconds must be > 0, got {ttl_seconds}")
        self._engine = engine
        self._clock = clock
        self._ttl = timedelta(seconds=ttl_seconds)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock.time(), tz=UTC)

    def _new(
        self, user_id: int, family: str, source_ip: str | None
    ) -> tuple[IssuedRefreshToken, Insert]:
        token = secrets.token_urlsafe(32)
        now = self._now()
        issued = IssuedRefreshToken(token, user_id, family, now + self._ttl)
        stmt = insert(refresh_tokens).values(
            user_id=user_id,
            family=family,
            token_hash=token_hash(token),
            issued_at=now,
            expires_at=issued.expires_at,
            source_ip=source_ip,
        )
        return issued, stmt

    async def issue(self, user_id: int, *, source_ip: str | None = None) -> IssuedRefreshToken:
        """The first token of a new family (a login)."""
        issued, stmt = self._new(user_id, secrets.token_hex(16), source_ip)
        with database_errors("issuing a refresh token"):
            async with self._engine.begin() as conn:
                await conn.execute(stmt)
        return issued

    async def rotate(self, token: str, *, source_ip: str | None = None) -> IssuedRefreshToken:
        """Use ``token`` and return the next of its family; see the module docstring."""
        now = self._now()
        reused: tuple[int, str] | None = None
        issued: IssuedRefreshToken | None = None
        with database_errors("refreshing a token"):
            async with self._engine.begin() as conn:
                row = (
                    (
                        await conn.execute(
                            select(refresh_tokens)
                            .where(refresh_tokens.c.token_hash == token_hash(token))
                            .with_for_update()
                        )
                    )
                    .mappings()
                    .one_or_none()
                )
                if row is None:
                    raise RefreshTokenInvalid("unknown refresh token")
                if row["revoked_at"] is not None:
                    raise RefreshTokenInvalid("refresh token revoked")
                if row["used_at"] is not None:
                    family_rows = refresh_tokens.c.family == row["family"]
                    await conn.execute(self._revoke(family_rows, now, "reuse"))
                    reused = (int(row["user_id"]), str(row["family"]))
                elif row["expires_at"] <= now:
                    raise RefreshTokenInvalid("refresh token expired")
                else:
                    await conn.execute(
                        update(refresh_tokens)
                        .where(refresh_tokens.c.id == row["id"])
                        .values(used_at=now)
                    )
                    issued, stmt = self._new(int(row["user_id"]), str(row["family"]), source_ip)
                    await conn.execute(stmt)
        if reused is not None:
            raise RefreshTokenReused(
                "refresh token reused: the session is revoked", user_id=reused[0], family=reused[1]
            )
        assert issued is not None
        return issued

    @staticmethod
    def _revoke(condition: ColumnElement[bool], now: datetime, reason: str) -> Update:
        return (
            update(refresh_tokens)
            .where(and_(condition, refresh_tokens.c.revoked_at.is_(None)))
            .values(revoked_at=now, revoked_reason=reason)
        )

    async def family_of(self, token: str) -> tuple[int, str] | None:
        """(user id, family) of a refresh token, whatever its state."""
        stmt = select(refresh_tokens.c.user_id, refresh_tokens.c.family).where(
            refresh_tokens.c.token_hash == token_hash(token)
        )
        with database_errors("reading a refresh token"):
            async with self._engine.connect() as conn:
                row = (await conn.execute(stmt)).one_or_none()
        return None if row is None else (int(row[0]), str(row[1]))

    async def revoke_family(self, family: str, reason: str) -> int:
        """Revoke every live token of ``family``; returns how many."""
        return await self._run_revoke(refresh_tokens.c.family == family, reason)

    async def revoke_user(self, user_id: int, reason: str) -> list[str]:
        """Revoke every live token of the user; returns the families revoked."""
        stmt = (
            select(refresh_tokens.c.family)
            .where(refresh_tokens.c.user_id == user_id, refresh_tokens.c.revoked_at.is_(None))
            .distinct()
        )
        with database_errors("revoking a user's refresh tokens"):
            async with self._engine.begin() as conn:
                families = [str(f) for f in (await conn.execute(stmt)).scalars()]
                await conn.execute(
                    self._revoke(refresh_tokens.c.user_id == user_id, self._now(), reason)
                )
        return families

    async def _run_revoke(self, condition: ColumnElement[bool], reason: str) -> int:
        with database_errors("revoking refresh tokens"):
            async with self._engine.begin() as conn:
                result = await conn.execute(self._revoke(condition, self._now(), reason))
        return int(result.rowcount)

    async def revoked_since(self, since: datetime) -> dict[str, datetime]:
        """Families revoked at or after ``since``, with when: a restarted API keeps refusing
        the access tokens of sessions ended shortly before."""
        stmt = select(refresh_tokens.c.family, refresh_tokens.c.revoked_at).where(
            refresh_tokens.c.revoked_at >= since
        )
        with database_errors("reading revoked sessions"):
            async with self._engine.connect() as conn:
                rows = (await conn.execute(stmt)).all()
        out: dict[str, datetime] = {}
        for family, when in rows:
            out[str(family)] = max(out.get(str(family), when), when)
        return out
