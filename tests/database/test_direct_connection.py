"""Specification of the order path's own connection (:mod:`forexbot.database.direct`), through
the write it serves: ``TradeRepository.submit_intent`` on the real PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from trade_records import intent

from forexbot.database.engine import create_engine
from forexbot.database.trades import TradeRepository
from forexbot.domain.lifecycle import IllegalTransition
from forexbot.domain.trades import ClientOrderIdConflict, TradeRecord
from forexbot.domain.trading import TradeStatus
from forexbot.errors import DatabaseError

pytestmark = pytest.mark.db


async def direct_pid(engine: AsyncEngine, repo: TradeRepository) -> int:
    """The server process of the repository's direct connection (the only one that wrote an
    intent: it is the backend whose last statement inserted into ``trades``)."""
    async with engine.connect() as conn:
        pid = (
            await conn.execute(
                text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND query LIKE 'WITH created AS%' AND pid <> pg_backend_pid()"
                )
            )
        ).scalar_one()
    return int(pid)


async def test_the_intent_is_written_through_the_direct_connection(
    db_engine: AsyncEngine,
) -> None:
    repo = TradeRepository(db_engine)

    record = await repo.submit_intent(intent(client_order_id="fxb-direct-1", volume=0.37))

    assert record.status is TradeStatus.SUBMITTED
    assert str(record.volume) == "0.37"
    assert record.market_condition == intent().market_condition
    stored = await repo.get_by_client_order_id("fxb-direct-1")
    assert stored == record
    moves = [(t.from_status, t.to_status) for t in await repo.transitions(record.id)]
    assert moves == [(None, TradeStatus.INTENT), (TradeStatus.INTENT, TradeStatus.SUBMITTED)]


async def test_a_connection_killed_by_the_server_is_replaced_and_the_intent_written_once(
    db_engine: AsyncEngine,
) -> None:
    repo = TradeRepository(db_engine)
    await repo.submit_intent(intent(client_order_id="fxb-direct-first"))
    pid = await direct_pid(db_engine, repo)
    async with db_engine.connect() as conn:
        await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        await conn.commit()
    await asyncio.sleep(0.05)  # the server closes the socket after the signal

    record = await repo.submit_intent(intent(client_order_id="fxb-direct-second"))

    assert record.status is TradeStatus.SUBMITTED
    assert await direct_pid(db_engine, repo) != pid
    async with db_engine.connect() as conn:
        count = (
            await conn.execute(
                text("SELECT count(*) FROM trades WHERE client_order_id = 'fxb-direct-second'")
            )
        ).scalar_one()
    assert count == 1


async def test_an_intent_written_before_is_marked_submitted_not_written_again(
    db_engine: AsyncEngine,
) -> None:
    repo = TradeRepository(db_engine)
    first = await repo.create_intent(intent(client_order_id="fxb-direct-again"))

    again = await repo.submit_intent(intent(client_order_id="fxb-direct-again"))

    assert again.id == first
    assert again.status is TradeStatus.SUBMITTED
    assert len(await repo.transitions(first)) == 2


async def test_disposing_the_engine_closes_the_direct_connection(
    migrated_database_url: str,
) -> None:
    engine = create_engine(migrated_database_url, pool_size=1)
    repo = TradeRepository(engine)
    await repo.submit_intent(intent(client_order_id="fxb-direct-dispose"))
    pid = await direct_pid(engine, repo)

    await engine.dispose()

    watcher = create_engine(migrated_database_url, pool_size=1)
    try:
        async with watcher.connect() as conn:
            alive = (
                await conn.execute(
                    text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
                )
            ).scalar_one()
    finally:
        await watcher.dispose()
    assert alive == 0


async def test_an_unreachable_server_is_a_database_error_without_the_password() -> None:
    engine = create_engine(
        "postgresql://trader:s3cret-pass@127.0.0.1:1/forexbot", connect_timeout=2.0
    )
    repo = TradeRepository(engine)
    try:
        with pytest.raises(DatabaseError, match="writing the order intent") as raised:
            await repo.submit_intent(intent(client_order_id="fxb-direct-nowhere"))
    finally:
        await engine.dispose()
    assert "s3cret-pass" not in str(raised.value)


class AnswerLostOnce:
    """An asyncpg connection whose first statement commits and then loses its answer, as a
    connection killed between the server's commit and the reply would."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self.lost = 0

    async def fetchmany(self, sql: str, args: Any, timeout: float | None = None) -> Any:
        rows = await self._real.fetchmany(sql, args, timeout=timeout)
        if self.lost == 0:
            self.lost += 1
            raise asyncpg.ConnectionDoesNotExistError("connection was closed in the middle")
        return rows

    def terminate(self) -> None:  # the lost connection is dropped; the real one stays usable
        return None

    def is_closed(self) -> bool:
        return self._real.is_closed()


