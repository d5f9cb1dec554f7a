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
* **Awkward text everywhere** (last: it trips the kill switch, makes users and keys): every
  text field of every documented operation — each string (or string list item, or object
  key and value of a free-form object) of its body schema, each query parameter and each path
  parameter, walked from the daemon's own ``/api/openapi.json`` — is sent NUL, a lone
  surrogate, a right-to-left override, 10,001-character strings and hypothesis-generated text
  over all of Unicode (surrogates included), the rest of the request being valid; no answer
  may be a 5xx. Quotes subscriptions are checked on a synthetic index, whose name has spaces.
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
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from http.client import HTTPConnection
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
import pytest
import pytest_asyncio
from daemon_kit import ACCOUNTS, Daemon, Seeds, daemon_env, free_port, login, recovery_codes
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from forexbot.api.app import create_app
from forexbot.api.openapi import build_document
from forexbot.api.ports import ApiServices
from forexbot.api.tokens import JwtKeys
from forexbot.config.models import ApiSettings

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
    app = create_app(ApiServices(**stand_ins), ApiSettings(), JwtKeys("x" * 40))
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


async def _open_position(http: aiohttp.ClientSession, base: str, token: str) -> None:
    """A manual buy of EURUSD, so a position and a trade are there to offer at once (waiting
    for a strategy's signal on the simulated market took up to half a minute)."""
    headers = {"Authorization": f"Bearer {token}"}
    async with http.get(f"{base}/api/market/quote/EURUSD", headers=headers) as resp:
        assert resp.status == 200, await resp.text()
        bid = (await resp.json())["bid"]
    trade = {"symbol": "EURUSD", "side": "buy", "sl": round(bid - 0.02, 5)}
    async with http.post(f"{base}/api/trades", json=trade, headers=headers) as resp:
        assert resp.status == 201, await resp.text()


async def _known_ids(http: aiohttp.ClientSession, base: str, token: str) -> dict[str, list[Any]]:
    """Real ids to offer: a position opened by hand (seen within a minute at most)."""
    await _open_position(http, base, token)
    deadline = time.monotonic() + 60
    positions: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        positions = (await _json(http, f"{base}/api/positions", token))["items"]
        if positions:
            break
        await asyncio.sleep(0.1)
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
async def running(seeds: Seeds) -> AsyncIterator[Running]:
    workdir = _scratch_dir()
    data_dir = workdir / "data"
    env = daemon_env(data_dir, **UNLIMITED)
    printed, _, _ = await seeds.plant(data_dir, env, ACCOUNTS)
    codes = recovery_codes(printed)
    daemon = Daemon(data_dir, free_port(), workdir / "daemon.log", env)
    try:
        await daemon.start()
        async with aiohttp.ClientSession() as http:
            tokens = {
                "admin": await login(http, daemon.base, codes, "ada"),
                "trader": await login(http, daemon.base, None, "tom"),
                "viewer": await login(http, daemon.base, None, "vic"),
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


@pytest.mark.asyncio(loop_scope="session")
async def test_quotes_of_a_synthetic_index_can_be_subscribed_to(running: Running) -> None:
    symbol = "Volatility 75 Index"  # watched by default
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(
            f"{running.base}/ws/quotes",
            headers={"Authorization": f"Bearer {running.tokens['viewer']}"},
        ) as ws,
    ):
        await ws.send_json({"action": "subscribe", "symbols": [symbol]})
        async with asyncio.timeout(30):
            while (message := await ws.receive_json()).get("event") != "subscribed":
                pass  # quotes sent before the subscription took effect
            assert message["symbols"] == [symbol]
            assert (await ws.receive_json())["data"]["symbol"] == symbol


# -- awkward text in every text field -----------------------------------------------------------

