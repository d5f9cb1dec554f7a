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
"""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError

from forexbot.api.errors import ApiError

M = TypeVar("M", bound=BaseModel)


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


async def read_json(request: web.Request, model: type[M], *, json_mode: bool = False) -> M:
    """The request body validated as ``model``.

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
    try:
        return model.model_validate_json(raw) if json_mode else model.model_validate(data)
    except ValidationError as exc:
        problems = validation_problems(exc)
        fields = ", ".join(str(p["field"]) for p in problems)
        raise ApiError(
            422, "validation_error", f"invalid request body ({fields})", details=problems
        ) from None


def parse_query(request: web.Request, model: type[M]) -> M:
    """The query string validated as ``model`` (values arrive as strings)."""
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
