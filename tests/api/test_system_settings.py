"""GET/PUT /api/system/settings and POST /api/system/restart, on a real server and PostgreSQL.

The settings service is the daemon's own (:class:`SystemSettings` on the real
``system_config`` repository), wired to the running server's rate limiters and the process's
root logger as the composition root wires it, so "applied live" is observed on the running
components. The restart switch is the daemon's too, with a recording stop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine

from forexbot.api.app import RATE_LIMITERS_KEY
from forexbot.api.ratelimit import Limit, RateLimiters
from forexbot.api.routes.restart import RestartAccepted
from forexbot.api.routes.settings import SettingsView
from forexbot.config.models import Settings
from forexbot.daemon.restart import RestartSwitch
from forexbot.daemon.system_settings import (
    LIVE,
    SETTINGS_KEY,
    SystemSettings,
    rate_limits_applier,
    set_log_level,
)
from forexbot.database.system_config import SystemConfigRepository

from ._support import JWT_SECRET, Api, MakeApi

pytestmark = pytest.mark.db

URL = "/api/system/settings"


@dataclass
class Rig:
    api: Api
    system: SystemSettings
    store: SystemConfigRepository

    @property
    def limiters(self) -> RateLimiters:
        return self.api.server.app[RATE_LIMITERS_KEY]

    async def put(self, body: Any, role: str = "admin") -> tuple[int, Any]:
        async with self.api.session.put(
            self.api.url(URL), json=body, headers=self.api.auth(role)
        ) as resp:
            return resp.status, await resp.json()

    async def get(self, role: str = "admin") -> tuple[int, Any]:
        async with self.api.session.get(self.api.url(URL), headers=self.api.auth(role)) as resp:
            return resp.status, await resp.json()


def _system(store: SystemConfigRepository, base: Settings) -> SystemSettings:
    return SystemSettings(base, store, appliers={"logging": set_log_level})


@pytest_asyncio.fixture(loop_scope="function")
async def rig(make_api: MakeApi, db_engine: AsyncEngine) -> AsyncIterator[Rig]:
    root = logging.getLogger()
    level = root.level
    store = SystemConfigRepository(db_engine)
    system = _system(store, Settings())
    await system.load()
    api = await make_api(system_settings=system)
    system.add_applier("api", rate_limits_applier(api.server.app[RATE_LIMITERS_KEY]))
    try:
        yield Rig(api, system, store)
    finally:
        set_log_level(Settings(logging={"level": logging.getLevelName(level)}))


async def test_get_shows_the_settings_in_force_what_is_overridden_and_what_is_live(
    rig: Rig,
) -> None:
    status, body = await rig.get("admin")
    assert status == 200
    view = SettingsView.model_validate(body)  # the documented shape, exactly
    assert view.settings == Settings()
    assert body["overridden"] == {}
    assert set(body["live"]) == {f"{s}.{k}" for s, keys in LIVE.items() for k in keys}
    assert "execution.max_retries" in body["live"]
    assert "logging.level" in body["live"]
    assert "api.user_burst" in body["live"]
    assert "api.port" not in body["live"]
    assert JWT_SECRET not in str(body)


async def test_get_needs_a_token(rig: Rig) -> None:
    async with rig.api.session.get(rig.api.url(URL)) as resp:
        assert resp.status == 401


async def test_put_applies_live_persists_and_audits(rig: Rig) -> None:
    changes = {
        "execution": {"max_retries": 7, "sync_interval_seconds": 2.5},
        "logging": {"level": "WARNING"},
        "api": {"user_rate_per_second": 1.0, "user_burst": 10},
    }
    status, body = await rig.put(changes)
    assert status == 200, body
    SettingsView.model_validate(body)
    assert body["overridden"] == {
        "api.user_burst": 10,
        "api.user_rate_per_second": 1.0,
        "execution.max_retries": 7,
        "execution.sync_interval_seconds": 2.5,
        "logging.level": "WARNING",
    }
    assert body["settings"]["execution"]["max_retries"] == 7
    assert body["settings"]["execution"]["retry_delay_ms"] == 200  # untouched keys keep theirs

    # Live: what the execution and position managers read, the root logger, the buckets.
    assert rig.system.current.execution.max_retries == 7
    assert rig.system.current.execution.sync_interval_seconds == 2.5
    assert logging.getLogger().level == logging.WARNING
    assert rig.limiters.per_user.limit == Limit(1.0, 10)
    assert rig.limiters.per_ip.limit == Limit(50.0, 200)  # not changed
    # The running per-user bucket now holds at most 10 tokens and does not refill (the test's
    # wall clock stands still): the eleventh request is refused.
    statuses = [(await rig.get())[0] for _ in range(11)]
    assert statuses == [200] * 10 + [429]

    # Persisted: only the keys changed.
    assert await rig.store.get(SETTINGS_KEY) == {
        "execution": {"max_retries": 7, "sync_interval_seconds": 2.5},
        "logging": {"level": "WARNING"},
        "api": {"user_rate_per_second": 1.0, "user_burst": 10},
    }
    rows = [e for e in await rig.api.system_logs.recent(10) if e.event == "system_settings_changed"]
    assert len(rows) == 1
    assert rows[0].actor == "tester"
    assert rows[0].context == {"changes": changes}


async def test_two_changes_at_once_are_both_kept(rig: Rig) -> None:
    first, second = await asyncio.gather(
        rig.put({"execution": {"max_retries": 7}}), rig.put({"logging": {"level": "DEBUG"}})
    )
    assert (first[0], second[0]) == (200, 200)
    assert await rig.store.get(SETTINGS_KEY) == {
        "execution": {"max_retries": 7},
        "logging": {"level": "DEBUG"},
    }
    assert rig.system.current.execution.max_retries == 7


async def test_stored_keys_win_over_the_files_after_a_restart(rig: Rig) -> None:
    status, _ = await rig.put({"execution": {"max_retries": 9}, "logging": {"level": "ERROR"}})
    assert status == 200
    # A new daemon: the files now say otherwise, for the overridden key and for another one.
    files = Settings(execution={"max_retries": 1, "retry_delay_ms": 50})
    again = SystemSettings(files, rig.store)
    current = await again.load()
    assert current.execution.max_retries == 9  # stored wins
    assert current.execution.retry_delay_ms == 50  # never changed live: the file's
    assert current.logging.level == "ERROR"
    assert again.describe()["overridden"] == {
        "execution.max_retries": 9,
        "logging.level": "ERROR",
    }


async def test_null_goes_back_to_the_files_value(rig: Rig) -> None:
    await rig.put({"logging": {"level": "DEBUG"}, "execution": {"max_retries": 4}})
    assert logging.getLogger().level == logging.DEBUG
    status, body = await rig.put({"logging": {"level": None}})
    assert status == 200, body
    assert body["overridden"] == {"execution.max_retries": 4}
    assert body["settings"]["logging"]["level"] == "INFO"
    assert logging.getLogger().level == logging.INFO
    status, body = await rig.put({"execution": None})
    assert status == 200, body
    assert body["overridden"] == {}
    assert rig.system.current.execution.max_retries == 3
    assert await rig.store.get(SETTINGS_KEY) == {}


async def _assert_unchanged(rig: Rig) -> None:
    assert rig.system.current == Settings()
    assert await rig.store.get(SETTINGS_KEY) is None
    assert rig.limiters.per_user.limit == Limit(20.0, 100)
    rows = [e for e in await rig.api.system_logs.recent(20) if e.event == "system_settings_changed"]
    assert rows == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"execution": {"max_retries": 99}}, "execution.max_retries"),
        ({"execution": {"max_retries": "3"}}, "execution.max_retries"),
        ({"execution": {"max_retries": True}}, "execution.max_retries"),
        ({"logging": {"level": "debug"}}, "logging.level"),
        ({"api": {"ip_burst": 0}, "execution": {"max_retries": 5}}, "api.ip_burst"),
        ({"execution": [1]}, "execution"),
    ],
)
async def test_a_bad_value_is_422_naming_the_key_and_nothing_changes(
    rig: Rig, body: dict[str, Any], field: str
) -> None:
    status, answer = await rig.put(body)
    assert status == 422, answer
    assert answer["error"]["code"] == "validation_error"
    assert field in [d["field"] for d in answer["error"]["details"]]
    await _assert_unchanged(rig)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"execution": {"max_retry": 5}}, "execution.max_retry"),
        ({"nonsense": {"x": 1}}, "nonsense"),
        ({"execution": {"max_retries": 5}, "logging": {"colour": "red"}}, "logging.colour"),
    ],
)
async def test_an_unknown_key_is_422_and_nothing_changes(
    rig: Rig, body: dict[str, Any], field: str
) -> None:
    status, answer = await rig.put(body)
    assert status == 422, answer
    assert answer["error"]["code"] == "validation_error"
    details = answer["error"]["details"]
    assert [(d["field"], d["type"]) for d in details] == [(field, "unknown_key")]
    await _assert_unchanged(rig)


async def test_a_key_breaking_the_text_rule_is_refused_without_being_named_back(
    rig: Rig,
) -> None:
    status, answer = await rig.put({"execution": {"max_retries\x00\x1b[2J": 5}})
    assert status == 422, answer
    assert [d["type"] for d in answer["error"]["details"]] == ["invalid_text"]
    assert "\x1b" not in str(answer)
    assert "max_retries" not in answer["error"]["message"]
    await _assert_unchanged(rig)


@pytest.mark.parametrize(
    ("body", "field", "env"),
    [
        ({"api": {"port": 9999}}, "api.port", "FOREXBOT_API__PORT"),
        ({"execution": {"max_retries": 5}, "api": {"host": "0.0.0.0"}}, "api.host", None),
        ({"watchlist": ["EURUSD"]}, "watchlist", "FOREXBOT_WATCHLIST"),
        ({"terminal": {"poll_interval_ms": 50}}, "terminal.poll_interval_ms", None),
        ({"logging": {"format": "json"}}, "logging.format", None),
        ({"database": {"pool_size": 9}}, "database.pool_size", None),
    ],
)
async def test_a_key_that_needs_a_restart_is_refused_clearly_and_nothing_changes(
    rig: Rig, body: dict[str, Any], field: str, env: str | None
) -> None:
    status, answer = await rig.put(body)
    assert status == 422, answer
    assert answer["error"]["code"] == "restart_required"
    assert [d["field"] for d in answer["error"]["details"]] == [field]
    message = answer["error"]["message"]
    assert field in message
    assert "restart" in message
    assert "nothing was changed" in message
    if env is not None:
        assert env in message
    await _assert_unchanged(rig)


async def test_risk_limits_are_pointed_to_their_own_endpoint(rig: Rig) -> None:
    status, answer = await rig.put({"risk": {"max_open_positions": 2}})
    assert status == 422
    assert "PUT /api/risk/limits" in answer["error"]["message"]
    assert answer["error"]["details"][0]["type"] == "risk_limit"
    await _assert_unchanged(rig)


@pytest.mark.parametrize("body", [{}, {"execution": {}}])
async def test_an_empty_change_is_422(rig: Rig, body: dict[str, Any]) -> None:
    status, answer = await rig.put(body)
    assert status == 422
    assert answer["error"]["code"] == "validation_error"
    await _assert_unchanged(rig)


@pytest.mark.parametrize("role", ["viewer", "trader"])
async def test_only_admins_read_settings(rig: Rig, role: str) -> None:
    status, body = await rig.get(role)
    assert (status, body["error"]["code"]) == (403, "forbidden")


@pytest.mark.parametrize("role", ["viewer", "trader"])
async def test_only_admins_change_settings(rig: Rig, role: str) -> None:
    status, _ = await rig.put({"execution": {"max_retries": 5}}, role=role)
    assert status == 403
    await _assert_unchanged(rig)


async def test_routes_are_absent_without_the_service(make_api: MakeApi) -> None:
    api = await make_api()
    async with api.session.get(api.url(URL), headers=api.auth("admin")) as resp:
        assert resp.status == 404
    async with api.session.post(api.url("/api/system/restart"), headers=api.auth("admin")) as resp:
        assert resp.status == 404


# -- POST /api/system/restart -------------------------------------------------------------------


async def test_restart_answers_202_stops_once_and_refuses_a_second_request(
    make_api: MakeApi,
) -> None:
    stops: list[int] = []
    switch = RestartSwitch(lambda: stops.append(1), lambda: bool(stops), "systemd")
    api = await make_api(restart=switch)
    url = api.url("/api/system/restart")
    async with api.session.post(url, headers=api.auth("admin")) as resp:
        assert resp.status == 202
        body = await resp.json()
    assert RestartAccepted.model_validate(body).model_dump() == body
    assert body == {"status": "restarting", "mode": "systemd", "exit_code": 75}
    assert stops == [1]
    assert switch.pending
    async with api.session.post(url, headers=api.auth("admin")) as resp:
        assert resp.status == 409
        assert (await resp.json())["error"]["code"] == "restart_pending"
    assert stops == [1]
    rows = [e for e in await api.system_logs.recent(10) if e.event == "restart_requested"]
    assert len(rows) == 1
    assert rows[0].actor == "tester"
    assert rows[0].context["mode"] == "systemd"


async def test_restart_is_refused_while_the_daemon_is_stopping(make_api: MakeApi) -> None:
    switch = RestartSwitch(lambda: None, lambda: True, "exec")  # SIGTERM already received
    api = await make_api(restart=switch)
    async with api.session.post(api.url("/api/system/restart"), headers=api.auth("admin")) as resp:
        assert resp.status == 409
    assert not switch.pending


@pytest.mark.parametrize("role", ["viewer", "trader"])
async def test_only_admins_restart(make_api: MakeApi, role: str) -> None:
    stops: list[int] = []
    switch = RestartSwitch(lambda: stops.append(1), lambda: False, "exec")
    api = await make_api(restart=switch)
    async with api.session.post(api.url("/api/system/restart"), headers=api.auth(role)) as resp:
        assert resp.status == 403
    assert stops == []
    assert not switch.pending
