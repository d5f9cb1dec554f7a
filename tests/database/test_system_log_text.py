"""SystemLogRepository stores any text a client may send, on the real PostgreSQL.

PostgreSQL stores no NUL (``text`` or ``jsonb``) and no unpaired surrogate (not UTF-8), and a
client can send both: ``%00`` in a path, ``"\\u0000"`` or ``"\\ud800"`` in a JSON username.
Every column and every string of ``context`` is stored escaped, and capped in length.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from forexbot.database.engine import create_engine
from forexbot.database.storable import storable_text
from forexbot.database.system_logs import MAX_TEXT, SystemLogRepository
from forexbot.errors import DatabaseError

pytestmark = pytest.mark.db


@pytest.fixture
def repo(db_engine: AsyncEngine) -> SystemLogRepository:
    return SystemLogRepository(db_engine)


async def add(repo: SystemLogRepository, text: str, context: dict[str, Any]) -> Any:
    await repo.add(
        level="warning",
        component=f"api{text}",
        event=f"login_failed{text}",
        message=f"login refused{text}",
        context=context,
        actor=f"eve{text}",
        source_ip=f"203.0.113.9{text}",
    )
    [entry] = await repo.recent(1)
    return entry


async def test_a_nul_anywhere_is_stored_as_a_visible_escape(repo: SystemLogRepository) -> None:
    entry = await add(repo, "\x00", {"user\x00name": ["a\x00b", {"deep": "\x00"}], "n": 3})
    assert (entry.component, entry.event, entry.message) == (
        "api\\x00",
        "login_failed\\x00",
        "login refused\\x00",
    )
    assert (entry.actor, entry.source_ip) == ("eve\\x00", "203.0.113.9\\x00")
    assert entry.context == {"user\\x00name": ["a\\x00b", {"deep": "\\x00"}], "n": 3}


async def test_an_unpaired_surrogate_is_stored_as_its_escape(repo: SystemLogRepository) -> None:
    entry = await add(repo, "\ud800", {"username": "x\udcff", "\udc80": 1})
    assert entry.actor == "eve\\ud800"
    assert entry.message == "login refused\\ud800"
    assert entry.context == {"username": "x\\udcff", "\\udc80": 1}


async def test_text_past_the_cap_is_cut_saying_how_much(repo: SystemLogRepository) -> None:
    long = "p" * (MAX_TEXT + 500)
    entry = await add(repo, "", {"path": long})
    assert entry.context["path"] == "p" * MAX_TEXT + "…[500 more characters]"


async def test_ordinary_text_is_stored_as_given(repo: SystemLogRepository) -> None:
    given = {"path": "/api/é/😀", "note": 'C:\\dir "quoted"\ttab', "list": ["x", 1, None]}
    entry = await add(repo, " ok", given)
    assert entry.context == given
    assert entry.actor == "eve ok"


def test_storable_text_leaves_clean_text_alone_and_escapes_the_rest() -> None:
    assert storable_text("plain") == "plain"
    assert storable_text("a\x00b\udc80c") == "a\\x00b\\udc80c"
    assert storable_text("abcdef", limit=4) == "abcd…[2 more characters]"


async def test_a_write_the_database_refuses_raises_and_is_counted(pg_server_url: str) -> None:
    gone = make_url(pg_server_url).set(database="fxt_no_such_database")
    engine = create_engine(gone.render_as_string(hide_password=False))
    repo = SystemLogRepository(engine)
    try:
        with pytest.raises(DatabaseError, match="writing a system log entry failed"):
            await repo.add(level="info", component="api", event="e", message="m", context={})
    finally:
        await engine.dispose()
    assert repo.failed_writes == 1
