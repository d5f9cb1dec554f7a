"""API users: creation, lookup and the login counters auth needs.

Rules enforced:

* **Usernames are unique case-insensitively** ("Admin" and "admin" are one account): the
  database's unique index on ``lower(username)`` decides, so two concurrent creations cannot
  both succeed; the loser gets :class:`DuplicateUser`. Lookups use the same expression (and
  therefore the index). The username is stored as typed, for display.
* **Counters change in SQL** (``failed_logins = failed_logins + 1``), never read-modify-write
  in Python, so parallel password guesses are all counted. The optional lock-out is decided in
  the same statement.
* This module stores a password *hash* it is given; hashing and verifying belong to auth.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import case, func, insert, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from forexbot.database._errors import database_errors, sqlstate
from forexbot.database.records import UserRecord
from forexbot.database.tables import USER_ROLES, users
from forexbot.errors import DatabaseError, NotFoundError

_UNIQUE_VIOLATION = "23505"


class DuplicateUser(DatabaseError):
    """A user with this username (in any letter case) already exists."""


class UserRepository:
    """Reads and writes ``users``."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def create(self, username: str, password_hash: str, role: str) -> UserRecord:
        """Create an active user; :class:`DuplicateUser` if the name is taken in any case."""
        if not username.strip():
            raise ValueError("username must not be blank")
        if role not in USER_ROLES:
            raise ValueError(f"unknown role {role!r}; allowed: {', '.join(USER_ROLES)}")
        if not password_hash:
            raise ValueError("password_hash must not be empty")
        stmt = (
            insert(users)
            .values(username=username, password_hash=password_hash, role=role)
            .returning(*users.c)
        )
        try:
            with database_errors(f"creating user {username!r}"):
                async with self._engine.begin() as conn:
                    row = (await conn.execute(stmt)).mappings().one()
        except DatabaseError as exc:
            cause = exc.__cause__
            if isinstance(cause, IntegrityError) and sqlstate(cause) == _UNIQUE_VIOLATION:
                raise DuplicateUser(f"user {username!r} already exists") from None
            raise
        return UserRecord.from_row(row)

    async def get_by_username(self, username: str) -> UserRecord | None:
        """The user named ``username`` in any letter case, or ``None``."""
        stmt = select(users).where(func.lower(users.c.username) == func.lower(username))
        with database_errors("reading a user"):
            async with self._engine.connect() as conn:
                row = (await conn.execute(stmt)).mappings().one_or_none()
        return None if row is None else UserRecord.from_row(row)

    async def get(self, user_id: int) -> UserRecord | None:
        """The user with this id, or ``None``."""
        with database_errors("reading a user"):
            async with self._engine.connect() as conn:
                row = (
                    (await conn.execute(select(users).where(users.c.id == user_id)))
                    .mappings()
                    .one_or_none()
                )
        return None if row is None else UserRecord.from_row(row)

    async def record_login_success(self, user_id: int) -> None:
        """Stamp ``last_login_at`` and clear the failure counter and any lock-out."""
        await self._update(
            user_id,
            last_login_at=func.now(),
            failed_logins=0,
            locked_until=None,
        )

    async def record_login_failure(
        self,
        user_id: int,
        *,
        lock_after: int | None = None,
        lock_for: timedelta | None = None,
    ) -> UserRecord:
        """Count a failed login; return the user as updated.

        With ``lock_after`` and ``lock_for``, reaching ``lock_after`` consecutive failures sets
        ``locked_until = now() + lock_for`` in the same statement (the policy is auth's; the
        atomicity is ours).
        """
        if (lock_after is None) != (lock_for is None):
            raise ValueError("lock_after and lock_for go together")
        failures = users.c.failed_logins + 1
        values: dict[str, Any] = {"failed_logins": failures}
        if lock_after is not None and lock_for is not None:
            values["locked_until"] = case(
                (failures >= lock_after, func.now() + literal(lock_for)),
                else_=users.c.locked_until,
            )
        return await self._update(user_id, **values)

    async def count(self) -> int:
        """How many users exist (auth bootstraps the first admin when there are none)."""
        with database_errors("counting users"):
            async with self._engine.connect() as conn:
                return int(
                    (await conn.execute(select(func.count()).select_from(users))).scalar_one()
                )

    async def _update(self, user_id: int, **values: Any) -> UserRecord:
        stmt = update(users).where(users.c.id == user_id).values(**values).returning(*users.c)
        with database_errors(f"updating user {user_id}"):
            async with self._engine.begin() as conn:
                row = (await conn.execute(stmt)).mappings().one_or_none()
        if row is None:
            raise NotFoundError(f"user {user_id} does not exist")
        return UserRecord.from_row(row)
