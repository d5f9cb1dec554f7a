"""/api/strategies: reading, tuning and toggling strategies through the StrategyControl."""

from __future__ import annotations

import copy
from typing import Any
from urllib.parse import quote

import pytest

from ._support import Api, MakeApi, strategy_entry

pytestmark = pytest.mark.db

EURUSD = "ma_rsi:EURUSD:M15"
V75 = "ma_rsi:Volatility 75 Index:M15"


def path_of(strategy_id: str, suffix: str = "") -> str:
    """The URL path of a strategy, its id percent-encoded as a client must."""
    return f"/api/strategies/{quote(strategy_id, safe=':')}{suffix}"


async def request(
    api: Api, method: str, path: str, *, role: str = "trader", json: Any = None
) -> tuple[int, Any]:
    async with api.session.request(
        method, api.url(path), headers=api.auth(role), json=json
    ) as resp:
        return resp.status, await resp.json()


async def audit_rows(api: Api, event: str) -> list[Any]:
    return [e for e in await api.system_logs.recent(20) if e.event == event]


@pytest.mark.parametrize("role", ["viewer", "trader", "admin"])
async def test_every_role_lists_the_strategies(api: Api, role: str) -> None:
    assert await request(api, "GET", "/api/strategies", role=role) == (
        200,
        {
            "items": [
                strategy_entry("ma_rsi", "EURUSD", "M15"),
                strategy_entry("ma_rsi", "Volatility 75 Index", "M15", enabled=False),
            ]
        },
    )


async def test_one_strategy_by_id(api: Api) -> None:
    status, body = await request(api, "GET", path_of(EURUSD), role="viewer")
    assert (status, body) == (200, strategy_entry("ma_rsi", "EURUSD", "M15"))


async def test_a_percent_encoded_id_with_spaces_reaches_the_strategy(api: Api) -> None:
    path = path_of(V75)
    assert path == "/api/strategies/ma_rsi:Volatility%2075%20Index:M15"
    expected = strategy_entry("ma_rsi", "Volatility 75 Index", "M15", enabled=False)
    assert await request(api, "GET", path) == (200, expected)
    status, body = await request(api, "PUT", path, json={"risk_multiplier": 0.5})
    assert (status, body) == (200, expected | {"risk_multiplier": 0.5})
    status, body = await request(api, "PUT", path_of(V75, "/toggle"))
    assert (status, body["enabled"]) == (200, True)
    assert api.strategies.calls == [("update", V75, "tester"), ("toggle", V75, "tester")]


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("GET", "", None),
        ("PUT", "", {"enabled": False}),
        ("PUT", "/toggle", None),
    ],
)
async def test_unknown_strategy_is_404(api: Api, method: str, suffix: str, body: Any) -> None:
    status, answer = await request(
        api, method, path_of("ma_rsi:GBPUSD:M15", suffix), role="admin", json=body
    )
    assert (status, answer) == (
        404,
        {
            "error": {
                "code": "not_found",
                "message": "strategy 'ma_rsi:GBPUSD:M15' does not exist",
                "details": None,
            }
        },
    )
    assert api.strategies.calls == []


@pytest.mark.parametrize("role", ["trader", "admin"])
async def test_update_changes_params_risk_and_enabled_and_returns_the_strategy(
    api: Api, role: str
) -> None:
    change = {"params": {"fast": 10}, "risk_multiplier": 2, "enabled": False}
    status, body = await request(api, "PUT", path_of(EURUSD), role=role, json=change)
    expected = strategy_entry(
        "ma_rsi",
        "EURUSD",
        "M15",
        params={"fast": 10, "slow": 50, "rsi_period": 14},
        risk_multiplier=2.0,
        enabled=False,
    )
    assert (status, body) == (200, expected)
    assert api.strategies.strategies[EURUSD] == expected
    assert api.strategies.calls == [("update", EURUSD, "tester")]


