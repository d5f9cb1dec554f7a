"""Refresh tokens in PostgreSQL: hashed, single-use, and revoked by family."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from forexbot.clock import ManualClock
from forexbot.database.refresh_tokens import (
    RefreshTokenInvalid,
    RefreshTokenRepository,
    RefreshTokenReused,
    token_hash,
)
from forexbot.database.tables import refresh_tokens
from forexbot.database.users import UserRepository

pytestmark = pytest.mark.db
NOW = datetime(2026, 11, 30, 12, tzinfo=UTC).timestamp()


async def setup(db_engine: AsyncEngine) -> tuple[RefreshTokenRepository, int, ManualClock]:
    clock = ManualClock(NOW)
    user = await UserRepository(db_engine).create("ana", "hash", "trader")
    return RefreshTokenRepository(db_engine, clock, 3600), user.id, clock


async def test_only_a_hash_of_the_token_is_stored(db_engine: AsyncEngine) -> None:
    repo, user_id, _ = await setup(db_engine)
    issued = await repo.issue(user_id, source_ip="10.0.0.1")
    async with db_engine.connect() as conn:
        rows = (await conn.execute(select(refresh_tokens))).mappings().all()
    assert len(rows) == 1
    assert rows[0]["token_hash"] == token_hash(issued.token) != issued.token
    assert issued.token not in str(dict(rows[0]))
    assert rows[0]["expires_at"] == datetime.fromtimestamp(NOW + 3600, UTC)


async def test_two_concurrent_refreshes_with_one_token_cannot_both_succeed(
    db_engine: AsyncEngine,
) -> None:
    repo, user_id, _ = await setup(db_engine)
    issued = await repo.issue(user_id)
    results = await asyncio.gather(
        repo.rotate(issued.token), repo.rotate(issued.token), return_exceptions=True
    )
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert sum(isinstance(r, RefreshTokenReused) for r in results) == 1
    winner = next(r for r in results if not isinstance(r, Exception))
    with pytest.raises(RefreshTokenInvalid, match="revoked"):
        await repo.rotate(winner.token)  # type: ignore[union-attr]


async def test_revoking_a_user_ends_every_session_and_names_them(db_engine: AsyncEngine) -> None:
    repo, user_id, _ = await setup(db_engine)
    a, b = await repo.issue(user_id), await repo.issue(user_id)
    families = await repo.revoke_user(user_id, "password changed")
    assert sorted(families) == sorted([a.family, b.family])
    for token in (a.token, b.token):
        with pytest.raises(RefreshTokenInvalid, match="revoked"):
            await repo.rotate(token)
    revoked = await repo.revoked_since(datetime.fromtimestamp(NOW - 1, UTC))
    assert set(revoked) == {a.family, b.family}


async def test_a_rotation_keeps_the_family_and_a_new_expiry(db_engine: AsyncEngine) -> None:
    repo, user_id, clock = await setup(db_engine)
    first = await repo.issue(user_id)
    clock.advance(600)
    second = await repo.rotate(first.token)
    assert (second.family, second.user_id) == (first.family, user_id)
    assert second.expires_at == datetime.fromtimestamp(NOW + 600 + 3600, UTC)
    assert await repo.family_of(first.token) == (user_id, first.family)
