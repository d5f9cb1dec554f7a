"""An audit row the database refuses: the request keeps its answer, the record is not lost.

The database is made to refuse one event with a ``CHECK`` constraint, added and dropped by
each test (schema changes stay in this module's own database). The record must then be in
the log, at error level and whole, and counted by the repository.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest
import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from forexbot.api.audit import RECORD_LOST

from ._support import Api

pytestmark = pytest.mark.db

TOGGLE = "/api/strategies/ma_rsi:EURUSD:M15/toggle"


@contextlib.asynccontextmanager
async def refusing(engine: AsyncEngine, event: str) -> AsyncIterator[None]:
    """While inside, ``system_logs`` refuses rows of ``event``."""
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "ALTER TABLE system_logs ADD CONSTRAINT test_refuse "
                f"CHECK (event <> '{event}') NOT VALID"
            )
        )
    try:
        yield
    finally:
        async with engine.begin() as conn:
            await conn.execute(text("ALTER TABLE system_logs DROP CONSTRAINT test_refuse"))


async def test_a_lost_request_record_is_logged_whole_and_counted(api: Api) -> None:
    async with refusing(api.engine, "api_request"):
        with structlog.testing.capture_logs() as logs:
            async with api.session.put(api.url(TOGGLE), headers=api.auth("trader")) as resp:
                assert resp.status == 200
    [entry] = [e for e in logs if e["event"] == RECORD_LOST]
    assert entry["log_level"] == "error"
    assert entry["audit_event"] == "api_request"
    assert entry["audit_context"] == {"method": "PUT", "path": TOGGLE, "status": 200}
    assert (entry["actor"], entry["source_ip"]) == ("tester", "127.0.0.1")
    assert api.system_logs.failed_writes == 1


async def test_a_change_whose_audit_row_is_lost_still_answers_its_success(api: Api) -> None:
    async with refusing(api.engine, "strategy_toggled"):
        with structlog.testing.capture_logs() as logs:
            async with api.session.put(api.url(TOGGLE), headers=api.auth("trader")) as resp:
                assert resp.status == 200  # a 503 would invite doing it again
    assert api.strategies.strategies["ma_rsi:EURUSD:M15"]["enabled"] is False
    assert [e["audit_event"] for e in logs if e["event"] == RECORD_LOST] == ["strategy_toggled"]
    assert api.system_logs.failed_writes == 1


async def test_a_refused_sign_in_whose_record_is_lost_is_still_401_and_logged(api: Api) -> None:
    await api.create_user("tester", "a-long-passphrase", "trader")
    async with refusing(api.engine, "login_failed"):
        with structlog.testing.capture_logs() as logs:
            body = {"username": "tester", "password": "not-the-passphrase"}
            async with api.session.post(api.url("/api/auth/login"), json=body) as resp:
                assert resp.status == 401
    [entry] = [e for e in logs if e["event"] == RECORD_LOST]
    assert entry["audit_event"] == "login_failed"
    assert entry["audit_context"]["username"] == "tester"
