"""UserRepository: case-insensitive unique usernames and atomic login counters."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from forexbot.database.users import DuplicateUser, LastActiveAdmin, UserRepository
from forexbot.errors import NotFoundError

pytestmark = pytest.mark.db

HASH = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"


@pytest.fixture
def repo(db_engine: AsyncEngine) -> UserRepository:
    return UserRepository(db_engine)


async def test_create_returns_an_active_user_as_typed(repo: UserRepository) -> None:
    user = await repo.create("Alice", HASH, "trader")
    assert user.id > 0
    assert (user.username, user.password_hash, user.role) == ("Alice", HASH, "trader")
    assert user.is_active
    assert user.failed_logins == 0
    assert user.last_login_at is None
    assert user.locked_until is None
    assert user.created_at.tzinfo is UTC


async def test_get_by_username_ignores_letter_case(repo: UserRepository) -> None:
    created = await repo.create("Alice", HASH, "admin")
    found = await repo.get_by_username("aLICE")
    assert found is not None
    assert found.id == created.id
    assert found.username == "Alice"
    assert await repo.get_by_username("bob") is None


async def test_same_name_in_another_case_is_a_duplicate(repo: UserRepository) -> None:
    await repo.create("admin", HASH, "admin")
    with pytest.raises(DuplicateUser, match="'ADMIN' already exists"):
        await repo.create("ADMIN", HASH, "viewer")
    assert await repo.count() == 1


async def test_invalid_input_is_refused(repo: UserRepository) -> None:
    with pytest.raises(ValueError, match="unknown role 'root'"):
        await repo.create("alice", HASH, "root")
    with pytest.raises(ValueError, match="blank"):
        await repo.create("  ", HASH, "viewer")
    with pytest.raises(ValueError, match="password_hash"):
        await repo.create("alice", "", "viewer")


async def test_count(repo: UserRepository) -> None:
    assert await repo.count() == 0
    await repo.create("a", HASH, "viewer")
    await repo.create("b", HASH, "viewer")
    assert await repo.count() == 2


async def test_login_failures_are_counted_and_success_resets(repo: UserRepository) -> None:
    user = await repo.create("alice", HASH, "trader")
    await repo.record_login_failure(user.id)
    after = await repo.record_login_failure(user.id)
    assert after.failed_logins == 2
    before = datetime.now(UTC)
    await repo.record_login_success(user.id)
    fresh = await repo.get_by_username("alice")
    assert fresh is not None
    assert fresh.failed_logins == 0
    assert fresh.locked_until is None
    assert fresh.last_login_at is not None
    assert fresh.last_login_at >= before - timedelta(seconds=5)


async def test_concurrent_failures_are_all_counted(repo: UserRepository) -> None:
    user = await repo.create("alice", HASH, "trader")
    await asyncio.gather(*(repo.record_login_failure(user.id) for _ in range(8)))
    fresh = await repo.get_by_username("alice")
    assert fresh is not None
    assert fresh.failed_logins == 8


async def test_failure_locks_the_account_at_the_threshold(repo: UserRepository) -> None:
    user = await repo.create("alice", HASH, "trader")
    lock_for = timedelta(minutes=15)
    await repo.record_login_failure(user.id, lock_after=3, lock_for=lock_for)
    second = await repo.record_login_failure(user.id, lock_after=3, lock_for=lock_for)
    assert second.locked_until is None
    third = await repo.record_login_failure(user.id, lock_after=3, lock_for=lock_for)
    assert third.locked_until is not None
    now = datetime.now(UTC)
    assert timedelta(minutes=14) < third.locked_until - now <= timedelta(minutes=15, seconds=5)
    assert third.is_locked(now)
    assert not third.is_locked(now + timedelta(minutes=16))
    await repo.record_login_success(user.id)
    fresh = await repo.get_by_username("alice")
    assert fresh is not None
    assert fresh.locked_until is None


async def test_unknown_user_id_is_not_found(repo: UserRepository) -> None:
    with pytest.raises(NotFoundError, match="user 77 does not exist"):
        await repo.record_login_success(77)


async def test_password_hash_stays_out_of_repr_and_api(repo: UserRepository) -> None:
    user = await repo.create("alice", HASH, "viewer")
    assert HASH not in repr(user)
    assert "password_hash" not in user.to_api()
    assert user.to_api()["username"] == "alice"


async def test_list_gives_every_user_by_id(repo: UserRepository) -> None:
    names = ["carol", "alice", "bob"]
    for name in names:
        await repo.create(name, HASH, "viewer")
    assert [u.username for u in await repo.list()] == names


async def test_set_access_returns_the_user_before_and_after(repo: UserRepository) -> None:
    await repo.create("root", HASH, "admin")
    alice = await repo.create("alice", HASH, "trader")
    before, after = await repo.set_access(alice.id, role="viewer", is_active=False)
    assert (before.role, before.is_active) == ("trader", True)
    assert (after.role, after.is_active) == ("viewer", False)
    stored = await repo.get(alice.id)
    assert stored is not None
    assert (stored.role, stored.is_active) == ("viewer", False)


async def test_set_access_keeps_one_active_admin(repo: UserRepository) -> None:
    root = await repo.create("root", HASH, "admin")
    with pytest.raises(LastActiveAdmin, match="'root' is the only active admin"):
        await repo.set_access(root.id, is_active=False)
    with pytest.raises(LastActiveAdmin, match="'root' is the only active admin"):
        await repo.set_access(root.id, role="trader")
    assert await repo.count_active_admins() == 1
    other = await repo.create("other", HASH, "admin")
    await repo.set_access(other.id, is_active=False)
    with pytest.raises(LastActiveAdmin):
        await repo.set_access(root.id, role="viewer")
    await repo.set_access(other.id, is_active=True)
    await repo.set_access(root.id, role="viewer")
    assert await repo.count_active_admins() == 1


async def test_set_access_of_an_unknown_user_is_not_found(repo: UserRepository) -> None:
    with pytest.raises(NotFoundError, match="user 77 does not exist"):
        await repo.set_access(77, is_active=False)
