"""The API's contract, checked against the running daemon.

One ``forexbot run`` (paper trading on the simulated terminal) serves the whole module, with
rate limits raised so nothing is throttled into testing only 429s, and three users: an
admin, a trader and a viewer.

* **schemathesis** over ``/api/openapi.json``: no 5xx, every status, content type, header and
  body as documented, invalid input refused, authentication not ignored. The ids of real
  positions, trades, strategies, symbols and a backtest job are offered half of the time, so
  the fuzzing reaches the handlers' logic and not only their 404s. Left out of the main run:
  ``POST /api/auth/logout`` (it would end the run's session), ``POST /api/system/restart``
  (it would stop the daemon under test), and ``PUT /api/system/settings`` and
  ``/api/users/{id}…``, fuzzed in a run of their own afterwards (they may lower the rate limits,
  or disable or re-enrol the run's own admin, for whatever follows).
* **WebSocket channels**: every role may open each of the five (and receives quotes and the
  performance and system snapshots at once); no token, no handshake (401).
* **Roles, per route and role** (first, before the fuzzing changes any setting): every
  documented operation is called with each role's token; a role outside the operation's
  ``x-roles`` gets 403, one inside gets past authorisation (neither 401 nor 403). Ids that
  do not exist and empty bodies keep these calls harmless.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from daemon_kit import Daemon, create_user, daemon_env, free_port, login

from forexbot.api.app import create_app
from forexbot.api.openapi import build_document
from forexbot.api.services import ApiServices, ApiSettings

pytestmark = pytest.mark.e2e

ROLES = ("admin", "trader", "viewer")
CHANNELS = ("quotes", "trades", "signals", "performance", "system")
FLOWING = ("quotes", "performance", "system")  # these send at once, or every few seconds
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
        "negative_data_rejection",
        "missing_required_header",
        "unsupported_method",
        "ignored_auth",
    ]
)
UNLIMITED = {
    "FOREXBOT_API__IP_RATE_PER_SECOND": "100000",
    "FOREXBOT_API__IP_BURST": "100000",
    "FOREXBOT_API__USER_RATE_PER_SECOND": "100000",
    "FOREXBOT_API__USER_BURST": "100000",
    "FOREXBOT_API__LOGIN_ATTEMPTS_PER_MINUTE": "10000",
}
# Calls whose allowed side would act for real: only their refusals are checked.
NOT_CALLED_WHEN_ALLOWED = {("POST", "/api/system/restart"), ("POST", "/api/auth/logout")}
MISSING_ID = "999999999"


@dataclass(frozen=True)
class Running:
    """The module's daemon: where it listens, each role's token, real ids, its files."""

    base: str
    tokens: dict[str, str]
    ids: dict[str, list[Any]]
    workdir: Path


def _documented_operations() -> list[tuple[str, str, tuple[str, ...]]]:
    """``(method, path, roles)`` of every operation of a daemon with all its parts (built
    in-process from stand-ins: building the app does no I/O and calls none of them)."""
    stand_ins = {
        f.name: object() for f in dataclasses.fields(ApiServices) if f.name != "wall_clock"
    }
    app = create_app(ApiServices(**stand_ins), ApiSettings(jwt_secret="x" * 40))
    document = build_document(app, version="test")
    return [
        (method.upper(), path, tuple(op.get("x-roles", ())))
        for path, methods in document["paths"].items()
        for method, op in methods.items()
        if op.get("security") != []
    ]


OPERATIONS = _documented_operations()


async def _json(http: aiohttp.ClientSession, url: str, token: str) -> Any:
    async with http.get(url, headers={"Authorization": f"Bearer {token}"}) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def _known_ids(http: aiohttp.ClientSession, base: str, token: str) -> dict[str, list[Any]]:
    """Real ids to offer: wait (at most a minute) for the strategies to open a position."""
    deadline = time.monotonic() + 60
    positions: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        positions = (await _json(http, f"{base}/api/positions", token))["items"]
        if positions:
            break
        await asyncio.sleep(1)
    trades = (await _json(http, f"{base}/api/trades?limit=20", token))["items"]
    strategies = (await _json(http, f"{base}/api/strategies", token))["items"]
    async with http.post(
        f"{base}/api/strategies/{strategies[0]['id']}/test",
        json={"from": "2024-01-02", "to": "2024-01-03"},
        headers={"Authorization": f"Bearer {token}"},
    ) as resp:
        assert resp.status == 202, await resp.text()
        job = (await resp.json())["id"]
    return {
        "tickets": [p["ticket"] for p in positions] or [1],
        "trades": [t["id"] for t in trades] or [1],
        "strategies": [s["id"] for s in strategies],
        "symbols": sorted({s["symbol"] for s in strategies}),
        "jobs": [job],
    }


def _scratch_dir() -> Path:
    path = Path(tempfile.mkdtemp(prefix="forexbot-e2e-"))
    path.chmod(0o755)  # see conftest.workdir: the embedded PostgreSQL must get in
    return path


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def running() -> AsyncIterator[Running]:
    workdir = _scratch_dir()
    data_dir = workdir / "data"
    env = daemon_env(data_dir, **UNLIMITED)
    codes = await create_user(data_dir, env, "admin", "ada")
    await create_user(data_dir, env, "trader", "tom")
    await create_user(data_dir, env, "viewer", "vera")
    daemon = Daemon(data_dir, free_port(), workdir / "daemon.log", env)
    try:
        await daemon.start()
        async with aiohttp.ClientSession() as http:
            tokens = {
                "admin": await login(http, daemon.base, codes, "ada"),
                "trader": await login(http, daemon.base, None, "tom"),
                "viewer": await login(http, daemon.base, None, "vera"),
            }
            ids = await _known_ids(http, daemon.base, tokens["admin"])
        yield Running(daemon.base, tokens, ids, workdir)
    finally:
        daemon.kill()
        if not os.environ.get("FOREXBOT_KEEP_E2E"):
            shutil.rmtree(workdir, ignore_errors=True)


def _config(ids: dict[str, list[Any]]) -> str:
    lines = []
    for name, values in ids.items():
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(values)}", ""]
    bindings = {
        "path.ticket": "tickets",
        "path.trade_id": "trades",
        "path.strategy_id": "strategies",
        "path.symbol": "symbols",
        "path.job_id": "jobs",
    }
    lines.append("[parameters]")
    lines += [f'"{key}" = {{ dictionary = "{dictionary}", probability = 0.5 }}'
              for key, dictionary in bindings.items()]  # fmt: skip
    return "\n".join(lines) + "\n"


async def _schemathesis(running: Running, *selection: str) -> str:
    """Run schemathesis as the admin over the selected operations; its report."""
    config = running.workdir / "schemathesis.toml"
    config.write_text(_config(running.ids))
    proc = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(config),
        "run",
        f"{running.base}/api/openapi.json",
        "--header",
        f"Authorization: Bearer {running.tokens['admin']}",
        "--checks",
        CHECKS,
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        "15",
        "--seed",
        "20261130",
        "--workers",
        "1",  # hypothesis' lambda descriptions are not thread-safe on CPython 3.11
        "--request-timeout",
        "30",
        *selection,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=running.workdir,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 600)
    report = out.decode(errors="replace")
    assert proc.returncode == 0, report[-12000:]
    summary = report[report.rindex("API Operations:") :].splitlines()
    print("\n".join(line for line in summary if line.strip()))  # shown with pytest -s
    return report


def _tested(report: str) -> int:
    return int(report.split("Tested:")[1].split(maxsplit=1)[0])


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "path", "allowed"), OPERATIONS, ids=str)
async def test_each_route_admits_exactly_its_roles(
    running: Running, method: str, path: str, allowed: tuple[str, ...], role: str
) -> None:
    if role in allowed and (method, path) in NOT_CALLED_WHEN_ALLOWED:
        pytest.skip("acting for real would end the run's session or stop the daemon")
    url = running.base + "/".join(
        MISSING_ID if part.startswith("{") else part for part in path.split("/")
    )
    body = {} if method in {"POST", "PUT"} else None
    async with (
        aiohttp.ClientSession() as http,
        http.request(
            method, url, json=body, headers={"Authorization": f"Bearer {running.tokens[role]}"}
        ) as resp,
    ):
        status = resp.status
        text = await resp.text()
    if role in allowed:
        assert status not in (401, 403), f"{role} refused on {method} {path}: {text}"
        assert status < 500, f"{method} {path} as {role}: {status} {text}"
    else:
        assert status == 403, f"{role} let through on {method} {path}: {status} {text}"


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("role", [*ROLES, None])
@pytest.mark.parametrize("channel", CHANNELS)
async def test_each_websocket_channel_admits_every_role_and_no_stranger(
    running: Running, channel: str, role: str | None
) -> None:
    url = f"{running.base}/ws/{channel}"
    headers = {} if role is None else {"Authorization": f"Bearer {running.tokens[role]}"}
    async with aiohttp.ClientSession() as http:
        if role is None:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(url)
            assert refused.value.status == 401
            return
        async with http.ws_connect(url, headers=headers, heartbeat=5) as ws:
            if channel in FLOWING:  # trades and signals speak only when something happens
                message = await ws.receive_json(timeout=30)
                assert message["channel"] == channel
            assert not ws.closed


@pytest.mark.asyncio(loop_scope="session")
async def test_schemathesis_finds_no_server_error_and_no_answer_off_the_schema(
    running: Running,
) -> None:
    report = await _schemathesis(
        running,
        "--exclude-path",
        "/api/auth/logout",
        "--exclude-path",
        "/api/system/restart",
        "--exclude-path",
        "/api/system/settings",
        "--exclude-path-regex",
        "^/api/users/",
    )
    assert _tested(report) >= len(OPERATIONS) - 6, report[-3000:]
    last = await _schemathesis(
        running, "--include-path", "/api/system/settings", "--include-path-regex", "^/api/users/"
    )
    assert _tested(last) == 5, last[-3000:]