async def test_an_answer_lost_after_the_commit_is_the_intent_written_once(
    db_engine: AsyncEngine,
) -> None:
    repo = TradeRepository(db_engine)
    await repo.submit_intent(intent(client_order_id="fxb-direct-warm"))  # opens the connection
    direct = repo._direct
    lossy = AnswerLostOnce(direct._conn)
    direct._conn = lossy  # type: ignore[assignment]
    opened = direct._connection

    async def same_connection() -> Any:
        return lossy if direct._conn is None else await opened()

    direct._connection = same_connection  # type: ignore[method-assign]

    record = await repo.submit_intent(intent(client_order_id="fxb-direct-lost"))

    assert lossy.lost == 1
    assert record.status is TradeStatus.SUBMITTED
    assert record.client_order_id == "fxb-direct-lost"
    moves = [(t.from_status, t.to_status) for t in await repo.transitions(record.id)]
    assert moves == [(None, TradeStatus.INTENT), (TradeStatus.INTENT, TradeStatus.SUBMITTED)]


async def test_a_duplicate_intent_is_still_refused_when_nothing_was_lost(
    db_engine: AsyncEngine,
) -> None:
    repo = TradeRepository(db_engine)
    await repo.submit_intent(intent(client_order_id="fxb-direct-twice"))

    with pytest.raises(IllegalTransition):
        await repo.submit_intent(intent(client_order_id="fxb-direct-twice"))


async def test_intents_submitted_together_are_committed_in_one_transaction(
    db_engine: AsyncEngine,
) -> None:
    repo = TradeRepository(db_engine)

    written = await repo.submit_intents(
        [intent(client_order_id=f"fxb-direct-batch-{n}") for n in range(3)]
    )

    async with db_engine.connect() as conn:
        transactions = (
            await conn.execute(
                text(
                    "SELECT count(DISTINCT x) FROM ("
                    " SELECT t.xmin::text AS x FROM trades t"
                    " WHERE t.client_order_id LIKE 'fxb-direct-batch-%'"
                    " UNION ALL SELECT h.xmin::text FROM trade_transitions h"
                    " JOIN trades t ON t.id = h.trade_id"
                    " WHERE t.client_order_id LIKE 'fxb-direct-batch-%') AS rows"
                )
            )
        ).scalar_one()
    assert [getattr(r, "status", None) for r in written] == [TradeStatus.SUBMITTED] * 3
    assert transactions == 1  # the trades and their history: one commit


async def losing_the_next_answer(repo: TradeRepository) -> AnswerLostOnce:
    """Open the repository's direct connection (an intent written) and make its next
    statements commit and lose their answer."""
    await repo.submit_intent(intent(client_order_id="fxb-direct-warm"))
    lossy = AnswerLostOnce(repo._direct._conn)
    repo._direct._conn = lossy  # type: ignore[assignment]
    return lossy


async def test_an_answer_lost_after_committing_a_batch_is_each_intent_written_once(
    db_engine: AsyncEngine,
) -> None:
    repo = TradeRepository(db_engine)
    lossy = await losing_the_next_answer(repo)

    written = await repo.submit_intents(
        [intent(client_order_id="fxb-direct-lost-a"), intent(client_order_id="fxb-direct-lost-b")]
    )

    assert lossy.lost == 1
    assert [(r.client_order_id, r.status) for r in written if not isinstance(r, Exception)] == [
        ("fxb-direct-lost-a", TradeStatus.SUBMITTED),
        ("fxb-direct-lost-b", TradeStatus.SUBMITTED),
    ]
    for record in written:
        assert not isinstance(record, Exception)
        moves = [(t.from_status, t.to_status) for t in await repo.transitions(record.id)]
        assert moves == [(None, TradeStatus.INTENT), (TradeStatus.INTENT, TradeStatus.SUBMITTED)]


async def test_after_a_lost_answer_another_orders_id_in_the_batch_is_refused_alone(
    db_engine: AsyncEngine,
) -> None:
    repo = TradeRepository(db_engine)
    taken = await repo.submit_intent(intent(client_order_id="fxb-direct-taken", volume=0.5))
    lossy = await losing_the_next_answer(repo)

    mine, theirs = await repo.submit_intents(
        [
            intent(client_order_id="fxb-direct-mine"),
            intent(client_order_id="fxb-direct-taken", volume=0.1),
        ]
    )

    assert lossy.lost == 1
    assert isinstance(mine, TradeRecord)
    assert (mine.client_order_id, mine.status) == ("fxb-direct-mine", TradeStatus.SUBMITTED)
    assert isinstance(theirs, ClientOrderIdConflict)
    assert f"already belongs to trade {taken.id}" in str(theirs)
