"""The OpenAPI 3.1 document of the REST API, built from the routes the application serves.

Why from the router: the document lists exactly the routes registered (a route left out of a
deployment, e.g. without backtests, is left out of its document too), and each operation's
schemas are the pydantic models its handler validates with (:mod:`forexbot.api.operations`),
so the document cannot promise what the code does not check.

Rules:

* Every route under ``/api`` and ``/metrics`` is documented; WebSocket routes (``/ws/*``) are
  not, OpenAPI has no words for them (they are described in ``info.description``), nor are
  the phone app's files (``/app/*``, :mod:`forexbot.api.routes.app_shell`). A route
  without an :func:`~forexbot.api.operations.operation` is left out and reported by
  :func:`undocumented_routes`, which the test suite keeps empty.
* Request schemas are pydantic's *validation* schemas, response schemas its *serialisation*
  schemas (JSON Schema 2020-12, which OpenAPI 3.1 uses as is).
* Security: bearer JWT or API key (``Authorization: Bearer`` or ``X-API-Key``) unless the
  handler is public; the roles allowed are listed in ``x-roles`` and in the description.
  ``x-admin-networks: true`` marks every operation ``api.admin_networks`` guards (admin-only
  ones, and those with admin powers), and ``x-admin-powers`` lists what an operation does
  more for an admin (:func:`~forexbot.api.auth.admin_powers`), so clients and tests can
  enumerate them from the document.
* The shared error statuses (see :mod:`forexbot.api.operations`) all answer the one error body
  ``{"error": {"code", "message", "details"}}``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, TypeAdapter
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from forexbot.api.auth import policy_of
from forexbot.api.operations import NO_BODY, Operation, Text, operation_of
from forexbot.api.roles import Role

_REF = "#/components/schemas/{model}"
_PATH_PARAM = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
#: Served, but not the REST API: the WebSockets and the phone app's files.
_NOT_API = ("/ws/", "/app")
_Refs = dict[tuple[Any, JsonSchemaMode], dict[str, Any]]

WEBSOCKETS = (
    "WebSocket channels (not described by OpenAPI): `/ws/quotes`, `/ws/trades`, "
    "`/ws/signals`, `/ws/performance`, `/ws/system`. Authenticate with the bearer token "
    'header or `?token=`; messages are `{"channel": ..., "data": ...}`.'
)


class ErrorDetail(BaseModel):
    """The ``error`` object of every error body."""

    model_config = ConfigDict(frozen=True)

    code: str
    message: str
    details: Any = None


class ErrorBody(BaseModel):
    """Every error answer: a stable code, a message for people, structured details."""

    model_config = ConfigDict(frozen=True)

    error: ErrorDetail


_SHARED_ERRORS = {
    400: "Invalid query string, path parameter or malformed JSON body.",
    401: "No valid access token or API key.",
    403: "The token's role may not call this route, or the address is not allowed.",
    413: "The body is larger than the server accepts.",
    415: "The body is not application/json.",
    422: "The body does not fit the schema, or the request was refused by a rule.",
    429: "Rate limit exceeded; retry after the Retry-After header's seconds.",
    503: "The daemon is stopping, or the part of it the route needs is unavailable.",
}


def _routes(app: web.Application) -> Iterator[tuple[str, str, web.AbstractRoute]]:
    for route in app.router.routes():
        if route.method not in _METHODS:
            continue
        info = route.resource.get_info() if route.resource is not None else {}
        path = str(info.get("path") or info.get("formatter") or "")
        if not path or path.startswith(_NOT_API):
            continue
        yield path, route.method, route


def undocumented_routes(app: web.Application) -> list[str]:
    """``METHOD path`` of every served route that has no declared operation."""
    return [
        f"{method} {path}"
        for path, method, route in _routes(app)
        if operation_of(route.handler) is None
    ]


def build_document(app: web.Application, *, version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``app``'s documented routes."""
    ops = [
        (path, method, route.handler, spec)
        for path, method, route in _routes(app)
        if (spec := operation_of(route.handler)) is not None
    ]
    keys: list[tuple[type[BaseModel], JsonSchemaMode]] = [(ErrorBody, "serialization")]
    for _, _, _, spec in ops:
        keys.extend(_models(spec))
    schemas, defs = models_json_schema(list(dict.fromkeys(keys)), ref_template=_REF)
    refs: _Refs = {(model, mode): schema for (model, mode), schema in schemas.items()}
    components: dict[str, Any] = dict(defs.get("$defs", {}))

    paths: dict[str, dict[str, Any]] = {}
    for path, method, handler, spec in ops:
        paths.setdefault(path, {})[method.lower()] = _operation(
            path, method, handler, spec, refs, components
        )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "forexbot API",
            "version": version,
            "description": "Drive and watch the forexbot trading daemon.\n\n" + WEBSOCKETS,
        },
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(components.items())),
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An access token from /api/auth/login, or an API key.",
                },
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
        },
    }


