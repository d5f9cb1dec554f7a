"""Reading request input into pydantic models, with the API's error rules.

Rules:

* Bodies must be ``application/json`` (else 415) and valid JSON (else 400 ``malformed_json``);
  their size is capped by the application's ``client_max_size`` (413).
* A body that is valid JSON but does not fit the model is 422 ``validation_error``. Models
  forbid unknown fields, so a typo in a field name is reported instead of silently ignored.
* Query parameters are 400 ``invalid_parameter`` when unknown, repeated, or invalid, and the
  message names the parameter.
* Error details list ``{"field", "message", "type"}`` per problem but never the input value:
  it may be a password.

**Client text** follows one rule (:mod:`forexbot.text`): no control characters (U+0000–U+001F,
U+007F–U+009F: NUL, tab and line breaks included) and no surrogates, anywhere. It is applied
here, once for every route, before any handler or model sees the text:

* every string of a JSON body, at any depth, and every key of its objects, by
  :func:`read_json` — 422 ``validation_error`` naming the field (``type`` ``invalid_text``);
  JSON escapes of lone surrogates (``"\\ud800"``) are already malformed JSON (400);
* the path, its parameters (``match_info``) and every query parameter's name and value, by
  :func:`text_middleware` — 400 ``invalid_parameter`` naming the parameter. Percent-encoded
  bytes that are not UTF-8 never become surrogates: aiohttp keeps them encoded in the path
  and replaces them with U+FFFD in the query;
* the credentials the API reads from headers (``Authorization``, ``X-API-Key``) on the routes
  that read them, by :func:`text_middleware` too — 401, as for any credential that cannot be
  valid (aiohttp turns header bytes that are not UTF-8 into surrogates);
* WebSocket messages, by the stream routes (:mod:`forexbot.api.routes.streams`).
"""

from __future__ import annotations

from itertools import islice
from typing import Any, TypeVar

import orjson
from aiohttp import hdrs, web
from aiohttp.typedefs import Handler
from pydantic import BaseModel, ValidationError

from forexbot.api.auth import policy_of
from forexbot.api.errors import ApiError, unauthenticated
from forexbot.text import PROBLEM, Location, is_client_text, text_problems

M = TypeVar("M", bound=BaseModel)

#: At most this many text problems are listed in an answer (a body may hold thousands).
MAX_TEXT_PROBLEMS = 20
#: The type of a text-rule problem in error details.
INVALID_TEXT = "invalid_text"
#: Headers the API reads credentials from.
_CREDENTIAL_HEADERS = (hdrs.AUTHORIZATION, "X-API-Key")


def validation_problems(exc: ValidationError) -> list[dict[str, Any]]:
    """``{"field", "message", "type"}`` per problem, without the offending input."""
    return [
        {
            "field": ".".join(str(part) for part in error["loc"]) or None,
            "message": error["msg"],
            "type": error["type"],
        }
        for error in exc.errors(include_url=False, include_input=False, include_context=False)
    ]


def _field(at: Location) -> str | None:
    return ".".join(str(part) for part in at) or None


def text_rule_problems(data: Any) -> list[dict[str, Any]]:
    """``{"field", "message", "type": "invalid_text"}`` for the first strings (and keys) of
    the decoded JSON ``data`` breaking the text rule; empty when it keeps it."""
    return [
        {"field": _field(at), "message": problem, "type": INVALID_TEXT}
        for at, problem in islice(text_problems(data), MAX_TEXT_PROBLEMS)
    ]


async def read_json(request: web.Request, model: type[M], *, json_mode: bool = False) -> M:
    """The request body validated as ``model``, every string in it under the text rule.

    ``json_mode`` validates the JSON text itself (pydantic's JSON mode), for strict models
    with tuple fields: a JSON array is then a tuple, while ``true`` is still not a number."""
    if request.content_type != "application/json":
        raise ApiError(
            415,
            "unsupported_media_type",
            f"the body must be application/json, got {request.content_type or 'nothing'}",
        )
    raw = await request.read()  # raises 413 past client_max_size
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "malformed_json", f"the body is not valid JSON: {exc}") from None
    problems = text_rule_problems(data)
    if not problems:
        try:
            return model.model_validate_json(raw) if json_mode else model.model_validate(data)
        except ValidationError as exc:
            problems = validation_problems(exc)
    fields = ", ".join(str(p["field"]) for p in problems)
    raise ApiError(422, "validation_error", f"invalid request body ({fields})", details=problems)


def parse_query(request: web.Request, model: type[M]) -> M:
    """The query string validated as ``model`` (values arrive as strings; their text was
    checked by :func:`text_middleware`)."""
    query = request.query
    repeated = sorted({key for key in query if len(query.getall(key)) > 1})
    if repeated:
        raise ApiError(
            400,
            "invalid_parameter",
            f"query parameter {repeated[0]!r} is given more than once",
            details=[{"field": key, "message": "given more than once"} for key in repeated],
        )
    try:
        return model.model_validate(dict(query))
    except ValidationError as exc:
        problems = validation_problems(exc)
        first = problems[0]
        where = "query" if first["field"] is None else f"query parameter {first['field']!r}"
        raise ApiError(
            400, "invalid_parameter", f"invalid {where}: {first['message']}", details=problems
        ) from None


def _invalid_parameter(where: str, field: str | None) -> ApiError:
    return ApiError(
        400,
        "invalid_parameter",
        f"{where} {PROBLEM}",
        details=[{"field": field, "message": PROBLEM, "type": INVALID_TEXT}],
    )


def check_url_text(request: web.Request) -> None:
    """Raise 400 ``invalid_parameter`` when the path, a path parameter or a query parameter
    (name or value) breaks the text rule; the message names the parameter, not the text."""
    for name, value in request.match_info.items():
        if not is_client_text(value):
            raise _invalid_parameter(f"path parameter {name!r}", name)
    if not is_client_text(request.path):
        raise _invalid_parameter("the path", None)
    for key, value in request.query.items():
        if not is_client_text(key):
            raise _invalid_parameter("query parameter names", None)
        if not is_client_text(value):
            raise _invalid_parameter(f"query parameter {key!r}", key)


@web.middleware
async def text_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The text rule for what every route receives in its URL and credential headers (see the
    module docstring), so a new route is covered without doing anything."""
    check_url_text(request)
    match = request.match_info
    if match.http_exception is not None or policy_of(match.handler).public:
        return await handler(request)  # no credentials read
    for header in _CREDENTIAL_HEADERS:
        value = request.headers.get(header)
        if value is not None and not is_client_text(value):
            raise unauthenticated(f"the {header} header {PROBLEM}", invalid_token=True)
    return await handler(request)
