"""Cross-origin access for browser dashboards (CORS).

Rules:

* Off unless ``ApiSettings.cors_allow_origins`` lists origins; matching is exact (scheme, host
  and port), never a wildcard. Credentials (cookies) are not involved: the API authenticates
  with bearer tokens, which is why allowing an origin is safe to decide per origin.
* A preflight (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``) is answered
  here, before authentication: 204 with the allowed methods and headers for a listed origin,
  403 in the JSON error shape for any other.
* Actual responses to a listed origin carry ``Access-Control-Allow-Origin`` and
  ``Vary: Origin``, and expose ``X-Request-ID``.
"""

from __future__ import annotations

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler, Middleware

from forexbot.api.errors import ApiError

_ALLOWED_METHODS = "GET, POST, PUT, PATCH, DELETE"
_ALLOWED_HEADERS = "Authorization, Content-Type, X-API-Key, X-Request-ID"
_PREFLIGHT_MAX_AGE = "600"


class Cors:
    """The CORS rules for one set of allowed origins."""

    def __init__(self, allow_origins: tuple[str, ...]) -> None:
        self._origins = frozenset(allow_origins)

    def middleware(self) -> Middleware:
        """Answers preflight requests; must come before authentication."""

        @web.middleware
        async def preflight(request: web.Request, handler: Handler) -> web.StreamResponse:
            origin = request.headers.get(hdrs.ORIGIN)
            if (
                request.method != hdrs.METH_OPTIONS
                or origin is None
                or hdrs.ACCESS_CONTROL_REQUEST_METHOD not in request.headers
            ):
                return await handler(request)
            if origin not in self._origins:
                raise ApiError(403, "cors_origin_not_allowed", f"origin {origin!r} not allowed")
            return web.Response(
                status=204,
                headers={
                    hdrs.ACCESS_CONTROL_ALLOW_METHODS: _ALLOWED_METHODS,
                    hdrs.ACCESS_CONTROL_ALLOW_HEADERS: _ALLOWED_HEADERS,
                    hdrs.ACCESS_CONTROL_MAX_AGE: _PREFLIGHT_MAX_AGE,
                },
            )

        return preflight

    async def on_response_prepare(self, request: web.Request, response: web.StreamResponse) -> None:
        """Allow the response to be read by a listed origin."""
        origin = request.headers.get(hdrs.ORIGIN)
        if origin is not None and origin in self._origins:
            response.headers[hdrs.ACCESS_CONTROL_ALLOW_ORIGIN] = origin
            response.headers[hdrs.ACCESS_CONTROL_EXPOSE_HEADERS] = "X-Request-ID"
            response.headers.add(hdrs.VARY, "Origin")