def _models(spec: Operation) -> Iterator[tuple[type[BaseModel], JsonSchemaMode]]:
    if spec.query is not None:
        yield spec.query, "validation"
    if spec.body is not None:
        yield spec.body, "validation"
    for response in spec.responses.values():
        if isinstance(response, type):
            yield response, "serialization"


def _schema_of(
    model: type[BaseModel],
    mode: JsonSchemaMode,
    refs: _Refs,
    components: dict[str, Any],
) -> dict[str, Any]:
    """The model's schema itself (not a ``$ref``), for query parameters."""
    schema: dict[str, Any] = refs[(model, mode)]
    ref = schema.get("$ref")
    if isinstance(ref, str):
        resolved: dict[str, Any] = components[ref.rsplit("/", 1)[1]]
        return resolved
    return schema


def _operation(
    path: str,
    method: str,
    handler: Any,
    spec: Operation,
    refs: _Refs,
    components: dict[str, Any],
) -> dict[str, Any]:
    policy = policy_of(handler)
    roles = sorted(policy.roles) if policy.roles is not None else sorted(Role)
    description = spec.description or ""
    if not policy.public:
        description = (description + f"\n\nRoles: {', '.join(roles)}.").strip()
    if policy.session_only:
        description += " A login session only: an API key gets 403 `session_required`."
    if policy.behind_admin_networks:
        what = f"Admins may also {'; '.join(policy.admin_powers)}" if policy.admin_powers else ""
        description += f" {what or 'Only'} from `api.admin_networks`, when set (403 elsewhere)."
    parameters: list[dict[str, Any]] = []
    for name in _PATH_PARAM.findall(path):
        kind = spec.path.get(name, str)
        parameters.append(
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": TypeAdapter(kind).json_schema(ref_template=_REF),
            }
        )
    if spec.query is not None:
        query = _schema_of(spec.query, "validation", refs, components)
        required = set(query.get("required", ()))
        for name, schema in query.get("properties", {}).items():
            parameters.append(
                {
                    "name": name,
                    "in": "query",
                    "required": name in required,
                    "schema": schema,
                    **({"description": schema["description"]} if "description" in schema else {}),
                }
            )
    responses: dict[str, Any] = {}
    for status, response in sorted(spec.responses.items()):
        responses[str(status)] = _response(response, refs)
    errors: dict[int, str] = {429: _SHARED_ERRORS[429], 503: _SHARED_ERRORS[503]}
    if not policy.public:
        errors |= {401: _SHARED_ERRORS[401], 403: _SHARED_ERRORS[403]}
    if spec.query is not None or parameters:
        errors[400] = _SHARED_ERRORS[400]
    if parameters and any(p["in"] == "path" for p in parameters):
        errors.setdefault(404, "No such resource.")
    if spec.body is not None:
        errors |= {s: _SHARED_ERRORS[s] for s in (400, 413, 415, 422)}
    errors |= dict(spec.errors)
    for status, why in sorted(errors.items()):
        if status in spec.responses:
            continue  # the route answers its own body there (health's 503)
        responses[str(status)] = {
            "description": why,
            "content": {"application/json": {"schema": refs[(ErrorBody, "serialization")]}},
        }
    document: dict[str, Any] = {
        "operationId": _operation_id(method, path),
        "summary": spec.summary,
        "tags": [spec.tag],
        "responses": responses,
    }
    if description:
        document["description"] = description
    if parameters:
        document["parameters"] = parameters
    if spec.body is not None:
        document["requestBody"] = {
            "required": not spec.body_optional,
            "content": {"application/json": {"schema": refs[(spec.body, "validation")]}},
        }
    if policy.public:
        document["security"] = []
    else:
        document["security"] = (
            [{"bearer": []}] if policy.session_only else [{"bearer": []}, {"apiKey": []}]
        )
        document["x-roles"] = roles
        if policy.session_only:
            document["x-session-only"] = True
        if policy.behind_admin_networks:
            document["x-admin-networks"] = True
        if policy.admin_powers:
            document["x-admin-powers"] = list(policy.admin_powers)
    return document


def _response(response: Any, refs: _Refs) -> dict[str, Any]:
    if response is NO_BODY:
        return {"description": "No body."}
    if isinstance(response, Text):
        return {
            "description": response.description,
            "content": {response.media_type: {"schema": {"type": "string"}}},
        }
    model: type[BaseModel] = response
    return {
        "description": (model.__doc__ or model.__name__).strip().splitlines()[0],
        "content": {"application/json": {"schema": refs[(model, "serialization")]}},
    }


def _operation_id(method: str, path: str) -> str:
    words = re.sub(r"[{}]", "", path.removeprefix("/api/").removeprefix("/")).replace("-", "_")
    return method.lower() + "_" + "_".join(part for part in words.split("/") if part)