async def test_update_is_audited_with_actor_source_ip_and_changes(api: Api) -> None:
    await request(api, "PUT", path_of(EURUSD), json={"params": {"slow": 60}})
    [entry] = await audit_rows(api, "strategy_updated")
    assert (entry.level, entry.component, entry.actor, entry.source_ip) == (
        "info",
        "api",
        "tester",
        "127.0.0.1",
    )
    assert entry.context == {"strategy_id": EURUSD, "changes": {"params": {"slow": 60}}}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"fast": 10, "colour": 3}, "unknown parameter 'colour' (allowed: fast, rsi_period, slow)"),
        ({"fast": -1}, "parameter 'fast' must be a positive integer, got -1"),
        ({"fast": 80}, "parameter 'fast' must be less than 'slow'"),
    ],
)
async def test_a_bad_parameter_is_422_with_the_engines_message_and_changes_nothing(
    api: Api, params: dict[str, Any], message: str
) -> None:
    before = copy.deepcopy(api.strategies.strategies)
    status, body = await request(
        api, "PUT", path_of(EURUSD), json={"params": params, "risk_multiplier": 3.0}
    )
    assert (status, body) == (
        422,
        {"error": {"code": "validation_error", "message": message, "details": None}},
    )
    assert api.strategies.strategies == before
    assert await audit_rows(api, "strategy_updated") == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"enabled": True, "colour": "red"}, "colour"),
        ({"risk_multiplier": 0}, "risk_multiplier"),
        ({"risk_multiplier": -1.0}, "risk_multiplier"),
        ({"risk_multiplier": 10.5}, "risk_multiplier"),
        ({"risk_multiplier": "2"}, "risk_multiplier"),
        ({"enabled": "yes"}, "enabled"),
        ({"params": [1, 2]}, "params"),
        ({}, None),
        ({"params": None}, None),
        ([], None),
    ],
)
async def test_an_invalid_body_is_422_before_the_engine_is_asked(
    api: Api, body: Any, field: str | None
) -> None:
    before = copy.deepcopy(api.strategies.strategies)
    status, answer = await request(api, "PUT", path_of(EURUSD), json=body)
    assert status == 422
    assert answer["error"]["code"] == "validation_error"
    assert answer["error"]["details"][0]["field"] == field
    assert api.strategies.calls == []
    assert api.strategies.strategies == before


async def test_risk_multiplier_of_exactly_10_is_allowed(api: Api) -> None:
    status, body = await request(api, "PUT", path_of(EURUSD), json={"risk_multiplier": 10})
    assert (status, body["risk_multiplier"]) == (200, 10.0)


async def test_toggle_flips_enabled_and_is_audited(api: Api) -> None:
    status, body = await request(api, "PUT", path_of(EURUSD, "/toggle"), role="admin")
    assert (status, body) == (200, strategy_entry("ma_rsi", "EURUSD", "M15", enabled=False))
    status, body = await request(api, "PUT", path_of(EURUSD, "/toggle"))
    assert (status, body["enabled"]) == (200, True)
    rows = await audit_rows(api, "strategy_toggled")
    assert [(e.actor, e.source_ip, e.message, e.context) for e in reversed(rows)] == [
        ("tester", "127.0.0.1", "strategy disabled", {"strategy_id": EURUSD, "enabled": False}),
        ("tester", "127.0.0.1", "strategy enabled", {"strategy_id": EURUSD, "enabled": True}),
    ]


@pytest.mark.parametrize(("suffix", "body"), [("", {"enabled": False}), ("/toggle", None)])
async def test_a_viewer_may_not_change_a_strategy(api: Api, suffix: str, body: Any) -> None:
    status, answer = await request(api, "PUT", path_of(EURUSD, suffix), role="viewer", json=body)
    assert (status, answer) == (
        403,
        {
            "error": {
                "code": "forbidden",
                "message": "role 'viewer' may not use this endpoint",
                "details": {"allowed_roles": ["admin", "trader"]},
            }
        },
    )
    assert api.strategies.calls == []
    assert api.strategies.strategies[EURUSD]["enabled"] is True


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/strategies"),
        ("GET", f"/api/strategies/{EURUSD}"),
        ("PUT", f"/api/strategies/{EURUSD}"),
        ("PUT", f"/api/strategies/{EURUSD}/toggle"),
        ("GET", "/api/market/conditions"),
        ("GET", "/api/market/analysis/EURUSD"),
    ],
)
async def test_strategy_and_market_routes_need_a_token(api: Api, method: str, path: str) -> None:
    async with api.session.request(method, api.url(path), json={"enabled": True}) as resp:
        assert resp.status == 401
        assert (await resp.json())["error"]["code"] == "unauthenticated"
    assert api.strategies.calls == []


async def test_without_a_strategy_control_the_routes_are_not_served(make_api: MakeApi) -> None:
    api = await make_api(with_strategies=False)
    for path in ("/api/strategies", "/api/market/conditions"):
        status, body = await request(api, "GET", path)
        assert (status, body["error"]["code"]) == (404, "not_found")
