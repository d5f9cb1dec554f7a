"""What aiohttp would answer by itself, on a raw socket: no version advertised, the JSON body.

A request aiohttp's HTTP parser refuses never reaches the application (no middleware, no
``on_response_prepare``); :mod:`forexbot.api.server` answers it as every other error. These
tests speak bytes to a real server, since no HTTP client sends such requests.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import structlog
from aiohttp import web

from ._support import Api, MakeApi, RawAnswer, self_signed, send_raw

pytestmark = pytest.mark.db

SECURITY_HEADERS = {
    "server": "forexbot",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
}


def assert_no_version_advertised(answer: RawAnswer) -> None:
    for name, value in answer.headers.items():
        assert "aiohttp" not in value.lower(), (name, value)
        assert "python" not in value.lower(), (name, value)


BAD_REQUESTS = {
    "bare CR in a header value": b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Note: a\rb\r\n\r\n",
    "invalid method": b"G(T /api/health HTTP/1.1\r\nHost: x\r\n\r\n",
    "TLS on the HTTP port": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40,
    "header line too long": b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Long: "
    + b"a" * 9000
    + b"\r\n\r\n",
    "request line too long": b"GET /api/" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "too many headers": b"GET /api/health HTTP/1.1\r\nHost: x\r\n"
    + b"".join(b"X-H%d: 1\r\n" % i for i in range(200))
    + b"\r\n",
    "no HTTP at all": b"hello\r\n\r\n",
}


@pytest.mark.parametrize("data", BAD_REQUESTS.values(), ids=BAD_REQUESTS.keys())
async def test_a_request_the_parser_refuses_is_400_without_versions(api: Api, data: bytes) -> None:
    answer = await send_raw(api, data)
    assert answer.status_line == "HTTP/1.0 400 Bad Request"
    assert_no_version_advertised(answer)
    assert {name: answer.headers.get(name) for name in SECURITY_HEADERS} == SECURITY_HEADERS


async def test_a_request_the_parser_refuses_gets_the_json_error_body(api: Api) -> None:
    answer = await send_raw(api, BAD_REQUESTS["bare CR in a header value"])
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == {
        "error": {
            "code": "bad_request",
            "message": "the request is not valid HTTP",
            "details": None,
        }
    }


async def test_over_https_too(make_api: MakeApi, tmp_path: Path) -> None:
    cert, key = map(str, self_signed(tmp_path))
    api = await make_api(tls_certificate=cert, tls_key=key)
    trust = ssl.create_default_context(cafile=cert)
    answer = await send_raw(api, BAD_REQUESTS["bare CR in a header value"], tls=trust)
    assert answer.status_line == "HTTP/1.0 400 Bad Request"
    assert_no_version_advertised(answer)
    assert answer.json()["error"]["code"] == "bad_request"


async def test_the_parsers_message_is_logged_not_echoed(api: Api) -> None:
    with structlog.testing.capture_logs() as logs:
        answer = await send_raw(
            api, b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Sec: ret\rx\r\n\r\n"
        )
    assert b"ret" not in answer.body
    [entry] = [e for e in logs if e["event"] == "http request refused by the parser"]
    assert (entry["status"], entry["remote"], entry["log_level"]) == (400, "127.0.0.1", "info")
    assert entry["reason"]


async def test_a_valid_request_after_a_refused_one_is_served(api: Api) -> None:
    await send_raw(api, BAD_REQUESTS["invalid method"])
    answer = await send_raw(
        api, b"GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert answer.status_line in ("HTTP/1.1 200 OK", "HTTP/1.1 503 Service Unavailable")
    assert answer.headers["server"] == "forexbot"


async def failing_stream(request: web.Request) -> web.StreamResponse:
    raise ValueError("not via the middlewares")


SIBLINGS = {
    "unknown route (404)": (b"GET /api/nope HTTP/1.1\r\nHost: x\r\n", 404, "not_found"),
    "wrong method (405)": (b"PATCH /api/health HTTP/1.1\r\nHost: x\r\n", 405, "method_not_allowed"),
    "body over client_max_size (413)": (
        b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 5000\r\n",
        413,
        "payload_too_large",
    ),
    "WebSocket channel without a token (401)": (
        b"GET /ws/quotes HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n",
        401,
        "unauthenticated",
    ),
    "a bad WebSocket handshake (400)": (
        b"GET /ws/quotes HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Version: 7\r\nSec-WebSocket-Key: nope\r\n",
        400,
        "websocket_required",
    ),
}


@pytest.mark.parametrize(("head", "status", "code"), SIBLINGS.values(), ids=SIBLINGS.keys())
async def test_what_aiohttp_raises_inside_the_application_carries_no_version_either(
    api: Api, head: bytes, status: int, code: str
) -> None:
    token = api.token("viewer").encode()
    if b"Sec-WebSocket-Key" in head:
        head += b"Authorization: Bearer " + token + b"\r\n"
    body = b"x" * 5000 if b"Content-Length: 5000" in head else b""
    answer = await send_raw(api, head + b"Connection: close\r\n\r\n" + body)
    assert answer.status_line.split(" ", 2)[1] == str(status)
    assert_no_version_advertised(answer)
    assert answer.headers["server"] == "forexbot"
    assert answer.json()["error"]["code"] == code


async def returns_nothing(request: web.Request) -> web.StreamResponse:
    return None  # type: ignore[return-value]  # the bug under test: escapes every middleware


async def test_an_error_escaping_the_middlewares_is_a_json_500_without_versions(
    make_api: MakeApi,
) -> None:
    api = await make_api([web.get("/api/test/nothing", returns_nothing)])
    request = b"GET /api/test/nothing HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n"
    with structlog.testing.capture_logs() as logs:
        answer = await send_raw(api, request % api.token().encode())
    assert answer.status_line == "HTTP/1.1 500 Internal Server Error"
    assert_no_version_advertised(answer)
    assert answer.headers["server"] == "forexbot"
    assert answer.json()["error"] == {
        "code": "internal_error",
        "message": "internal server error",
        "details": None,
    }
    [entry] = [e for e in logs if e["event"] == "http request failed outside the application"]
    assert entry["status"] == 500


async def test_an_unknown_expectation_is_417_in_the_api_error_body_without_echo(
    api: Api,
) -> None:
    answer = await send_raw(
        api,
        b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nExpect: bogus<script>\r\n"
        b"Content-Length: 0\r\nConnection: close\r\n\r\n",
    )
    assert answer.status_line == "HTTP/1.1 417 Expectation Failed"
    assert answer.json() == {
        "error": {
            "code": "expectation_failed",
            "message": "only 'Expect: 100-continue' is supported",
            "details": None,
        }
    }
    assert_no_version_advertised(answer)
    assert {name: answer.headers.get(name) for name in SECURITY_HEADERS} == SECURITY_HEADERS


async def test_expect_100_continue_still_gets_its_interim_answer(api: Api) -> None:
    answer = await send_raw(
        api,
        b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
        b"Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n"
        b"\r\n{}",
    )
    assert answer.status_line == "HTTP/1.1 100 Continue"
    assert answer.body.startswith(b"HTTP/1.1 422 Unprocessable Entity\r\n")  # then the answer
