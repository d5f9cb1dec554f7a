"""/api/openapi.json and /api/docs: the API describing itself, from the handlers' models."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from forexbot.api.app import create_app
from forexbot.api.docs_page import render_docs
from forexbot.api.openapi import build_document, undocumented_routes
from forexbot.api.ports import ApiServices
from forexbot.api.routes.trade_actions import ManualTradeBody
from forexbot.api.routes.trading import TradeListQuery
from forexbot.api.tokens import JwtKeys
from forexbot.config.models import ApiSettings

from ._support import Api

pytestmark = pytest.mark.db


def _full_app() -> Any:
    """The application of a daemon with every optional part (stand-ins: nothing is called)."""
    stand_ins = {
        f.name: object()
        for f in dataclasses.fields(ApiServices)
        if f.name not in {"wall_clock", "login_failures"}
    }
    return create_app(ApiServices(**stand_ins), ApiSettings(), JwtKeys("x" * 40))


async def document(api: Api) -> dict[str, Any]:
    async with api.session.get(api.url("/api/openapi.json")) as resp:
        assert resp.status == 200
        body: dict[str, Any] = await resp.json()
        return body


def test_every_rest_route_of_a_full_daemon_is_documented() -> None:
    assert undocumented_routes(_full_app()) == []


def test_websocket_routes_are_left_out_of_the_document() -> None:
    paths = build_document(_full_app(), version="t")["paths"]
    assert not [path for path in paths if path.startswith("/ws/")]
    assert "/api/market/quote/{symbol}" in paths


async def test_the_document_is_public_and_openapi_3_1(api: Api) -> None:
    doc = await document(api)
    assert doc["openapi"] == "3.1.0"
    assert doc["info"]["title"] == "forexbot API"
    assert "/api/trades" in doc["paths"]


async def test_the_document_lists_only_the_routes_this_daemon_serves(api: Api) -> None:
    doc = await document(api)  # the test server has no backtests, no backups
    assert "/api/backtests" not in doc["paths"]
    assert "/api/system/backup" not in doc["paths"]


def test_a_request_body_is_the_schema_the_handler_validates_with() -> None:
    doc = build_document(_full_app(), version="t")
    post = doc["paths"]["/api/trades"]["post"]
    ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
    expected = ManualTradeBody.model_json_schema()
    assert schema["properties"] == expected["properties"]
    assert schema["required"] == ["symbol", "side", "sl"]
    assert schema["additionalProperties"] is False


async def test_query_parameters_come_from_the_query_model(api: Api) -> None:
    doc = await document(api)
    params = {p["name"]: p for p in doc["paths"]["/api/trades"]["get"]["parameters"]}
    assert set(params) == set(TradeListQuery.model_json_schema()["properties"])
    assert {"from", "to", "limit", "status"} <= set(params)
    assert params["limit"]["schema"]["maximum"] == 500
    assert all(p["in"] == "query" and not p["required"] for p in params.values())


def test_roles_and_security_are_declared_per_operation() -> None:
    doc = build_document(_full_app(), version="t")
    limits = doc["paths"]["/api/risk/limits"]["put"]
    assert limits["x-roles"] == ["admin"]
    assert limits["security"] == [{"bearer": []}, {"apiKey": []}]
    assert doc["paths"]["/api/trades"]["post"]["x-roles"] == ["admin", "trader"]
    assert doc["paths"]["/api/health"]["get"]["security"] == []
    assert "x-roles" not in doc["paths"]["/api/health"]["get"]


def test_shared_error_statuses_answer_the_error_body() -> None:
    responses = build_document(_full_app(), version="t")["paths"]["/api/trades"]["post"][
        "responses"
    ]
    assert {"201", "202", "400", "401", "403", "409", "413", "415", "422", "429", "503"} <= set(
        responses
    )
    error = responses["422"]["content"]["application/json"]["schema"]
    assert error == {"$ref": "#/components/schemas/ErrorBody"}


async def test_a_path_id_is_a_positive_63_bit_integer(api: Api) -> None:
    doc = await document(api)
    (param,) = doc["paths"]["/api/trades/{trade_id}"]["get"]["parameters"]
    assert param["schema"] == {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}


async def test_health_documents_its_own_503_body(api: Api) -> None:
    responses = (await document(api))["paths"]["/api/health"]["get"]["responses"]
    assert responses["503"]["content"]["application/json"]["schema"]["$ref"].endswith("/Health")


async def test_docs_page_is_public_html_without_script_under_a_narrow_policy(api: Api) -> None:
    async with api.session.get(api.url("/api/docs")) as resp:
        assert resp.status == 200
        assert resp.content_type == "text/html"
        csp = resp.headers["Content-Security-Policy"]
        page = await resp.text()
    assert csp == "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
    assert "<script" not in page
    assert "http://" not in page  # nothing is fetched from elsewhere
    assert "https://" not in page
    assert "/api/trades/{trade_id}" in page
    assert "List trades, newest first" in page
    assert "id='schema-Trade'" in page


def test_docs_page_shows_each_operations_roles_parameters_and_responses() -> None:
    page = render_docs(build_document(_full_app(), version="t"))
    start = page.index("id='post_trades'")
    operation = page[start : page.index("</div>", start)]
    assert "Open a manual trade" in operation
    assert "admin, trader" in operation
    assert "<a href='#schema-ManualTradeBody'>ManualTradeBody</a>" in operation
    assert "<td>409</td>" in operation


async def test_other_responses_keep_the_forbid_everything_policy(api: Api) -> None:
    async with api.session.get(api.url("/api/health")) as resp:
        assert resp.headers["Content-Security-Policy"] == (
            "default-src 'none'; frame-ancestors 'none'"
        )


def test_risk_limit_changes_document_every_limit_with_its_range() -> None:
    doc = build_document(_full_app(), version="t")
    body = doc["paths"]["/api/risk/limits"]["put"]["requestBody"]["content"]["application/json"]
    schema = doc["components"]["schemas"][body["schema"]["$ref"].rsplit("/", 1)[1]]
    assert schema["additionalProperties"] is False
    assert "required" not in schema
    assert {
        "anyOf": [{"type": "integer", "minimum": 1, "maximum": 500}, {"type": "null"}]
    }.items() <= (schema["properties"]["max_open_positions"].items())


def test_routes_that_refuse_api_keys_say_so() -> None:
    paths = build_document(_full_app(), version="t")["paths"]
    for method, path in [
        ("post", "/api/users"),
        ("put", "/api/users/{user_id}"),
        ("post", "/api/users/{user_id}/mfa"),
        ("get", "/api/system/settings"),
        ("put", "/api/system/settings"),
        ("post", "/api/system/restart"),
        ("post", "/api/auth/reset-password"),
        ("post", "/api/auth/api-keys"),
    ]:
        op = paths[path][method]
        assert op["x-session-only"] is True, path
        assert op["security"] == [{"bearer": []}], path
    assert "x-session-only" not in paths["/api/users"]["get"]