#: Sent to every text field, whatever hypothesis draws.
AWKWARD = ("\x00", "\ud800", "\u202e", "a" * 10_001, "\x00\ud800\u202e" * 3_334)
#: Any code point, surrogates and controls included.
ANY_CHARACTER = st.characters(codec=None, exclude_categories=())
ARBITRARY_TEXT = st.one_of(
    st.text(ANY_CHARACTER, max_size=40),
    st.builds(
        lambda before, awkward, after: before + awkward + after,
        st.text(ANY_CHARACTER, max_size=8),
        st.sampled_from(AWKWARD[:3]),
        st.text(ANY_CHARACTER, max_size=8),
    ),
    st.builds(
        lambda piece, times: piece * times,
        st.text(ANY_CHARACTER, min_size=1, max_size=3),
        st.integers(10_001, 12_000),
    ),
)
#: Generated examples per text field, besides :data:`AWKWARD`.
GENERATED_PER_FIELD = 25
#: A free-form object's key, as a step of a body location.
KEY = "{key}"
#: The base value of body properties a generic sample would get wrong.
BASE_VALUES: dict[str, Any] = {"symbol": "EURUSD", "from": "2024-01-02", "to": "2024-01-03"}
#: Operations not fuzzed: they would end the run's session or stop the daemon.
NOT_FUZZED = {("POST", "/api/auth/logout"), ("POST", "/api/system/restart")}


@dataclass(frozen=True)
class TextField:
    """One text field of one operation: where the fuzzed text goes."""

    method: str
    path: str
    where: str  # "path", "query" or "body"
    at: tuple[str | int, ...]  # the parameter's name, or the body location
    base_path: dict[str, str]
    base_query: dict[str, str]
    base_body: Any

    def __str__(self) -> str:
        return f"{self.method} {self.path} {self.where} {'.'.join(map(str, self.at))}"

    def request(self, text: str) -> tuple[str, str, bytes | None]:
        """``(method, target, JSON body)`` with ``text`` in this field."""
        params = dict(self.base_path)
        query = dict(self.base_query)
        body = self.base_body
        if self.where == "path":
            params[str(self.at[0])] = text
        elif self.where == "query":
            query[str(self.at[0])] = text
        else:
            body = _put(body, self.at, text)
        target = self.path
        for name, value in params.items():
            target = target.replace("{" + name + "}", _percent(value))
        if query:
            target += "?" + "&".join(f"{_percent(k)}={_percent(v)}" for k, v in query.items())
        data = None if body is None else json.dumps(body).encode()  # surrogates as \\udxxx
        return self.method, target, data


def _percent(text: str) -> str:
    """Percent-encoded UTF-8, lone surrogates as their would-be bytes (what a lax client
    sends)."""
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


def _put(value: Any, at: tuple[str | int, ...], text: str) -> Any:
    if not at:
        return text
    step, rest = at[0], at[1:]
    if step == KEY:
        return {**(value or {}), text: 1}
    if isinstance(step, int):
        return [_put(None, rest, text)]
    return {**(value or {}), step: _put((value or {}).get(step), rest, text)}


def _resolve(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _alternatives(schema: dict[str, Any], document: dict[str, Any]) -> list[dict[str, Any]]:
    schema = _resolve(schema, document)
    found = [_resolve(s, document) for s in schema.get("anyOf", []) + schema.get("oneOf", [])]
    return [s for s in found if s.get("type") != "null"] or [schema]


def _sample(schema: dict[str, Any], document: dict[str, Any], name: str = "") -> Any:
    """A valid value of ``schema``: required properties only, lowest allowed numbers."""
    if name in BASE_VALUES:
        return BASE_VALUES[name]
    schema = _alternatives(schema, document)[0]
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "string":
        return "a" * max(1, schema.get("minLength", 1))
    if kind in ("number", "integer"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0) + 1)
        return min(low, schema.get("maximum", low))
    if kind == "boolean":
        return False
    if kind == "array":
        return [_sample(schema.get("items", {}), document)] * schema.get("minItems", 0)
    if kind == "object":
        properties = schema.get("properties", {})
        return {k: _sample(properties[k], document, k) for k in schema.get("required", [])}
    return None


