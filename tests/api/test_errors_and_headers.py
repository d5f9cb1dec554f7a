"""The JSON error body for every failure, security headers, request ids, CORS, request logs."""

from __future__ import annotations

import pytest
import structlog
from aiohttp import web

from ._support import Api, MakeApi

pytestmark = pytest.mark.db


async def crash(request: web.Request) -> web.Response:
    raise RuntimeError("database password is hunter2")


async def test_unknown_route_is_404_with_the_json_error_body(api: Api) -> None:
    async with api.session.get(api.url("/api/nope")) as resp:
        assert resp.status == 404
        assert resp.content_type == "application/json"
        assert await resp.json() == {
            "error": {"code": "not_found", "message": "Not Found", "details": None}
        }


async def test_wrong_method_is_405_with_allow_header_and_json_body(api: Api) -> None:
    async with api.session.delete(api.url("/api/health")) as resp:
        assert resp.status == 405
        assert resp.headers["Allow"] == "GET,HEAD"
        assert await resp.json() == {
            "error": {
                "code": "method_not_allowed",
                "message": "Method Not Allowed",
                "details": {"allowed_methods": ["GET", "HEAD"]},
            }
        }


async def test_malformed_json_is_400(api: Api) -> None:
    headers = {"Content-Type": "application/json"}
    async with api.session.post(
        api.url("/api/auth/login"), data=b'{"username": ', headers=headers
    ) as resp:
        assert resp.status == 400
        body = await resp.json()
        assert body["error"]["code"] == "malformed_json"
        assert body["error"]["message"].startswith("the body is not valid JSON")


async def test_body_larger_than_max_body_bytes_is_413(api: Api) -> None:
    payload = {"username": "alice", "password": "p" * api.settings.max_body_bytes}
    async with api.session.post(api.url("/api/auth/login"), json=payload) as resp:
        assert resp.status == 413
        body = await resp.json()
        assert body["error"]["code"] == "payload_too_large"
        assert "Maximum request body size 4096 exceeded" in body["error"]["message"]


async def test_body_that_is_not_json_is_415(api: Api) -> None:
    async with api.session.post(api.url("/api/auth/login"), data="username=alice") as resp:
        assert resp.status == 415
        assert (await resp.json())["error"]["code"] == "unsupported_media_type"


async def test_validation_error_is_422_naming_the_fields_without_echoing_input(
    api: Api,
) -> None:
    payload = {"username": "alice", "password": "s3cret-value", "remember": True}
    async with api.session.post(api.url("/api/auth/login"), json=payload) as resp:
        assert resp.status == 422
        text = await resp.text()
        assert "s3cret-value" not in text
        assert await resp.json() == {
            "error": {
                "code": "validation_error",
                "message": "invalid request body (remember)",
                "details": [
                    {
                        "field": "remember",
                        "message": "Extra inputs are not permitted",
                        "type": "extra_forbidden",
                    }
                ],
            }
        }


async def test_unhandled_exception_is_500_with_a_generic_message_and_a_log_line(
    make_api: MakeApi,
) -> None:
    api = await make_api(routes=[web.get("/api/test/crash", crash)])
    with structlog.testing.capture_logs() as logs:
        async with api.session.get(api.url("/api/test/crash"), headers=api.auth()) as resp:
            assert resp.status == 500
            text = await resp.text()
    assert "hunter2" not in text
    assert "Traceback" not in text
    assert await resp.json() == {
        "error": {"code": "internal_error", "message": "internal server error", "details": None}
    }
    [entry] = [e for e in logs if e["event"] == "unhandled error in request"]
    assert entry["path"] == "/api/test/crash"
    assert entry["exc_info"] is True
    assert entry["log_level"] == "error"


@pytest.mark.parametrize("path", ["/api/health", "/api/nope", "/api/positions"])
async def test_every_response_carries_the_security_headers(api: Api, path: str) -> None:
    async with api.session.get(api.url(path)) as resp:
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert resp.headers["Referrer-Policy"] == "no-referrer"
        assert resp.headers["Cache-Control"] == "no-store"
        assert resp.headers["Server"] == "forexbot"
        assert "Strict-Transport-Security" not in resp.headers  # only over TLS


async def test_a_safe_request_id_is_echoed_and_an_unsafe_one_replaced(api: Api) -> None:
    async with api.session.get(api.url("/api/health"), headers={"X-Request-ID": "abc-123"}) as resp:
        assert resp.headers["X-Request-ID"] == "abc-123"
    async with api.session.get(
        api.url("/api/health"), headers={"X-Request-ID": "bad id\twith spaces"}
    ) as resp:
        generated = resp.headers["X-Request-ID"]
        assert len(generated) == 32
        assert all(c in "0123456789abcdef" for c in generated)


async def test_each_request_is_logged_once_with_its_fields_and_without_secrets(
    api: Api,
) -> None:
    token = api.token()
    with structlog.testing.capture_logs() as logs:
        async with api.session.get(
            api.url(f"/api/positions?token={token}"),
            headers={"Authorization": f"Bearer {token}", "X-Request-ID": "req-1"},
        ) as resp:
            assert resp.status == 200
    [entry] = [e for e in logs if e["event"] == "http request"]
    assert entry["method"] == "GET"
    assert entry["path"] == "/api/positions"
    assert entry["status"] == 200
    assert entry["request_id"] == "req-1"
    assert isinstance(entry["duration_ms"], float)
    assert token not in repr(logs)


async def test_cors_preflight_from_an_allowed_origin_is_204_with_the_allowed_headers(
    make_api: MakeApi,
) -> None:
    api = await make_api(cors_allow_origins=("https://dash.example.com",))
    headers = {
        "Origin": "https://dash.example.com",
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization",
    }
    async with api.session.options(api.url("/api/trades"), headers=headers) as resp:
        assert resp.status == 204
        assert resp.headers["Access-Control-Allow-Origin"] == "https://dash.example.com"
        assert "Authorization" in resp.headers["Access-Control-Allow-Headers"]
        assert "X-API-Key" in resp.headers["Access-Control-Allow-Headers"]
        assert "GET" in resp.headers["Access-Control-Allow-Methods"]


async def test_cors_preflight_from_another_origin_is_403(make_api: MakeApi) -> None:
    api = await make_api(cors_allow_origins=("https://dash.example.com",))
    headers = {"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    async with api.session.options(api.url("/api/trades"), headers=headers) as resp:
        assert resp.status == 403
        assert (await resp.json())["error"]["code"] == "cors_origin_not_allowed"
        assert "Access-Control-Allow-Origin" not in resp.headers


async def test_cors_headers_only_for_allowed_origins(make_api: MakeApi) -> None:
    api = await make_api(cors_allow_origins=("https://dash.example.com",))
    good = {"Origin": "https://dash.example.com"}
    async with api.session.get(api.url("/api/health"), headers=good) as resp:
        assert resp.headers["Access-Control-Allow-Origin"] == "https://dash.example.com"
        assert resp.headers["Vary"] == "Origin"
    bad = {"Origin": "https://evil.example"}
    async with api.session.get(api.url("/api/health"), headers=bad) as resp:
        assert "Access-Control-Allow-Origin" not in resp.headers
