"""Push subscriptions and alert preferences in PostgreSQL.

Rules:

* A subscription is a browser's push endpoint and its keys; an endpoint is unique, so a
  browser that subscribes again (or for another user, after a sign-out) replaces its row
  rather than adding a second one: one device, one row, one owner.
* A user keeps at most :data:`MAX_PER_USER` subscriptions; one more is refused (a client
  looping on subscribe must not fill the table).
* Preferences store only what a user set; a type without a row has its default.
* Only active users' subscriptions receive alerts; an alert about one account (a failed
  sign-in) goes to that account's subscriptions only.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from forexbot.clock import iso_utc
from forexbot.database._errors import database_errors
from forexbot.database.tables import notification_preferences, push_subscriptions, users
from forexbot.errors import StateConflictError
from forexbot.notifications.alerts import DEFAULTS, AlertLevel, AlertType

MAX_PER_USER = 20


@dataclass(frozen=True, slots=True)
class PushSubscription:
    """A stored subscription: where to push and the keys to encrypt for."""

    id: int
    user_id: int
    endpoint: str
    p256dh: str
    auth: str
    device: str | None
    created_at: datetime

    def to_api(self) -> dict[str, Any]:
        """What its owner sees (never the keys: they are the browser's, and useless to show)."""
        return {
            "id": self.id,
            "endpoint": self.endpoint,
            "device": self.device,
            "created_at": iso_utc(self.created_at.timestamp()),
        }

    def info(self) -> dict[str, Any]:
        """The subscription as pywebpush takes it (the browser's ``PushSubscription`` JSON)."""
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}

    @classmethod
    def from_row(cls, row: Any) -> PushSubscription:
        return cls(
            id=int(row["id"]),
            user_id=int(row["user_id"]),
            endpoint=row["endpoint"],
            p256dh=row["p256dh"],
            auth=row["auth"],
            device=row["device"],
            created_at=row["created_at"],
        )


class PushStore:
    """The two tables, as the notifier and the routes use them."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(
        self, user_id: int, endpoint: str, p256dh: str, auth: str, device: str | None
    ) -> PushSubscription:
        """Store (or take over) the subscription of ``endpoint`` for ``user_id``; raises
        :class:`StateConflictError` when the user already has :data:`MAX_PER_USER` others."""
        t = push_subscriptions
        with database_errors("storing a push subscription"):
            async with self._engine.begin() as conn:
                count = await conn.scalar(
                    select(func.count())
                    .select_from(t)
                    .where(t.c.user_id == user_id, t.c.endpoint != endpoint)
                )
                if (count or 0) >= MAX_PER_USER:
                    raise StateConflictError(
                        f"at most {MAX_PER_USER} devices may receive alerts; remove one first"
                    )
                values = {"user_id": user_id, "p256dh": p256dh, "auth": auth, "device": device}
                stmt = insert(t).values(endpoint=endpoint, **values)
                stmt = stmt.on_conflict_do_update(index_elements=[t.c.endpoint], set_=values)
                row = (await conn.execute(stmt.returning(*t.c))).mappings().one()
        return PushSubscription.from_row(row)

    async def list(self, user_id: int) -> list[PushSubscription]:
        t = push_subscriptions
        with database_errors("listing push subscriptions"):
            async with self._engine.connect() as conn:
                rows = await conn.execute(select(t).where(t.c.user_id == user_id).order_by(t.c.id))
                return [PushSubscription.from_row(r) for r in rows.mappings()]

    async def delete(self, subscription_id: int, *, user_id: int | None = None) -> bool:
        """Remove a subscription (only if it is ``user_id``'s, when given); whether it was."""
        t = push_subscriptions
        stmt = delete(t).where(t.c.id == subscription_id)
        if user_id is not None:
            stmt = stmt.where(t.c.user_id == user_id)
        with database_errors("removing a push subscription"):
            async with self._engine.begin() as conn:
                return bool((await conn.execute(stmt)).rowcount)

    async def recipients(
        self, alert_type: AlertType, user_id: int | None = None
    ) -> builtins.list[tuple[PushSubscription, AlertLevel]]:
        """Every active user's subscription (only ``user_id``'s, when given) with the user's
        level for ``alert_type``, except those set (or defaulting) to ``off``."""
        t, p = push_subscriptions, notification_preferences
        query = (
            select(t, p.c.level)
            .join(users, users.c.id == t.c.user_id)
            .outerjoin(p, (p.c.user_id == t.c.user_id) & (p.c.alert_type == alert_type.value))
            .where(users.c.is_active.is_(True))
            .order_by(t.c.id)
        )
        if user_id is not None:
            query = query.where(t.c.user_id == user_id)
        with database_errors("reading push recipients"):
            async with self._engine.connect() as conn:
                rows = (await conn.execute(query)).mappings().all()
        found = [
            (
                PushSubscription.from_row(r),
                AlertLevel(r["level"]) if r["level"] else DEFAULTS[alert_type],
            )
            for r in rows
        ]
        return [(s, level) for s, level in found if level is not AlertLevel.OFF]

    async def preferences(self, user_id: int) -> dict[AlertType, AlertLevel]:
        """Every type's level for ``user_id`` (defaults where unset)."""
        p = notification_preferences
        with database_errors("reading notification preferences"):
            async with self._engine.connect() as conn:
                rows = await conn.execute(
                    select(p.c.alert_type, p.c.level).where(p.c.user_id == user_id)
                )
                stored = {r.alert_type: r.level for r in rows}
        return {
            t: AlertLevel(stored[t.value]) if t.value in stored else DEFAULTS[t] for t in AlertType
        }

    async def set_preferences(
        self, user_id: int, changes: dict[AlertType, AlertLevel]
    ) -> dict[AlertType, AlertLevel]:
        """Set the given types' levels (others unchanged) and return them all."""
        p = notification_preferences
        if changes:
            rows = [
                {"user_id": user_id, "alert_type": t.value, "level": level.value}
                for t, level in changes.items()
            ]
            stmt = insert(p).values(rows)
            stmt = stmt.on_conflict_do_update(
                index_elements=[p.c.user_id, p.c.alert_type], set_={"level": stmt.excluded.level}
            )
            with database_errors("storing notification preferences"):
                async with self._engine.begin() as conn:
                    await conn.execute(stmt)
        return await self.preferences(user_id)
