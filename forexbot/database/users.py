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
* **There is always an active admin**: :meth:`UserRepository.set_access` refuses
  (:class:`LastActiveAdmin`) a role change or a disabling that would leave none. It locks the
  active admins' rows first (``SELECT … FOR UPDATE``), so two admins demoting each other at
  the same moment cannot both succeed.
* Users are disabled, never deleted: the audit trail names them.
"""

from __future__ import annotations

import builtins
from datetime import timedelta
from typing import Any

from sqlalchemy import case, delete, func, insert, literal, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from forexbot.database._errors import database_errors, sqlstate
from forexbot.database.records import UserRecord
from forexbot.database.tables import USER_ROLES, recovery_codes, users
from forexbot.errors import DatabaseError, NotFoundError, StateConflictError

_UNIQUE_VIOLATION = "23505"
_ADMIN = "admin"


class DuplicateUser(StateConflictError):
    """A user with this username (in any letter case) already exists (``conflict``)."""


class LastActiveAdmin(StateConflictError):
    """The change would leave no active admin (``last_admin``)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="last_admin")


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
                raise DuplicateUser(f"a user named {username!r} already exists") from None
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

    async def list(self) -> builtins.list[UserRecord]:
        """Every user, active or not, by id."""
        with database_errors("listing users"):
            async with self._engine.connect() as conn:
                rows = (await conn.execute(select(users).order_by(users.c.id))).mappings().all()
        return [UserRecord.from_row(row) for row in rows]

    async def count_active_admins(self) -> int:
        """How many active admins there are."""
        stmt = (
            select(func.count())
            .select_from(users)
            .where(users.c.role == _ADMIN, users.c.is_active.is_(True))
        )
        with database_errors("counting admins"):
            async with self._engine.connect() as conn:
                return int((await conn.execute(stmt)).scalar_one())

    async def set_access(
        self, user_id: int, *, role: str | None = None, is_active: bool | None = None
    ) -> tuple[UserRecord, UserRecord]:
        """Change the role and/or enable or disable the user (``None``: unchanged), in one
        transaction; returns the user (before, after).

        :class:`~forexbot.errors.NotFoundError` for an unknown user; :class:`LastActiveAdmin`
        (nothing changed) when no active admin would remain. The active admins' rows are
        locked before the check, so concurrent demotions are decided one after the other.
        """
        if role is not None and role not in USER_ROLES:
            raise ValueError(f"unknown role {role!r}; allowed: {', '.join(USER_ROLES)}")
        active_admins = (
            select(users.c.id)
            .where(users.c.role == _ADMIN, users.c.is_active.is_(True))
            .order_by(users.c.id)  # one locking order: no deadlock between two changes
            .with_for_update()
        )
        target = select(users).where(users.c.id == user_id).with_for_update()
        with database_errors(f"updating user {user_id}"):
            async with self._engine.begin() as conn:
                admins = set((await conn.execute(active_admins)).scalars())
                row = (await conn.execute(target)).mappings().one_or_none()
                if row is None:
                    raise NotFoundError(f"user {user_id} does not exist")
                before = UserRecord.from_row(row)
                new_role = before.role if role is None else role
                new_active = before.is_active if is_active is None else is_active
                if (new_role, new_active) == (before.role, before.is_active):
                    return before, before
                if admins == {user_id} and not (new_role == _ADMIN and new_active):
                    raise LastActiveAdmin(
                        f"{before.username!r} is the only active admin: "
                        "make another user admin first"
                    )
                stmt = (
                    update(users)
                    .where(users.c.id == user_id)
                    .values(role=new_role, is_active=new_active)
                    .returning(*users.c)
                )
                after = UserRecord.from_row((await conn.execute(stmt)).mappings().one())
        return before, after

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

    async def set_totp(
        self, user_id: int, sealed_secret: str, code_hashes: builtins.list[str]
    ) -> None:
        """Enrol the user in multi-factor sign-in: the sealed TOTP secret and a new set of
        recovery codes (hashes), replacing any earlier ones, in one transaction."""
        with database_errors("enrolling a user in multi-factor sign-in"):
            async with self._engine.begin() as conn:
                await conn.execute(
                    update(users)
                    .where(users.c.id == user_id)
                    .values(totp_secret=sealed_secret, totp_last_step=None)
                )
                await conn.execute(
                    delete(recovery_codes).where(recovery_codes.c.user_id == user_id)
                )
                if code_hashes:
                    await conn.execute(
                        insert(recovery_codes),
                        [{"user_id": user_id, "code_hash": h} for h in code_hashes],
                    )

    async def accept_totp_step(self, user_id: int, step: int) -> bool:
        """Record that a code of time step ``step`` was used; False (nothing changed) when a
        code of that step or a later one was already accepted: a code works once."""
        stmt = (
            update(users)
            .where(
                users.c.id == user_id,
                or_(users.c.totp_last_step.is_(None), users.c.totp_last_step < step),
            )
            .values(totp_last_step=step)
        )
        with database_errors("recording a one-time code"):
            async with self._engine.begin() as conn:
                return (await conn.execute(stmt)).rowcount == 1

    async def use_recovery_code(self, user_id: int, code_hash: str) -> bool:
        """Spend a recovery code; False when it is unknown or already used."""
        stmt = (
            update(recovery_codes)
            .where(
                recovery_codes.c.user_id == user_id,
                recovery_codes.c.code_hash == code_hash,
                recovery_codes.c.used_at.is_(None),
            )
            .values(used_at=func.now())
        )
        with database_errors("using a recovery code"):
            async with self._engine.begin() as conn:
                return (await conn.execute(stmt)).rowcount == 1

    async def set_password(self, user_id: int, password_hash: str) -> UserRecord:
        """Replace the password hash; clears the failure counter and any lock-out."""
        return await self._update(
            user_id, password_hash=password_hash, failed_logins=0, locked_until=None
        )

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
