"""API errors and the middleware that turns every failure into the JSON error body.

Rules:

* Handlers signal a client error by raising :class:`ApiError` (status, code, message,
  details). :class:`~forexbot.errors.NotFoundError` becomes 404,
  :class:`~forexbot.errors.AuthError` 401, :class:`~forexbot.errors.RiskRejection` 422
  (``risk_rejected``, the risk code in ``details.reason``) and
  :class:`~forexbot.errors.TradeActionError` its own status and code,
  :class:`~forexbot.errors.TerminalError` 503 ``terminal_unavailable`` (nothing was sent: a
  lost ``order_send`` answer never surfaces as an error),
  :class:`~forexbot.errors.DatabaseError` 503 ``database_unavailable`` and
  :class:`~forexbot.errors.PersistenceError` 503 ``state_not_saved``,
  :class:`~forexbot.errors.StateConflictError` 409 ``conflict``, so lower layers need
  not know about HTTP.
* aiohttp's own ``HTTPException``\\ s (unknown route 404, 405 with its ``Allow`` header, 413 from
  ``client_max_size``, a bad WebSocket handshake...) get the same JSON body and keep their
  status and the headers that matter.
* Anything else is a bug: it is logged with its traceback (structlog, with the request id) and
  the client gets 500 with a generic message. A stack trace never reaches a client.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

from forexbot.api.responses import error_body, json_response
from forexbot.errors import (
    AuthError,
    DatabaseError,
    ForexbotError,
    NotFoundError,
    PersistenceError,
    RiskRejection,
    StateConflictError,
    TerminalError,
    TradeActionError,
)

_log = structlog.get_logger("forexbot.api")

# Stable error codes for statuses aiohttp raises by itself.
_CODES: Mapping[int, str] = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "payload_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    431: "headers_too_large",
    500: "internal_error",
    503: "service_unavailable",
}
# Headers of an aiohttp HTTPException worth keeping on the JSON response.
_KEPT_HEADERS = ("Allow", "WWW-Authenticate", "Retry-After")

WWW_AUTHENTICATE = "WWW-Authenticate"


class ApiError(ForexbotError):
    """A failure the client should be told about, with its HTTP status."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers: Mapping[str, str] = headers or {}


def unauthenticated(message: str, *, invalid_token: bool = False) -> ApiError:
    """401 with the ``WWW-Authenticate`` challenge RFC 6750 asks for."""
    challenge = 'Bearer realm="forexbot"'
    if invalid_token:
        challenge += ', error="invalid_token"'
    return ApiError(401, "unauthenticated", message, headers={WWW_AUTHENTICATE: challenge})


def _api_error_response(err: ApiError) -> web.Response:
    return json_response(
        error_body(err.code, err.message, err.details), status=err.status, headers=err.headers
    )


def _from_http_exception(exc: web.HTTPException) -> web.Response:
    status = exc.status
    reason = exc.reason
    text = exc.text or ""
    # aiohttp's default text is "<status>: <reason>"; a specific text is more useful.
    message = reason if not text or text == f"{status}: {reason}" else text.strip()
    details: Any = None
    if isinstance(exc, web.HTTPMethodNotAllowed):
        details = {"allowed_methods": sorted(exc.allowed_methods)}
    headers = {name: exc.headers[name] for name in _KEPT_HEADERS if name in exc.headers}
    code = _CODES.get(status, "client_error" if status < 500 else "server_error")
    return json_response(error_body(code, message, details), status=status, headers=headers)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every exception into the JSON error body (see the module docstring)."""
    try:
        return await handler(request)
    except ApiError as exc:
        return _api_error_response(exc)
    except AuthError as exc:
        return _api_error_response(unauthenticated(str(exc), invalid_token=True))
    except NotFoundError as exc:
        return _api_error_response(ApiError(404, "not_found", str(exc)))
    except RiskRejection as exc:
        if exc.code == "terminal_unavailable":  # not the order's fault: try again later
            return _api_error_response(ApiError(503, "terminal_unavailable", str(exc)))
        return _api_error_response(
            ApiError(422, "risk_rejected", str(exc), details={"reason": exc.code})
        )
    except TradeActionError as exc:
        return _api_error_response(ApiError(exc.status, exc.code, str(exc)))
    except DatabaseError as exc:
        _log.error("the database failed a request", path=request.path, error=str(exc))
        return _api_error_response(
            ApiError(503, "database_unavailable", "the database did not answer; try again")
        )
    except StateConflictError as exc:
        return _api_error_response(ApiError(409, "conflict", str(exc)))
    except PersistenceError as exc:
        _log.error("state could not be persisted for a request", path=request.path, error=str(exc))
        return _api_error_response(ApiError(503, "state_not_saved", str(exc)))
    except TerminalError as exc:
        _log.warning("terminal unavailable for a request", path=request.path, error=str(exc))
        return _api_error_response(
            ApiError(503, "terminal_unavailable", f"the trading terminal did not answer: {exc}")
        )
    except web.HTTPException as exc:
        if exc.status < 400:
            raise  # redirects and the like are not errors
        return _from_http_exception(exc)
    except asyncio.CancelledError:
        raise  # the client went away or the server is stopping
    except Exception:
        _log.exception("unhandled error in request", method=request.method, path=request.path)
        return json_response(error_body("internal_error", "internal server error"), status=500)
