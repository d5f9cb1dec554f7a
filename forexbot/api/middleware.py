"""Request logging, request ids and the security headers every response carries.

Rules:

* Every request gets an id: the client's ``X-Request-ID`` when it is a short token of safe
  characters, a fresh one otherwise. It is bound to structlog's context for the request (so
  every log line the handler writes carries it) and returned in ``X-Request-ID``.
* One log line per request: method, path (without the query string, which may hold a
  WebSocket token), status, duration_ms, request id and client address. Headers and bodies
  are never logged, so tokens and passwords cannot leak into the journal.
* Every response, errors and WebSocket handshakes included, carries
  ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY``, ``Referrer-Policy:
  no-referrer`` and a ``Content-Security-Policy`` forbidding everything (the API serves data;
  its two pages, the API reference and backtest reports, and the phone app's files set their
  own narrow policy, which is kept); ``/api`` responses also carry ``Cache-Control: no-store``,
  since they hold account data. Over TLS (the daemon given ``api.tls_*``) every response also
  carries ``Strict-Transport-Security`` (one year): a phone that has once reached the daemon
  over HTTPS never again sends a token over plain HTTP to that name. The ``Server`` header
  does not advertise library versions.
  This is done in ``on_response_prepare``, the last moment headers can change, so no code
  path of the application can skip it; what aiohttp answers without the application (a
  request its parser refuses) gets them from :mod:`forexbot.api.server`.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

from forexbot.text import escaped

_log = structlog.get_logger("forexbot.api")

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_KEY = web.RequestKey("forexbot_request_id", str)
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

_CSP = "Content-Security-Policy"
#: The policy of the pages the API serves (reference, backtest reports): their own inline
#: stylesheet and nothing else, no script.
PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Server": "forexbot",
}


def _request_id(request: web.Request) -> str:
    given = request.headers.get(REQUEST_ID_HEADER, "")
    return given if _SAFE_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


@web.middleware
async def logging_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Assign the request id and log the request when it ends (outermost middleware)."""
    request_id = _request_id(request)
    request[REQUEST_ID_KEY] = request_id
    started = time.perf_counter()
    status = 0
    with structlog.contextvars.bound_contextvars(request_id=request_id):
        try:
            response = await handler(request)
            status = response.status
            return response
        except asyncio.CancelledError:
            status = 499  # the client went away before the answer (nginx's convention)
            raise
        except Exception:
            status = 500  # only if an exception escaped the error middleware
            raise
        finally:
            _log.info(
                "http request",
                method=request.method,
                path=escaped(request.path),  # a refused path is logged too
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
                request_id=request_id,  # explicit: the access line must have it in any config
                remote=request.remote,
            )


#: Over TLS: browsers use HTTPS only for this host for a year.
HSTS = "max-age=31536000"


def set_security_headers(request: web.BaseRequest, response: web.StreamResponse) -> None:
    """Set the security headers and the request id on ``response``."""
    for name, value in _SECURITY_HEADERS.items():
        if name == _CSP and name in response.headers:
            continue  # a page keeps its own narrow policy (see docs_page, report, app_shell)
        response.headers[name] = value
    if request.path == "/api" or request.path.startswith("/api/"):
        response.headers["Cache-Control"] = "no-store"
    if request.secure:
        response.headers["Strict-Transport-Security"] = HSTS
    request_id = request.get(REQUEST_ID_KEY)
    if request_id is not None:
        response.headers[REQUEST_ID_HEADER] = request_id


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare`` hook: :func:`set_security_headers` on every response."""
    set_security_headers(request, response)
