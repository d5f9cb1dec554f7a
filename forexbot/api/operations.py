"""What a route promises: the OpenAPI facts declared on its handler.

A handler decorated with :func:`operation` carries an :class:`Operation`: a summary, a tag,
the pydantic models of its query string and body (the same models the handler validates
with, so the document cannot drift from the checks), the model of each success response and
the error statuses particular to it. :mod:`forexbot.api.openapi` reads these from the
application's router to build ``/api/openapi.json``.

Rules:

* The error statuses every route shares are not declared here; the document adds them from
  what the route is: 401/403 unless public, 400 with a query model or path parameters,
  400/413/415/422 with a body, 429 (rate limits) and 503 (stopping, or a part of the daemon
  unavailable) always.
* A response is a pydantic model (JSON), :data:`NO_BODY` (e.g. 204) or a :class:`Text` body of
  another media type (HTML reports, Prometheus text).
* Path parameters are strings unless ``path`` gives their type.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel

H = TypeVar("H", bound=Callable[..., Awaitable[web.StreamResponse]])

_OPERATION_ATTR = "__forexbot_operation__"


@dataclass(frozen=True, slots=True)
class Text:
    """A non-JSON response body: its media type and what it holds."""

    media_type: str
    description: str


class _NoBody:
    """The marker of a response without a body."""

    def __repr__(self) -> str:
        return "NO_BODY"


NO_BODY = _NoBody()

Response = type[BaseModel] | Text | _NoBody


@dataclass(frozen=True, slots=True)
class Operation:
    """The OpenAPI facts of one route handler."""

    summary: str
    tag: str
    description: str | None = None
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    body_optional: bool = False
    responses: Mapping[int, Response] = field(default_factory=dict)
    errors: Mapping[int, str] = field(default_factory=dict)
    path: Mapping[str, Any] = field(default_factory=dict)


def operation(
    summary: str,
    *,
    tag: str,
    responses: Mapping[int, Response],
    query: type[BaseModel] | None = None,
    body: type[BaseModel] | None = None,
    body_optional: bool = False,
    errors: Mapping[int, str] | None = None,
    path: Mapping[str, Any] | None = None,
    description: str | None = None,
) -> Callable[[H], H]:
    """Declare what the decorated handler accepts and answers.

    ``responses`` are the successes, and the rare error status whose body is not the error
    body (health's 503); ``errors`` maps the statuses particular to this route (404, 409...)
    that answer the error body to when they happen;
    ``path`` maps path parameters to their Python type (``int``) when not strings;
    ``body_optional`` says an empty body is accepted (it means the model's defaults). The
    handler's docstring is the description unless ``description`` is given.
    """
    if not responses:
        raise ValueError("an operation needs at least one response")

    def decorate(handler: H) -> H:
        spec = Operation(
            summary=summary,
            tag=tag,
            description=description if description is not None else inspect.getdoc(handler),
            query=query,
            body=body,
            body_optional=body_optional,
            responses=dict(responses),
            errors=dict(errors or {}),
            path=dict(path or {}),
        )
        # Bound methods read attributes from their function, so decorating a method works.
        setattr(handler, _OPERATION_ATTR, spec)
        return handler

    return decorate


def operation_of(handler: Callable[..., Any]) -> Operation | None:
    """The operation declared on ``handler``, if any."""
    spec = getattr(handler, _OPERATION_ATTR, None)
    return spec if isinstance(spec, Operation) else None