def _text_locations(
    schema: dict[str, Any], document: dict[str, Any], at: tuple[str | int, ...] = ()
) -> Iterator[tuple[str | int, ...]]:
    """Every place of a body schema holding text: strings, string items, and the keys and
    values of free-form objects."""
    for alternative in _alternatives(schema, document):
        kind = alternative.get("type")
        if kind == "string" or (not kind and at):
            yield at
        elif kind == "array":
            yield from _text_locations(alternative.get("items", {}), document, (*at, 0))
        elif kind == "object":
            for name, sub in alternative.get("properties", {}).items():
                yield from _text_locations(sub, document, (*at, name))
            extra = alternative.get("additionalProperties")
            if extra is True or isinstance(extra, dict):
                yield (*at, KEY)
                yield (*at, "name")


def _text_fields(document: dict[str, Any], ids: dict[str, list[Any]]) -> list[TextField]:
    real = {
        "ticket": ids["tickets"][0],
        "trade_id": ids["trades"][0],
        "strategy_id": ids["strategies"][0],
        "symbol": ids["symbols"][0],
        "job_id": ids["jobs"][0],
    }
    fields: list[TextField] = []
    for path, operations in document["paths"].items():
        for method, op in operations.items():
            if (method.upper(), path) in NOT_FUZZED:
                continue
            parameters = op.get("parameters", [])
            base_path = {
                p["name"]: str(real.get(p["name"], MISSING_ID))
                for p in parameters
                if p["in"] == "path"
            }
            base_query = {
                p["name"]: str(_sample(p["schema"], document))
                for p in parameters
                if p["in"] == "query" and p["required"]
            }
            schema = op.get("requestBody", {}).get("content", {}).get("application/json")
            base_body = None if schema is None else _sample(schema["schema"], document)
            common: dict[str, Any] = {
                "method": method.upper(),
                "path": path,
                "base_path": base_path,
                "base_query": base_query,
                "base_body": base_body,
            }
            fields += [TextField(where=p["in"], at=(p["name"],), **common) for p in parameters]
            if schema is not None:
                locations = dict.fromkeys(_text_locations(schema["schema"], document))
                fields += [TextField(where="body", at=at, **common) for at in locations]
    last = ("/api/system/settings", "/api/users")  # as in the schemathesis runs
    return sorted(fields, key=lambda f: f.path.startswith(last))


def _send(base: str, token: str, request: tuple[str, str, bytes | None]) -> tuple[int, bytes]:
    method, target, body = request
    address = urlsplit(base)
    connection = HTTPConnection(address.hostname or "127.0.0.1", address.port, timeout=30)
    headers = {"Authorization": f"Bearer {token}"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    try:
        connection.request(method, target, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _fuzz(base: str, token: str, fields: list[TextField]) -> int:
    """Send every field its awkward and generated texts; the number of requests."""
    sent = 0

    def no_server_error(field: TextField) -> Callable[[], None]:
        @settings(
            max_examples=GENERATED_PER_FIELD,
            derandomize=True,
            database=None,
            deadline=None,
            phases=(Phase.explicit, Phase.generate, Phase.shrink),
            suppress_health_check=list(HealthCheck),
        )
        @given(text=ARBITRARY_TEXT)
        def check(text: str) -> None:
            nonlocal sent
            sent += 1
            status, answer = _send(base, token, field.request(text))
            assert status < 500, f"{field} with {text[:40]!r}: {status} {answer[:300]!r}"

        for awkward in AWKWARD:
            check = example(text=awkward)(check)
        return check

    for field in fields:
        no_server_error(field)()
    return sent


@pytest.mark.asyncio(loop_scope="session")
async def test_awkward_text_in_every_text_field_gets_no_server_error(running: Running) -> None:
    async with aiohttp.ClientSession() as http:
        document = await _json(http, f"{running.base}/api/openapi.json", running.tokens["admin"])
    fields = _text_fields(document, running.ids)
    assert {f.where for f in fields} == {"path", "query", "body"}
    assert len(fields) >= 60, [str(f) for f in fields]
    started = time.monotonic()
    sent = await asyncio.to_thread(_fuzz, running.base, running.tokens["admin"], fields)
    print(f"{sent} requests to {len(fields)} text fields in {time.monotonic() - started:.1f} s")
    assert sent >= len(fields) * len(AWKWARD)
