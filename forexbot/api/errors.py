"""API errors and the middleware that turns every failure into the JSON error body.

Rules:

* Handlers signal a client error by raising :class:`ApiError` (status, code, message,
  details). The kinds of failure of :mod:`forexbot.errors` get their status here and only
  here, so lower layers need not know about HTTP (the body's message is the exception's):

  ======================== ====== ===========================================================
  exception                status code
  ======================== ====== ===========================================================
  ``AuthError``            401    ``unauthenticated`` (with the ``WWW-Authenticate`` challenge)
  ``NotFoundError``        404    ``not_found``
  ``StateConflictError``   409    its own code (``conflict`` by default; ``not_open``...)
  ``InvalidInputError``    422    its own code (``validation_error`` by default;
                                  ``invalid_stops``...)
  ``RiskRejection``        422    ``risk_rejected``, the risk code in ``details.reason``;
                           503    ``terminal_unavailable`` when that is the risk code
  ``OrderRefusedError``    502    its own code (``close_refused``, ``modify_refused``)
  ``ShuttingDownError``    503    ``shutting_down``
  ``TerminalError``        503    ``terminal_unavailable`` (nothing was sent: a lost
                                  ``order_send`` answer never surfaces as this error)
  ``DatabaseError``        503    ``database_unavailable``
  ``PersistenceError``     503    ``state_not_saved``
  ``OutcomeUnknownError``  504    ``outcome_unknown``
  ======================== ====== ===========================================================

  Any other :class:`~forexbot.errors.ForexbotError` (a configuration error, a sealed field
  that does not open) is the server's fault: 500, like a bug.
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
from forexbot.domain.rejection import RejectCode
from forexbot.errors import (
    AuthError,
    DatabaseError,
    ForexbotError,
    InvalidInputError,
    NotFoundError,
    OrderRefusedError,
    OutcomeUnknownError,
    PersistenceError,
    RiskRejection,
    ShuttingDownError,
    StateConflictError,
    TerminalError,
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
        if exc.code == RejectCode.TERMINAL_UNAVAILABLE:  # not the order's fault: try later
            return _api_error_response(ApiError(503, "terminal_unavailable", str(exc)))
        return _api_error_response(
            ApiError(422, "risk_rejected", str(exc), details={"reason": exc.code})
        )
    except InvalidInputError as exc:
        return _api_error_response(ApiError(422, exc.code, str(exc)))
    except StateConflictError as exc:
        return _api_error_response(ApiError(409, exc.code, str(exc)))
    except OrderRefusedError as exc:
        return _api_error_response(ApiError(502, exc.code, str(exc)))
    except OutcomeUnknownError as exc:
        return _api_error_response(ApiError(504, "outcome_unknown", str(exc)))
    except ShuttingDownError as exc:
        return _api_error_response(ApiError(503, "shutting_down", str(exc)))
    except DatabaseError as exc:
        _log.error("the database failed a request", path=request.path, error=str(exc))
        return _api_error_response(
            ApiError(503, "database_unavailable", "the database did not answer; try again")
        )
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
