"""JSON responses and the one error body shape.

Every response body is produced by orjson (fast, and strict: NaN is refused rather than
emitted as invalid JSON). Datetimes are written as ISO-8601 UTC with a ``Z`` suffix (naive ones
are taken as UTC: the whole daemon works in UTC). ``Decimal`` (money columns) is written as a
string, so no precision is lost on the way to the client.

Every error, whatever raised it, has the body
``{"error": {"code": "...", "message": "...", "details": ...}}``: ``code`` is a stable
machine-readable word, ``message`` is for people, ``details`` is ``null`` or structured data
(e.g. which field failed validation). See :mod:`forexbot.api.errors`.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import orjson
from aiohttp import web

_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC


def _default(value: object) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps(data: Any) -> bytes:
    """``data`` as compact UTF-8 JSON."""
    return orjson.dumps(data, default=_default, option=_OPTIONS)


def dumps_str(data: Any) -> str:
    """``data`` as compact JSON text (what WebSocket text frames carry)."""
    return dumps(data).decode("utf-8")


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    """The error body every failing request gets."""
    return {"error": {"code": code, "message": message, "details": details}}


def json_response(
    data: Any, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """A JSON response of ``data``."""
    return web.Response(
        body=dumps(data), status=status, content_type="application/json", headers=headers
    )
